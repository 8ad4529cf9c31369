"""Graph checks of one flow (DESIGN §8, issue 13): the shape its runtime can walk soundly.

This module owns the structural rules a published flow obeys, each reported at the node (or
edge) it concerns with the node id in both messages:

- exactly one `start` (no incoming edges), at least one `end` (no outgoing edges);
- every node is reachable from the start and reaches an end;
- an `exclusive` node has >= 2 outgoing edges, exactly one of them `default`, every other one
  with a `when`; other nodes' edges carry neither `when` nor `default`, and only a `parallel`
  split has more than one outgoing edge; a `parallel` node is a split or a join, not both;
- every cycle has an exit through an exclusive edge (else it would loop for ever);
- parallel blocks balance (single entry, single exit): a parallel split's branches all meet
  first at one parallel join (its immediate post-dominator) whose incoming edge count equals
  the split's outgoing count, the block is entered only through its split and never leads
  back to it, each join closes exactly one split, and a plain merge (a non-parallel node with
  several forward incoming edges) joins the branches of an exclusive choice, never those of a
  parallel split (its immediate dominator is not a parallel split).

The last rule refuses an exclusive choice whose branches meet in a parallel join (the join
would wait for ever for the branch not taken) and a parallel split whose branches meet in a
plain merge (two tokens would run on past it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import networkx as nx

from engine.core.issues import Issue
from engine.flows.nodes import NODE_TYPES

SINK = "\x00sink"
"""A virtual node every end leads to, for post-dominators (not a valid node id)."""


class _Node(Protocol):
    id: str
    type: str


class _Edge(Protocol):
    from_: str
    to: str
    when: Any
    default: bool


def _issue(path: str, code: str, zh: str, en: str) -> Issue:
    return Issue(path, code, zh, en)


def graph_issues(at: str, nodes: Sequence[Any], edges: Sequence[Any]) -> list[Issue]:
    """The structural issues of the flow at path `at` (`flows[i]`). A flow without nodes is
    a draft (nothing to check); edges naming unknown nodes are reported elsewhere and left out."""
    if not nodes:
        return []
    index: dict[str, int] = {}
    kind: dict[str, str] = {}
    for n, node in enumerate(nodes):
        index.setdefault(node.id, n)
        kind.setdefault(node.id, node.type)
    issues: list[Issue] = []
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(index)
    for e, edge in enumerate(edges):
        if edge.from_ not in index or edge.to not in index:
            continue
        if graph.has_edge(edge.from_, edge.to):
            issues.append(
                _issue(
                    f"{at}.edges[{e}]",
                    "duplicate_edge",
                    f"节点 {edge.from_} 到 {edge.to} 的连线重复",
                    f"Duplicate edge from node {edge.from_} to {edge.to}",
                )
            )
            continue
        graph.add_edge(edge.from_, edge.to, index=e, when=edge.when, default=edge.default)

    def at_node(node: str) -> str:
        return f"{at}.nodes[{index[node]}]"

    starts = [n for n in index if kind[n] == "start"]
    ends = [n for n in index if kind[n] == "end"]
    if not starts:
        issues.append(
            _issue(f"{at}.nodes", "no_start", "流程需要一个开始节点", "The flow needs a start node")
        )
    for extra in starts[1:]:
        issues.append(
            _issue(
                f"{at_node(extra)}.type",
                "many_starts",
                f"节点 {extra}：流程只能有一个开始节点",
                f"Node {extra}: a flow has exactly one start node",
            )
        )
    if not ends:
        issues.append(
            _issue(
                f"{at}.nodes", "no_end", "流程需要至少一个结束节点", "The flow needs an end node"
            )
        )
    for node in index:
        node_type = NODE_TYPES.get(kind[node])
        if node_type is None:
            continue
        if not node_type.incoming and graph.in_degree(node):
            issues.append(
                _issue(
                    at_node(node),
                    "start_incoming",
                    f"开始节点 {node} 不能有进入的连线",
                    f"Start node {node} cannot have incoming edges",
                )
            )
        if not node_type.outgoing and graph.out_degree(node):
            issues.append(
                _issue(
                    at_node(node),
                    "end_outgoing",
                    f"结束节点 {node} 不能有出去的连线",
                    f"End node {node} cannot have outgoing edges",
                )
            )
    issues += _edge_issues(at, graph, kind, at_node)
    if len(starts) != 1 or not ends:
        return issues
    start = starts[0]
    reached = nx.descendants(graph, start) | {start}
    reaching: set[str] = set(ends)
    for end in ends:
        reaching |= nx.ancestors(graph, end)
    for node in index:
        if node not in reached:
            issues.append(
                _issue(
                    at_node(node),
                    "unreachable",
                    f"节点 {node} 从开始节点无法到达",
                    f"Node {node} cannot be reached from the start",
                )
            )
        elif node not in reaching:
            issues.append(
                _issue(
                    at_node(node),
                    "dead_end",
                    f"节点 {node} 无法到达结束节点",
                    f"Node {node} cannot reach an end node",
                )
            )
    issues += _cycle_issues(graph, kind, at_node)
    if issues:
        return issues
    return _parallel_issues(graph, kind, start, ends, at_node)


def _edge_issues(at: str, graph: Any, kind: dict[str, str], at_node: Any) -> list[Issue]:
    issues: list[Issue] = []
    for node, type_ in kind.items():
        out = list(graph.out_edges(node, data=True))
        found = NODE_TYPES.get(type_)
        branches = None if found is None else found.branches
        if branches == "exclusive":
            if len(out) < 2:
                issues.append(
                    _issue(
                        at_node(node),
                        "exclusive_branches",
                        f"条件分支 {node} 需要至少两条出去的连线",
                        f"Exclusive node {node} needs at least two outgoing edges",
                    )
                )
            defaults = [d for _, _, d in out if d["default"]]
            if out and len(defaults) != 1:
                issues.append(
                    _issue(
                        at_node(node),
                        "exclusive_default",
                        f"条件分支 {node} 需要恰好一条默认连线",
                        f"Exclusive node {node} needs exactly one default edge",
                    )
                )
            for _, _, data in out:
                if not data["default"] and data["when"] is None:
                    issues.append(
                        _issue(
                            f"{at}.edges[{data['index']}].when",
                            "missing_condition",
                            f"条件分支 {node} 的非默认连线需要条件",
                            f"Non-default edges of exclusive node {node} need a condition",
                        )
                    )
            continue
        for _, _, data in out:
            if data["when"] is not None or data["default"]:
                issues.append(
                    _issue(
                        f"{at}.edges[{data['index']}]",
                        "condition_not_allowed",
                        f"只有条件分支的连线可以有条件或默认，节点 {node} 不是条件分支",
                        f"Only an exclusive node's edges take a condition or default; node {node} is not exclusive",
                    )
                )
        if branches == "parallel":
            if graph.out_degree(node) > 1 and graph.in_degree(node) > 1:
                issues.append(
                    _issue(
                        at_node(node),
                        "split_and_join",
                        f"并行节点 {node} 不能既是分支又是汇合",
                        f"Parallel node {node} cannot be both a split and a join",
                    )
                )
        elif len(out) > 1:
            issues.append(
                _issue(
                    at_node(node),
                    "many_outgoing",
                    f"节点 {node} 只能有一条出去的连线",
                    f"Node {node} can have only one outgoing edge",
                )
            )
    return issues


def _cycle_issues(graph: Any, kind: dict[str, str], at_node: Any) -> list[Issue]:
    issues: list[Issue] = []
    for component in nx.strongly_connected_components(graph):
        if len(component) == 1:
            (only,) = component
            if not graph.has_edge(only, only):
                continue
        exits = [
            (a, b)
            for a in component
            for b in graph.successors(a)
            if b not in component and kind[a] == "exclusive"
        ]
        if not exits:
            first = min(component, key=lambda n: at_node(n))
            issues.append(
                _issue(
                    at_node(first),
                    "endless_cycle",
                    f"经过节点 {first} 的循环没有经条件分支离开的出口",
                    f"The cycle through node {first} has no exit through an exclusive node",
                )
            )
    return issues


def _parallel_issues(
    graph: Any, kind: dict[str, str], start: str, ends: list[str], at_node: Any
) -> list[Issue]:
    issues: list[Issue] = []
    dom = nx.immediate_dominators(graph, start)
    reverse = graph.reverse(copy=True)
    reverse.add_node(SINK)
    for end in ends:
        reverse.add_edge(SINK, end)
    postdom = nx.immediate_dominators(reverse, SINK)

    def dominates(a: str, b: str) -> bool:
        while True:
            if b == a:
                return True
            parent = dom.get(b, b)
            if parent == b:
                return False
            b = parent

    claimed: dict[str, str] = {}
    for split in graph:
        if kind[split] != "parallel" or graph.out_degree(split) < 2:
            continue
        join = postdom.get(split)
        if (
            join is None
            or join == SINK
            or kind.get(join) != "parallel"
            or graph.in_degree(join) < 2
        ):
            issues.append(
                _issue(
                    at_node(split),
                    "unbalanced_split",
                    f"并行分支 {split} 的各支路必须在同一个并行汇合节点汇合",
                    f"The branches of parallel split {split} must all meet at one parallel join",
                )
            )
            continue
        if graph.in_degree(join) != graph.out_degree(split) or join in claimed:
            issues.append(
                _issue(
                    at_node(join),
                    "unbalanced_join",
                    f"并行汇合 {join} 的进入连线数必须等于并行分支 {split} 的支路数",
                    f"Parallel join {join} must have as many incoming edges as parallel split {split} has branches",
                )
            )
            continue
        claimed[join] = split
        inner: set[str] = set()
        todo = list(graph.successors(split))
        while todo:
            node = todo.pop()
            if node == join or node in inner:
                continue
            inner.add(node)
            todo.extend(graph.successors(node))
        leaks = sorted(n for n in inner if n == split or not dominates(split, n))
        if leaks:
            issues.append(
                _issue(
                    at_node(leaks[0]),
                    "block_leak",
                    f"节点 {leaks[0]} 只能经并行分支 {split} 进入，且不能回到它",
                    f"Node {leaks[0]} may be entered only through parallel split {split} and may not lead back to it",
                )
            )
    for join in graph:
        if (
            kind[join] == "parallel"
            and graph.in_degree(join) > 1
            and join not in claimed
            and not any(i.path == at_node(join) for i in issues)
        ):
            issues.append(
                _issue(
                    at_node(join),
                    "unbalanced_join",
                    f"并行汇合 {join} 没有对应的并行分支",
                    f"Parallel join {join} closes no parallel split",
                )
            )
    for merge in graph:
        if kind[merge] == "parallel":
            continue
        forward = [p for p in graph.predecessors(merge) if not dominates(merge, p)]
        if len(forward) > 1 and kind.get(dom.get(merge, merge)) == "parallel":
            issues.append(
                _issue(
                    at_node(merge),
                    "parallel_merge",
                    f"节点 {merge} 汇合了并行分支 {dom[merge]} 的支路，应使用并行汇合节点",
                    f"Node {merge} merges the branches of parallel split {dom[merge]}; use a parallel join",
                )
            )
    return issues
