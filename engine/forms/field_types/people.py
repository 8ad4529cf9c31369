"""People field types: user, users, department, departments (ids; lists as JSON arrays)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from engine.core.issues import Issue
from engine.forms.common import FieldSpecBase, ValueFieldSpec
from engine.forms.field_types.base import FieldType, Traits, none_or, register
from engine.forms.field_types.cells import Cell, CellWriter, people_cell
from engine.forms.field_types.values import coerce_id, coerce_list

PERSON = Traits(
    computed=False,
    portable=True,
    sortable=True,
    many_valued=False,
    is_file=False,
    refers_to="user",
    publicly_fillable=False,  # anonymous people would see the directory
    link_key=False,
    importable=True,
    live_scalar=False,
    source="column",
    linkage_from=frozenset(),
    compare_family=None,
)
"""One member or department, by id."""
PEOPLE = replace(PERSON, sortable=False, many_valued=True)
"""Several members or departments (a JSON array of ids)."""


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

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """The member's or department's name."""
        return people_cell(value, sheet)


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

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """The members' or departments' names."""
        return people_cell(value, sheet)


@register
class UserType(_OneType):
    """`user`: the user's id."""

    name = "user"
    title = ("成员单选", "User")
    spec = UserField
    traits = replace(PERSON, linkage_from=frozenset({"user"}), compare_family="user")


@register
class UsersType(_ManyType):
    """`users`: a JSON array of user ids."""

    name = "users"
    title = ("成员多选", "Users")
    spec = UsersField
    traits = replace(PEOPLE, refers_to="user", linkage_from=frozenset({"users"}))


@register
class DepartmentType(_OneType):
    """`department`: the department's id."""

    name = "department"
    title = ("部门单选", "Department")
    spec = DepartmentField
    traits = replace(
        PERSON,
        refers_to="department",
        linkage_from=frozenset({"department"}),
        compare_family="department",
    )


@register
class DepartmentsType(_ManyType):
    """`departments`: a JSON array of department ids."""

    name = "departments"
    title = ("部门多选", "Departments")
    spec = DepartmentsField
    traits = replace(PEOPLE, refers_to="department", linkage_from=frozenset({"departments"}))
