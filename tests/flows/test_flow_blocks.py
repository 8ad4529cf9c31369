"""Property: any flow built from well-nested blocks (tasks, sequences, exclusive choices,
parallel blocks and loops with an exclusive exit) passes the graph checks; joining a parallel
block's branches with a plain node instead of a parallel join never does."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.apps.pipeline import validated
from engine.core.errors import ServiceError
from tests.flows.test_flow_spec import CONTRACT, ROLES

Block = Any
blocks: st.SearchStrategy[Block] = st.recursive(
    st.sampled_from([("approve",), ("handle",), ("cc",)]),
    lambda inner: st.one_of(
        st.tuples(st.just("seq"), inner, inner),
        st.tuples(st.just("xor"), st.lists(inner, min_size=2, max_size=3)),
        st.tuples(st.just("and"), st.lists(inner, min_size=2, max_size=3)),
        st.tuples(st.just("loop"), inner),
    ),
    max_leaves=8,
)


class Builder:
    """Nodes and edges of a block graph; `plain_join` swaps parallel joins for handle nodes."""

    def __init__(self, plain_join: bool = False) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []
        self.plain_join = plain_join

    def node(self, kind: str) -> str:
        node_id = f"n{len(self.nodes)}"
        node: dict[str, Any] = {"id": node_id, "type": kind}
        if kind in ("approve", "handle", "cc"):
            node["assignees"] = [{"role": "manager"}]
        self.nodes.append(node)
        return node_id

    def edge(self, a: str, b: str, **extra: Any) -> None:
        self.edges.append({"from": a, "to": b, **extra})

    def build(self, block: Block) -> tuple[str, str]:
        """The entry and exit node of `block`."""
        if len(block) == 1:
            one = self.node(block[0])
            return one, one
        if block[0] == "seq":
            a_in, a_out = self.build(block[1])
            b_in, b_out = self.build(block[2])
            self.edge(a_out, b_in)
            return a_in, b_out
        if block[0] == "loop":
            head = self.node("handle")
            b_in, b_out = self.build(block[1])
            gate = self.node("exclusive")
            exit_ = self.node("cc")
            self.edge(head, b_in)
            self.edge(b_out, gate)
            self.edge(gate, head, when="amount > 1")
            self.edge(gate, exit_, default=True)
            return head, exit_
        parallel = block[0] == "and"
        split = self.node("parallel" if parallel else "exclusive")
        join = self.node("handle" if not parallel or self.plain_join else "parallel")
        for n, branch in enumerate(block[1]):
            b_in, b_out = self.build(branch)
            if parallel:
                self.edge(split, b_in)
            elif n == 0:
                self.edge(split, b_in, default=True)
            else:
                self.edge(split, b_in, when=f"amount > {n}")
            self.edge(b_out, join)
        return split, join


def app_of(builder: Builder, block: Block) -> dict[str, Any]:
    start, end = builder.node("start"), builder.node("end")
    b_in, b_out = builder.build(block)
    builder.edge(start, b_in)
    builder.edge(b_out, end)
    return {
        "format": "jimu.app/1",
        "key": "deals",
        "name": {"zh": "合同", "en": "Deals"},
        "version": "1.0.0",
        "forms": [copy.deepcopy(CONTRACT)],
        "roles": copy.deepcopy(ROLES),
        "flows": [
            {
                "key": "approval",
                "name": {"zh": "审批", "en": "Approval"},
                "form": "contract",
                "nodes": builder.nodes,
                "edges": builder.edges,
            }
        ],
    }


def has_and(block: Block) -> bool:
    if len(block) == 1:
        return False
    if block[0] == "and":
        return True
    children = block[1] if block[0] == "xor" else block[1:]
    return any(has_and(child) for child in children)


@settings(max_examples=60, deadline=None)
@given(blocks)
def test_well_nested_blocks_always_validate(block: Block) -> None:
    validated(app_of(Builder(), block))


@settings(max_examples=60, deadline=None)
@given(blocks.filter(has_and))
def test_a_parallel_block_closed_by_a_plain_node_is_refused(block: Block) -> None:
    try:
        validated(app_of(Builder(plain_join=True), block))
    except ServiceError as exc:
        codes = {i.code for i in exc.issues}
        assert codes & {"unbalanced_split", "parallel_merge"}, codes
    else:
        raise AssertionError("an unbalanced parallel block passed")
