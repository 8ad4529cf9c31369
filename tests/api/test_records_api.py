"""The records API end to end on SQLite and PostgreSQL: the CRM pack, filters, bad input,
type changes that keep every value, versions, the recycle bin, batches and export/import."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from engine.forms.sortkey import sort_key
from tests.api.records_client import API

CUSTOMERS = f"{API}/apps/crm/forms/customer/records"


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def _set_type(definition: dict[str, Any], key: str, new: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(definition)
    fields = changed["forms"][0]["fields"]
    index = next(i for i, f in enumerate(fields) if f["key"] == key)
    fields[index] = {"key": key, "label": fields[index].get("label"), **new}
    return changed


def test_the_admin_token_guards_the_api(client: TestClient) -> None:
    response = client.get(f"{API}/apps", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert client.get(f"{API}/apps").json() == []


def test_catalog_lists_the_crm_pack(client: TestClient) -> None:
    packs = {p["key"]: p for p in client.get(f"{API}/catalog").json()}
    assert packs["crm"]["sample_data"] is True


def test_crm_installs_with_sample_data_and_filters_by_formula(crm: TestClient) -> None:
    page = crm.get(CUSTOMERS, params={"limit": 5}).json()
    assert page["total"] >= 200
    filtered = crm.get(
        CUSTOMERS,
        params={
            "filter": 'level = "A" AND annual_purchase >= 1000000',
            "sort": "-annual_purchase",
            "limit": 1000,
        },
    ).json()
    assert filtered["items"], "the sample data has big A-level customers"
    amounts = [float(item["annual_purchase"]) for item in filtered["items"]]
    assert all(item["level"] == "A" for item in filtered["items"])
    assert all(amount >= 1_000_000 for amount in amounts)
    assert amounts == sorted(amounts, reverse=True)
    everything = crm.get(CUSTOMERS, params={"limit": 1000}).json()["items"]
    expected = [
        c
        for c in everything
        if c["level"] == "A" and c["annual_purchase"] and float(c["annual_purchase"]) >= 1_000_000
    ]
    assert filtered["total"] == len(expected)


def test_search_sort_and_paging(crm: TestClient) -> None:
    first = crm.get(CUSTOMERS, params={"sort": "name", "limit": 10}).json()["items"]
    second = crm.get(CUSTOMERS, params={"sort": "name", "limit": 10, "offset": 10}).json()["items"]
    names = [c["name"] for c in first + second]
    assert names == sorted(names, key=lambda n: (sort_key(n), n))  # by pinyin (issue 16)
    word = first[0]["name"][2:4]
    found = crm.get(CUSTOMERS, params={"q": word}).json()["items"]
    assert found and all(word in c["name"] for c in found)


def test_bad_phone_gives_a_field_error_and_writes_nothing(
    crm: TestClient, crm_engine: Engine
) -> None:
    before = crm.get(CUSTOMERS, params={"limit": 0}).json()["total"]
    response = crm.post(
        CUSTOMERS, json={"name": "测试客户", "phone": "12345"}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 422
    issues = response.json()["error"]["issues"]
    assert [i["path"] for i in issues] == ["phone"]
    assert issues[0]["code"] == "invalid_phone"
    assert crm.get(CUSTOMERS, params={"limit": 0}).json()["total"] == before


def test_required_unique_and_cross_field_validation(crm: TestClient) -> None:
    taken = crm.get(CUSTOMERS, params={"limit": 1}).json()["items"][0]["phone"]
    response = crm.post(CUSTOMERS, json={"phone": taken})
    assert response.status_code == 422
    codes = {(i["path"], i["code"]) for i in response.json()["error"]["issues"]}
    assert ("name", "required") in codes and ("phone", "unique") in codes
    customer = crm.get(CUSTOMERS, params={"limit": 1}).json()["items"][0]["_id"]
    contract = {
        "title": "坏合同",
        "customer": customer,
        "start_date": "2026-05-01",
        "end_date": "2026-04-01",
        "items": [{"product": "服务器", "qty": 2, "price": "100.50"}],
    }
    response = crm.post(f"{API}/apps/crm/forms/contract/records", json=contract)
    assert response.status_code == 422
    assert response.json()["error"]["issues"][0]["code"] == "validation"
    contract["end_date"] = "2027-04-30"
    created = crm.post(f"{API}/apps/crm/forms/contract/records", json=contract)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["number"].startswith("HT-") and body["number"].endswith("-0121")
    assert body["items"][0]["subtotal"] == "201.00"
    assert body["amount"] == "201.00"
    assert body["customer"]["_id"] == customer and body["customer"]["title"]


def test_patch_needs_the_current_version(crm: TestClient) -> None:
    record = crm.get(CUSTOMERS, params={"limit": 1}).json()["items"][0]
    url = f"{CUSTOMERS}/{record['_id']}"
    assert crm.patch(url, json={"note": "x"}).status_code == 422
    changed = crm.patch(url, json={"note": "改过了", "_version": record["_version"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["_version"] == record["_version"] + 1
    stale = crm.patch(url, json={"note": "覆盖", "_version": record["_version"]})
    assert stale.status_code == 409
    assert crm.get(url).json()["note"] == "改过了"
    history = crm.get(f"{url}/history").json()
    assert history[-1]["changes"]["note"] == [record["note"], "改过了"]
    assert history[-1]["channel"] == "api"


def test_recycle_bin_and_restore(crm: TestClient) -> None:
    record = crm.get(CUSTOMERS, params={"limit": 1}).json()["items"][0]
    url = f"{CUSTOMERS}/{record['_id']}"
    assert crm.delete(url).status_code == 204
    assert crm.get(url).status_code == 404
    binned = crm.get(f"{API}/apps/crm/forms/customer/recycle-bin").json()["items"]
    assert [r["_id"] for r in binned] == [record["_id"]]
    # the deleted record's phone no longer blocks a new customer, but then blocks the restore
    reuse = crm.post(CUSTOMERS, json={"name": "新客户", "phone": record["phone"]})
    assert reuse.status_code == 201, reuse.text
    blocked = crm.post(f"{url}/restore")
    assert blocked.status_code == 422 and blocked.json()["error"]["issues"][0]["code"] == "unique"
    assert crm.delete(f"{CUSTOMERS}/{reuse.json()['_id']}").status_code == 204
    assert crm.post(f"{url}/restore").status_code == 200
    assert crm.get(url).json()["phone"] == record["phone"]


def test_batch_all_or_nothing_and_partial(crm: TestClient) -> None:
    total = crm.get(CUSTOMERS, params={"limit": 0}).json()["total"]
    rows = [{"name": "批量一", "phone": "13800000001"}, {"name": "批量二", "phone": "bad"}]
    response = crm.post(f"{CUSTOMERS}/batch", json=rows)
    assert response.status_code == 422
    assert [i["path"] for i in response.json()["error"]["issues"]] == ["[1].phone"]
    assert crm.get(CUSTOMERS, params={"limit": 0}).json()["total"] == total
    partial = crm.post(f"{CUSTOMERS}/batch", params={"partial": "true"}, json=rows).json()[
        "results"
    ]
    assert [r["ok"] for r in partial] == [True, False]
    assert crm.get(CUSTOMERS, params={"limit": 0}).json()["total"] == total + 1


def test_number_to_text_and_back_keeps_every_value(crm: TestClient, crm_engine: Engine) -> None:
    before = {
        c["_id"]: c["annual_purchase"]
        for c in crm.get(CUSTOMERS, params={"limit": 1000}).json()["items"]
    }
    app = crm.get(f"{API}/apps/crm").json()
    as_text = _set_type(app, "annual_purchase", {"type": "text"})
    plan = crm.post(f"{API}/apps/crm/plan", json=as_text).json()
    [step] = plan["steps"]
    assert step["op"] == "convert_field" and step["detail"]["not_converted"] == 0
    assert (
        "从数字改为单行文本" in step["message"]["zh"]
        and "from Number to Text" in step["message"]["en"]
    )
    # Each language's message names the field in that language.
    assert "「年采购额」" in step["message"]["zh"] and '"Annual purchases"' in step["message"]["en"]
    published = crm.put(f"{API}/apps/crm", json={**as_text, "plan_hash": plan["plan_hash"]})
    assert published.status_code == 200, published.text
    texts = {
        c["_id"]: c["annual_purchase"]
        for c in crm.get(CUSTOMERS, params={"limit": 1000}).json()["items"]
    }
    assert texts == before
    stale = crm.put(f"{API}/apps/crm", json=as_text)
    assert stale.status_code == 409
    back = _set_type(
        crm.get(f"{API}/apps/crm").json(),
        "annual_purchase",
        {"type": "number", "precision": 2, "min": 0},
    )
    assert crm.put(f"{API}/apps/crm", json=back).status_code == 200
    after = {
        c["_id"]: c["annual_purchase"]
        for c in crm.get(CUSTOMERS, params={"limit": 1000}).json()["items"]
    }
    assert after == before


def test_a_value_that_does_not_convert_stays_recoverable(
    crm: TestClient, crm_engine: Engine
) -> None:
    record = crm.get(CUSTOMERS, params={"limit": 1}).json()["items"][0]
    app = crm.get(f"{API}/apps/crm").json()
    as_text = _set_type(app, "annual_purchase", {"type": "text"})
    assert crm.put(f"{API}/apps/crm", json=as_text).status_code == 200
    url = f"{CUSTOMERS}/{record['_id']}"
    current = crm.get(url).json()
    assert (
        crm.patch(
            url, json={"annual_purchase": "大约一百万", "_version": current["_version"]}
        ).status_code
        == 200
    )
    back = _set_type(
        crm.get(f"{API}/apps/crm").json(), "annual_purchase", {"type": "number", "precision": 2}
    )
    plan = crm.post(f"{API}/apps/crm/plan", json=back).json()
    assert plan["steps"][0]["detail"]["not_converted_ids"] == [record["_id"]]
    assert crm.put(f"{API}/apps/crm", json=back).status_code == 200
    assert crm.get(url).json()["annual_purchase"] is None
    # the text survives in the backup column of the text version
    backups = _count(
        crm_engine,
        "SELECT COUNT(*) FROM form_fields WHERE key = 'annual_purchase' AND backups IS NOT NULL",
    )
    assert backups == 1


def test_retired_field_keeps_its_data_until_purged(crm: TestClient) -> None:
    app = crm.get(f"{API}/apps/crm").json()
    notes = {
        c["_id"]: c["note"] for c in crm.get(CUSTOMERS, params={"limit": 1000}).json()["items"]
    }
    without = copy.deepcopy(app)
    without["forms"][0]["fields"] = [f for f in app["forms"][0]["fields"] if f["key"] != "note"]
    plan = crm.post(f"{API}/apps/crm/plan", json=without).json()
    assert [s["op"] for s in plan["steps"]] == ["retire_field"]
    assert crm.put(f"{API}/apps/crm", json=without).status_code == 200
    assert "note" not in crm.get(CUSTOMERS, params={"limit": 1}).json()["items"][0]
    again = {**app, "_revision": crm.get(f"{API}/apps/crm").json()["_revision"]}
    plan = crm.post(f"{API}/apps/crm/plan", json=again).json()
    assert [s["op"] for s in plan["steps"]] == ["restore_field"]
    assert crm.put(f"{API}/apps/crm", json=again).status_code == 200
    restored = {
        c["_id"]: c["note"] for c in crm.get(CUSTOMERS, params={"limit": 1000}).json()["items"]
    }
    assert restored == notes
    # retire it again and purge: now the key comes back empty
    without["_revision"] = crm.get(f"{API}/apps/crm").json()["_revision"]
    assert crm.put(f"{API}/apps/crm", json=without).status_code == 200
    assert (
        crm.post(f"{API}/apps/crm/forms/customer/fields/note/purge").json()["purged_columns"] == 1
    )
    again["_revision"] = crm.get(f"{API}/apps/crm").json()["_revision"]
    assert [s["op"] for s in crm.post(f"{API}/apps/crm/plan", json=again).json()["steps"]] == [
        "add_field"
    ]


def test_export_import_export_is_identical(
    crm: TestClient, crm_engine: Engine, tmp_path: Path
) -> None:
    exported = crm.get(f"{API}/apps/crm/export", params={"data": "true"}).json()
    assert len(exported["data"]["customer"]) >= 200
    with crm_engine.begin() as conn:  # a fresh database: drop everything Jimu created
        for table in (
            "record_history",
            "app_versions",
            "form_fields",
            "forms",
            "role_members",
            "roles",
            "apps",
            "counters",
        ):
            conn.execute(text(f"DELETE FROM {table}"))
        names = [
            row[0]
            for row in conn.execute(
                text(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE 'r%' OR name LIKE 'l%')"
                    if conn.dialect.name == "sqlite"
                    else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND (tablename LIKE 'r%' OR tablename LIKE 'l%')"
                )
            )
        ]
        for name in names:
            if name[1:2].isdigit():
                conn.execute(text(f"DROP TABLE {name}"))
    imported = crm.post(f"{API}/apps/import", json=exported)
    assert imported.status_code == 201, imported.text
    again = crm.get(f"{API}/apps/crm/export", params={"data": "true"}).json()
    assert again == exported


def test_unknown_app_form_and_record_are_404(crm: TestClient) -> None:
    assert crm.get(f"{API}/apps/nope/forms/customer/records").status_code == 404
    assert crm.get(f"{API}/apps/crm/forms/nope/records").status_code == 404
    assert crm.get(f"{CUSTOMERS}/999999").status_code == 404


def test_bad_filter_and_sort_are_422(crm: TestClient) -> None:
    response = crm.get(CUSTOMERS, params={"filter": "level = "})
    assert response.status_code == 422 and response.json()["error"]["issues"][0]["path"] == "filter"
    assert crm.get(CUSTOMERS, params={"filter": "annual_purchase"}).status_code == 422
    assert crm.get(CUSTOMERS, params={"sort": "nope"}).status_code == 422


def test_an_invalid_definition_lists_every_issue(client: TestClient) -> None:
    bad = {
        "format": "jimu.app/1",
        "key": "x",
        "name": "X",
        "version": "1",
        "forms": [
            {
                "key": "f",
                "name": "F",
                "fields": [{"key": "a", "type": "nope"}, {"key": "B", "type": "text"}],
            }
        ],
    }
    response = client.post(f"{API}/apps", json=bad)
    assert response.status_code == 422
    paths = {i["path"] for i in response.json()["error"]["issues"]}
    assert {"forms[0].fields[0].type", "forms[0].fields[1].key"} <= paths
    assert client.get(f"{API}/apps").json() == []


@pytest.mark.parametrize("key", ["tags", "region"])
def test_sorting_by_a_list_or_object_field_is_422(crm: TestClient, key: str) -> None:
    response = crm.get(CUSTOMERS, params={"sort": key})
    assert response.status_code == 422
    assert response.json()["error"]["issues"][0]["code"] == "unknown_sort"
