"""Structure field types: subform (repeating rows with their own fields) and section (layout).

A subform's rows are a child table (`r{form_id}_s{field_id}`); a subform cannot contain
another subform. A section only groups the fields after it on screen and holds no value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field

from engine.core.issues import Issue
from engine.forms.common import FieldSpecBase, label_value
from engine.forms.field_types.base import FieldType, Scope, Traits, register
from engine.forms.messages import issue

if TYPE_CHECKING:
    from engine.forms.spec import AnyField


class SubformField(FieldSpecBase):
    """Repeating rows, each with `fields` (any field type except subform)."""

    type: Literal["subform"]
    required: bool = False
    min: Annotated[int, Field(ge=0)] | None = None  # rows
    max: Annotated[int, Field(ge=0)] | None = None
    fields: Annotated[list[AnyField], Field(min_length=1)]


class SectionField(FieldSpecBase):
    """A titled group of the fields that follow it (layout only)."""

    type: Literal["section"]


@register
class SubformType(FieldType):
    """`subform`: rows in a child table; formulas see its fields as lists."""

    name = "subform"
    title = ("子表单", "Subform")
    group = "structure"
    spec = SubformField
    traits = Traits(
        computed=False,
        portable=True,
        sortable=False,
        many_valued=True,
        is_file=False,
        refers_to=None,
        publicly_fillable=True,  # when each of its own fields is (engine.auth.links)
        link_key=False,
        importable=False,
        live_scalar=False,
        source="rows",
        linkage_from=frozenset(),
        compare_family=None,
    )
    example: ClassVar[dict[str, Any]] = {"fields": [{"key": "qty", "type": "integer"}]}

    def expr_schema(
        self, field: FieldSpecBase, scope: Scope | None = None
    ) -> dict[str, Any] | None:
        from engine.forms.field_types import FIELD_TYPES

        assert isinstance(field, SubformField)
        rows: dict[str, Any] = {}
        previous: dict[str, Any] = {}
        row_scope = None
        if scope is not None:
            found = scope.entries.get(scope.form.key, {}).get(field.key, {})
            previous = dict(found.get("fields", {})) if isinstance(found, dict) else {}
            row_scope = Scope(scope.app, scope.form, tuple(field.fields), True, scope.entries)
        for sub in field.fields:
            entry = FIELD_TYPES[sub.type].expr_schema(sub, row_scope) or previous.get(sub.key)
            if entry is not None:
                rows[sub.key] = entry
        return {"type": "subform", "label": label_value(field.label), "fields": rows}

    def validate(self, field: FieldSpecBase, scope: Scope) -> list[Issue]:
        assert isinstance(field, SubformField)
        issues: list[Issue] = []
        if field.min is not None and field.max is not None and field.min > field.max:
            issues.append(issue("min", "min_max", min=field.min, max=field.max))
        for index, sub in enumerate(field.fields):
            if sub.type == "subform":
                issues.append(issue(f"fields[{index}].type", "nested_subform"))
        return issues

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """Passed through unchanged: the record pipeline resolves and checks rows (each row's fields through their own types)."""
        return raw, []


@register
class SectionType(FieldType):
    """`section`: layout only; no value, no column, invisible to formulas."""

    name = "section"
    title = ("分割线", "Section")
    group = "structure"
    spec = SectionField
    traits = Traits(
        computed=False,
        portable=True,  # holds no value, so there is nothing to carry or drop
        sortable=False,
        many_valued=False,
        is_file=False,
        refers_to=None,
        publicly_fillable=False,
        link_key=False,
        importable=False,
        live_scalar=False,
        source="none",
        linkage_from=frozenset(),
        compare_family=None,
    )

    def expr_schema(
        self, field: FieldSpecBase, scope: Scope | None = None
    ) -> dict[str, Any] | None:
        return None

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """Passed through unchanged: a section holds no value; the record pipeline ignores it."""
        return raw, []
