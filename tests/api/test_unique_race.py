"""Concurrent writes of one unique value, on SQLite and PostgreSQL: one wins, every other gets the
same 422 at the field as a write that comes after it (`unique`, path = the field key), never a
409 with an empty path. On PostgreSQL the writers are held until all have passed the unique
check, so each loser meets the winner at the unique index (the race itself)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.api.records_client import API, api_client

WRITERS = 4
RECORDS = f"{API}/apps/race/forms/item/records"
APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "race",
    "name": "Race",
    "version": "1.0.0",
    "forms": [
        {
            "key": "item",
            "name": "Item",
            "fields": [
                {"type": "text", "key": "code", "label": "Code", "unique": True},
                {"type": "text", "key": "note", "label": "Note"},
            ],
        }
    ],
}


@pytest.fixture
def client(store_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    with api_client(store_engine, tmp_path) as test_client:
        assert test_client.post(f"{API}/apps", json=APP).status_code == 201
        yield test_client


def held_at_write(engine: Engine, write: str, parties: int) -> Callable[[], None]:
    """Hold each of `parties` threads at its first `write` ("INSERT INTO"/"UPDATE") of a record
    table until all of them got there (so all have read before any writes); returns the remover."""
    barrier = threading.Barrier(parties, timeout=60)
    local = threading.local()
    pattern = re.compile(rf"\s*{write} r\d+\b")

    def before(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if pattern.match(statement) and not getattr(local, "held", False):
            local.held = True
            barrier.wait()

    event.listen(engine, "before_cursor_execute", before)
    return lambda: event.remove(engine, "before_cursor_execute", before)


def race(engine: Engine, write: str, requests: list[Callable[[], Any]]) -> list[Any]:
    """Run `requests` at once; on PostgreSQL each is held before its write until all are there
    (SQLite serialises writers with BEGIN IMMEDIATE, so there every loser reads the winner)."""
    remove = (
        held_at_write(engine, write, len(requests)) if engine.dialect.name == "postgresql" else None
    )
    try:
        with ThreadPoolExecutor(len(requests)) as pool:
            return list(pool.map(lambda send: send(), requests))
    finally:
        if remove is not None:
            remove()


def unique_issues(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    body = response.json()["error"]
    assert body["code"] == "validation_failed"
    issues: list[dict[str, Any]] = body["issues"]
    return issues


def test_concurrent_creates_of_one_unique_value_lose_at_the_field(
    client: TestClient, store_engine: Engine
) -> None:
    responses = race(
        store_engine, "INSERT INTO", [lambda: client.post(RECORDS, json={"code": "A-1"})] * WRITERS
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [422] * (WRITERS - 1), [r.text for r in responses]
    for response in responses:
        if response.status_code == 422:
            assert [(i["path"], i["code"]) for i in unique_issues(response)] == [("code", "unique")]
    listed = client.get(RECORDS).json()
    assert [item["code"] for item in listed["items"]] == ["A-1"]


def test_concurrent_updates_to_one_unique_value_lose_at_the_field(
    client: TestClient, store_engine: Engine
) -> None:
    ids = []
    for index in range(WRITERS):
        created = client.post(RECORDS, json={"code": f"B-{index}"})
        assert created.status_code == 201, created.text
        ids.append(created.json()["_id"])

    def rename(record_id: int) -> Callable[[], Any]:
        return lambda: client.patch(f"{RECORDS}/{record_id}", json={"_version": 1, "code": "TAKEN"})

    responses = race(store_engine, "UPDATE", [rename(record_id) for record_id in ids])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [422] * (WRITERS - 1), [r.text for r in responses]
    for response in responses:
        if response.status_code == 422:
            assert [(i["path"], i["code"]) for i in unique_issues(response)] == [("code", "unique")]
    codes = sorted(item["code"] for item in client.get(RECORDS).json()["items"])
    assert codes.count("TAKEN") == 1
