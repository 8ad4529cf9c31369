"""The CRM pack's 合同审批 flow (issue 13): the definition it ships, the demo organisation it
needs, altered copies that publishing refuses, and the pack installed with the flow published
and bound to the contract form, on SQLite and PostgreSQL.

No instance runs here: the runtime is another part of issue 13, and sample data loads start
none."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from engine.apps import load_revision
from engine.apps.pipeline import validated
from engine.core.errors import ServiceError
from engine.core.parts import PARTS
from engine.expr import evaluate
from tests.api.records_client import API, api_client

PACK = Path(__file__).resolve().parents[2] / "apps_catalog" / "crm"
APP: dict[str, Any] = json.loads((PACK / "app.json").read_text(encoding="utf-8"))
USERS: dict[str, Any] = json.loads((PACK / "sample_users.json").read_text(encoding="utf-8"))
SAMPLE: dict[str, Any] = json.loads((PACK / "sample_data.json").read_text(encoding="utf-8"))


def pack() -> dict[str, Any]:
    return copy.deepcopy(APP)


def the_flow(app: dict[str, Any]) -> dict[str, Any]:
    flow: dict[str, Any] = app["flows"][0]
    return flow


def node(flow: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in flow["nodes"] if n["id"] == node_id)


def test_the_contract_form_is_bound_to_the_contract_approval() -> None:
    assert [flow["key"] for flow in APP["flows"]] == ["contract_approval"]
    flow = the_flow(APP)
    assert flow["form"] == "contract"
    assert flow["name"] == {"zh": "合同审批", "en": "Contract approval"}
    assert flow["admin"] == {"role": "crm_admin"}
    bound = {form["key"]: form.get("flow") for form in APP["forms"]}
    assert bound == {**dict.fromkeys(bound), "contract": "contract_approval"}


def test_the_flow_validates_and_plans_the_two_branches() -> None:
    spec = validated(pack())
    plan = PARTS["flows"].plan(spec, spec.flows[0])
    assert plan["admin"] == {"role": "crm_admin"}
    assert plan["nodes"] == {
        "start": "start",
        "route": "exclusive",
        "director": "approve",
        "countersign": "approve",
        "finance": "cc",
        "end": "end",
    }
    assert plan["next"]["start"] == [{"to": "route", "when": None, "default": False}]
    assert plan["next"]["route"] == [
        {"to": "director", "when": "amount < 50000", "default": False},
        {"to": "countersign", "when": None, "default": True},
    ]
    assert [e["to"] for e in plan["next"]["director"] + plan["next"]["countersign"]] == [
        "finance",
        "finance",
    ]
    assert plan["next"]["finance"] == [{"to": "end", "when": None, "default": False}]
    director, countersign = plan["settings"]["director"], plan["settings"]["countersign"]
    assert director["assignees"] == [{"role": "sales_director"}]
    assert (director["mode"], director["on_reject"]) == ("any", "initiator")
    assert countersign["assignees"] == [{"role": "sales_director"}, {"role": "general_manager"}]
    assert (countersign["mode"], countersign["on_reject"]) == ("all", "initiator")
    assert countersign["pass_ratio"] is None  # everyone must approve
    for settings in (director, countersign):
        assert settings["fields"] == {"amount": "read_only", "items": "read_only"}
    assert plan["settings"]["finance"]["assignees"] == [{"role": "finance"}]
    assert plan["joins"] == {}


def test_the_condition_reads_the_contract_total_a_rollup_of_its_lines() -> None:
    contract = next(form for form in APP["forms"] if form["key"] == "contract")
    amount = next(field for field in contract["fields"] if field["key"] == "amount")
    assert (amount["type"], amount["relation"], amount["field"], amount["aggregate"]) == (
        "rollup",
        "items",
        "subtotal",
        "sum",
    )
    spec = validated(pack())
    plan = PARTS["flows"].plan(spec, spec.flows[0])
    assert {"form": "contract", "field": "amount", "type": "rollup"} in plan["fields"]


@pytest.mark.parametrize(
    ("amount", "branch"),
    [(30000, "director"), (49999.99, "director"), (50000, "countersign"), (80000, "countersign"),
     (None, "countersign")],
)  # fmt: skip
def test_the_branch_each_amount_takes(amount: float | None, branch: str) -> None:
    """The first edge whose condition holds, else the default; a contract without lines (blank
    amount) takes the stricter branch."""
    route = [e for e in the_flow(APP)["edges"] if e["from"] == "route"]
    taken = next(
        (
            e["to"]
            for e in route
            if e.get("when") and evaluate(e["when"], {"amount": amount}, {"amount": "number"})
        ),
        next(e["to"] for e in route if e.get("default")),
    )
    assert taken == branch


def test_every_flow_label_is_bilingual() -> None:
    flow = the_flow(APP)
    labels = [flow["name"], flow["description"], *(n["name"] for n in flow["nodes"])]
    assert all(label["zh"] and label["en"] and label["en"].isascii() for label in labels)


def test_the_demo_organisation_has_someone_for_every_step() -> None:
    users = {user["username"]: user for user in USERS["users"]}
    for role in ("sales_director", "general_manager", "finance", "crm_admin"):
        holders = [u for u in users.values() if role in u["roles"] and u.get("is_active", True)]
        assert holders, role
    reps = [u for u in users.values() if "sales_rep" in u["roles"]]
    assert any(u.get("manager") in users for u in reps)
    heads = {d["key"]: d.get("head") for d in USERS["departments"]}
    assert heads["sales"] in users and "sales_director" in users[heads["sales"]]["roles"]


def _condition_on_a_missing_field(app: dict[str, Any]) -> None:
    the_flow(app)["edges"][1]["when"] = "total < 50000"


def _condition_of_the_wrong_type(app: dict[str, Any]) -> None:
    the_flow(app)["edges"][1]["when"] = 'amount < "50000"'


def _no_default_branch(app: dict[str, Any]) -> None:
    the_flow(app)["edges"][2]["default"] = False
    the_flow(app)["edges"][2]["when"] = "amount >= 50000"


def _countersign_without_assignees(app: dict[str, Any]) -> None:
    node(the_flow(app), "countersign")["assignees"] = []


def _access_to_a_missing_field(app: dict[str, Any]) -> None:
    node(the_flow(app), "director")["fields"]["opinion"] = "edit"


def _unknown_admin_role(app: dict[str, Any]) -> None:
    the_flow(app)["admin"] = {"role": "ceo"}


ALTERED: list[tuple[Callable[[dict[str, Any]], None], str, str, str]] = [
    (_condition_on_a_missing_field, "flows[0].edges[1].when", "unknown_field", "total"),
    (_condition_of_the_wrong_type, "flows[0].edges[1].when", "operand_type", "<"),
    (_no_default_branch, "flows[0].nodes[1]", "exclusive_default", "route"),
    (_countersign_without_assignees, "flows[0].nodes[3].assignees", "too_short", ""),
    (_access_to_a_missing_field, "flows[0].nodes[2].fields.opinion", "unknown_field", "opinion"),
    (_unknown_admin_role, "flows[0].admin.role", "unknown_role", "ceo"),
]


@pytest.mark.parametrize(
    ("alter", "path", "code", "named"), ALTERED, ids=[a[0].__name__.strip("_") for a in ALTERED]
)
def test_an_altered_copy_is_refused_where_it_is_wrong(
    alter: Callable[[dict[str, Any]], None], path: str, code: str, named: str
) -> None:
    app = pack()
    alter(app)
    with pytest.raises(ServiceError) as refused:
        validated(app)
    found = [(i.path, i.code, i.message_zh, i.message_en) for i in refused.value.issues]
    assert [(p, c) for p, c, _, _ in found] == [(path, code)], found
    _, _, zh, en = found[0]
    assert named in zh and named in en and zh != en


def test_a_removed_branch_is_refused_at_the_nodes_it_breaks() -> None:
    app = pack()
    del the_flow(app)["edges"][2]  # route → countersign: one branch left, countersign unreachable
    with pytest.raises(ServiceError) as refused:
        validated(app)
    found = {(i.path, i.code): (i.message_zh, i.message_en) for i in refused.value.issues}
    assert set(found) == {
        ("flows[0].nodes[1]", "exclusive_branches"),
        ("flows[0].nodes[1]", "exclusive_default"),
        ("flows[0].nodes[3]", "unreachable"),
    }
    zh, en = found[("flows[0].nodes[3]", "unreachable")]
    assert "countersign" in zh and "countersign" in en


# -- installed --------------------------------------------------------------------------------


@pytest.fixture
def crm(crm_engine: Engine, tmp_path: Path) -> TestClient:
    """The CRM installed with its sample data (a copy of the session's installation)."""
    return api_client(crm_engine, tmp_path)


def test_the_pack_installs_with_the_flow_published_and_bound(
    crm: TestClient, crm_engine: Engine
) -> None:
    definition = crm.get(f"{API}/apps/crm").json()
    assert [flow["key"] for flow in definition["flows"]] == ["contract_approval"]
    flow = definition["flows"][0]
    assert flow["admin"] == {"role": "crm_admin"}
    assert [(n["id"], n["type"]) for n in flow["nodes"]] == [
        (n["id"], n["type"]) for n in the_flow(APP)["nodes"]
    ]
    assert [(e["from"], e["to"]) for e in flow["edges"]] == [
        (e["from"], e["to"]) for e in the_flow(APP)["edges"]
    ]
    contract = next(form for form in definition["forms"] if form["key"] == "contract")
    assert contract["flow"] == "contract_approval"
    with crm_engine.connect() as conn:
        revision = load_revision(conn, "crm", definition["_revision"])
    plan = revision.plans["flows"]["contract_approval"]
    assert plan["settings"]["countersign"]["mode"] == "all"
    assert plan["next"]["route"][0] == {
        "to": "director",
        "when": "amount < 50000",
        "default": False,
    }


def test_the_sample_contracts_load_and_take_both_branches(crm: TestClient) -> None:
    records = f"{API}/apps/crm/forms/contract/records"
    total = crm.get(records, params={"count": "exact", "limit": 1}).json()["total"]
    assert total == len(SAMPLE["contract"])
    small = crm.get(
        records, params={"filter": "amount < 50000", "count": "exact", "limit": 1}
    ).json()["total"]
    assert 0 < small < total  # the condition runs on the rollup; both branches have contracts


def test_publishing_an_altered_flow_is_a_422_that_writes_nothing(crm: TestClient) -> None:
    before = crm.get(f"{API}/apps/crm").json()
    broken = copy.deepcopy(before["flows"][0])
    broken["edges"][1]["when"] = "total < 50000"
    for language in ("zh", "en"):
        response = crm.put(
            f"{API}/apps/crm/flows",
            json={"_revision": before["_revision"], "flows": [broken]},
            headers={"Accept-Language": language},
        )
        assert response.status_code == 422, response.text
        issues = response.json()["error"]["issues"]
        assert [(i["path"], i["code"]) for i in issues] == [
            ("flows[0].edges[1].when", "unknown_field")
        ]
        assert "total" in issues[0]["message"]
        assert issues[0]["message"].isascii() == (language == "en")
    assert crm.get(f"{API}/apps/crm").json() == before
