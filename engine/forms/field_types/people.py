"""People field types: user, users, department, departments (ids; lists as JSON arrays)."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from engine.forms.common import FieldSpecBase, ValueFieldSpec
from engine.forms.field_types.base import FieldType, register


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


class _ManyType(FieldType):
    group = "people"

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return sa.JSON()


@register
class UserType(_OneType):
    """`user`: the user's id."""

    name = "user"
    spec = UserField


@register
class UsersType(_ManyType):
    """`users`: a JSON array of user ids."""

    name = "users"
    spec = UsersField


@register
class DepartmentType(_OneType):
    """`department`: the department's id."""

    name = "department"
    spec = DepartmentField


@register
class DepartmentsType(_ManyType):
    """`departments`: a JSON array of department ids."""

    name = "departments"
    spec = DepartmentsField
