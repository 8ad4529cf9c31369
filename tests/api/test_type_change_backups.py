"""Type changes name the records whose values do not convert, and their backups can be listed
and restored into the field (where empty and convertible), on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient

from tests.api.records_client import API

RECORDS = f"{API}/apps/shop/forms/order/records"


def _app() -> dict[str, Any]:
    return {
        "format": "jimu.app/1",
        "key": "shop",
        "name": {"zh": "商店", "en": "Shop"},
        "version": "1.0.0",
        "forms": [
            {
                "key": "order",
                "name": {"zh": "订单", "en": "Order"},
                "title_field": "name",
                "fields": [
                    {"key": "name", "type": "text", "label": {"zh": "名称"}},
                    {"key": "amount", "type": "text", "label": {"zh": "金额"}},
                    {"key": "code", "type": "text", "label": {"zh": "编号"}, "unique": True},
                    {"key": "double", "type": "formula", "expr": "amount & amount"},
                    {
                        "key": "items",
                        "type": "subform",
                        "label": {"zh": "明细"},
                        "fields": [{"key": "qty", "type": "text", "label": {"zh": "数量"}}],
                    },
                ],
            }
        ],
    }


def _publish(client: TestClient, changes: dict[str, str]) -> dict[str, Any]:
    """Give fields new types; answers the plan that was published."""
    app = copy.deepcopy(client.get(f"{API}/apps/shop").json())
    app["forms"][0]["fields"] = [
        {k: v for k, v in f.items() if k in ("key", "label", "unique")}
        | {"type": changes[f["key"]]}
        if f["key"] in changes
        else f
        for f in app["forms"][0]["fields"]
    ]
    plan = client.post(f"{API}/apps/shop/plan", json=app)
    assert plan.status_code == 200, plan.text
    published = client.put(f"{API}/apps/shop", json={**app, "plan_hash": plan.json()["plan_hash"]})
    assert published.status_code == 200, published.text
    body: dict[str, Any] = plan.json()
    return body


def _record(client: TestClient, rid: int) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"{RECORDS}/{rid}").json()
    return body


def test_plan_names_failures_and_a_backup_restores_where_empty(client: TestClient) -> None:
    assert client.post(f"{API}/apps", json=_app()).status_code == 201
    ids = []
    for name, amount, code in [("甲", "12.5", "1"), ("乙", "大约一百万", "x"), ("丙", None, None)]:
        created = client.post(RECORDS, json={"name": name, "amount": amount, "code": code})
        assert created.status_code == 201, created.text
        ids.append(created.json()["_id"])
    a, b, c = ids

    # text → number: the plan names 乙 and its value.
    plan = _publish(client, {"amount": "number"})
    step = next(s for s in plan["steps"] if s["op"] == "convert_field")
    assert step["detail"]["not_converted"] == 1
    assert step["detail"]["not_converted_samples"] == [
        {"id": b, "title": "乙", "value": "大约一百万"}
    ]
    assert _record(client, b)["amount"] is None

    backups = client.get(f"{API}/apps/shop/forms/order/backups").json()
    [first] = [x for x in backups if x["field"] == "amount"]
    assert first["type"] == "text" and first["values"] == 2

    # Restoring into the number field: 乙's text still does not convert; nothing is written.
    url = f"{API}/apps/shop/forms/order/fields/amount/backups/{first['backup']}/restore"
    report = client.post(url).json()
    assert report["restored"] == 0
    assert report["not_restored"] == [
        {"id": b, "title": "乙", "value": "大约一百万", "reason": "not_converted"}
    ]
    version = _record(client, b)["_version"]

    # Back to text: 乙 is empty (its number was empty); the first backup brings its text back.
    _publish(client, {"amount": "text"})
    assert _record(client, b)["amount"] is None
    report = client.post(url).json()
    assert report["restored"] == 1
    # 甲's number came back as "12.50": a value of its own, never overwritten by "12.5".
    assert report["not_restored"] == [
        {"id": a, "title": "甲", "value": "12.5", "reason": "has_value"}
    ]
    restored = _record(client, b)
    assert restored["amount"] == "大约一百万"
    assert restored["double"] == "大约一百万大约一百万"  # stored formulas recomputed
    assert restored["_version"] == version + 1
    assert _record(client, a)["amount"] == "12.50" and _record(client, c)["amount"] is None
    # Restoring again changes nothing.
    assert client.post(url).json()["restored"] == 0
    # Restored text sorts by pinyin like any other: 大 (da) before 中 (zhong), blanks last.
    created = client.post(RECORDS, json={"name": "丁", "amount": "中文", "code": "2"})
    assert created.status_code == 201, created.text
    page = client.get(RECORDS, params={"sort": "amount"}).json()["items"]
    assert [r["name"] for r in page] == ["甲", "乙", "丁", "丙"]


def test_refused_restores_write_nothing(client: TestClient) -> None:
    assert client.post(f"{API}/apps", json=_app()).status_code == 201
    first = client.post(RECORDS, json={"name": "甲", "code": "1"}).json()["_id"]
    second = client.post(RECORDS, json={"name": "乙", "code": "x"}).json()["_id"]
    _publish(client, {"code": "number"})  # "x" does not convert
    _publish(client, {"code": "text"})
    [text_backup] = [
        x["backup"]
        for x in client.get(f"{API}/apps/shop/forms/order/backups").json()
        if x["field"] == "code" and x["type"] == "text"
    ]
    current = _record(client, first)
    assert (
        client.patch(
            f"{RECORDS}/{first}", json={"code": "x", "_version": current["_version"]}
        ).status_code
        == 200
    )
    # 乙's "x" would repeat 甲's: refused as a whole, with a field-level message in zh and en.
    base = f"{API}/apps/shop/forms/order/fields"
    refused = client.post(f"{base}/code/backups/{text_backup}/restore")
    assert refused.status_code == 422
    [issue] = refused.json()["error"]["issues"]
    assert issue["code"] == "unique_violation" and issue["path"] == "field"
    assert _record(client, second)["code"] is None
    # Unknown backups and fields are 404s; a field without values of its own is refused.
    assert client.post(f"{base}/code/backups/f1_b9/restore").status_code == 404
    assert client.post(f"{base}/nothing/backups/{text_backup}/restore").status_code == 404
    assert client.get(f"{API}/apps/shop/forms/nothing/backups").status_code == 404
    assert client.get(f"{API}/apps/nothing/forms/order/backups").status_code == 404


def _publish_row_field(client: TestClient, type_: str) -> None:
    """Give the subform's row field `items.qty` a new type."""
    app = copy.deepcopy(client.get(f"{API}/apps/shop").json())
    [items] = [f for f in app["forms"][0]["fields"] if f["key"] == "items"]
    items["fields"] = [{"key": "qty", "type": type_, "label": {"zh": "数量"}}]
    plan = client.post(f"{API}/apps/shop/plan", json=app).json()
    published = client.put(f"{API}/apps/shop", json={**app, "plan_hash": plan["plan_hash"]})
    assert published.status_code == 200, published.text


