"""Flow definitions the flow tests share: DESIGN §8's example and the CRM contract approval."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

CATALOG = Path(__file__).resolve().parents[2] / "apps_catalog" / "crm" / "app.json"

CRM_CONTRACT_APPROVAL: dict[str, Any] = {
    "key": "contract_approval",
    "name": {"zh": "合同审批", "en": "Contract approval"},
    "form": "contract",
    "nodes": [
        {"id": "start", "type": "start"},
        {"id": "route", "type": "exclusive"},
        {
            "id": "director",
            "type": "approve",
            "name": {"zh": "销售总监审批", "en": "Sales director"},
            "assignees": [{"role": "sales_director"}],
            "on_reject": "initiator",
            "fields": {"amount": "read_only", "signed_date": "edit"},
        },
        {
            "id": "countersign",
            "type": "approve",
            "name": {"zh": "总监与总经理会签", "en": "Director and general manager"},
            "assignees": [{"role": "sales_director"}, {"role": "general_manager"}],
            "mode": "all",
            "on_reject": "initiator",
        },
        {"id": "finance", "type": "cc", "assignees": [{"role": "finance"}]},
        {"id": "end", "type": "end"},
    ],
    "edges": [
        {"from": "start", "to": "route"},
        {"from": "route", "to": "director", "when": "amount < 50000"},
        {"from": "route", "to": "countersign", "default": True},
        {"from": "director", "to": "finance"},
        {"from": "countersign", "to": "finance"},
        {"from": "finance", "to": "end"},
    ],
}


def crm_with_contract_approval() -> dict[str, Any]:
    """The stock CRM pack with the contract approval flow bound to its contract form."""
    app: dict[str, Any] = json.loads(CATALOG.read_text(encoding="utf-8"))
    app["flows"] = [copy.deepcopy(CRM_CONTRACT_APPROVAL)]
    for form in app["forms"]:
        if form["key"] == "contract":
            form["flow"] = "contract_approval"
    return app


DESIGN_EXAMPLE: dict[str, Any] = {
    "key": "contract_approval",
    "name": {"zh": "合同审批", "en": "Contract approval"},
    "form": "contract",
    "nodes": [
        {"id": "start", "type": "start"},
        {"id": "route", "type": "exclusive"},
        {
            "id": "director",
            "type": "approve",
            "assignees": [{"role": "sales_director"}],
            "mode": "any",
        },
        {
            "id": "board",
            "type": "approve",
            "assignees": [{"role": "sales_director"}, {"role": "ceo"}],
            "mode": "all",
            "fields": {"amount": "read_only", "discount": "edit"},
            "deadline": {"after": "P2D", "then": "remind"},
        },
        {"id": "finance", "type": "cc", "assignees": [{"role": "finance"}]},
        {"id": "end", "type": "end"},
    ],
    "edges": [
        {"from": "start", "to": "route"},
        {"from": "route", "to": "director", "when": "amount < 50000"},
        {"from": "route", "to": "board", "default": True},
        {"from": "director", "to": "finance"},
        {"from": "board", "to": "finance"},
        {"from": "finance", "to": "end"},
    ],
}


def design_app() -> dict[str, Any]:
    """A small app DESIGN §8's example flow runs on (its form and roles)."""
    role = lambda key, zh: {"key": key, "name": {"zh": zh, "en": key}}  # noqa: E731
    return {
        "format": "jimu.app/1",
        "key": "sales",
        "name": {"zh": "销售", "en": "Sales"},
        "version": "1.0.0",
        "forms": [
            {
                "key": "contract",
                "name": {"zh": "合同", "en": "Contract"},
                "fields": [
                    {"key": "title", "type": "text", "label": "标题"},
                    {"key": "amount", "type": "number", "label": "金额"},
                    {"key": "discount", "type": "number", "label": "折扣"},
                ],
            }
        ],
        "roles": [role("sales_director", "销售总监"), role("ceo", "总裁"), role("finance", "财务")],
        "flows": [copy.deepcopy(DESIGN_EXAMPLE)],
    }
