"""Warm reads hit the app cache (issue 12): the statements a second GET sends are counted with
`before_cursor_execute` and named, on SQLite and PostgreSQL, for the administrator token and a
signed-in member (a sales rep with the "own" scope) of the CRM.

After a publish the first read loads the new revision (app_versions, forms, form_fields);
every read after it sends exactly the statements named here: the caller's credential, the
app's live revision (one SELECT, so a publish by another process is seen), the caller's
departments (CURRENT_DEPARTMENTS()) and, for members, their roles — then the page, the count or
the record and the people names of the page. No read sends a statement per record.

On PostgreSQL the records reads run on the autocommit read pool (engine.store.read_pool):
libpq's own trace of the connections shows that nothing else crosses the wire — no BEGIN, no
ROLLBACK —, so a read's round trips are its statements, each after the opening one carrying
the revision guard; the time limit is the read connections' own.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from engine.store.read_pool import read_engines
from tests.auth.crm_org import API, installed_crm

RECORDS = f"{API}/apps/crm/forms/customer/records"

KINDS: list[tuple[str, re.Pattern[str]]] = [
    ("opening", re.compile(r"^WITH jimu_caller AS \(SELECT .* FROM \(SELECT 1 AS jimu_one\)")),
    (  # a credential that may be a member's: their roles too (a recursive CTE)
        "opening_with_roles",
        re.compile(
            r"^WITH RECURSIVE jimu_caller AS \(SELECT .* FROM \(SELECT 1 AS jimu_one\) .*"
            r"UNION ALL SELECT 2, .*roles\.\"?key\"? .* JOIN jimu_caller ON role_members\.user_id = "
        ),
    ),
    ("time_limit", re.compile(r"^SELECT set_config\('statement_timeout', ")),
    ("admin_id", re.compile(r"^SELECT users\.id FROM users WHERE users\.username = ")),
    (
        "session",
        re.compile(r"^SELECT auth_sessions\.id AS session_id, .* FROM auth_sessions JOIN users "),
    ),
    (
        "revision",
        # with the rule switch stamp a save reads beside it (issue 14, migration 0016)
        re.compile(
            r"^SELECT apps\.id, apps\.current_revision, apps\.rule_switch_stamp FROM apps "
            r"WHERE apps\.\"?key\"? = "
        ),
    ),
    (
        "departments",
        re.compile(
            r"^SELECT 0 AS extra, users\.department_id .* UNION ALL SELECT 1, user_departments\.department_id "
        ),
    ),
    (
        "department_tree",
        re.compile(r"^SELECT departments\.id, departments\.parent_id FROM departments( WHERE |$)"),
    ),
    ("roles", re.compile(r"^SELECT roles\.\"?key\"? FROM roles JOIN role_members ")),
    (
        "versions",
        re.compile(r"^SELECT table_versions\.name, table_versions\.token FROM table_versions "),
    ),
    ("count", re.compile(r"^SELECT count\(\*\) AS count_1 FROM r\d+ WHERE ")),
    ("page", re.compile(r"^SELECT r\d+\._id AS _id, .* FROM r\d+ .*LIMIT ")),
    ("people", re.compile(r"^SELECT id, display_name FROM users WHERE id IN ")),
]
DEFINITION_TABLES = re.compile(r"\b(app_versions|forms|form_fields)\b")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from installed_crm(request, tmp_path_factory)


def engines(engine: Engine) -> list[Engine]:
    """`engine` and, on PostgreSQL, the autocommit engine of its interactive reads
    (engine.store.read_pool), made by the first read."""
    return [engine, *read_engines(engine)]


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement sent to the database while the block runs (whitespace collapsed)."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(re.sub(r"\s+", " ", statement).strip())

    watched = engines(engine)
    for each in watched:
        event.listen(each, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        for each in watched:
            event.remove(each, "before_cursor_execute", before)


@contextmanager
def protocol(engine: Engine) -> Iterator[list[str]]:
    """PostgreSQL: the protocol messages (libpq's trace, one line each) of every connection
    taken from `engine`'s pools while the block runs — what actually crosses the wire,
    psycopg's own BEGIN and ROLLBACK included."""
    lines: list[str] = []
    traces: dict[int, Any] = {}

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        # Closed at checkin, when the connection's trace is read.
        trace = traces[id(dbapi_connection)] = tempfile.TemporaryFile()  # noqa: SIM115
        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(
            psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE
        )

    def checkin(dbapi_connection: Any, record: Any) -> None:
        trace = traces.pop(id(dbapi_connection), None)
        if trace is not None:
            dbapi_connection.pgconn.untrace()
            trace.seek(0)
            lines.extend(trace.read().decode("utf-8", "replace").splitlines())
            trace.close()

    pools = [each.pool for each in engines(engine)]
    for pool in pools:
        event.listen(pool, "checkout", checkout)
        event.listen(pool, "checkin", checkin)
    try:
        yield lines
    finally:
        for pool in pools:
            event.remove(pool, "checkout", checkout)
            event.remove(pool, "checkin", checkin)


def round_trips(lines: list[str]) -> int:
    """Exchanges with the server that run something: a simple Query, or an extended-protocol
    exchange (up to its Sync) with an Execute. psycopg prepares a statement on a connection
    the fifth time it runs there (an exchange of a Parse alone, once): not counted."""
    count, executes = 0, False
    for line in lines:
        parts = line.split("\t")
        if parts[0] != "F" or len(parts) < 3:
            continue
        if parts[2] == "Query":
            count += 1
        elif parts[2] == "Execute":
            executes = True
        elif parts[2] == "Sync":
            count += executes
            executes = False
    return count


TRANSACTION_CONTROL = ("BEGIN", "ROLLBACK", "COMMIT", "START TRANSACTION", "END", "SAVEPOINT")


def commands(lines: list[str]) -> list[str]:
    """Transaction control sent as commands of their own (psycopg's BEGIN, ROLLBACK). Only
    those: a statement without parameters that psycopg has not prepared yet (the people names,
    whose ids are written into it) is a simple Query too, until its fifth run on the
    connection — counted here, it made the test pass or fail with what ran before it."""
    sent = [
        line.split("\t")[3].strip(' "')
        for line in lines
        if line.startswith("F\t") and line.split("\t")[2] == "Query"
    ]
    return [text for text in sent if text.upper().startswith(TRANSACTION_CONTROL)]


def kinds(seen: list[str]) -> list[str]:
    """The name of each statement (transaction control left out: PostgreSQL's driver begins
    without a statement, SQLite's read-only connections send a plain BEGIN). The time limit
    of a records read is one statement on PostgreSQL (SQLite's is a progress handler)."""
    named = []
    for statement in seen:
        if statement in ("BEGIN", "ROLLBACK", "COMMIT"):
            continue
        name = next((kind for kind, pattern in KINDS if pattern.search(statement)), None)
        assert name is not None, f"an unexpected statement: {statement[:300]}"
        named.append(name)
    return named


def read(crm: dict[str, Any], who: str, path: str, params: dict[str, Any]) -> list[str]:
    """The statements of `who`'s GET `path`."""
    with statements(crm["engine"]) as seen:
        response = crm["clients"][who].get(path, params=params)
    assert response.status_code == 200, response.text
    return seen


def warm_reads(crm: dict[str, Any], who: str) -> dict[str, tuple[str, dict[str, Any]]]:
    first = crm["clients"][who].get(RECORDS, params={"limit": 1}).json()["items"][0]["_id"]
    return {
        "list": (RECORDS, {"limit": 20, "count": "none", "sort": "-_id"}),
        "list_with_count": (RECORDS, {"limit": 20}),
        "get": (f"{RECORDS}/{first}", {}),
        "count": (RECORDS, {"limit": 0}),
        "schema": (f"{API}/apps/crm", {}),
    }


def postgres(crm: dict[str, Any]) -> bool:
    return bool(crm["engine"].dialect.name == "postgresql")


# Before a records read's own statements: ONE for the credential, the app's live revision,
# the caller's departments and, for a credential that may be a member's, the roles they hold,
# on the request's only connection (engine.api.opening).
ADMIN = ["opening"]
MEMBER = ["opening_with_roles"]
SCHEMA_ADMIN = ["admin_id", "revision"]
SCHEMA_MEMBER = ["session", "revision", "departments", "department_tree", "roles"]
EXPECTED: dict[str, list[str]] = {
    "list": ["page", "people"],
    "list_with_count": ["count", "page", "people"],
    "get": ["page", "people"],
    "count": ["count"],
    "schema": [],
}


def expected(crm: dict[str, Any], name: str) -> list[str]:
    """The read's own statements: on SQLite a warm count is served by the count cache, which
    reads the table's token instead of counting (engine.forms.count_cache)."""
    if postgres(crm):
        return EXPECTED[name]
    return ["versions" if kind == "count" else kind for kind in EXPECTED[name]]


@pytest.mark.parametrize("who", ["admin", "rep_a1"])
def test_a_warm_read_sends_a_small_fixed_set_of_statements(crm: dict[str, Any], who: str) -> None:
    for name, (path, params) in warm_reads(crm, who).items():
        read(crm, who, path, params)  # the first read may load the app
        seen = read(crm, who, path, params)
        assert not [s for s in seen if DEFINITION_TABLES.search(s)], (name, seen)
        opened = ADMIN if who == "admin" else MEMBER
        if name == "schema":  # the definition route checks membership, not a form's access
            opened = SCHEMA_ADMIN if who == "admin" else SCHEMA_MEMBER
        assert kinds(seen) == opened + expected(crm, name), (name, seen)


def test_the_statements_do_not_grow_with_the_page(crm: dict[str, Any]) -> None:
    read(crm, "admin", RECORDS, {"limit": 1, "count": "none"})  # warm, whatever ran before
    small = kinds(read(crm, "admin", RECORDS, {"limit": 1, "count": "none"}))
    large = kinds(read(crm, "admin", RECORDS, {"limit": 200, "count": "none"}))
    assert small == large == [*ADMIN, "page", "people"]


def test_after_a_publish_the_first_read_loads_the_new_revision_once(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    definition = admin.get(f"{API}/apps/crm").json()
    published = admin.put(f"{API}/apps/crm", json=definition)
    assert published.status_code == 200, published.text
    first = read(crm, "admin", RECORDS, {"limit": 5, "count": "none"})
    assert any(re.search(r"\bFROM app_versions\b", s) for s in first), first
    assert any(re.search(r"\bFROM forms\b", s) for s in first), first
    second = read(crm, "admin", RECORDS, {"limit": 5, "count": "none"})
    assert kinds(second) == [*ADMIN, "page", "people"], second
    member = read(crm, "rep_a1", RECORDS, {"limit": 5, "count": "none"})
    assert kinds(member) == [*MEMBER, "page", "people"], member


@contextmanager
def checkouts(engine: Engine) -> Iterator[list[int]]:
    """The connections taken from the pool while the block runs."""
    taken: list[int] = []

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        taken.append(id(dbapi_connection))

    pools = [each.pool for each in engines(engine)]
    for pool in pools:
        event.listen(pool, "checkout", checkout)
    try:
        yield taken
    finally:
        for pool in pools:
            event.remove(pool, "checkout", checkout)


@pytest.mark.parametrize("who", ["admin", "rep_a1"])
def test_a_records_read_uses_one_connection_and_one_transaction(
    crm: dict[str, Any], who: str
) -> None:
    for name, (path, params) in warm_reads(crm, who).items():
        if name == "schema":
            continue
        read(crm, who, path, params)
        with checkouts(crm["engine"]) as taken:
            seen = read(crm, who, path, params)
        assert len(taken) == 1, (name, taken)  # authentication's and the endpoint's, shared
        assert seen.count("ROLLBACK") + seen.count("COMMIT") <= 1, (name, seen)


GUARD = re.compile(
    r"WHERE .*CAST\(CASE WHEN \(%\(jimu_guard_revision\)s = \(SELECT apps\.current_revision"
)


def test_the_time_limit_is_the_read_connections_own(crm: dict[str, Any]) -> None:
    """No statement of a read sets the time limit: on PostgreSQL the read pool's connections
    carry interactive work's limit from when they were made (and the main pool's do not);
    SQLite's is a progress handler on the connection."""
    seen = read(crm, "admin", RECORDS, {"limit": 1, "count": "none"})
    assert not [s for s in seen if "set_config(" in s or "statement_timeout" in s], seen
    if postgres(crm):
        [reads] = read_engines(crm["engine"])
        with reads.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar_one() == "5s"
        with crm["engine"].connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar_one() == "0"


ROUND_TRIPS = {  # PostgreSQL, per warm read: its statements, and nothing else on the wire
    "admin": {"list": 3, "list_with_count": 4, "get": 3, "count": 2},
    "rep_a1": {"list": 3, "list_with_count": 4, "get": 3, "count": 2},
}


@pytest.mark.parametrize("who", ["admin", "rep_a1"])
def test_on_postgresql_a_read_is_its_statements_alone(crm: dict[str, Any], who: str) -> None:
    """No BEGIN and no ROLLBACK cross the wire (the read pool's connections are in autocommit),
    so a warm read's round trips are its statements: the admin token's page is the opening
    statement, the page and the people names, and so is a member's (their roles are in the
    opening statement). Every statement after the opening one checks the app's live revision in its own
    snapshot (engine.store.read_pool)."""
    if not postgres(crm):
        return  # SQLite is in the process: a BEGIN there crosses no wire
    for name, (path, params) in warm_reads(crm, who).items():
        if name == "schema":
            continue
        read(crm, who, path, params)
        with protocol(crm["engine"]) as lines, statements(crm["engine"]) as seen:
            response = crm["clients"][who].get(path, params=params)
        assert response.status_code == 200, response.text
        assert commands(lines) == [], (name, commands(lines))
        assert round_trips(lines) == len(seen) == ROUND_TRIPS[who][name], (name, seen)
        guarded = [s for s in seen if GUARD.search(s)]
        assert guarded == [s for s in seen[1:] if not s.startswith("SELECT id, display_name")]
