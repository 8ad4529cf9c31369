"""The flow spec's graph checks (engine/flows/graph.py) through the whole-definition validation."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from engine.apps.pipeline import validated
from engine.core.errors import ServiceError
from engine.core.parts import PARTS
from tests.api.records_client import API, api_client
from tests.apps.test_assembly import FLOW, SHOP
from tests.flows.fixtures import crm_with_contract_approval, design_app

CONTRACT = {
    "key": "contract",
    "name": {"zh": "合同", "en": "Contract"},
    "title_field": "title",
    "fields": [
        {"key": "title", "type": "text", "label": "标题", "required": True},
        {"key": "amount", "type": "number", "label": "金额", "precision": 2},
        {"key": "note", "type": "textarea", "label": "备注"},
        {"key": "owner", "type": "user", "label": "负责人"},
        {"key": "dept", "type": "department", "label": "部门"},
    ],
}
ROLES = [{"key": "manager", "name": {"zh": "经理", "en": "Manager"}}]


def app(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    """An app whose one flow has `nodes` and `edges` (node types given as "id:type")."""
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
                "nodes": nodes,
                "edges": edges,
            }
        ],
    }


def graph(spec: str) -> dict[str, Any]:
    """`"start:start a:approve end:end | start>a a>end"`; `x>y?cond` conditions, `x>y!` default."""
    node_part, edge_part = spec.split("|")
    nodes = []
    for item in node_part.split():
        node_id, node_type = item.split(":")
        node: dict[str, Any] = {"id": node_id, "type": node_type}
        if node_type in ("approve", "handle", "cc"):
            node["assignees"] = [{"role": "manager"}]
        nodes.append(node)
    edges = []
    for item in edge_part.split():
        edge: dict[str, Any] = {}
        if item.endswith("!"):
            edge["default"] = True
            item = item[:-1]
        if "?" in item:
            item, edge["when"] = item.split("?")
        edge["from"], edge["to"] = item.split(">")
        edges.append(edge)
    return app(nodes, edges)


def issues(data: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    try:
        validated(data)
    except ServiceError as exc:
        return [(i.path, i.code, i.message_zh, i.message_en) for i in exc.issues]
    return []


def assert_refused(spec: str, path: str, code: str, node: str) -> None:
    found = [i for i in issues(graph(spec)) if i[1] == code]
    assert found, issues(graph(spec))
    where, _, zh, en = found[0]
    assert where == path
    assert node in zh and node in en and en.isascii() and not zh.isascii()


A = "amount>=50000"

VALID = [
    "s:start a:approve e:end | s>a a>e",
    f"s:start x:exclusive a:approve b:handle e:end | s>x x>a?{A} x>b! a>e b>e",
    "s:start p:parallel a:approve b:handle j:parallel e:end | s>p p>a p>b a>j b>j j>e",
    # nested: an exclusive choice inside a parallel branch, a parallel block inside a choice
    f"s:start p:parallel a:approve x:exclusive b:handle c:cc m:handle j:parallel e:end"
    f" | s>p p>a p>x x>b?{A} x>c! b>m c>m m>j a>j j>e",
    f"s:start x:exclusive p:parallel a:approve b:handle j:parallel e:end f:end"
    f" | s>x x>p?{A} x>f! p>a p>b a>j b>j j>e",
    # a loop with an exclusive exit, also inside a parallel branch
    f"s:start a:approve x:exclusive e:end | s>a a>x x>a?{A} x>e!",
    f"s:start p:parallel a:approve x:exclusive b:handle j:parallel e:end"
    f" | s>p p>a a>x x>a?{A} x>j! p>b b>j j>e",
    "| ",  # a draft flow without nodes
]


@pytest.mark.parametrize("spec", VALID)
def test_sound_graphs_validate(spec: str) -> None:
    assert issues(graph(spec)) == []


REFUSED = [
    ("a:approve e:end | a>e", "flows[0].nodes", "no_start", ""),
    ("s:start t:start e:end | s>e t>e", "flows[0].nodes[1].type", "many_starts", "t"),
    ("s:start a:approve | s>a", "flows[0].nodes", "no_end", ""),
    ("s:start a:approve e:end | s>a a>e a>s", "flows[0].nodes[0]", "start_incoming", "s"),
    ("s:start a:approve e:end | s>e e>a a>e", "flows[0].nodes[2]", "end_outgoing", "e"),
    ("s:start a:approve b:approve e:end | s>e a>b b>e", "flows[0].nodes[1]", "unreachable", "a"),
    ("s:start a:approve b:approve e:end | s>b s>a a>e", "flows[0].nodes[0]", "many_outgoing", "s"),
    ("s:start x:exclusive e:end | s>x x>e!", "flows[0].nodes[1]", "exclusive_branches", "x"),
    (
        f"s:start x:exclusive a:approve e:end | s>x x>a?{A} x>e?{A} a>e",
        "flows[0].nodes[1]",
        "exclusive_default",
        "x",
    ),
    (
        "s:start x:exclusive a:approve e:end | s>x x>a x>e! a>e",
        "flows[0].edges[1].when",
        "missing_condition",
        "x",
    ),
    (
        "s:start a:approve e:end | s>a?amount>1 a>e",
        "flows[0].edges[0]",
        "condition_not_allowed",
        "s",
    ),
    ("s:start a:approve b:approve e:end | s>a a>b b>a", "flows[0].nodes[0]", "dead_end", "s"),
    (
        "s:start a:approve b:handle e:end x:exclusive | s>x x>a?amount>1 x>e! a>b b>a",
        "flows[0].nodes[1]",
        "dead_end",
        "a",
    ),
    # a loop that leaves only through a parallel split
    (
        "s:start a:approve p:parallel b:handle j:parallel e:end | s>a a>p p>a p>b b>j a>j j>e",
        "flows[0].nodes[1]",
        "endless_cycle",
        "a",
    ),
    # XOR split whose branches meet in an AND join: the join waits for ever
    (
        f"s:start x:exclusive a:approve b:handle j:parallel e:end | s>x x>a?{A} x>b! a>j b>j j>e",
        "flows[0].nodes[4]",
        "unbalanced_join",
        "j",
    ),
    # AND split whose branches meet in a plain merge: two tokens run on
    (
        "s:start p:parallel a:approve b:handle m:handle e:end | s>p p>a p>b a>m b>m m>e",
        "flows[0].nodes[1]",
        "unbalanced_split",
        "p",
    ),
    # an AND branch leaving the block for an end
    (
        "s:start p:parallel a:approve b:handle j:parallel e:end | s>p p>a p>b a>j b>e j>e",
        "flows[0].nodes[1]",
        "unbalanced_split",
        "p",
    ),
    # two AND branches merged by a plain node inside the block
    (
        f"s:start p:parallel a:approve b:handle c:cc x:exclusive y:handle j:parallel e:end"
        f" | s>p p>a p>b p>c b>a a>x x>j?{A} x>y! y>j c>j j>e",
        "flows[0].nodes[2]",
        "parallel_merge",
        "a",
    ),
    (
        "s:start p:parallel a:approve b:handle j:parallel c:cc d:cc k:parallel e:end"
        " | s>p p>a p>b a>j b>j j>c j>d c>k d>k k>e",
        "flows[0].nodes[4]",
        "split_and_join",
        "j",
    ),
]


@pytest.mark.parametrize(("spec", "path", "code", "node"), REFUSED)
def test_broken_graphs_are_refused_at_the_node(spec: str, path: str, code: str, node: str) -> None:
    assert_refused(spec, path, code, node)


def with_node(settings: dict[str, Any], flow: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one-approver flow with `settings` merged into its approve node (nodes[1])."""
    data = graph("s:start a:approve e:end | s>a a>e")
    data["flows"][0]["nodes"][1].update(settings)
    data["flows"][0].update(flow or {})
    return data


