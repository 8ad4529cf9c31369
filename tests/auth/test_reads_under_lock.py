"""Reads never take SQLite's write lock (issue 12, cause 2): while another connection holds it,
signed-in GETs (list, get, count, the app's schema, the session) answer, and an API token's
"last used" note is skipped rather than waited for. On PostgreSQL the same holds trivially."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from engine.store.models import ApiToken
from engine.store.session import READ_ONLY
from tests.auth.crm_org import API, USERS, installed_crm


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from installed_crm(request, tmp_path_factory)


@contextmanager
def write_lock_held(engine: Engine) -> Iterator[Any]:
    """A connection outside Jimu holding the write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL:
    an open transaction that wrote)."""
    if engine.dialect.name == "sqlite":
        holder = sqlite3.connect(str(engine.url.database), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield holder
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("UPDATE users SET display_name = display_name WHERE username = 'gm'")
        yield conn
        conn.rollback()


def still_holding(engine: Engine, holder: Any) -> bool:
    if engine.dialect.name != "sqlite":
        return bool(holder.in_transaction())
    probe = sqlite3.connect(str(engine.url.database), timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc)
    finally:
        probe.close()


def _last_used(engine: Engine, token_id: int) -> Any:
    with engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        return conn.execute(
            select(ApiToken.last_used_at).where(ApiToken.id == token_id)
        ).scalar_one()


def test_signed_in_reads_answer_while_a_writer_holds_the_lock(crm: dict[str, Any]) -> None:
    engine: Engine = crm["engine"]
    username = "rep_a1"
    rep: TestClient = crm["clients"][username]
    records = f"{API}/apps/crm/forms/customer/records"
    first = crm["clients"]["admin"].get(records, params={"limit": 1}).json()["items"][0]["_id"]
    browser = TestClient(crm["app"], raise_server_exceptions=False)
    login = browser.post(
        f"{API}/auth/login", json={"username": username, "password": USERS["password"]}
    )
    assert login.status_code == 200
    created = rep.post(f"{API}/tokens", json={"name": "读脚本"})
    assert created.status_code == 201, created.text
    token_client = TestClient(crm["app"], raise_server_exceptions=False)
    token_client.headers["Authorization"] = f"Bearer {created.json()['token']}"
    token_id = created.json()["id"]
    assert _last_used(engine, token_id) is None

    calls: list[tuple[TestClient, str, dict[str, Any]]] = [
        (rep, records, {"limit": 5}),
        (rep, records, {"limit": 0}),
        (crm["clients"]["admin"], f"{records}/{first}", {}),
        (crm["clients"]["admin"], records, {"filter": 'level = "A"', "limit": 0}),
        (rep, f"{API}/apps/crm", {}),
        (rep, f"{API}/schema/app.json", {}),
        (rep, f"{API}/me", {}),
        (browser, f"{API}/me", {}),
        (browser, records, {"limit": 2}),
        (token_client, f"{API}/me", {}),
        (token_client, records, {"limit": 2}),
    ]
    statuses: list[tuple[str, int]] = []

    def read_all() -> None:
        for client, url, params in calls:
            statuses.append((url, client.get(url, params=params).status_code))

    with write_lock_held(engine) as holder:
        reader = threading.Thread(target=read_all)
        reader.start()
        reader.join(timeout=120)
        assert not reader.is_alive()
        assert still_holding(engine, holder)
        if engine.dialect.name == "sqlite":  # the due "last used" note was skipped, not awaited
            assert _last_used(engine, token_id) is None
    assert statuses == [(url, 200) for _, url, _ in calls]
    assert token_client.get(f"{API}/me").status_code == 200
    assert _last_used(engine, token_id) is not None
    used = crm["clients"]["admin"].get(f"{API}/audit", params={"kind": "token.used"}).json()
    assert [e["detail"]["token_id"] for e in used].count(token_id) == 1


def test_a_create_takes_the_write_lock_once(crm: dict[str, Any]) -> None:
    engine: Engine = crm["engine"]
    writes: list[str] = []

    def on_begin(connection: Any) -> None:
        if not connection.get_execution_options().get(READ_ONLY, False):
            writes.append("begin")

    rep: TestClient = crm["clients"]["rep_a1"]
    records = f"{API}/apps/crm/forms/customer/records"
    body = rep.get(f"{records}", params={"limit": 1}).json()["items"][0]
    event.listen(engine, "begin", on_begin)
    try:
        created = rep.post(records, json={"name": "锁一次客户", "level": body.get("level") or "A"})
    finally:
        event.remove(engine, "begin", on_begin)
    assert created.status_code == 201, created.text
    assert writes == ["begin"]
