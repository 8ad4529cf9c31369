"""A report's read on the wire (issue 15, "A report reads like a records read"), on SQLite and
PostgreSQL.

`POST …/query` and `…/reports/{report}/run` open the caller with one statement and then run
the report's one statement. On PostgreSQL they run on the autocommit read pool of the report
time limit (engine.store.read_pool), as records reads do: libpq's trace shows no BEGIN and no
ROLLBACK, so a warm report is two round trips; a publish that commits between the two
statements is never half seen (the report restarts on the new revision); the report's time
limit is the report's, not interactive work's; and a role taken away counts on the very next
request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from engine.store.read_pool import read_engines
from tests.api.test_read_snapshot import definition, openings, publishing_after_each_opening
from tests.api.test_read_snapshot import shop as shop_app
from tests.api.test_read_statements import commands, engines, protocol, round_trips, statements
from tests.auth.crm_org import API, installed_crm
from tests.auth.test_query_limits import MEDIUM, limits

QUERY = f"{API}/apps/crm/query"
RUN = f"{API}/apps/crm/reports/customer_sources/run"
BY_OWNER = {
    "form": "opportunity",
    "rows": [{"field": "_owner"}],
    "measures": [{"key": "n", "agg": "count"}],
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from installed_crm(request, tmp_path_factory)


def postgres(crm: dict[str, Any]) -> bool:
    return bool(crm["engine"].dialect.name == "postgresql")


def post(crm: dict[str, Any], who: str, path: str, body: Any = None) -> dict[str, Any]:
    answer = crm["clients"][who].post(path, json=body)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def own(seen: list[str]) -> list[str]:
    """The statements without transaction control (SQLite's read-only BEGIN)."""
    return [s for s in seen if s not in ("BEGIN", "ROLLBACK", "COMMIT")]


@pytest.mark.parametrize("who", ["admin", "rep_a1"])
@pytest.mark.parametrize(("path", "body"), [(QUERY, BY_OWNER), (RUN, None)])
def test_a_warm_report_is_the_opening_statement_and_its_own(
    crm: dict[str, Any], who: str, path: str, body: Any
) -> None:
    """Two statements: the one that opens the caller (credential, live revision, departments,
    roles) and the report's. On PostgreSQL nothing else crosses the wire."""
    post(crm, who, path, body)  # may load the app and compile the report
    with statements(crm["engine"]) as seen:
        first = post(crm, who, path, body)
    assert len(own(seen)) == 2, seen
    assert own(seen)[0].startswith(("WITH jimu_caller", "WITH RECURSIVE jimu_caller")), seen
    if postgres(crm):
        assert not [s for s in seen if "set_config(" in s], seen  # the pool's own limit
        with protocol(crm["engine"]) as lines:
            again = post(crm, who, path, body)
        assert commands(lines) == [], commands(lines)  # no BEGIN, no ROLLBACK
        assert round_trips(lines) == 2, lines
        assert again == first


@pytest.mark.parametrize("who", ["admin", "rep_a1"])
def test_on_postgresql_a_warm_report_is_sent_with_its_values_written_in(
    crm: dict[str, Any], who: str
) -> None:
    """PostgreSQL plans a statement with parameters again at every run when it judges a plan
    for any value worse than one for these; a warm report's statement is sent with its values
    written into the SQL (engine.store.driver_exec, ``literal``), and so planned once per
    connection once psycopg has prepared it. Its answer is the same as the first run's, sent
    through SQLAlchemy with parameters; the opening statement keeps its parameters."""
    if not postgres(crm):
        pytest.skip("SQLite has no plans to keep; its statements keep their parameters")
    first = post(crm, who, QUERY, BY_OWNER)
    sent: list[tuple[str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        sent.append((statement, parameters))

    watched = engines(crm["engine"])
    for each in watched:
        event.listen(each, "before_cursor_execute", before)
    try:
        answers = [post(crm, who, QUERY, BY_OWNER) for _ in range(4)]
    finally:
        for each in watched:
            event.remove(each, "before_cursor_execute", before)
    assert all(answer == first for answer in answers)
    reports = [(sql, params) for sql, params in sent if "jimu_caller" not in sql]
    openings = [params for sql, params in sent if "jimu_caller" in sql]
    assert len(reports) == 4 and len(openings) == 4, sent
    sql, params = reports[-1]
    assert params is None and "%(" not in sql, (sql, params)
    assert all(params for params in openings)


def test_the_report_limit_is_the_reports_own(crm: dict[str, Any]) -> None:
    """A report is held to the report limit, not to interactive work's: with a 0.05 s
    interactive limit a report whose filter takes longer still answers; with a 0.05 s report
    limit it is a 422 ``query_timeout``, and the next report (and records read) answers."""
    shape = {"form": "customer", "filter": MEDIUM, "measures": [{"key": "n", "agg": "count"}]}
    rep = crm["clients"]["rep_a1"]
    with limits(crm, interactive=0.05):
        answered = rep.post(QUERY, json=shape)
    assert answered.status_code == 200, answered.text
    with limits(crm, report=0.05):
        stopped = rep.post(QUERY, json=shape)
    assert stopped.status_code == 422, stopped.text
    assert stopped.json()["error"]["code"] == "query_timeout"
    assert post(crm, "rep_a1", QUERY, BY_OWNER)["rows"]
    records = rep.get(f"{API}/apps/crm/forms/customer/records", params={"limit": 1})
    assert records.status_code == 200, records.text
    if postgres(crm):  # the interactive pool, and one per report limit the block used
        with crm["engine"].connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar_one() == "0"
        limits_seen = set()
        for reads in read_engines(crm["engine"]):
            with reads.connect() as conn:
                limits_seen.add(conn.exec_driver_sql("SHOW statement_timeout").scalar_one())
        assert {"5s", "30s"} <= limits_seen, limits_seen


def test_a_role_taken_away_counts_on_the_next_report(crm: dict[str, Any]) -> None:
    """Nothing about the caller is kept between requests: once rep_a1 loses their role, the
    next report of the form is a 404; given back, it answers again."""
    admin = crm["clients"]["admin"]
    me = crm["ids"]["rep_a1"]
    roles = admin.get(f"{API}/roles", params={"app": "crm"}).json()
    held = [(r["id"], m) for r in roles for m in r["members"] if m["user_id"] == me]
    assert held, roles
    before = post(crm, "rep_a1", QUERY, BY_OWNER)
    for role_id, member in held:
        removed = admin.delete(f"{API}/roles/{role_id}/members/{member['id']}")
        assert removed.status_code in (200, 204), removed.text
    try:
        refused = crm["clients"]["rep_a1"].post(QUERY, json=BY_OWNER)
        assert refused.status_code == 404, refused.text
    finally:
        for role_id, _member in held:
            given = admin.post(f"{API}/roles/{role_id}/members", json={"user_id": me})
            assert given.status_code == 201, given.text
    assert post(crm, "rep_a1", QUERY, BY_OWNER) == before


SHOP_QUERY = f"{API}/apps/shop/query"
BY_CODE = {
    "form": "product",
    "rows": [{"field": "code"}],
    "measures": [{"key": "n", "agg": "count"}],
}


def test_a_publish_between_the_opening_and_the_report_is_never_half_seen(
    store_engine: Engine, tmp_path: Any
) -> None:
    """A publish converting the dimension's text field to an integer commits right after the
    report's opening statement. PostgreSQL: the report's revision guard fails and the report
    starts again on revision 2 (the integer 12). SQLite: the read transaction's one snapshot
    is revision 1's (the text "12"). Never a mix, never a 500."""
    client, _ = shop_app(store_engine, tmp_path)
    warm = client.post(SHOP_QUERY, json=BY_CODE)
    assert warm.status_code == 200, warm.text
    postgres = store_engine.dialect.name == "postgresql"
    with publishing_after_each_opening(store_engine, [definition("integer")]) as seen:
        answer = client.post(SHOP_QUERY, json=BY_CODE)
    assert answer.status_code == 200, answer.text
    [[code, count]] = answer.json()["rows"]
    assert count == 1
    if postgres:
        assert code["value"] == 12, code
        assert openings(seen) == 2, seen
    else:
        assert code["value"] == "12", code
        assert openings(seen) == 1, seen
    after = client.post(SHOP_QUERY, json=BY_CODE).json()["rows"]
    assert after[0][0]["value"] == 12, after


def test_an_app_published_under_every_report_attempt_answers_409(
    store_engine: Engine, tmp_path: Any
) -> None:
    """PostgreSQL: three starts that each found a newer revision are a 409 ``app_republished``;
    the next report answers. SQLite: the first attempt's snapshot holds."""
    client, _ = shop_app(store_engine, tmp_path)
    assert client.post(SHOP_QUERY, json=BY_CODE).status_code == 200
    labels = [definition("text", f"编号{n}") for n in range(1, 4)]
    with publishing_after_each_opening(store_engine, labels) as seen:
        answer = client.post(SHOP_QUERY, json=BY_CODE)
    if store_engine.dialect.name == "postgresql":
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"]["code"] == "app_republished"
        assert openings(seen) == 3, seen
    else:
        assert answer.status_code == 200, answer.text
        assert openings(seen) == 1, seen
    assert client.post(SHOP_QUERY, json=BY_CODE).status_code == 200
