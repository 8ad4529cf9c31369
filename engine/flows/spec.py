"""The flow part of an app definition (DESIGN §8): typed, still small.

A flow is bound to one form and is a graph of nodes and edges:

```json
{"key": "contract_approval", "name": {"zh": "合同审批", "en": "Contract approval"}, "form": "contract",
 "nodes": [{"id": "start", "type": "start"}, {"id": "boss", "type": "approve", "fields": {"amount": "read_only"}},
           {"id": "end", "type": "end"}],
 "edges": [{"from": "start", "to": "boss", "when": "amount >= 50000"}, {"from": "start", "to": "end", "default": true},
           {"from": "boss", "to": "end"}]}
```

This module owns the shape (key, name, form, nodes with unique ids and a type, edges between
them with an optional condition) and its checks against the rest of the app: the form exists,
node field access names its fields, edge conditions type-check over its records, a form's
`flow` names a flow bound to that form, each node's settings fit its type (engine/flows/nodes.py)
and the graph is sound (engine/flows/graph.py). The plan is the graph as the runtime walks it,
with each node's typed settings, the joins' expected counts and the fields it references.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field

from engine.core.issues import Issue
from engine.core.parts import DefinitionPart, register_part
from engine.expr import ast
from engine.expr.errors import ExprError
from engine.expr.parser import parse
from engine.flows.graph import graph_issues
from engine.flows.nodes import (
    NODE_TYPES,
    FieldAssignee,
    NodeContext,
    RoleAssignee,
    UserAssignee,
    access,
    node_settings,
)
from engine.forms.common import Formula, Key, Label, OpenSpec, Spec
from engine.forms.references import FormRefs, duplicate_keys
from engine.forms.spec import AppSpec

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]


class FlowNode(OpenSpec):
    """One node: its id (unique in the flow), type (`start`, `approve`, `end`, …) and the
    settings of its type (engine/flows/nodes.py), which `settings()` types and `check` checks;
    `fields` is the per-field access of the nodes that show the record."""

    id: NodeId
    type: Key
    name: Label | None = None
    fields: dict[Key, str] = Field(default_factory=dict)

    def settings_data(self) -> dict[str, Any]:
        """The node's settings as written (everything but id, type and name)."""
        data = dict(self.model_extra or {})
        if self.fields:  # an empty `fields` (every node dumps one) is no setting
            data["fields"] = self.fields
        return data

    def settings(self) -> Any:
        """The typed settings of the node's type, or None when they are invalid."""
        return node_settings(self.type, self.settings_data(), "")[0]


class FlowEdge(OpenSpec):
    """A transition from one node to another, taken when `when` holds (or as the default)."""

    from_: NodeId = Field(alias="from")
    to: NodeId
    when: Formula | None = None
    default: bool = False


class FlowSpec(Spec):
    """An approval flow bound to `form`: nodes and the edges between them."""

    key: Key
    name: Label
    form: Key
    description: Label | None = None
    admin: UserAssignee | RoleAssignee | None = None
    nodes: list[FlowNode] = Field(default_factory=list)
    edges: list[FlowEdge] = Field(default_factory=list)


