"""A form's formulas, show/hide and read-only rules (and those of its subform rows) compiled to
JavaScript, so a fill page re-evaluates them as the user types, with the server's semantics;
and its formula defaults, which a new record's fill page shows before it is sent.

Only what the browser can compute exactly is compiled: formulas, `visible_when` and
`readonly_when` rules whose every reference is a plain field of this form (or of the row) the
reader may see, or another compiled formula. A rule that reads a hidden field, a relation path or
a subform is left to the server, which computes it on save, so nothing about hidden values leaks
through compiled code. Signed-in users get the fields their roles show; a public fill link gets
only its own fields (`engine.auth.public.live`).
"""

from __future__ import annotations

from typing import Any

from engine import expr
from engine.expr import ast
from engine.forms.common import DefaultExpr, FieldSpecBase
from engine.forms.field_types import FIELD_TYPES
from engine.forms.field_types.computed import FormulaField
from engine.forms.field_types.structure import SubformField
from engine.forms.layout import FormLayout
from engine.forms.schema import row_schema


def _refs(source: str, schema: dict[str, Any]) -> list[tuple[str, ...]] | None:
    """Every field path `source` reads, or None when it does not check."""
    try:
        tree = expr.checked(source, schema)
    except (expr.ExprError, ValueError):
        return None
    found: list[tuple[str, ...]] = []
    stack: list[ast.Node] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Ref):
            found.append(node.path or node.names)
        stack.extend(ast.children(node))
    return found


def _compile(source: str, schema: dict[str, Any], readable: set[str]) -> dict[str, Any] | None:
    refs = _refs(source, schema)
    if refs is None or any(len(path) != 1 or path[0] not in readable for path in refs):
        return None
    return {
        "js": expr.to_js(source, schema),
        "type": expr.check(source, schema).kind,
        "reads": sorted({path[0] for path in refs}),
    }


def _plain(fields: list[FieldSpecBase], hidden: frozenset[str]) -> set[str]:
    """Fields whose record JSON the browser reads as the server does (`traits.live_scalar`)."""
    return {f.key for f in fields if FIELD_TYPES[f.type].traits.live_scalar and f.key not in hidden}


def _scripts(
    fields: list[FieldSpecBase], schema: dict[str, Any], readable: set[str], hidden: frozenset[str]
) -> dict[str, Any]:
    """Formulas in dependency order, then the show/hide and read-only rules, of `fields`."""
    formulas: dict[str, dict[str, Any]] = {}
    pending = [f for f in fields if isinstance(f, FormulaField) and f.key not in hidden]
    # A formula may read another: add them in dependency order until nothing more compiles.
    progress = True
    while pending and progress:
        progress = False
        for spec in list(pending):
            compiled = _compile(spec.expr, schema, readable | set(formulas))
            if compiled is not None:
                formulas[spec.key] = compiled
                pending.remove(spec)
                progress = True
    readable = readable | set(formulas)
    rules: dict[str, list[dict[str, Any]]] = {"visible_when": [], "readonly_when": []}
    for field in fields:
        if field.key in hidden:
            continue
        for name, found in rules.items():
            source = getattr(field, name)
            compiled = _compile(source, schema, readable) if source else None
            if compiled is not None:
                found.append({"key": field.key, **compiled})
    return {"formulas": [{"key": key, **value} for key, value in formulas.items()], **rules}


def _defaults(
    fields: list[FieldSpecBase], schema: dict[str, Any], readable: set[str], hidden: frozenset[str]
) -> list[dict[str, Any]]:
    """The formula defaults (`{"expr": "TODAY()"}`) of `fields` the browser can compute, so a
    new record's fill page shows them before it is sent (issue 16); the server still applies
    every default on save."""
    found: list[dict[str, Any]] = []
    for field in fields:
        default = getattr(field, "default", None)
        if field.key in hidden or not isinstance(default, DefaultExpr):
            continue
        compiled = _compile(default.expr, schema, readable)
        if compiled is not None:
            found.append({"key": field.key, **compiled})
    return found


def live_scripts(form: FormLayout, hidden: frozenset[str]) -> dict[str, Any]:
    """The compiled formulas (in evaluation order), show/hide and read-only rules of `form`, and
    those of each subform's rows (which may also read the form's plain fields)."""
    fields: list[FieldSpecBase] = list(form.spec.fields)
    outer = _plain(fields, hidden)
    result = _scripts(fields, form.schema, outer, hidden)
    result["defaults"] = _defaults(fields, form.schema, outer, hidden)
    subforms: dict[str, Any] = {}
    for field in fields:
        if isinstance(field, SubformField) and field.key not in hidden:
            rows = list(field.fields)
            scripts = _scripts(
                rows, row_schema(form.schema, field), outer | _plain(rows, frozenset()), frozenset()
            )
            if any(scripts.values()):
                subforms[field.key] = scripts
    return {**result, "subforms": subforms}
