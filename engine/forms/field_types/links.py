"""Link field types: relation (to records of another form), lookup and rollup through it.

A relation's formula entry carries its target form's fields one level deep (the target's own
relations are not expanded again), so `customer.level` type-checks but `a.b.c` does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar, Literal

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from engine.core.issues import Issue
from engine.forms.common import FieldSpecBase, Key, ValueFieldSpec, label_value
from engine.forms.field_types.base import ComputedType, FieldType, Scope, Source, Traits, register
from engine.forms.field_types.cells import Cell, CellWriter, decimal_cell
from engine.forms.field_types.computed import COMPUTED
from engine.forms.messages import issue

NUMBER_TYPES = frozenset({"number", "integer", "money", "percent", "rating"})


class RelationField(ValueFieldSpec):
    """A link to one record (or, with `many`, several records) of the form `target`."""

    type: Literal["relation"]
    target: Key
    many: bool = False


class LookupField(FieldSpecBase):
    """The value of `field` in the record linked by this form's relation `relation`."""

    type: Literal["lookup"]
    relation: Key
    field: Key


class RollupField(FieldSpecBase):
    """An aggregate of `field` over the records of a relation, or the rows of a subform."""

    type: Literal["rollup"]
    relation: Key
    field: Key
    aggregate: Literal["sum", "avg", "min", "max", "count"]


def _shallow(entries: Mapping[str, Any]) -> dict[str, Any]:
    """A form's entries with nested relations left unexpanded (one level only)."""
    return {
        key: {k: v for k, v in entry.items() if k != "fields"}
        if entry.get("type") == "relation"
        else entry
        for key, entry in entries.items()
    }


@register
class RelationType(FieldType):
    """`relation`: the linked `_id` column (one), or a link table (many)."""

    name = "relation"
    title = ("关联记录", "Relation")
    group = "links"
    spec = RelationField
    traits = Traits(
        computed=False,
        portable=True,
        sortable=True,
        many_valued=False,  # per field: `many` (see `is_many`)
        is_file=False,
        refers_to="record",
        publicly_fillable=False,  # anonymous people would see other records
        link_key=False,
        importable=True,
        live_scalar=False,
        source="column",  # per field: a relation to many keeps links (see `source_of`)
        linkage_from=frozenset(),  # a relation to the same form (engine.forms.linkage)
        compare_family=None,
    )
    example: ClassVar[dict[str, Any]] = {"target": "other"}

    def is_many(self, field: FieldSpecBase) -> bool:
        """A relation to many records holds a list."""
        return bool(getattr(field, "many", False))

    def source_of(self, field: FieldSpecBase) -> Source:
        """A relation to one record is a column; to many, a link table."""
        return "links" if getattr(field, "many", False) else "column"

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """The related records' titles (无权限 / No access for one the caller may not see)."""
        items = value if isinstance(value, list) else [value]
        return sheet.join(sheet.related(i) for i in items if isinstance(i, dict)), None

    def expr_schema(
        self, field: FieldSpecBase, scope: Scope | None = None
    ) -> dict[str, Any] | None:
        assert isinstance(field, RelationField)
        target = scope.entries.get(field.target, {}) if scope else {}
        return {
            "type": "relation",
            "label": label_value(field.label),
            "many": field.many,
            "fields": _shallow(target),
        }

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return None if getattr(field, "many", False) else sa.BigInteger()

    def validate(self, field: FieldSpecBase, scope: Scope) -> list[Issue]:
        issues = super().validate(field, scope)
        assert isinstance(field, RelationField)
        if scope.form_named(field.target) is None:
            issues.append(issue("target", "unknown_form", key=field.target))
        return issues

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """Passed through unchanged: the record pipeline resolves and checks the linked `_id`s."""
        return raw, []


def _target_fields(via: FieldSpecBase, scope: Scope) -> tuple[FieldSpecBase, ...] | None:
    """The fields a relation or subform `via` leads to (None when its target is missing)."""
    if isinstance(via, RelationField):
        form = scope.form_named(via.target)
        return tuple(form.fields) if form is not None else None
    return tuple(getattr(via, "fields", ()))