def check(app: AppSpec, flows: Sequence[Any]) -> list[Issue]:
    """The flows' issues against the forms of `app`, and the forms' `flow` against the flows."""
    refs = FormRefs(app)
    issues = duplicate_keys([f.key for f in flows], "flows", ("流程", "flow"))
    for index, flow in enumerate(flows):
        at = f"flows[{index}]"
        issues += refs.form_issues(flow.form, f"{at}.form")
        roles = {role.key for role in app.roles}
        if isinstance(flow.admin, RoleAssignee) and flow.admin.role not in roles:
            issues.append(
                Issue(
                    f"{at}.admin.role",
                    "unknown_role",
                    f"角色 {flow.admin.role} 不存在",
                    f"Role {flow.admin.role} does not exist",
                )
            )
        ids = [node.id for node in flow.nodes]
        seen: set[str] = set()
        for n, node in enumerate(flow.nodes):
            if node.id in seen:
                issues.append(
                    Issue(
                        f"{at}.nodes[{n}].id",
                        "duplicate_node",
                        f"节点标识 {node.id} 重复",
                        f"Duplicate node id {node.id}",
                    )
                )
            seen.add(node.id)
            settings, bad = node_settings(node.type, node.settings_data(), f"{at}.nodes[{n}]")
            issues += bad
            if settings is not None:
                ctx = NodeContext(app, flow.form, f"{at}.nodes[{n}]")
                issues += NODE_TYPES[node.type].check(settings, ctx)
            for key in node.fields:
                issues += refs.field_issues(flow.form, key, f"{at}.nodes[{n}].fields.{key}")
        for e, edge in enumerate(flow.edges):
            for end, name in (("from", edge.from_), ("to", edge.to)):
                if name not in ids:
                    issues.append(
                        Issue(
                            f"{at}.edges[{e}].{end}",
                            "unknown_node",
                            f"节点 {name} 不存在",
                            f"Node {name} does not exist",
                        )
                    )
            if edge.when is not None:
                issues += refs.condition_issues(flow.form, edge.when, f"{at}.edges[{e}].when")
        issues += graph_issues(at, flow.nodes, flow.edges)
    bound = {flow.key: flow.form for flow in flows}
    for index, form in enumerate(app.forms):
        if form.flow is None:
            continue
        if form.flow not in bound:
            issues.append(
                Issue(
                    f"forms[{index}].flow",
                    "unknown_flow",
                    f"流程 {form.flow} 不存在",
                    f"Flow {form.flow} does not exist",
                )
            )
        elif bound[form.flow] != form.key:
            issues.append(
                Issue(
                    f"forms[{index}].flow",
                    "flow_form",
                    f"流程 {form.flow} 属于表单 {bound[form.flow]}，不能用于表单 {form.key}",
                    f"Flow {form.flow} belongs to form {bound[form.flow]}, not to form {form.key}",
                )
            )
    return issues


def plan(app: AppSpec, flow: Any) -> dict[str, Any]:
    """What an instance of `flow` walks: each node's type and typed settings (field access
    normalised), its outgoing edges in order, the incoming edge count each parallel join
    waits for, the admin, and the fields the flow references (field access, member-field
    assignees and conditions; with their types as published)."""
    refs = FormRefs(app)
    settings = {node.id: node.settings() for node in flow.nodes}
    fields = {key for node in flow.nodes for key in node.fields}
    for typed in settings.values():
        for entry in getattr(typed, "assignees", []):
            if isinstance(entry, FieldAssignee):
                fields.add(entry.field)
    for edge in flow.edges:
        if edge.when is not None:
            fields |= condition_fields(app, flow.form, edge.when)
    incoming = {node.id: sum(1 for e in flow.edges if e.to == node.id) for node in flow.nodes}
    return {
        "form": flow.form,
        "admin": None if flow.admin is None else flow.admin.model_dump(mode="json"),
        "nodes": {node.id: node.type for node in flow.nodes},
        "settings": {node_id: _settings_json(typed) for node_id, typed in settings.items()},
        "next": {
            node.id: [
                {"to": e.to, "when": e.when, "default": e.default}
                for e in flow.edges
                if e.from_ == node.id
            ]
            for node in flow.nodes
        },
        "joins": {
            node.id: incoming[node.id]
            for node in flow.nodes
            if node.type == "parallel" and incoming[node.id] > 1
        },
        "fields": [refs.field_ref(flow.form, key) for key in sorted(fields)],
    }


def condition_fields(app: AppSpec, form: str, source: str) -> set[str]:
    """The keys of the fields of `form` a (valid) condition reads, by key or by label."""
    spec = next((f for f in app.forms if f.key == form), None)
    if spec is None:
        return set()
    names: dict[str, str] = {}
    for field in spec.fields:
        label = getattr(field, "label", None)
        texts = [label] if isinstance(label, str) else [label.zh, label.en] if label else []
        for text in texts:
            if text:
                names.setdefault(text, field.key)
    for field in spec.fields:
        names[field.key] = field.key
    try:
        tree = parse(source)
    except ExprError:
        return set()
    found: set[str] = set()
    stack: list[ast.Node] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Ref) and node.names and node.names[0] in names:
            found.add(names[node.names[0]])
        stack.extend(ast.children(node))
    return found


def _settings_json(typed: Any) -> dict[str, Any]:
    if typed is None:
        return {}
    data: dict[str, Any] = typed.model_dump(mode="json")
    if "fields" in data:
        data["fields"] = {key: access(value) for key, value in data["fields"].items()}
    return data


PART = register_part(
    DefinitionPart(name="flows", item=FlowSpec, title=("流程", "flows"), check=check, plan=plan)
)

__all__ = ["PART", "FlowEdge", "FlowNode", "FlowSpec", "check", "plan"]
