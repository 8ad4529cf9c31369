"""The organisation's time zone on every record path (issue 11, item 1: the Kiritimati case).

With `JIMU_TIMEZONE=Pacific/Kiritimati` (UTC+14) and the clock at 12:14 UTC, the organisation's
date is already tomorrow, while UTC and the old default zone (Asia/Shanghai) are still on today.
A `TODAY()` default, a `{YYYY}{MM}{DD}` serial, a `TODAY()` filter, a read-time `TODAY()`
formula and the browser's formulas (`/live`) must all fall on the organisation's date — through
the API, a public fill link and a pack import alike — and a stored formula over a date and time
reads the same when publishing recomputes it as when a save computes it, on SQLite and
PostgreSQL. The clock is set
through the app (`app.state.clock`), the one source of every request's "now".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from engine.api.main import create_app
from engine.settings import Settings
from tests.api.records_client import API, TOKEN
from tests.expr.js_harness import NodeEvaluator
from tests.store_fixtures import prepare_fresh

ZONE = "Pacific/Kiritimati"
MOMENT = dt.datetime(2026, 3, 1, 12, 14, tzinfo=dt.UTC)
ORG_DATE = "2026-03-02"  # 2026-03-02 02:14 in Kiritimati
UTC_DATE = "2026-03-01"  # also the date in Asia/Shanghai (20:14)
RECORDS = f"{API}/apps/tz/forms/ticket/records"

APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "tz",
    "name": "时区",
    "version": "1.0.0",
    "forms": [
        {
            "key": "ticket",
            "name": "工单",
            "title_field": "title",
            "fields": [
                {"key": "title", "type": "text", "label": "标题"},
                {"key": "day", "type": "date", "label": "日期", "default": {"expr": "TODAY()"}},
                {"key": "no", "type": "serial", "label": "编号", "pattern": "{YYYY}{MM}{DD}-{000}"},
                {"key": "today", "type": "formula", "label": "今天", "expr": "TODAY()"},
                {"key": "due", "type": "datetime", "label": "截止"},
            ],
        }
    ],
}


@pytest.fixture
def kiritimati(store_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """An admin client of a server in Kiritimati whose clock stands at `MOMENT`."""
    prepare_fresh(store_engine)
    settings = Settings(data_dir=tmp_path, admin_token=SecretStr(TOKEN), timezone=ZONE)
    app = create_app(settings)
    app.state.engine = store_engine
    app.state.clock = lambda: MOMENT
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        created = client.post(f"{API}/apps", json=APP)
        assert created.status_code == 201, created.text
        yield client


def titled(client: TestClient, title: str) -> dict[str, Any]:
    response = client.get(RECORDS, params={"filter": f'title = "{title}"'})
    assert response.status_code == 200, response.text
    [record] = response.json()["items"]
    assert isinstance(record, dict)
    return record


def test_defaults_serials_filters_and_the_browser_agree_on_the_organisations_date(
    kiritimati: TestClient, node_evaluator: NodeEvaluator
) -> None:
    client = kiritimati
    created = client.post(RECORDS, json={"title": "api"})
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["day"] == ORG_DATE  # the TODAY() default
    assert record["no"] == "20260302-001"  # the serial's date parts
    assert record["today"] == ORG_DATE  # a read-time TODAY() formula
    assert record["_created_at"] == "2026-03-01T12:14:00.000Z"  # stamps stay UTC moments
    older = client.post(RECORDS, json={"title": "utc", "day": UTC_DATE})
    assert older.status_code == 201, older.text

    # A TODAY() filter (run in the database) finds the organisation's day, not UTC's.
    found = client.get(RECORDS, params={"filter": "day = TODAY()", "sort": "_id"})
    assert found.status_code == 200, found.text
    assert [r["title"] for r in found.json()["items"]] == ["api"]
    before = client.get(RECORDS, params={"filter": "day < TODAY()"})
    assert [r["title"] for r in before.json()["items"]] == ["utc"]

    # The fill page's formulas run in the zone /live names, at the same moment: the same date.
    live = client.get(f"{API}/apps/tz/forms/ticket/live")
    assert live.status_code == 200, live.text
    assert live.json()["tz"] == ZONE
    [formula] = [f for f in live.json()["formulas"] if f["key"] == "today"]
    browser = node_evaluator.request(
        {
            "src": formula["js"],
            "record": {},
            "now": MOMENT.isoformat().replace("+00:00", "Z"),
            "tz": live.json()["tz"],
            "kind": formula["type"],
        }
    )
    assert browser == ORG_DATE


def test_public_links_and_pack_imports_use_the_organisations_date(kiritimati: TestClient) -> None:
    client = kiritimati
    link = client.post(
        f"{API}/apps/tz/forms/ticket/links", json={"kind": "fill", "fields": ["title"]}
    )
    assert link.status_code == 201, link.text
    anonymous = TestClient(client.app, raise_server_exceptions=False)
    submitted = anonymous.post(f"{API}/public/{link.json()['token']}", json={"title": "public"})
    assert submitted.status_code == 200, submitted.text
    filled = titled(client, "public")
    assert (filled["day"], filled["no"]) == (ORG_DATE, "20260302-001")
    live = anonymous.get(f"{API}/public/{link.json()['token']}/live")
    assert live.status_code == 200, live.text
    assert live.json()["tz"] == ZONE

    pack = {**APP, "key": "tz2", "data": {"ticket": [{"title": "pack"}]}}
    imported = client.post(f"{API}/apps/import", json=pack)
    assert imported.status_code == 201, imported.text
    loaded = client.get(f"{API}/apps/tz2/forms/ticket/records").json()["items"]
    assert [(r["title"], r["day"], r["no"]) for r in loaded] == [("pack", ORG_DATE, "20260302-001")]


def test_publishing_recomputes_stored_formulas_in_the_organisations_zone(
    kiritimati: TestClient,
) -> None:
    client = kiritimati
    moment = "2026-03-01T12:14:00.000Z"
    assert client.post(RECORDS, json={"title": "before", "due": moment}).status_code == 201
    current = client.get(f"{API}/apps/tz")
    assert current.status_code == 200, current.text
    definition = current.json()
    due_day = {
        "key": "due_day",
        "type": "formula",
        "label": "截止日",
        "expr": 'TEXT(due, "YYYY-MM-DD")',
    }
    definition["forms"][0]["fields"].append(due_day)
    published = client.put(f"{API}/apps/tz", json=definition)
    assert published.status_code == 200, published.text
    assert client.post(RECORDS, json={"title": "after", "due": moment}).status_code == 201
    assert titled(client, "before")["due_day"] == ORG_DATE  # recomputed by the publish
    assert titled(client, "after")["due_day"] == ORG_DATE  # computed by the save
