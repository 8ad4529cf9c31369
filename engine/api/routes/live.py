"""`GET /apps/{app}/forms/{form}/live`: a form's formulas and show/hide rules compiled to
JavaScript, so the fill page re-evaluates them as the user types (same semantics as the server).

Only what the browser can compute exactly is sent: formulas and `visible_when` rules whose every
reference is a plain field of this form the caller may see (or another formula sent here). A rule
that reads a hidden field, a relation path or a subform is left to the server, which computes it
on save — so nothing about hidden values leaks through compiled code.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from engine import expr
from engine.api.deps import DbEngine, read_only
from engine.api.routes.records import _open
from engine.api.security import CurrentUser
from engine.expr import ast
from engine.forms.common import FieldSpecBase
from engine.forms.field_types.computed import FormulaField
from engine.forms.layout import FormLayout

router = APIRouter(prefix="/apps/{app}/forms/{form}", tags=["records"])

# Field types whose record JSON is a scalar the JS runtime reads exactly as the server does.
SCALAR_TYPES = frozenset(
    {
        "text", "textarea", "email", "phone", "url", "number", "money", "percent", "integer",
        "rating", "checkbox", "date", "datetime", "time", "select", "multiselect", "formula",
    }
)


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


def _compile(source: str, form: FormLayout, readable: set[str]) -> dict[str, Any] | None:
    refs = _refs(source, form.schema)
    if refs is None or any(len(path) != 1 or path[0] not in readable for path in refs):
        return None
    return {
        "js": expr.to_js(source, form.schema),
        "type": expr.check(source, form.schema).kind,
        "reads": sorted({path[0] for path in refs}),
    }


def live_scripts(form: FormLayout, hidden: frozenset[str]) -> dict[str, Any]:
    """The compiled formulas (in evaluation order) and show/hide rules of `form`."""
    fields: list[FieldSpecBase] = list(form.spec.fields)
    readable = {f.key for f in fields if f.type in SCALAR_TYPES and f.type != "formula" and f.key not in hidden}
    formulas: dict[str, dict[str, Any]] = {}
    pending = [f for f in fields if isinstance(f, FormulaField) and f.key not in hidden]
    # A formula may read another: add them in dependency order until nothing more compiles.
    progress = True
    while pending and progress:
        progress = False
        for spec in list(pending):
            compiled = _compile(spec.expr, form, readable | set(formulas))
            if compiled is not None:
                formulas[spec.key] = compiled
                pending.remove(spec)
                progress = True
    readable |= set(formulas)
    visible_when: dict[str, dict[str, Any]] = {}
    for field in fields:
        if field.visible_when and field.key not in hidden:
            compiled = _compile(field.visible_when, form, readable)
            if compiled is not None:
                visible_when[field.key] = compiled
    return {
        "formulas": [{"key": key, **value} for key, value in formulas.items()],
        "visible_when": [{"key": key, **value} for key, value in visible_when.items()],
    }


@router.get("/live")
def form_live_scripts(app: str, form: str, engine: DbEngine, principal: CurrentUser, request: Request) -> dict[str, Any]:
    """The form's formulas and show/hide rules as JavaScript for the browser's formula runtime
    (builder_ui/src/formula/runtime.js), plus the business time zone they evaluate in."""
    with read_only(engine) as conn:
        opened = _open(conn, app, form, principal, request)
    hidden = opened.access.hidden() if opened.access is not None else frozenset()
    return {"tz": request.app.state.settings.timezone, **live_scripts(opened.form, hidden)}
