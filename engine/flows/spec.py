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
`flow` names a flow bound to that form. Nodes and edges tolerate further properties (node
types' settings: assignees, modes, deadlines), which the flow engine's node registry will type.
The plan is the graph as the runtime walks it, with the fields it references.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field

from engine.core.issues import Issue
from engine.core.parts import DefinitionPart, register_part
from engine.flows.graph import graph_issues
from engine.forms.common import Formula, Key, Label, OpenSpec, Spec
from engine.forms.references import FormRefs, duplicate_keys
from engine.forms.spec import AppSpec

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]


class FlowNode(OpenSpec):
    """One node: its id (unique in the flow), type (`start`, `approve`, `end`, …) and, for the
    nodes that show the record, per-field access (`read_only`, `edit`, `hidden`)."""

    id: NodeId
    type: Key
    name: Label | None = None
    fields: dict[Key, str] = Field(default_factory=dict)


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
    nodes: list[FlowNode] = Field(default_factory=list)
    edges: list[FlowEdge] = Field(default_factory=list)


def check(app: AppSpec, flows: Sequence[Any]) -> list[Issue]:
    """The flows' issues against the forms of `app`, and the forms' `flow` against the flows."""
    refs = FormRefs(app)
    issues = duplicate_keys([f.key for f in flows], "flows", ("流程", "flow"))
    for index, flow in enumerate(flows):
        at = f"flows[{index}]"
        issues += refs.form_issues(flow.form, f"{at}.form")
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
    """What an instance of `flow` walks: each node's outgoing edges in order, and the fields
    the flow references (with their types as published)."""
    refs = FormRefs(app)
    fields = sorted({key for node in flow.nodes for key in node.fields})
    return {
        "form": flow.form,
        "nodes": {node.id: node.type for node in flow.nodes},
        "next": {
            node.id: [
                {"to": e.to, "when": e.when, "default": e.default}
                for e in flow.edges
                if e.from_ == node.id
            ]
            for node in flow.nodes
        },
        "fields": [refs.field_ref(flow.form, key) for key in fields],
    }


PART = register_part(
    DefinitionPart(name="flows", item=FlowSpec, title=("流程", "flows"), check=check, plan=plan)
)

__all__ = ["PART", "FlowEdge", "FlowNode", "FlowSpec", "check", "plan"]
