"""Bad input that once ended in a 500 (found by tests/api/test_openapi_fuzz.py): each is now a
4xx in the API's one error shape, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.api.records_client import API

CRM = json.loads(
    (Path(__file__).resolve().parents[2] / "apps_catalog" / "crm" / "app.json").read_text()
)
CUSTOMERS = f"{API}/apps/crm/forms/customer/records"


def _issues(response: Any) -> set[tuple[str, str]]:
    return {(i["path"], i["code"]) for i in response.json()["error"]["issues"]}


def _raw(client: TestClient, method: str, url: str, body: Any) -> Any:
    """Send `body` as JSON text with ASCII escapes, so it may hold lone surrogates."""
    content = json.dumps(body, ensure_ascii=True).encode()
    return client.request(
        method, url, content=content, headers={"Content-Type": "application/json"}
    )


def _publish(client: TestClient, change: Any) -> Any:
    definition = copy.deepcopy(CRM)
    change(definition["forms"][0]["fields"])
    revision = client.get(f"{API}/apps/crm").json()["_revision"]
    return client.put(f"{API}/apps/crm", json={**definition, "_revision": revision})


def _retype(key: str, spec: dict[str, Any]) -> Any:
    def change(fields: list[dict[str, Any]]) -> None:
        index = next(i for i, f in enumerate(fields) if f["key"] == key)
        fields[index] = {"key": key, "label": fields[index]["label"], **spec}

    return change


def test_a_batch_id_too_large_for_the_database_is_a_field_error(crm: TestClient) -> None:
    response = crm.post(f"{CUSTOMERS}/batch", json=[{"_id": 2**63, "_version": 1, "note": "x"}])
    assert response.status_code == 422, response.text
    assert _issues(response) == {("[0]._id", "expected_id")}


def test_expr_check_with_a_moment_at_the_edge_of_the_calendar_is_a_400(client: TestClient) -> None:
    for now in ("9999-12-31T23:59:59", "0001-01-01T00:00:00+14:00"):
        body = {"expr": "TODAY()", "record": {}, "now": now}
        response = client.post(f"{API}/expr/check", json=body, headers={"Accept-Language": "en"})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "malformed_request"
        assert [(i["path"], i["code"]) for i in error["issues"]] == [("now", "out_of_range")]
        assert "out of the supported range" in error["issues"][0]["message"]


def test_imported_system_values_that_do_not_fit_are_field_errors(client: TestClient) -> None:
    records = [
        {"name": "甲", "_id": 2**63},
        {"name": "乙", "_version": "7"},
        {"name": "丙", "_version": 2**70},
        {"name": "丁", "_created_by": {"nested": True}},
        {"name": "戊", "_owner": "x" * 65},  # too long to be a username
    ]
    response = client.post(f"{API}/apps/import", json={**CRM, "data": {"customer": records}})
    assert response.status_code == 422, response.text
    assert _issues(response) == {
        ("data.customer[0]._id", "expected_id"),
        ("data.customer[1]._version", "expected_version"),
        ("data.customer[2]._version", "expected_version"),
        ("data.customer[3]._created_by", "expected_id"),
        ("data.customer[4]._owner", "expected_id"),
    }
    assert client.get(f"{API}/apps").json() == []


def test_an_imported_moment_outside_the_calendar_in_utc_falls_back_to_now(
    client: TestClient,
) -> None:
    records = [
        {
            "_id": 5,
            "name": "甲",
            "_created_at": "0001-01-01T00:00:00+14:00",
            "_updated_at": "9999-12-31T23:59:59-14:00",
        }
    ]
    response = client.post(f"{API}/apps/import", json={**CRM, "data": {"customer": records}})
    assert response.status_code == 201, response.text
    record = client.get(f"{CUSTOMERS}/5").json()
    assert record["_created_at"].startswith("20") and record["_updated_at"].startswith("20")


def test_lone_surrogates_are_refused_in_records_and_definitions(crm: TestClient) -> None:
    before = crm.get(CUSTOMERS, params={"limit": 0}).json()["total"]
    response = _raw(crm, "POST", CUSTOMERS, {"name": "\ud800", "region": {"detail": "a\udfffb"}})
    assert response.status_code == 422, response.text
    assert _issues(response) == {
        ("name", "invalid_character"),
        ("name", "required"),
        ("region.detail", "invalid_character"),
    }
    assert crm.get(CUSTOMERS, params={"limit": 0}).json()["total"] == before
    first = crm.get(CUSTOMERS, params={"limit": 1}).json()["items"][0]
    patched = _raw(
        crm,
        "PATCH",
        f"{CUSTOMERS}/{first['_id']}",
        {"note": "\ud800", "_version": first["_version"]},
    )
    assert patched.status_code == 422 and _issues(patched) == {("note", "invalid_character")}

    definition = copy.deepcopy(CRM)
    definition["forms"][0]["name"] = {"zh": "客户\udc00"}
    for method, url in (("POST", f"{API}/apps/crm/plan"), ("PUT", f"{API}/apps/crm")):
        response = _raw(crm, method, url, {**definition, "_revision": 1})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_definition"
        assert _issues(response) == {("forms[0].name.zh", "invalid_character")}
    created = _raw(crm, "POST", f"{API}/apps", {**definition, "key": "crm2"})
    assert created.status_code == 422 and _issues(created) == {
        ("forms[0].name.zh", "invalid_character")
    }


def test_a_unique_field_retyped_away_and_back_keeps_one_unique_index(crm: TestClient) -> None:
    assert _publish(crm, _retype("phone", {"type": "text"})).status_code == 200
    back = _publish(crm, lambda fields: None)
    assert back.status_code == 200, back.text
    assert [s["op"] for s in back.json()["plan"]["steps"]] == ["convert_field", "add_unique"]
    taken = crm.get(CUSTOMERS, params={"limit": 1}).json()["items"][0]["phone"]
    response = crm.post(CUSTOMERS, json={"name": "重复号码", "phone": taken})
    assert response.status_code == 422 and ("phone", "unique") in _issues(response)


def test_a_conversion_whose_values_repeat_cannot_make_a_field_unique(crm: TestClient) -> None:
    response = _publish(crm, _retype("annual_purchase", {"type": "text", "unique": True}))
    assert response.status_code == 422, response.text
    assert _issues(response) == {("annual_purchase", "unique_duplicates")}
    # a unique field whose converted values collide: "1" and "1.0" are both the number 1
    assert (
        _publish(
            crm, lambda fields: fields.append({"key": "code", "type": "text", "unique": True})
        ).status_code
        == 200
    )
    for record_id, code in ((1, "1"), (2, "1.0")):
        version = crm.get(f"{CUSTOMERS}/{record_id}").json()["_version"]
        assert (
            crm.patch(
                f"{CUSTOMERS}/{record_id}", json={"code": code, "_version": version}
            ).status_code
            == 200
        )

    def as_number(fields: list[dict[str, Any]]) -> None:
        fields.append({"key": "code", "type": "number", "unique": True})

    response = _publish(crm, as_number)
    assert response.status_code == 422, response.text
    assert _issues(response) == {("code", "unique_duplicates")}
    assert crm.get(f"{CUSTOMERS}/2").json()["code"] == "1.0"
