"""Fields hidden because they are computed from fields a caller may not read (issue 10).

A lookup, rollup or formula shows what it reads: `contact.customer_level` is customer `level`,
`weighted_amount = amount * win_rate` gives `amount` away. So for a set of roles, a computed
field is hidden when one of its inputs is hidden from the holder — an own field, a relation,
or a field of a relation's target form as the holder reads that form (hidden there by a role,
derived-hidden there in turn, or every field of a form no role may view). Inputs are followed
to a fixpoint, so chains across forms (a formula over a lookup of a lookup) and cycles are
handled. The result depends only on the app revision and the role set, so it is computed once
per app definition and role set for all forms (`derived_hidden`), not per request.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any

from engine import expr
from engine.expr import ast
from engine.forms.cache import LruCache
from engine.forms.common import FieldSpecBase
from engine.forms.field_types.computed import FormulaField
from engine.forms.field_types.links import LookupField, RelationField, RollupField
from engine.forms.field_types.structure import SubformField
from engine.forms.layout import FormLayout
from engine.forms.roles import RoleSpec
from engine.forms.schema import form_schemas, row_schema
from engine.forms.spec import AppSpec

Where = tuple[str, str | None]  # (form key, subform key or None)


def derived_hidden(app: AppSpec, roles: Sequence[RoleSpec], form: FormLayout) -> frozenset[str]:
    """The fields of `form` that the holder of `roles` may not read because they are computed
    from something hidden from them (kept per app revision and role set, for every form)."""
    key = tuple(sorted(role.key for role in roles))
    kept = _kept(app)
    found: dict[str, frozenset[str]] | None = kept.get(key)
    if found is None:
        found = _derive(app, roles)
        kept.put(key, found)
    return found.get(form.key, frozenset())


# Per app definition (one per published revision, never changed) by identity — definitions
# hash by value, and lists make them unhashable — dropped when the definition is.
_KEPT: dict[int, tuple[weakref.ref[AppSpec], LruCache[dict[str, frozenset[str]]]]] = {}
_LOCK = threading.RLock()  # re-entrant: a weakref callback may run during a collection under it


def _kept(app: AppSpec) -> LruCache[dict[str, frozenset[str]]]:
    ident = id(app)
    with _LOCK:
        found = _KEPT.get(ident)
        if found is not None and found[0]() is app:
            return found[1]
        cache: LruCache[dict[str, frozenset[str]]] = LruCache()
        _KEPT[ident] = (weakref.ref(app, lambda _: _forget(ident)), cache)
        return cache


def _forget(ident: int) -> None:
    with _LOCK:
        found = _KEPT.get(ident)
        if found is not None and found[0]() is None:
            del _KEPT[ident]


def _derive(app: AppSpec, roles: Sequence[RoleSpec]) -> dict[str, frozenset[str]]:
    forms = {form.key: form for form in reversed(app.forms)}  # the first of a duplicate key wins
    fields: dict[Where, dict[str, FieldSpecBase]] = {}
    for form in forms.values():
        fields[(form.key, None)] = {f.key: f for f in form.fields}
        for subform in form.fields:
            if isinstance(subform, SubformField):
                fields[(form.key, subform.key)] = {f.key: f for f in subform.fields}
    base = {key: _role_hidden(key, fields, roles) for key in forms}
    hidden: dict[Where, set[str]] = {
        where: set(base[where[0]]) if where[1] is None else set() for where in fields
    }
    schemas = form_schemas(app)
    inputs: dict[tuple[Where, str], list[tuple[str, ...]]] = {}
    for where, by_key in fields.items():
        form_key, sub = where
        schema = schemas.get(form_key, {})
        if sub is not None:
            schema = row_schema(schema, fields[(form_key, None)][sub])
        for key, spec in by_key.items():
            paths = _inputs(spec, schema)
            if paths:
                inputs[(where, key)] = paths

    def reads_hidden(where: Where, path: tuple[str, ...]) -> bool:
        form_key, sub = where
        for _ in range(64):  # paths are short; the bound only guards against odd definitions
            key, rest = path[0], path[1:]
            by_key = fields.get(where)
            if by_key is None:
                return False
            if key not in by_key:
                if sub is None:
                    return False
                where, sub = (form_key, None), None  # a row formula reading its record's field
                continue
            if key in hidden[where]:
                return True
            spec = by_key[key]
            if not rest:
                return False
            if isinstance(spec, RelationField):
                form_key, sub, where = spec.target, None, (spec.target, None)
            elif isinstance(spec, SubformField) and sub is None:
                sub, where = key, (form_key, key)
            else:
                return False
            path = rest
        return False

    changed = True
    while changed:
        changed = False
        for (where, key), paths in inputs.items():
            if key not in hidden[where] and any(reads_hidden(where, path) for path in paths):
                hidden[where].add(key)
                changed = True
    return {key: frozenset(hidden[(key, None)] - base[key]) for key in forms}


def _role_hidden(
    form_key: str, fields: dict[Where, dict[str, FieldSpecBase]], roles: Sequence[RoleSpec]
) -> frozenset[str]:
    viewing = [
        role.forms[form_key]
        for role in roles
        if form_key in role.forms and "view" in role.forms[form_key].actions
    ]
    if not viewing:
        return frozenset(fields[(form_key, None)])
    return frozenset(
        k for k in fields[(form_key, None)] if all(p.fields.get(k) == "hidden" for p in viewing)
    )


def _inputs(spec: FieldSpecBase, schema: dict[str, Any]) -> list[tuple[str, ...]]:
    """The field paths a computed field reads (none for a field typed in)."""
    if isinstance(spec, (LookupField, RollupField)):
        return [(spec.relation, spec.field)]
    if isinstance(spec, FormulaField):
        try:
            tree = expr.checked(spec.expr, schema)
        except (expr.ExprError, ValueError):
            return []
        paths: list[tuple[str, ...]] = []
        stack: list[ast.Node] = [tree]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Ref):
                paths.append(tuple(node.path or node.names))
            stack.extend(ast.children(node))
        return paths
    return []


__all__ = ["derived_hidden"]