def _target_entry(via: FieldSpecBase, key: str, scope: Scope) -> dict[str, Any] | None:
    """The formula entry of field `key` behind the relation or subform `via`, if resolved."""
    if isinstance(via, RelationField):
        found = scope.entries.get(via.target, {}).get(key)
    else:
        found = scope.entries.get(scope.form.key, {}).get(via.key, {}).get("fields", {}).get(key)
    return dict(found) if isinstance(found, Mapping) else None


def _check_path(
    field: LookupField | RollupField, scope: Scope, containers: tuple[str, ...]
) -> tuple[list[Issue], FieldSpecBase | None]:
    via = scope.sibling(field.relation)
    if via is None:
        return [issue("relation", "unknown_field", key=field.relation)], None
    if via.type not in containers:
        code = "not_a_relation" if containers == ("relation",) else "not_a_container"
        return [issue("relation", code, key=field.relation)], None
    fields = _target_fields(via, scope)
    if fields is None:  # the relation's own check reports the missing form
        return [], None
    target = next((f for f in fields if f.key == field.field), None)
    if target is None:
        return [issue("field", "unknown_field", key=field.field)], None
    return [], target


@register
class LookupType(ComputedType):
    """`lookup`: read at query time through a to-one relation; no column of its own."""

    name = "lookup"
    title = ("关联查询", "Lookup")
    group = "links"
    spec = LookupField
    traits = replace(COMPUTED, source="lookup")
    example: ClassVar[dict[str, Any]] = {"relation": "customer", "field": "name"}

    def expr_schema(
        self, field: FieldSpecBase, scope: Scope | None = None
    ) -> dict[str, Any] | None:
        assert isinstance(field, LookupField)
        via = scope.sibling(field.relation) if scope else None
        if scope is None or not isinstance(via, RelationField):
            return {"type": self.name, "label": label_value(field.label)}
        entry = _target_entry(via, field.field, scope)
        if entry is None:
            return None
        if via.many or entry.get("type") in ("relation", "subform"):
            return {"type": self.name, "label": label_value(field.label)}
        return {**entry, "label": label_value(field.label)}

    def validate(self, field: FieldSpecBase, scope: Scope) -> list[Issue]:
        assert isinstance(field, LookupField)
        return _check_path(field, scope, ("relation",))[0]


@register
class RollupType(ComputedType):
    """`rollup`: sum/avg/min/max/count over related records or subform rows, at query time."""

    name = "rollup"
    title = ("汇总", "Rollup")
    group = "links"
    spec = RollupField
    traits = replace(COMPUTED, source="rollup")
    example: ClassVar[dict[str, Any]] = {"relation": "items", "field": "qty", "aggregate": "sum"}

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """A decimal result as a real number with its places; anything else as it is."""
        return decimal_cell(value, sheet)

    def expr_schema(
        self, field: FieldSpecBase, scope: Scope | None = None
    ) -> dict[str, Any] | None:
        assert isinstance(field, RollupField)
        label = label_value(field.label)
        if field.aggregate in ("sum", "avg", "count"):
            return {"type": "number", "label": label}
        via = scope.sibling(field.relation) if scope else None
        entry = _target_entry(via, field.field, scope) if scope and via else None
        if entry is None or entry.get("type") in ("relation", "subform", "multiselect"):
            return {"type": self.name, "label": label}
        return {**entry, "label": label}

    def validate(self, field: FieldSpecBase, scope: Scope) -> list[Issue]:
        assert isinstance(field, RollupField)
        issues, target = _check_path(field, scope, ("relation", "subform"))
        if (
            target is not None
            and field.aggregate in ("sum", "avg")
            and target.type not in NUMBER_TYPES | {"formula", "rollup", "lookup"}
        ):
            issues.append(
                issue(
                    "aggregate",
                    "aggregate_type",
                    aggregate=field.aggregate,
                    key=target.key,
                    type=target.type,
                )
            )
        return issues