GOOD_SETTINGS = [
    {"mode": "all", "pass_ratio": 0.5, "on_reject": "initiator"},
    {"mode": "sequential", "fields": {"amount": "read", "note": "edit", "title": "hidden"}},
    {
        "assignees": [
            {"user": "alice"},
            {"role": "manager"},
            {"dept_head": 2},
            {"manager": 1},
            {"field": "owner"},
        ]
    },
]


@pytest.mark.parametrize("settings", GOOD_SETTINGS)
def test_valid_node_settings_validate(settings: dict[str, Any]) -> None:
    assert issues(with_node(settings)) == []


BAD_SETTINGS = [
    ({"type": "vote"}, {}, "flows[0].nodes[1].type", "unknown_node_type"),
    ({"assignees": []}, {}, "flows[0].nodes[1].assignees", "too_short"),
    ({"mode": "majority"}, {}, "flows[0].nodes[1].mode", "literal_error"),
    ({"on_reject": "previous"}, {}, "flows[0].nodes[1].on_reject", "literal_error"),
    ({"pass_ratio": 0.5}, {}, "flows[0].nodes[1].pass_ratio", "pass_ratio_mode"),
    ({"mode": "all", "pass_ratio": 1.5}, {}, "flows[0].nodes[1].pass_ratio", "less_than_equal"),
    ({"timeout": "2d"}, {}, "flows[0].nodes[1].timeout", "unknown_property"),
    (
        {"deadline": {"after": "2 days"}},
        {},
        "flows[0].nodes[1].deadline.after",
        "string_pattern_mismatch",
    ),
    ({"fields": {"amount": "write"}}, {}, "flows[0].nodes[1].fields.amount", "literal_error"),
    ({"fields": {"ghost": "edit"}}, {}, "flows[0].nodes[1].fields.ghost", "unknown_field"),
    ({"assignees": [{"role": "boss"}]}, {}, "flows[0].nodes[1].assignees[0].role", "unknown_role"),
    (
        {"assignees": [{"field": "dept"}]},
        {},
        "flows[0].nodes[1].assignees[0].field",
        "not_member_field",
    ),
    ({"assignees": [{"group": "x"}]}, {}, "flows[0].nodes[1].assignees[0]", "invalid_value"),
    ({}, {"admin": {"role": "boss"}}, "flows[0].admin.role", "unknown_role"),
]


