"""How computed values are shown: the display type of lookups, rollups and formulas (issue 16).

A lookup shows its value the way its source field does (a lookup of a select shows the
option's label, a lookup of money its currency), and so do a rollup's sum, minimum and maximum.
A formula's record JSON is only its result type (a decimal string, a date...), so its display
type is inferred from that result and the fields it reads:

- a number that reads any money field is money (in the first such field's currency): amount ×
  win rate is an amount of money;
- a number that reads only percent fields (and constants) is a percent;
- any other number is a number; a date, datetime, time or true/false result shows as such;
- text and everything else shows as it is (no entry).

The answer is `{field key: {"type", "options"?, "currency"?, "precision"?}}` per form, with
subform rows' fields under ``"subform.field"``; fields that show as themselves have no entry.
"""

from __future__ import annotations

from typing import Any

from engine import expr
from engine.expr import ast
from engine.forms.field_types.computed import FormulaField
from engine.forms.field_types.links import LookupField, RelationField, RollupField
from engine.forms.layout import AppLayout, Container, FieldLayout, FormLayout, RowsLayout

MAX_DEPTH = 8
"""How far lookups of lookups (and formulas over them) are followed."""
_PLAIN_RESULTS = {"date": "date", "datetime": "datetime", "time": "time", "boolean": "checkbox"}


def form_display(app: AppLayout, form: FormLayout) -> dict[str, dict[str, Any]]:
    """The display entries of `form`'s computed fields (see the module docstring)."""
    found: dict[str, dict[str, Any]] = {}
    for key, field in form.fields.items():
        entry = _computed(app, form, field, 0)
        if entry is not None:
            found[key] = entry
        if field.rows is not None:
            for sub_key, sub in field.rows.fields.items():
                sub_entry = _computed(app, field.rows, sub, 0)
                if sub_entry is not None:
                    found[f"{key}.{sub_key}"] = sub_entry
    return found


def _computed(
    app: AppLayout, container: Container, field: FieldLayout, depth: int
) -> dict[str, Any] | None:
    """The display of a lookup, rollup or formula; None for every other field."""
    spec = field.spec
    if depth > MAX_DEPTH:
        return None
    if isinstance(spec, LookupField):
        source = _through(app, container, spec.relation, spec.field)
        return None if source is None else _shown(app, *source, depth + 1)
    if isinstance(spec, RollupField):
        if spec.aggregate == "count":
            return {"type": "integer"}
        source = _through(app, container, spec.relation, spec.field)
        shown = None if source is None else _shown(app, *source, depth + 1)
        if spec.aggregate == "avg":
            if shown is not None and shown["type"] in ("money", "percent"):
                return {k: v for k, v in shown.items() if k != "precision"}
            return {"type": "number"}
        return shown
    if isinstance(spec, FormulaField):
        return _formula(app, container, field, spec, depth)
    return None


def _shown(
    app: AppLayout, container: Container, field: FieldLayout, depth: int
) -> dict[str, Any] | None:
    """How `field`'s values show: its own type and settings, or its computed display."""
    spec = field.spec
    if isinstance(spec, LookupField | RollupField | FormulaField):
        return _computed(app, container, field, depth)
    entry: dict[str, Any] = {"type": spec.type}
    for name in ("options", "currency", "precision"):
        value = getattr(spec, name, None)
        if value is not None:
            entry[name] = (
                [o.model_dump(mode="json", exclude_none=True) for o in value]
                if name == "options"
                else value
            )
    return entry


def _through(
    app: AppLayout, container: Container, relation: str, key: str
) -> tuple[Container, FieldLayout] | None:
    """The field `key` reached through `relation` (a relation to another form, or a subform)."""
    via = _field(container, relation)
    if via is None:
        return None
    if via.rows is not None:
        inner = via.rows.fields.get(key)
        return None if inner is None else (via.rows, inner)
    if isinstance(via.spec, RelationField):
        target = app.forms.get(via.spec.target)
        found = target.fields.get(key) if target is not None else None
        return None if target is None or found is None else (target, found)
    return None


def _field(container: Container, key: str) -> FieldLayout | None:
    found = container.fields.get(key)
    if found is None and isinstance(container, RowsLayout) and container.parent is not None:
        found = container.parent.fields.get(key)
    return found


def _formula(
    app: AppLayout, container: Container, field: FieldLayout, spec: FormulaField, depth: int
) -> dict[str, Any] | None:
    kind = (container.schema.get(field.key) or {}).get("type")
    if kind in _PLAIN_RESULTS:
        return {"type": _PLAIN_RESULTS[kind]}
    if kind != "number":
        return None
    read: list[dict[str, Any]] = []
    try:
        tree = expr.checked(spec.expr, container.schema)
    except (expr.ExprError, ValueError):
        tree = None
    stack: list[ast.Node] = [tree] if tree is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Ref):
            shown = _read(app, container, node.path or node.names, depth)
            if shown is not None:
                read.append(shown)
        stack.extend(ast.children(node))
    precision = {"precision": spec.precision} if spec.precision is not None else {}
    money = next((r for r in read if r["type"] == "money"), None)
    if money is not None:
        return {"type": "money", "currency": money.get("currency", "CNY"), **precision}
    if read and all(r["type"] == "percent" for r in read):
        return {"type": "percent", **precision}
    return {"type": "number", **precision}


def _read(
    app: AppLayout, container: Container, path: tuple[str, ...], depth: int
) -> dict[str, Any] | None:
    """How the value a formula reads at `path` shows (None: a system value or not a field)."""
    field = _field(container, path[0])
    if field is None:
        return None
    if len(path) == 1:
        return _shown(app, container, field, depth + 1)
    found = _through(app, container, path[0], path[1])
    return None if found is None else _read(app, found[0], path[1:], depth + 1)