def test_a_subform_row_fields_backup_restores_into_its_rows(client: TestClient) -> None:
    assert client.post(f"{API}/apps", json=_app()).status_code == 201
    rows = [[{"qty": "3"}, {"qty": "很多"}], [{"qty": "七"}], []]
    ids = [
        client.post(RECORDS, json={"name": n, "items": r}).json()["_id"]
        for n, r in zip("甲乙丙", rows, strict=True)
    ]
    row_ids = [[row["_id"] for row in _record(client, rid)["items"]] for rid in ids]
    _publish_row_field(client, "number")  # 很多 and 七 do not convert
    _publish_row_field(client, "text")  # and come back empty
    versions = [_record(client, rid)["_version"] for rid in ids]
    assert [[r["qty"] for r in _record(client, rid)["items"]] for rid in ids[:2]] == [
        ["3.00", None],
        [None],
    ]
    backups = client.get(f"{API}/apps/shop/forms/order/backups").json()
    [text_backup] = [b for b in backups if b["field"] == "items.qty" and b["type"] == "text"]
    assert text_backup["values"] == 3
    url = f"{API}/apps/shop/forms/order/fields/items.qty/backups/{text_backup['backup']}/restore"
    report = client.post(url)
    assert report.status_code == 200, report.text
    assert report.json()["restored"] == 2
    assert report.json()["not_restored"] == [  # "3.00" is a value of its own since
        {"id": ids[0], "title": "甲", "row": row_ids[0][0], "value": "3", "reason": "has_value"}
    ]
    back = [_record(client, rid) for rid in ids]
    # each value is back in its own row, the rows keep their ids, the records a new version
    assert [[(r["_id"], r["qty"]) for r in record["items"]] for record in back] == [
        [(row_ids[0][0], "3.00"), (row_ids[0][1], "很多")],
        [(row_ids[1][0], "七")],
        [],
    ]
    assert [record["_version"] for record in back] == [
        versions[0] + 1,
        versions[1] + 1,
        versions[2],
    ]
    assert client.post(url).json()["restored"] == 0  # restoring again changes nothing
