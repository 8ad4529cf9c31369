"""People field types: user, users, department, departments (ids; lists as JSON arrays)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from engine.core.issues import Issue
from engine.forms.common import FieldSpecBase, ValueFieldSpec
from engine.forms.field_types.base import FieldType, none_or, register
from engine.forms.field_types.values import coerce_id, coerce_list


class UserField(ValueFieldSpec):
    """One member of the organisation."""

    type: Literal["user"]


class UsersField(ValueFieldSpec):
    """Several members of the organisation."""

    type: Literal["users"]


class DepartmentField(ValueFieldSpec):
    """One department."""

    type: Literal["department"]


class DepartmentsField(ValueFieldSpec):
    """Several departments."""

    type: Literal["departments"]


class _OneType(FieldType):
    group = "people"

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return sa.BigInteger()

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """An id (or `{"id": n}` as reads return); the store checks that it exists."""
        return (None, []) if raw is None else coerce_id(raw)

    def to_json(self, field: FieldSpecBase, value: Any) -> Any:
        """`{"id": n}`; the store adds `name` when it reads records."""
        return None if value is None else {"id": value}

    def json_writer(self, field: FieldSpecBase) -> Callable[[Any], Any]:
        return none_or(lambda value: {"id": value})


class _ManyType(FieldType):
    group = "people"

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return sa.JSON()

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """A list of distinct ids ([] is blank); the store checks that they exist."""
        return (None, []) if raw is None else coerce_list(field, raw, coerce_id)

    def to_json(self, field: FieldSpecBase, value: Any) -> Any:
        """`[{"id": n}, ...]`; the store adds `name` when it reads records."""
        return None if value is None else [{"id": v} for v in value]


@register
class UserType(_OneType):
    """`user`: the user's id."""

    name = "user"
    title = ("成员单选", "User")
    spec = UserField


@register
class UsersType(_ManyType):
    """`users`: a JSON array of user ids."""

    name = "users"
    title = ("成员多选", "Users")
    spec = UsersField


@register
class DepartmentType(_OneType):
    """`department`: the department's id."""

    name = "department"
    title = ("部门单选", "Department")
    spec = DepartmentField


@register
class DepartmentsType(_ManyType):
    """`departments`: a JSON array of department ids."""

    name = "departments"
    title = ("部门多选", "Departments")
    spec = DepartmentsField
