"""Record answers are written by orjson (`engine.api.fast_json`) with the same bytes as the
JSON the API wrote before (pydantic's JSON mode, then `json.dumps` in `JimuJSONResponse`): every
form of the CRM with its sample data, lists, single records, history, recycle bin, creates and
changes; and the values orjson would write differently go the old way."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from pydantic_core import to_jsonable_python

from engine.api.errors import JimuJSONResponse
from engine.api.fast_json import json_bytes
from tests.api.records_client import API


def before(data: Any) -> bytes:
    """What FastAPI wrote for a route returning `data` before record answers were orjson's."""
    return bytes(JimuJSONResponse(to_jsonable_python(data)).body)


def same_as_before(response: Any) -> Any:
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert response.content == before(data)
    return data


def test_every_crm_answer_has_the_bytes_of_before(crm: TestClient) -> None:
    definition = crm.get(f"{API}/apps/crm").json()
    for form in definition["forms"]:
        base = f"{API}/apps/crm/forms/{form['key']}/records"
        page = same_as_before(crm.get(base, params={"limit": 200}))
        assert page["items"], form["key"]
        same_as_before(crm.get(base, params={"limit": 5, "count": "none", "sort": "-_id"}))
        first = page["items"][0]["_id"]
        one = same_as_before(crm.get(f"{base}/{first}"))
        assert one == page["items"][0]
        same_as_before(crm.get(f"{base}/{first}/history"))
    contracts = f"{API}/apps/crm/forms/contract/records"
    with_rows = crm.get(contracts, params={"limit": 1}).json()["items"][0]
    assert any(isinstance(v, list) and v for v in with_rows.values()), "subform rows are checked"
    customers = f"{API}/apps/crm/forms/customer/records"
    created = crm.post(customers, json={"name": "华东测试客户 “引号” \\ /", "level": "A"})
    assert created.status_code == 201, created.text
    record = same_as_before(created)
    changed = crm.patch(
        f"{customers}/{record['_id']}", json={"_version": record["_version"], "name": "改名"}
    )
    assert changed.status_code == 200, changed.text
    same_as_before(changed)
    assert crm.delete(f"{customers}/{record['_id']}").status_code == 204
    same_as_before(crm.get(f"{API}/apps/crm/forms/customer/recycle-bin"))
    restored = crm.post(f"{customers}/{record['_id']}/restore")
    assert restored.status_code == 200, restored.text
    same_as_before(restored)
    batch = crm.post(f"{customers}/batch", json=[{"name": "批量一"}, {"name": ""}])
    assert batch.status_code == 422, batch.text
    batch = crm.post(f"{customers}/batch", params={"partial": True}, json=[{"name": "批量二"}, {}])
    assert batch.status_code == 200, batch.text
    assert same_as_before(batch)["results"][1]["ok"] is False


class Colour(enum.StrEnum):
    RED = "红"


@dataclasses.dataclass
class Point:
    x: int


def test_values_orjson_would_write_otherwise_go_the_old_way() -> None:
    cases: list[Any] = [
        {"text": '中文 \u2028 "q" \\ \x00 / é', "n": [1, -2, 2**63 - 1, 0.5, -0.0, True, None]},
        {"big": 2**70, "negative": -(2**64)},
        {"lone": "\ud800 surrogate"},
        {"money": Decimal("12.50"), "at": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)},
        {"day": dt.date(2026, 2, 3), "time": dt.time(4, 5)},
        {"colour": Colour.RED, "point": Point(1), "ids": (1, 2)},
        {"nested": {"k": [{"a": "b"}]}, "empty": {}, "list": []},
    ]
    for data in cases:
        assert json_bytes(data) == before(data), data
    assert json.loads(json_bytes({"lone": "\ud800"})) == {"lone": "\ud800"}


def test_a_tiny_float_is_the_same_number_spelled_out() -> None:
    assert json_bytes({"lat": 0.00001}) == b'{"lat":0.00001}'
    assert json.loads(json_bytes({"lat": 0.00001})) == json.loads(before({"lat": 0.00001}))
