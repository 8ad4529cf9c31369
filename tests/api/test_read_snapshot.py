"""A read never sees a half-published app (issue 12, "Reads in fewer PostgreSQL round trips").

On PostgreSQL a records read runs in autocommit (engine.store.read_pool): each statement has a
snapshot of its own, so a publish can commit between the statement that opened the read (and
read the live revision) and the page. Here a publish that converts a text field to an integer
commits exactly there. A page read with the old layout over the converted column would be half
of each revision; instead the page's revision guard fails and the read starts again on the new
revision. On SQLite the read transaction keeps the snapshot of its opening statement, so the
page is wholly the old revision. Either way: one revision, never a mix, never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from engine.core.context import Actor
from engine.forms import apps
from engine.store.read_pool import read_engine, read_engines
from tests.api.records_client import API, api_client
from tests.contexts import context

RECORDS = f"{API}/apps/shop/forms/product/records"


def definition(code_type: str, label: str = "编号") -> dict[str, Any]:
    return {
        "format": "jimu.app/1",
        "key": "shop",
        "name": {"zh": "商店", "en": "Shop"},
        "version": "1",
        "forms": [
            {
                "key": "product",
                "name": "产品",
                "title_field": "name",
                "fields": [
                    {"key": "name", "type": "text", "required": True},
                    {"key": "code", "type": code_type, "label": label},
                ],
            }
        ],
    }


def publish(engine: Engine, data: dict[str, Any]) -> None:
    """Publish `data` as the next revision of the shop, on a connection of its own."""
    with engine.begin() as conn:
        live = apps.load(conn, "shop")
        plan = apps.plan(conn, "shop", data)
        apps.publish(conn, "shop", data, revision=live.revision, plan_hash=plan.hash, ctx=context())


def shop(store_engine: Engine, tmp_path: Any) -> tuple[TestClient, int]:
    client = api_client(store_engine, tmp_path)
    with store_engine.begin() as conn:
        apps.create(conn, definition("text"), context(Actor(None, "api")))
    created = client.post(RECORDS, json={"name": "键盘", "code": "12"})
    assert created.status_code == 201, created.text
    return client, int(created.json()["_id"])


@contextmanager
def publishing_after_each_opening(
    engine: Engine, publishes: list[dict[str, Any]]
) -> Iterator[list[str]]:
    """While the block runs, right after a read's opening statement, publish the next of
    `publishes` (each at most once). Yields the statements of the reads."""
    seen: list[str] = []

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(re.sub(r"\s+", " ", statement).strip())
        if statement.startswith("WITH jimu_caller") and publishes:
            publish(engine, publishes.pop(0))

    watched = [engine, *read_engines(engine)]
    for each in watched:
        event.listen(each, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        for each in watched:
            event.remove(each, "after_cursor_execute", after)


def openings(seen: list[str]) -> int:
    return sum(1 for statement in seen if statement.startswith("WITH jimu_caller"))


def test_a_publish_between_the_opening_and_the_page_is_never_half_seen(
    store_engine: Engine, tmp_path: Any
) -> None:
    client, record = shop(store_engine, tmp_path)
    assert client.get(RECORDS).json()["items"][0]["code"] == "12"  # warm: layout cached
    postgres = store_engine.dialect.name == "postgresql"
    with publishing_after_each_opening(store_engine, [definition("integer")]) as seen:
        page = client.get(RECORDS, params={"count": "none"})
    assert page.status_code == 200, page.text
    [item] = page.json()["items"]
    if postgres:  # the page found revision 2 live: the read started again on it
        assert item["code"] == 12, item
        assert openings(seen) == 2, seen
    else:  # SQLite: the read's one snapshot is revision 1's, rows and columns
        assert item["code"] == "12", item
        assert openings(seen) == 1, seen
    # Afterwards every read is revision 2's.
    assert client.get(f"{RECORDS}/{record}").json()["code"] == 12


def test_a_get_between_the_opening_and_the_record_is_never_half_seen(
    store_engine: Engine, tmp_path: Any
) -> None:
    client, record = shop(store_engine, tmp_path)
    assert client.get(f"{RECORDS}/{record}").json()["code"] == "12"
    with publishing_after_each_opening(store_engine, [definition("integer")]) as seen:
        found = client.get(f"{RECORDS}/{record}")
    assert found.status_code == 200, found.text
    expected = 12 if store_engine.dialect.name == "postgresql" else "12"
    assert found.json()["code"] == expected, found.json()
    assert openings(seen) == (2 if expected == 12 else 1), seen


def test_an_app_published_under_every_attempt_answers_409(
    store_engine: Engine, tmp_path: Any
) -> None:
    """PostgreSQL: after three starts that each found a newer revision, the client is asked
    to try again (409 app_republished, zh and en); the next read succeeds. SQLite: the first
    attempt's snapshot holds, so the read succeeds at once."""
    client, _ = shop(store_engine, tmp_path)
    client.get(RECORDS)
    labels = [definition("text", f"编号{n}") for n in range(1, 4)]
    with publishing_after_each_opening(store_engine, labels) as seen:
        answer = client.get(RECORDS)
    if store_engine.dialect.name == "postgresql":
        assert answer.status_code == 409, answer.text
        error = answer.json()["error"]
        assert error["code"] == "app_republished"
        assert "发布" in error["message"], error
        assert openings(seen) == 3, seen
    else:
        assert answer.status_code == 200, answer.text
        assert openings(seen) == 1, seen
    assert client.get(RECORDS).status_code == 200


def test_the_read_pool_is_made_once_and_only_for_postgresql(store_engine: Engine) -> None:
    made = read_engine(store_engine, 5)
    if store_engine.dialect.name != "postgresql":
        assert made is None
        return
    assert made is read_engine(store_engine, 5)
    assert read_engines(store_engine) == [made]
    store_engine.dispose()  # the read pool goes with its engine
    assert read_engines(store_engine) == []


def test_a_type_change_published_after_many_reads_is_read_at_once(
    store_engine: Engine, tmp_path: Any
) -> None:
    """PostgreSQL: psycopg prepares a statement run five times on a connection, and the read
    pool's connections never roll back (when psycopg forgets them). A type change renames the
    column and adds one of the same name, so the page's SQL is the same text returning another
    type — which PostgreSQL refuses for the prepared plan. The read drops the connection's
    prepared statements and starts again: the very next page is the new revision, not a 500,
    and so is every one after it."""
    client, record = shop(store_engine, tmp_path)
    for _ in range(8):  # one client, one request at a time: the pool's one connection
        assert client.get(RECORDS, params={"count": "none"}).json()["items"][0]["code"] == "12"
        assert client.get(f"{RECORDS}/{record}").json()["code"] == "12"
    publish(store_engine, definition("integer"))
    for _ in range(8):
        page = client.get(RECORDS, params={"count": "none"})
        assert page.status_code == 200, page.text
        assert page.json()["items"][0]["code"] == 12
        got = client.get(f"{RECORDS}/{record}")
        assert got.status_code == 200, got.text
        assert got.json()["code"] == 12
