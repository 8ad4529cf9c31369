"""The schema each form's formulas are checked against (`engine.expr`'s schema format).

Every field type supplies its entry (`FieldType.expr_schema`); relations carry their target's
entries one level deep; formula fields take the type their formula checks to. Entries depend on
each other (a lookup of a formula, a formula over a lookup), so they are computed in rounds
until nothing changes; a formula still unresolved at the end is part of a cycle or invalid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine import expr
from engine.forms.common import FieldSpecBase, label_value
from engine.forms.field_types import FIELD_TYPES, Scope
from engine.forms.field_types.computed import FormulaField
from engine.forms.field_types.structure import SubformField
from engine.forms.spec import AppSpec, FormSpec

Entries = dict[str, dict[str, Any]]
MAX_ROUNDS = 50
SYSTEM_ENTRIES: dict[str, dict[str, Any]] = {
    "_id": {"type": "record"},
    "_owner": {"type": "user"},
    "_created_by": {"type": "user"},
    "_updated_by": {"type": "user"},
    "_created_at": {"type": "datetime"},
    "_updated_at": {"type": "datetime"},
}
"""What every form's formulas (and, through a relation, its target's) read of a record's
system columns: its id, owner, creator, last editor and times. Field keys never start with
"_", so these never hide a field; they have no labels, so `{...}` label lookups are unchanged."""


def formula_entry(field: FormulaField, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The entry of a formula field whose formula checks against `schema`, else None."""
    try:
        result = expr.check(field.expr, schema)
    except (expr.ExprError, ValueError):
        return None
    if result.is_list:
        return None
    entry: dict[str, Any] = {"type": result.kind, "label": label_value(field.label)}
    if field.precision is not None:
        entry["precision"] = field.precision
    return entry


def _resolve_rows(field: SubformField, entry: dict[str, Any], outer: dict[str, Any]) -> None:
    rows: dict[str, Any] = entry.setdefault("fields", {})
    for sub in field.fields:
        if isinstance(sub, FormulaField) and sub.key not in rows:
            found = formula_entry(sub, {**outer, **rows})
            if found is not None:
                rows[sub.key] = found


def _form_entries(form: FormSpec, app: AppSpec, previous: Entries) -> dict[str, Any]:
    scope = Scope(app, form, tuple(form.fields), False, previous)
    before = previous.get(form.key, {})
    result: dict[str, Any] = {key: dict(entry) for key, entry in SYSTEM_ENTRIES.items()}
    for field in form.fields:
        entry = FIELD_TYPES[field.type].expr_schema(field, scope)
        if entry is None and isinstance(field, FormulaField):
            entry = before.get(field.key) or formula_entry(field, before)
        if isinstance(field, SubformField) and entry is not None:
            _resolve_rows(field, entry, before)
        if entry is not None:
            result[field.key] = entry
    return result


def form_schemas(app: AppSpec) -> Entries:
    """The formula schema of every form by form key, computed until it stops changing."""
    forms: dict[str, FormSpec] = {}
    for form in app.forms:
        forms.setdefault(form.key, form)  # a duplicate key is reported; the first form wins
    entries: Entries = {key: {} for key in forms}
    for _ in range(MAX_ROUNDS):
        updated = {key: _form_entries(form, app, entries) for key, form in forms.items()}
        if updated == entries:
            break
        entries = updated
    return entries


def row_schema(form_schema: dict[str, Any], subform: FieldSpecBase) -> dict[str, Any]:
    """What a formula inside a subform row sees: the form's fields, then the row's own."""
    rows = form_schema.get(subform.key, {}).get("fields", {})
    return {**form_schema, **rows}


def unresolved_formulas(fields: Sequence[FieldSpecBase], schema: dict[str, Any]) -> set[str]:
    """Keys of the formula fields among `fields` that have no entry in `schema`."""
    return {f.key for f in fields if isinstance(f, FormulaField) and f.key not in schema}
