"""What a flow node lets its assignees do with each field of the record (issue 13).

A node's `fields` maps field keys to `hidden`, `read_only` or `edit` (a field it does not name
is `read_only`; DESIGN §8's `read` means `read_only`). `node_access(form_layout, node_fields)`
turns that into the access of *every* field of the form, worked out from the compiled form
(`engine.forms.layout.FormLayout`), with no database:

- **sub-forms**: a sub-form is named by its own key (`items`) and its columns inherit its
  access; a column appears in the result as `items.qty`. `items: edit` lets the node add,
  remove and change rows (its typed-in columns are `edit`, its computed ones `read_only`);
- **system fields** (`_owner`, `_created_at`, …) may be hidden by a node, are `read_only`
  otherwise and are never `edit`;
- **derived fields**: a formula, lookup, rollup (or a created/updated by/at field) that reads
  a node-hidden field — directly, through a relation or sub-form it reads, or through another
  derived field, transitively — is hidden too, or it would give the hidden value away; this
  includes a row formula reading a hidden field of its record, and a rollup or formula over
  the column of a hidden sub-form;
- **never `edit`**: a field whose value the engine computes (formula, lookup, rollup, serial,
  created/updated by/at) is at most `read_only`, and so is a section (layout only, so it is
  left out of the result altogether).

Fields of *other* forms (behind a relation) are not the node's to narrow: they are read with
the assignee's own access (`engine.auth.permissions`). `check_edit(access, changed_keys)` is
how the runtime locks a record under approval: any change to a field the node does not make
editable is refused with a `flow_field_locked` issue at that field, in Chinese and English.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from engine import expr
from engine.core.issues import DefinitionError, Issue
from engine.forms.cache import lru_on_layout, on_layout
from engine.forms.common import FieldSpecBase
from engine.forms.field_types.computed import FormulaField
from engine.forms.field_types.links import LookupField, RollupField
from engine.forms.field_types.structure import SectionField, SubformField
from engine.forms.layout import SYSTEM_SOURCES, Container, FieldLayout, FormLayout
from engine.forms.schema import SYSTEM_ENTRIES

FieldAccess = Literal["hidden", "read_only", "edit"]
ACCESS: tuple[FieldAccess, ...] = ("hidden", "read_only", "edit")
SYSTEM_KEYS: tuple[str, ...] = tuple(SYSTEM_ENTRIES)
LOCKED = "flow_field_locked"
_WORDS: dict[str, FieldAccess] = {
    "hidden": "hidden",
    "read_only": "read_only",
    "read": "read_only",  # DESIGN §8's word
    "edit": "edit",
}


@dataclass(frozen=True)
class NodeAccess:
    """The access of every field of one form at one node: `fields` maps each key (a sub-form
    column as `subform.column`, system fields as `_owner`, …) to hidden / read_only / edit,
    in form order; `labels` keeps each field's label (zh, en) for messages."""

    fields: Mapping[str, FieldAccess]
    labels: Mapping[str, tuple[str, str]]

    def of(self, key: str) -> FieldAccess:
        """The access of `key` (a key the form does not have is `read_only`)."""
        return self.fields.get(key, "read_only")

    @property
    def editable_keys(self) -> frozenset[str]:
        """Keys the node's assignees may change (sub-form columns as `subform.column`)."""
        return frozenset(k for k, v in self.fields.items() if v == "edit")

    @property
    def hidden_keys(self) -> frozenset[str]:
        """Keys the node's assignees may not see, whether named or derived from one."""
        return frozenset(k for k, v in self.fields.items() if v == "hidden")


Node = tuple[str, ...]
"""A field of the form: `(key,)`, or `(subform, column)` for a sub-form column."""


@dataclass(frozen=True)
class _Graph:
    """What the access of a form's fields is worked out from (depends on the layout only)."""

    order: tuple[Node, ...]
    inputs: Mapping[Node, frozenset[Node]]
    writable: frozenset[Node]
    labels: Mapping[str, tuple[str, str]]


def node_access(form_layout: FormLayout, node_fields: Mapping[str, str]) -> NodeAccess:
    """The access of every field of `form_layout` at a node whose `fields` are `node_fields`
    (see the module docstring); kept on the layout per distinct `node_fields`. A value other
    than hidden/read_only/read/edit is a `DefinitionError` at `fields.<key>`; keys the form
    does not have (deleted since the flow was published) are ignored."""
    key = tuple(sorted(node_fields.items()))
    kept = lru_on_layout(form_layout, "flow_node_access")
    found: NodeAccess | None = kept.get(key)
    if found is None:
        found = _access(_graph(form_layout), _named(node_fields))
        kept.put(key, found)
    return found


def check_edit(access: NodeAccess, changed_keys: Iterable[str]) -> list[Issue]:
    """A `flow_field_locked` issue at each key in `changed_keys` the node does not make
    editable (hidden, read-only, computed, system, or not a field of the form), in order."""
    issues: list[Issue] = []
    for key in dict.fromkeys(changed_keys):
        if access.of(key) == "edit":
            continue
        zh, en = access.labels.get(key, (key, key))
        shown = zh if zh == key else f"{zh}（{key}）"
        shown_en = en if en == key else f"{en} ({key})"
        issues.append(
            Issue(
                key,
                LOCKED,
                f"字段 {shown} 在审批中已锁定，当前节点不能修改",
                f"Field {shown_en} is locked while the record is under approval; "
                "this step may not change it",
            )
        )
    return issues


