"""Warm reads hit the app cache (issue 12): the statements a second GET sends are counted with
`before_cursor_execute` and named, on SQLite and PostgreSQL, for the administrator token and a
signed-in member (a sales rep with the "own" scope) of the CRM.

After a publish the first read loads the new revision (app_versions, forms, form_fields);
every read after it sends exactly the statements named here: the caller's credential, the
app's live revision (one SELECT, so a publish by another process is seen), the caller's
departments (CURRENT_DEPARTMENTS()) and, for members, their roles — then the page, the count or
the record and the people names of the page. No read sends a statement per record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.auth.crm_org import API, installed_crm

RECORDS = f"{API}/apps/crm/forms/customer/records"

KINDS: list[tuple[str, re.Pattern[str]]] = [
    ("opening", re.compile(r"^WITH jimu_caller AS \(SELECT .* FROM \(SELECT 1 AS jimu_one\)")),
    ("time_limit", re.compile(r"^SELECT set_config\('statement_timeout', ")),
    ("admin_id", re.compile(r"^SELECT users\.id FROM users WHERE users\.username = ")),
    (
        "session",
        re.compile(r"^SELECT auth_sessions\.id AS session_id, .* FROM auth_sessions JOIN users "),
    ),
    (
        "revision",
        re.compile(r"^SELECT apps\.id, apps\.current_revision FROM apps WHERE apps\.\"?key\"? = "),
    ),
    (
        "departments",
        re.compile(
            r"^SELECT 0 AS extra, users\.department_id .* UNION ALL SELECT 1, user_departments\.department_id "
        ),
    ),
    (
        "department_tree",
        re.compile(r"^SELECT departments\.id, departments\.parent_id FROM departments$"),
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


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement sent to the database while the block runs (whitespace collapsed)."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(re.sub(r"\s+", " ", statement).strip())

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


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


# Before a records read's own statements: ONE for the credential, the time limit
# (PostgreSQL: a column of it), the app's live revision and the caller's departments, on the
# request's only connection (engine.api.opening); a member's roles need two more.
ADMIN = ["opening"]
MEMBER = ["opening", "department_tree", "roles"]
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

    event.listen(engine.pool, "checkout", checkout)
    try:
        yield taken
    finally:
        event.remove(engine.pool, "checkout", checkout)


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


def test_on_postgresql_the_opening_statement_sets_the_time_limit(crm: dict[str, Any]) -> None:
    seen = read(crm, "admin", RECORDS, {"limit": 1, "count": "none"})
    limit = "set_config("
    if postgres(crm):
        assert limit in seen[0] and seen[0].startswith("WITH jimu_caller"), seen
    else:  # SQLite: a progress handler on the connection, no statement
        assert not [s for s in seen if limit in s], seen
