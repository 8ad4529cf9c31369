"""A small app with data linkage defaults, shared by the linkage tests: customers (the source)
and orders whose level, phone, manager and credit are copied from the chosen customer."""

from __future__ import annotations

import copy
from typing import Any

LEVELS = [{"value": "A", "label": "A"}, {"value": "B", "label": "B"}, {"value": "C", "label": "C"}]


def link(take: str, *when: tuple[str, str], form: str = "customer") -> dict[str, Any]:
    """A linkage default: `when` pairs are (source field, this form's field)."""
    return {
        "linkage": {
            "form": form,
            "when": [{"field": f, "equals": e} for f, e in when],
            "take": take,
        }
    }


APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "shop",
    "name": {"zh": "商店", "en": "Shop"},
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
                    "label": {"zh": "名称", "en": "Name"},
                    "required": True,
                },
                {"key": "city", "type": "text", "label": {"zh": "城市", "en": "City"}},
                {
                    "key": "level",
                    "type": "select",
                    "label": {"zh": "级别", "en": "Level"},
                    "options": LEVELS,
                },
                {"key": "phone", "type": "phone", "label": {"zh": "电话", "en": "Phone"}},
                {"key": "manager", "type": "user", "label": {"zh": "客户经理", "en": "Manager"}},
                {"key": "credit", "type": "money", "label": {"zh": "信用额度", "en": "Credit"}},
            ],
        },
        {
            "key": "order",
            "name": {"zh": "订单", "en": "Order"},
            "title_field": "title",
            "fields": [
                {"key": "title", "type": "text", "label": {"zh": "标题", "en": "Title"}},
                {
                    "key": "customer",
                    "type": "relation",
                    "target": "customer",
                    "label": {"zh": "客户", "en": "Customer"},
                },
                {
                    "key": "level",
                    "type": "select",
                    "options": LEVELS,
                    "label": {"zh": "客户级别", "en": "Level"},
                    "default": link("level", ("_id", "customer")),
                },
                {
                    "key": "phone",
                    "type": "text",
                    "label": {"zh": "联系电话", "en": "Phone"},
                    "default": link("phone", ("_id", "customer")),
                },
                {
                    "key": "manager",
                    "type": "user",
                    "label": {"zh": "客户经理", "en": "Manager"},
                    "default": link("manager", ("_id", "customer")),
                },
                {
                    "key": "credit",
                    "type": "number",
                    "precision": 2,
                    "label": {"zh": "额度", "en": "Credit"},
                    "default": link("credit", ("_id", "customer")),
                },
                {
                    "key": "customer_name",
                    "type": "text",
                    "label": {"zh": "客户名称", "en": "Customer name"},
                },
                {"key": "city", "type": "text", "label": {"zh": "城市", "en": "City"}},
                {
                    "key": "level_by_name",
                    "type": "select",
                    "options": LEVELS,
                    "label": {"zh": "按名称的级别", "en": "Level by name"},
                    "default": link("level", ("name", "customer_name"), ("city", "city")),
                },
            ],
        },
    ],
    "roles": [
        {
            "key": "rep",
            "name": {"zh": "销售代表", "en": "Sales rep"},
            "forms": {
                "customer": {
                    "actions": ["view", "create", "edit"],
                    "scope": "own",
                    "fields": {"credit": "hidden"},
                },
                "order": {"actions": ["view", "create", "edit"], "scope": "own"},
            },
        },
        {
            "key": "viewer",
            "name": {"zh": "只读", "en": "Viewer"},
            "forms": {
                "customer": {"actions": ["view"], "scope": "all"},
                "order": {"actions": ["view"], "scope": "all"},
            },
        },
    ],
}


def shop_app() -> dict[str, Any]:
    """A fresh copy of the app definition."""
    return copy.deepcopy(APP)


def order_field(app: dict[str, Any], key: str) -> dict[str, Any]:
    """The order form's field `key` (to break in a test)."""
    found: dict[str, Any] = next(f for f in app["forms"][1]["fields"] if f["key"] == key)
    return found