def _named(node_fields: Mapping[str, str]) -> dict[str, FieldAccess]:
    named: dict[str, FieldAccess] = {}
    issues: list[Issue] = []
    for key, value in node_fields.items():
        found = _WORDS.get(value)
        if found is not None:
            named[key] = found
        else:
            issues.append(
                Issue(
                    f"fields.{key}",
                    "unknown_access",
                    f"字段权限 {value} 无效（可用：hidden、read_only、edit）",
                    f"Invalid field access {value} (expected hidden, read_only or edit)",
                )
            )
    if issues:
        raise DefinitionError(issues)
    return named


def _access(graph: _Graph, named: Mapping[str, FieldAccess]) -> NodeAccess:
    def base(node: Node) -> FieldAccess:
        return named.get(node[0], "read_only")  # a column has its sub-form's access

    hidden = {node for node in graph.order if base(node) == "hidden"}
    changed = True
    while changed:  # to a fixpoint: derived fields of derived fields
        changed = False
        for node, inputs in graph.inputs.items():
            if node not in hidden and inputs & hidden:
                hidden.add(node)
                changed = True
    fields: dict[str, FieldAccess] = {}
    for node in graph.order:
        if node in hidden:
            value: FieldAccess = "hidden"
        elif base(node) == "edit" and node in graph.writable:
            value = "edit"
        else:
            value = "read_only"
        fields[".".join(node)] = value
    return NodeAccess(fields, graph.labels)


def _graph(form: FormLayout) -> _Graph:
    return on_layout(form, "flow_field_graph", lambda: _build_graph(form))


def _label(spec: FieldSpecBase) -> tuple[str, str]:
    """The field's label in Chinese and English (its key where it has none)."""
    label: Any = getattr(spec, "label", None)
    if isinstance(label, str):
        return label, label
    zh = getattr(label, "zh", None) or getattr(label, "en", None) or spec.key
    en = getattr(label, "en", None) or getattr(label, "zh", None) or spec.key
    return str(zh), str(en)


def _build_graph(form: FormLayout) -> _Graph:
    order: list[Node] = []
    inputs: dict[Node, frozenset[Node]] = {}
    writable: set[Node] = set()
    labels: dict[str, tuple[str, str]] = {}
    outer = form.fields
    for layout in outer.values():
        if isinstance(layout.spec, SectionField):
            continue
        node = (layout.key,)
        order.append(node)
        labels[layout.key] = _label(layout.spec)
        if layout.writable:
            writable.add(node)
        reads = _reads(layout, form, outer, None)
        if reads:
            inputs[node] = reads
        if layout.rows is not None:
            for column in layout.rows.fields.values():
                if isinstance(column.spec, SectionField):
                    continue
                sub = (layout.key, column.key)
                order.append(sub)
                zh, en = _label(column.spec)
                labels[".".join(sub)] = (
                    f"{labels[layout.key][0]}.{zh}",
                    f"{labels[layout.key][1]}.{en}",
                )
                if column.writable and layout.writable:
                    writable.add(sub)
                reads = _reads(column, layout.rows, outer, layout.key)
                if reads:
                    inputs[sub] = reads
    for key in SYSTEM_KEYS:
        order.append((key,))
        labels[key] = (key, key)
    return _Graph(tuple(order), inputs, frozenset(writable), labels)


def _reads(
    layout: FieldLayout, container: Container, outer: Mapping[str, FieldLayout], sub: str | None
) -> frozenset[Node]:
    """The fields of the form (and its sub-forms and system fields) a computed field reads."""
    own = container.fields if sub is not None else {}

    def locate(key: str) -> Node:
        if key in own:
            return (sub or "", key)
        return (key,)

    spec = layout.spec
    found: set[Node] = set()
    if isinstance(spec, (LookupField, RollupField)):
        via = locate(spec.relation)
        found.add(via)
        target = (own if len(via) == 2 else outer).get(spec.relation)
        if target is not None and isinstance(target.spec, SubformField):
            found.add((spec.relation, spec.field))
    elif isinstance(spec, FormulaField):
        try:
            tree = expr.checked(spec.expr, container.schema)
        except (expr.ExprError, ValueError):
            return frozenset()
        stack: list[expr.ast.Node] = [tree]
        while stack:
            item = stack.pop()
            if isinstance(item, expr.ast.Ref):
                path = item.path or item.names
                first = locate(path[0])
                found.add(first)
                target = outer.get(path[0]) if len(first) == 1 else None
                if len(path) > 1 and target is not None and target.rows is not None:
                    found.add((path[0], path[1]))
            stack.extend(expr.ast.children(item))
    elif spec.type in SYSTEM_SOURCES:
        found.add((SYSTEM_SOURCES[spec.type],))
    return frozenset(found)


__all__ = [
    "ACCESS",
    "LOCKED",
    "SYSTEM_KEYS",
    "FieldAccess",
    "NodeAccess",
    "check_edit",
    "node_access",
]
