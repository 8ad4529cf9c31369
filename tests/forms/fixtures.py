"""App definitions for the forms tests: a valid CRM-like app, and builders for variants."""

from __future__ import annotations

import copy
from typing import Any

_CRM: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "crm",
    "name": {"zh": "客户管理", "en": "CRM"},
    "version": "1.0.0",
    "forms": [
        {
            "key": "customer",
            "name": {"zh": "客户", "en": "Customer"},
            "title_field": "name",
            "fields": [
                {
                    "key": "name",
                    "type": "text",
                    "label": {"zh": "客户名称", "en": "Name"},
                    "required": True,
                    "unique": True,
                },
                {
                    "key": "level",
                    "type": "select",
                    "label": {"zh": "客户等级", "en": "Level"},
                    "options": [
                        {"value": "A", "label": "重要", "color": "#e53935"},
                        {"value": "B", "label": "普通", "color": "#1e88e5"},
                        {"value": "C", "label": {"zh": "潜在", "en": "Prospect"}},
                    ],
                    "default": "B",
                },
                {"key": "phone", "type": "phone", "label": "电话", "pattern": r"^1\d{10}$"},
                {"key": "credit", "type": "money", "label": "信用额度", "precision": 2, "min": 0},
                {"key": "address", "type": "address", "label": "地址", "width": "full"},
            ],
        },
        {
            "key": "contract",
            "name": {"zh": "合同", "en": "Contract"},
            "title_field": "title",
            "fields": [
                {"key": "title", "type": "text", "label": {"zh": "合同名称"}, "required": True},
                {
                    "key": "no",
                    "type": "serial",
                    "label": "合同编号",
                    "pattern": "HT-{YYYY}{MM}-{0000}",
                },
                {
                    "key": "customer",
                    "type": "relation",
                    "label": "客户",
                    "target": "customer",
                    "required": True,
                },
                {
                    "key": "customer_level",
                    "type": "lookup",
                    "label": "客户等级",
                    "relation": "customer",
                    "field": "level",
                },
                {"key": "start_date", "type": "date", "label": "开始日期"},
                {"key": "end_date", "type": "date", "label": "结束日期"},
                {
                    "key": "discount",
                    "type": "percent",
                    "label": "折扣",
                    "min": 0,
                    "max": 100,
                    "default": {"expr": 'IF(customer.level = "A", 10, 0)'},
                },
                {
                    "key": "items",
                    "type": "subform",
                    "label": "明细",
                    "fields": [
                        {"key": "product", "type": "text", "label": "产品", "required": True},
                        {"key": "qty", "type": "integer", "label": "数量", "min": 1},
                        {"key": "price", "type": "money", "label": "单价", "precision": 2},
                        {
                            "key": "line_total",
                            "type": "formula",
                            "label": "小计",
                            "expr": "qty * price",
                            "precision": 2,
                        },
                    ],
                },
                {
                    "key": "total",
                    "type": "rollup",
                    "label": "合计",
                    "relation": "items",
                    "field": "line_total",
                    "aggregate": "sum",
                },
                {
                    "key": "tier",
                    "type": "formula",
                    "label": "级别",
                    "expr": 'IF(total >= 50000, "big", "small")',
                },
                {
                    "key": "big_customer",
                    "type": "formula",
                    "expr": 'AND(customer_level = "A", tier = "big")',
                },
                {"key": "note", "type": "textarea", "label": "备注", "visible_when": "total > 0"},
                {
                    "key": "signed",
                    "type": "checkbox",
                    "label": "已签署",
                    "readonly_when": "NOT(ISBLANK(end_date))",
                },
                {"key": "owner", "type": "user", "label": "负责人"},
                {"key": "files", "type": "attachment", "label": "附件"},
                {"key": "created", "type": "created_at"},
            ],
            "validations": [
                {
                    "expr": "end_date >= start_date",
                    "message": {
                        "zh": "结束日期不能早于开始日期",
                        "en": "The end date cannot be before the start date",
                    },
                }
            ],
            "flow": "contract_approval",
        },
    ],
    "flows": [
        {
            "key": "contract_approval",
            "name": {"zh": "合同审批", "en": "Contract approval"},
            "form": "contract",
        }
    ],
    "menu": [{"form": "customer"}, {"form": "contract"}],
}


def crm_app() -> dict[str, Any]:
    """A fresh copy of the valid CRM app."""
    return copy.deepcopy(_CRM)


def contract_fields(app: dict[str, Any]) -> list[dict[str, Any]]:
    """The contract form's field list of `app` (to mutate in a test)."""
    fields: list[dict[str, Any]] = app["forms"][1]["fields"]
    return fields