@pytest.mark.parametrize(("settings", "flow", "path", "code"), BAD_SETTINGS)
def test_bad_node_settings_are_refused_at_their_path(
    settings: dict[str, Any], flow: dict[str, Any], path: str, code: str
) -> None:
    found = [i for i in issues(with_node(settings, flow)) if i[0] == path]
    assert [i[1] for i in found] == [code], issues(with_node(settings, flow))
    _, _, zh, en = found[0]
    assert zh != en and en.isascii()


def test_start_and_end_take_no_settings() -> None:
    data = graph("s:start a:approve e:end | s>a a>e")
    data["flows"][0]["nodes"][2]["assignees"] = [{"role": "manager"}]
    assert [i[:2] for i in issues(data)] == [("flows[0].nodes[2].assignees", "unknown_property")]


def test_admin_names_a_user_or_a_role() -> None:
    assert issues(with_node({}, {"admin": {"user": "alice"}})) == []
    assert issues(with_node({}, {"admin": {"role": "manager"}})) == []


def test_the_design_example_validates_and_plans() -> None:
    spec = validated(design_app())
    assert spec.flows[0].nodes[3].settings().deadline.after == "P2D"


def test_the_crm_contract_approval_validates_and_plans_what_the_runtime_needs() -> None:
    spec = validated(crm_with_contract_approval())
    plan = PARTS["flows"].plan(spec, spec.flows[0])
    assert plan["nodes"]["countersign"] == "approve"
    assert plan["settings"]["countersign"]["mode"] == "all"
    assert plan["settings"]["countersign"]["on_reject"] == "initiator"
    assert plan["settings"]["director"]["fields"] == {"amount": "read_only", "signed_date": "edit"}
    assert plan["settings"]["finance"]["assignees"] == [{"role": "finance"}]
    assert plan["next"]["route"] == [
        {"to": "director", "when": "amount < 50000", "default": False},
        {"to": "countersign", "when": None, "default": True},
    ]
    assert [f["field"] for f in plan["fields"]] == ["amount", "signed_date"]
    assert plan["joins"] == {}


def test_the_plan_counts_what_a_parallel_join_waits_for_and_normalises_access() -> None:
    data = graph(
        "s:start p:parallel a:approve b:handle c:cc j:parallel e:end"
        " | s>p p>a p>b p>c a>j b>j c>j j>e"
    )
    data["flows"][0]["nodes"][2]["fields"] = {"amount": "read"}
    data["flows"][0]["nodes"][3]["assignees"] = [{"field": "owner"}]
    spec = validated(data)
    plan = PARTS["flows"].plan(spec, spec.flows[0])
    assert plan["joins"] == {"j": 3}
    assert plan["settings"]["a"]["fields"] == {"amount": "read_only"}
    assert [f["field"] for f in plan["fields"]] == ["amount", "owner"]
    assert plan["settings"]["s"] == {}


def test_publishing_a_broken_graph_is_a_422_at_the_node_and_writes_nothing(
    store_engine: Engine, tmp_path: Path
) -> None:
    with api_client(store_engine, tmp_path) as admin:
        assert admin.post(f"{API}/apps", json=SHOP).status_code == 201
        before = admin.get(f"{API}/apps/shop").json()
        broken = copy.deepcopy(FLOW)
        broken["edges"].append({"from": "boss", "to": "boss"})  # a cycle with no exclusive exit
        for language in ("zh", "en"):
            response = admin.put(
                f"{API}/apps/shop/flows",
                json={"_revision": before["_revision"], "flows": [broken]},
                headers={"Accept-Language": language},
            )
            assert response.status_code == 422, response.text
            found = [i for i in response.json()["error"]["issues"] if i["code"] == "endless_cycle"]
            assert [i["path"] for i in found] == ["flows[0].nodes[1]"]
            assert "boss" in found[0]["message"]
            assert found[0]["message"].isascii() == (language == "en")
        assert admin.get(f"{API}/apps/shop").json() == before
        fine = admin.put(
            f"{API}/apps/shop/flows", json={"_revision": before["_revision"], "flows": [FLOW]}
        )
        assert fine.status_code == 200, fine.text


def test_the_plan_lists_the_fields_conditions_read_by_key_or_label() -> None:
    spec = validated(graph("s:start x:exclusive a:approve e:end | s>x x>a?{金额}>1 x>e! a>e"))
    plan = PARTS["flows"].plan(spec, spec.flows[0])
    assert plan["fields"] == [{"form": "contract", "field": "amount", "type": "number"}]
    spec = validated(graph("s:start x:exclusive a:approve e:end | s>x x>a?ISBLANK(note) x>e! a>e"))
    plan = PARTS["flows"].plan(spec, spec.flows[0])
    assert [f["field"] for f in plan["fields"]] == ["note"]
