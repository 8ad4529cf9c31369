"""Batch creates (`Writer.create_many`): ids reserved before the insert, history rows written in
bulk (COPY on PostgreSQL), and the same records and history as one-by-one creates, also with
concurrent writers. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from engine.core.context import Actor
from engine.core.errors import ServiceError
from engine.forms import apps
from engine.forms.query import Reader
from engine.forms.records import Writer, history
from engine.store.records import bulk_insert, reserve_ids
from tests.contexts import context
from tests.store_fixtures import prepare_fresh

ACTOR = Actor(None, "import")

APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "crm",
    "name": {"zh": "客户", "en": "CRM"},
    "version": "1",
    "forms": [
        {
            "key": "customer",
            "name": "客户",
            "title_field": "name",
            "fields": [
                {"key": "name", "type": "text", "required": True},
                {
                    "key": "level",
                    "type": "select",
                    "options": [{"value": "A", "label": "A"}, {"value": "B", "label": "B"}],
                },
                {
                    "key": "tags",
                    "type": "multiselect",
                    "options": [{"value": "vip", "label": "VIP"}, {"value": "new", "label": "新"}],
                },
                {"key": "amount", "type": "number", "precision": 2},
                {"key": "since", "type": "date"},
                {"key": "phone", "type": "phone", "unique": True},
            ],
        }
    ],
}


def records(first: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"客户{i}",
            "level": "A" if i % 2 else "B",
            "tags": ["vip", "new"] if i % 3 == 0 else [],
            "amount": f"{i}.5" if i % 4 else None,
            "since": "2024-02-29",
            "phone": f"138{i:08d}",
        }
        for i in range(first, first + count)
    ]


@pytest.fixture
def crm(migrated_engine: Engine) -> Engine:
    prepare_fresh(migrated_engine)
    with migrated_engine.begin() as conn:
        apps.create(conn, APP, context(ACTOR))
    return migrated_engine


def create(engine: Engine, batch: list[dict[str, Any]]) -> list[int]:
    with engine.begin() as conn:
        app = apps.load(conn, "crm")
        return Writer(app.layout, app.id, app.form("customer"), context()).create_many(
            conn, batch, ACTOR
        )


def test_a_batch_gives_the_same_records_and_history_as_single_creates(crm: Engine) -> None:
    singles = [create(crm, [record])[0] for record in records(0, 3)]
    batch = create(crm, records(3, 3))
    assert batch == [singles[-1] + 1, singles[-1] + 2, singles[-1] + 3]
    assert create(crm, records(6, 1)) == [batch[-1] + 1]  # the next single create follows the batch
    with crm.connect() as conn:
        app = apps.load(conn, "crm")
        form = app.form("customer")
        items = Reader(app.layout, form, context()).list(conn, sort="_id", limit=100).items
        changes = [history(conn, form, item["_id"]) for item in items]
    assert [item["name"] for item in items] == [f"客户{i}" for i in range(7)]
    for item, entries in zip(items, changes, strict=True):
        assert [(e["version"], e["event"], e["channel"]) for e in entries] == [
            (1, "create", "import")
        ]
        expected = {
            k: [None, v] for k, v in item.items() if not k.startswith("_") and v not in (None, [])
        }
        assert entries[0]["changes"] == expected
    assert changes[3][0]["changes"]["amount"] == [None, "3.50"]
    assert changes[3][0]["changes"]["tags"] == [None, ["vip", "new"]]


def test_a_bad_batch_writes_neither_records_nor_history(crm: Engine) -> None:
    create(crm, records(0, 2))
    bad = records(2, 3)
    bad[2]["phone"] = bad[0]["phone"]
    with pytest.raises(ServiceError) as caught:
        create(crm, bad)
    assert caught.value.status == 422
    after = create(crm, records(5, 2))
    if crm.dialect.name == "sqlite":
        assert after == [3, 4]  # no id was used up (PostgreSQL's sequence may skip numbers)
    with crm.connect() as conn:
        app = apps.load(conn, "crm")
        form = app.form("customer")
        items = Reader(app.layout, form, context()).list(conn, sort="_id").items
        assert sum(len(history(conn, form, item["_id"])) for item in items) == 4


def test_concurrent_batches_get_distinct_ids(crm: Engine) -> None:
    found: list[list[int]] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for round_ in range(3):
                found.append(create(crm, records(1000 * n + 10 * round_, 5)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ids = [i for batch in found for i in batch]
    assert len(ids) == len(set(ids)) == 60
    with crm.connect() as conn:
        app = apps.load(conn, "crm")
        page = Reader(app.layout, app.form("customer"), context()).list(conn, limit=100)
    assert sorted(item["_id"] for item in page.items) == sorted(ids)


def test_ids_are_not_reserved_in_a_read_only_sqlite_transaction(crm: Engine) -> None:
    with crm.connect() as conn:
        app = apps.load(conn, "crm")
        table = app.form("customer").table
    read_only = crm.execution_options(jimu_read_only=True)
    with read_only.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        reserved = reserve_ids(conn, table, 3)
    if crm.dialect.name == "sqlite":
        assert reserved is None
    else:
        assert reserved is not None and len(set(reserved)) == 3


def test_a_batch_stores_exactly_the_column_values_a_single_insert_stores(crm: Engine) -> None:
    same = [
        {"name": "甲", "level": "A", "tags": ["vip"], "amount": "12.345", "since": "2024-02-29"},
        {"name": "乙", "level": None, "tags": None, "amount": None, "since": None},
        {"name": "丙", "tags": [], "amount": "0", "phone": ""},
    ]
    single = [create(crm, [record])[0] for record in same]
    batch = create(crm, same)
    with crm.connect() as conn:
        app = apps.load(conn, "crm")
        form = app.form("customer")
        columns = (
            ", ".join(f.column for f in form.fields.values())
            + ", _created_by, _owner, _version, _deleted_at"
        )
        stored = {
            row[0]: tuple(row[1:])
            for row in conn.exec_driver_sql(f"SELECT _id, {columns} FROM {form.table.name}")
        }
        null_tags = conn.exec_driver_sql(
            f"SELECT count(*) FROM {form.table.name} WHERE {form.fields['tags'].column} IS NULL"
        ).scalar_one()
    assert [stored[i] for i in batch] == [stored[i] for i in single]
    assert null_tags % 2 == 0  # however JSON blanks are stored, both paths store them alike


def test_the_bulk_path_reports_a_taken_unique_value_as_an_integrity_error(crm: Engine) -> None:
    with crm.connect() as conn:
        app = apps.load(conn, "crm")
    form = app.form("customer")
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    phone = form.fields["phone"].column
    rows = [
        {
            "_id": 100 + i,
            "_created_at": now,
            "_updated_at": now,
            "_version": 1,
            phone: "13800000000",
        }
        for i in range(2)
    ]
    with pytest.raises(IntegrityError), crm.begin() as conn:
        bulk_insert(conn, form.table, rows)
    with crm.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {form.table.name}").scalar_one() == 0
