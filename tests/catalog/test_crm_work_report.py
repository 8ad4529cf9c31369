"""The CRM pack's 工作简报 (issue 16) through the HTTP API on SQLite and PostgreSQL, as the demo
users: a rep writes one with only 今日工作 (日期 becomes today), a report without it is refused
at its field and writes nothing, reps read their own, the director their department's, the
general manager all (read only), and finance nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.auth.crm_org import API, installed_crm

PATH = f"{API}/apps/crm/forms/work_report/records"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from installed_crm(request, tmp_path_factory)


def _owners(crm: dict[str, Any], username: str) -> list[str]:
    answer = crm["clients"][username].get(PATH, params={"limit": 200})
    assert answer.status_code == 200, answer.text
    return [crm["names"][record["_owner"]] for record in answer.json()["items"]]


def test_reps_write_and_read_their_own_reports(crm: dict[str, Any]) -> None:
    rep = crm["clients"]["rep_a1"]
    before = _owners(crm, "rep_a1")
    assert before == ["rep_a1"] * 3  # the sample reports
    refused = rep.post(PATH, json={"tomorrow": "拜访客户"})
    assert refused.status_code == 422, refused.text
    issues = refused.json()["error"]["issues"]
    assert [issue["path"] for issue in issues] == ["today"]
    assert _owners(crm, "rep_a1") == before  # nothing written

    saved = rep.post(PATH, json={"today": "拜访 2 家客户。"})
    assert saved.status_code == 201, saved.text
    report = saved.json()
    # Dated the day it was saved in the organisation's zone (not "today" when the test asserts:
    # a run across midnight would fail).
    created = dt.datetime.fromisoformat(report["_created_at"])
    assert report["date"] == created.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert report["number"].startswith("JB-")
    assert _owners(crm, "rep_a1") == ["rep_a1"] * 4
    assert "rep_a1" not in _owners(crm, "rep_b1")
    # The director reads both teams' reports, the general manager everyone's, read only.
    assert set(_owners(crm, "director")) == {"rep_a1", "rep_a2", "rep_b1", "rep_b2"}
    assert len(_owners(crm, "gm")) == 13
    assert crm["clients"]["gm"].post(PATH, json={"today": "x"}).status_code == 403
    assert crm["clients"]["finance"].get(PATH).status_code == 404
