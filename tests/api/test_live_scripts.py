"""`GET …/forms/{form}/live`: formulas and show/hide rules compiled for the browser runtime."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from engine.forms import apps
from engine.forms.live import live_scripts
from tests.api.records_client import API
from tests.expr.js_harness import NodeEvaluator

DEMO: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "demo",
    "name": {"zh": "演示", "en": "Demo"},
    "version": "1.0.0",
    "forms": [
        {
            "key": "order",
            "name": "订单",
            "fields": [
                {"key": "qty", "type": "integer", "label": "数量"},
                {"key": "price", "type": "money", "label": "单价", "precision": 2},
                {"key": "total", "type": "formula", "label": "总价", "expr": "qty * price"},
                {
                    "key": "big",
                    "type": "formula",
                    "label": "大单",
                    "expr": 'IF(total >= 1000, "是", "否")',
                },
                {"key": "reason", "type": "text", "label": "原因", "visible_when": "total >= 1000"},
                {"key": "locked", "type": "checkbox", "label": "锁定"},
                {"key": "remark", "type": "text", "label": "备注", "readonly_when": "locked"},
                {"key": "customer", "type": "relation", "label": "客户", "target": "order"},
                {
                    "key": "lines",
                    "type": "subform",
                    "label": "明细",
                    "fields": [
                        {"key": "n", "type": "integer", "label": "件数"},
                        {
                            "key": "line_total",
                            "type": "formula",
                            "label": "行合计",
                            "expr": "n * price",
                        },
                        {"key": "far", "type": "formula", "label": "远", "expr": "customer.qty"},
                    ],
                },
                {"key": "via_relation", "type": "formula", "label": "关联", "expr": "customer.qty"},
            ],
        }
    ],
}


def test_formulas_and_rules_run_in_the_browser_runtime(
    client: TestClient, node_evaluator: NodeEvaluator
) -> None:
    assert client.post(f"{API}/apps", json=DEMO).status_code == 201
    response = client.get(f"{API}/apps/demo/forms/order/live")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tz"] == "Asia/Shanghai"
    formulas = {f["key"]: f for f in body["formulas"]}
    assert [f["key"] for f in body["formulas"]] == ["total", "big"]  # dependency order
    assert "via_relation" not in formulas  # a relation path is computed by the server
    assert formulas["total"]["reads"] == ["price", "qty"]
    rule = body["visible_when"][0]
    assert rule["key"] == "reason" and rule["type"] == "boolean"
    assert [r["key"] for r in body["readonly_when"]] == ["remark"]
    rows = body["subforms"]["lines"]
    assert [f["key"] for f in rows["formulas"]] == ["line_total"]  # reads the row and the form

    def run(src: str, record: dict[str, Any], kind: str) -> Any:
        return node_evaluator.request(
            {"src": src, "record": record, "now": None, "tz": "Asia/Shanghai", "kind": kind}
        )

    record: dict[str, Any] = {"qty": 3, "price": "400.50"}
    record["total"] = run(formulas["total"]["js"], record, formulas["total"]["type"])
    assert record["total"] == "1201.5"
    assert run(formulas["big"]["js"], record, "text") == "是"
    assert run(rule["js"], record, "boolean") is True
    assert run(rule["js"], {"qty": 1, "price": "1", "total": "1"}, "boolean") is False
    assert run(body["readonly_when"][0]["js"], {"locked": True}, "boolean") is True
    assert run(rows["formulas"][0]["js"], {"price": "2.5", "n": 4}, "number") == "10"


def test_formulas_reading_hidden_fields_stay_on_the_server(crm: TestClient) -> None:
    opportunity = crm.get(f"{API}/apps/crm/forms/opportunity/live").json()
    assert [f["key"] for f in opportunity["formulas"]] == ["weighted_amount"]
    engine = crm.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        form = apps.load(conn, "crm").form("opportunity")
    assert live_scripts(form, frozenset({"win_rate"}))["formulas"] == []
    assert live_scripts(form, frozenset({"weighted_amount"}))["formulas"] == []
    contract = crm.get(f"{API}/apps/crm/forms/contract/live").json()
    assert [f["key"] for f in contract["subforms"]["items"]["formulas"]] == ["subtotal"]


def test_unknown_form_or_app_is_404(crm: TestClient) -> None:
    assert crm.get(f"{API}/apps/crm/forms/nothing/live").status_code == 404
    assert crm.get(f"{API}/apps/nothing/forms/customer/live").status_code == 404
    assert (
        crm.get(f"{API}/apps/crm/forms/customer/live", headers={"Authorization": ""}).status_code
        == 401
    )
