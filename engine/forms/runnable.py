"""Checks that a valid definition can also run: what would otherwise fail on every request.

A definition that passes the structural and semantic checks can still break a form for good:
a lookup or rollup that reaches itself through relations (so compiling any read of the form
never ends), or a formula the engine compiles to SQL that calls a function the database
backend does not have (`SPLIT`). Both are found here, at publish time, as issues at the
definition path, so such a definition is refused with a 422 instead of being published and
answering 500 on every later list or create.

The formulas compiled to SQL are the ones the record pipeline and the permission engine run
in the database: read-time formula fields (forms and subform rows), rollups, form-level
`validations`, the `visible_when` of required fields, `readonly_when` of form fields and role
scope expressions. Each is compiled here exactly as a request would compile it (through
`engine.forms.resolve.Resolver`, on a layout with placeholder ids), so what publishes also
compiles; a problem inside a formula that another one reads is reported once, at its own path.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.sql import ColumnElement, FromClause

from engine import expr
from engine.core.context import Actor, ExecutionContext
from engine.core.issues import Issue
from engine.forms.access import Access
from engine.forms.common import FieldSpecBase, ValueFieldSpec
from engine.forms.field_types.computed import FormulaField
from engine.forms.field_types.links import LookupField, RelationField, RollupField
from engine.forms.field_types.structure import SubformField
from engine.forms.layout import AppLayout, Container
from engine.forms.messages import issue
from engine.forms.resolve import Resolver
from engine.forms.roles import ExprScope
from engine.forms.schema import form_schemas, row_schema
from engine.forms.spec import AppSpec

Node = tuple[str, ...]
"""A field of the app: ``(form, key)`` or, for a subform row field, ``(form, subform, key)``."""


def runnable_issues(app: AppSpec) -> list[Issue]:
    """Cycles through relations first (compiling one would not end), else the SQL formulas."""
    return cycle_issues(app) or sql_issues(app)


# --- cycles ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    """Where a computed field is defined, for its issue."""

    path: str
    label: str


def cycle_issues(app: AppSpec) -> list[Issue]:
    """One issue per lookup, rollup or formula that reaches itself through relations, lookups,
    rollups or subform rows (within one form or across several)."""
    edges, places = _graph(app)
    issues: list[Issue] = []
    for node, place in places.items():
        chain = _cycle_from(node, edges)
        if chain is not None:
            shown = " → ".join(places[n].label if n in places else ".".join(n) for n in chain)
            issues.append(issue(place.path, "reference_cycle", key=node[-1], chain=shown))
    return sorted(issues, key=lambda found: [int(n) for n in re.findall(r"\[(\d+)\]", found.path)])


def _cycle_from(start: Node, edges: dict[Node, list[Node]]) -> list[Node] | None:
    """The shortest path from `start` back to itself (``[start, ..., start]``), or None."""
    previous: dict[Node, Node] = {}
    queue = [start]
    for current in queue:
        for following in edges.get(current, ()):
            if following == start:
                chain = [current]
                while chain[-1] != start:
                    chain.append(previous[chain[-1]])
                return [*reversed(chain), start]
            if following not in previous:
                previous[following] = current
                queue.append(following)
    return None


@dataclass(frozen=True)
class _Fields:
    """A form's fields, or a subform row's (which also sees its form's fields)."""

    form: str
    prefix: Node
    where: str
    fields: dict[str, FieldSpecBase]
    outer: dict[str, FieldSpecBase]
    schema: dict[str, Any]

    def locate(self, key: str) -> tuple[Node, FieldSpecBase | None]:
        """The node and spec of field `key` as a formula of this container reads it."""
        if key in self.fields:
            return (*self.prefix, key), self.fields[key]
        return (self.form, key), self.outer.get(key)

    def behind(self, via: FieldSpecBase | None, key: str, forms: set[str]) -> Node | None:
        """The node of field `key` behind the relation or subform `via`."""
        if isinstance(via, RelationField) and via.target in forms:
            return (via.target, key)
        if isinstance(via, SubformField):
            return (self.form, via.key, key)
        return None


def _containers(app: AppSpec) -> Iterator[_Fields]:
    schemas = form_schemas(app)
    for index, form in enumerate(app.forms):
        schema = schemas.get(form.key, {})
        outer = {f.key: f for f in form.fields}
        yield _Fields(form.key, (form.key,), f"forms[{index}]", outer, outer, schema)
        for position, field in enumerate(form.fields):
            if isinstance(field, SubformField):
                rows = {f.key: f for f in field.fields}
                where = f"forms[{index}].fields[{position}]"
                yield _Fields(
                    form.key, (form.key, field.key), where, rows, outer, row_schema(schema, field)
                )


def _graph(app: AppSpec) -> tuple[dict[Node, list[Node]], dict[Node, _Place]]:
    """What each computed field reads (an edge per field it depends on), and where it is."""
    forms = {form.key for form in app.forms}
    edges: dict[Node, list[Node]] = {}
    places: dict[Node, _Place] = {}
    for container in _containers(app):
        for position, spec in enumerate(container.fields.values()):
            targets: list[Node | None] = []
            if isinstance(spec, (LookupField, RollupField)):
                targets.append(
                    container.behind(container.locate(spec.relation)[1], spec.field, forms)
                )
                prop = "field"
            elif isinstance(spec, FormulaField):
                for path in _paths(spec.expr, container.schema):
                    first, via = container.locate(path[0])
                    targets.append(first)
                    if len(path) > 1:
                        targets.append(container.behind(via, path[1], forms))
                prop = "expr"
            else:
                continue
            node = (*container.prefix, spec.key)
            edges[node] = [t for t in targets if t is not None]
            places[node] = _Place(f"{container.where}.fields[{position}].{prop}", ".".join(node))
    return edges, places


def _paths(source: str, schema: dict[str, Any]) -> Iterator[tuple[str, ...]]:
    """The field paths a formula reads (resolved keys)."""
    stack: list[expr.ast.Node] = [expr.checked(source, schema)]
    while stack:
        node = stack.pop()
        if isinstance(node, expr.ast.Ref):
            yield node.path or node.names
        stack.extend(expr.ast.children(node))


# --- formulas compiled to SQL ----------------------------------------------------------


# Formulas are compiled here to be checked, never run: any moment and zone compile alike.
COMPILE_ONLY = ExecutionContext(Actor(), dt.datetime(2000, 1, 1, tzinfo=dt.UTC), "UTC")


class _Elsewhere(Exception):
    """A formula read by the one being compiled failed; it is reported at its own path."""


class _Probe(Resolver):
    """A resolver that tells a failure of the formula being checked from one of a formula it
    reads (a read-time formula or rollup inlined into it): `depth` is shared by the resolvers
    of one compilation."""

    def __init__(
        self,
        app: AppLayout,
        container: Container,
        table: FromClause | None = None,
        *,
        depth: list[int],
    ) -> None:
        super().__init__(app, container, table, ctx=COMPILE_ONLY)
        self.depth = depth

    def _nested(
        self,
        container: Container,
        table: Any,
        access: Access | None = None,
        guarded: frozenset[str] = frozenset(),
    ) -> Resolver:
        return _Probe(
            self.app, container, table, depth=self.depth
        )  # publish checks read unrestricted

    def formula(self, source: str) -> ColumnElement[Any]:
        self.depth[0] += 1
        try:
            return super().formula(source)
        except expr.ExprError as exc:
            if self.depth[0] > 1:
                raise _Elsewhere from exc
            raise
        finally:
            self.depth[0] -= 1


class _Ids(dict[tuple[str, ...], int]):
    """Placeholder ids for a layout that is compiled but never stored."""

    def __missing__(self, key: tuple[str, ...]) -> int:
        value = len(self) + 1
        self[key] = value
        return value


def sql_issues(app: AppSpec) -> list[Issue]:
    """Each formula the engine runs in the database, compiled as a request would compile it;
    a function or list the database cannot compute is an issue at the formula's path."""
    layout = AppLayout.build(app, _Ids())
    issues: list[Issue] = []
    for index, form in enumerate(app.forms):
        container = layout.forms[form.key]
        where = f"forms[{index}]"
        for position, spec in enumerate(form.fields):
            at = f"{where}.fields[{position}]"
            issues += _field_checks(layout, container, spec, at)
            required = isinstance(spec, (ValueFieldSpec, SubformField)) and spec.required
            if required and spec.visible_when:
                issues += _compiled(layout, container, at + ".visible_when", spec.visible_when)
            if spec.readonly_when:
                issues += _compiled(layout, container, at + ".readonly_when", spec.readonly_when)
            rows = container.fields[spec.key].rows
            if isinstance(spec, SubformField) and rows is not None:
                for row_position, sub in enumerate(spec.fields):
                    issues += _field_checks(layout, rows, sub, f"{at}.fields[{row_position}]")
        for position, rule in enumerate(form.validations):
            issues += _compiled(
                layout, container, f"{where}.validations[{position}].expr", rule.expr
            )
    for index, role in enumerate(app.roles):
        for form_key, permission in role.forms.items():
            if isinstance(permission.scope, ExprScope) and form_key in layout.forms:
                path = f"roles[{index}].forms.{form_key}.scope.expr"
                issues += _compiled(layout, layout.forms[form_key], path, permission.scope.expr)
    return issues


def _field_checks(
    layout: AppLayout, container: Container, spec: FieldSpecBase, at: str
) -> list[Issue]:
    """A read-time formula field or a rollup, compiled the way a read compiles it."""
    found = container.fields.get(spec.key)
    if found is None:
        return []
    if found.source == "formula" and isinstance(spec, FormulaField):
        return _compiled(layout, container, f"{at}.expr", spec.expr)
    if found.source == "rollup":
        return _run(f"{at}.field", lambda probe: probe.value(spec.key), layout, container)
    return []


def _compiled(layout: AppLayout, container: Container, path: str, source: str) -> list[Issue]:
    return _run(path, lambda probe: probe.formula(source), layout, container)


def _run(
    path: str, compile_it: Callable[[_Probe], Any], layout: AppLayout, container: Container
) -> list[Issue]:
    probe = _Probe(layout, container, depth=[0])
    try:
        compile_it(probe)
    except _Elsewhere:
        return []
    except expr.ExprError as exc:
        return [Issue(path, exc.code, exc.message_zh, exc.message_en, exc.line, exc.column)]
    return []


__all__ = ["cycle_issues", "runnable_issues", "sql_issues"]
