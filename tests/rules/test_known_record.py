"""A sync rule over a record just created sees, from the record's change event, exactly what
reading the record back gives (issue 14, `engine.rules.known`), on SQLite and PostgreSQL.

- Every field type: what a `created` event tells (`known_record`) equals `Reader.get` for each
  value it serves, for a record with every field filled, one with every field left empty and
  one with edge values; what it does not serve (people, departments, files, subforms, relations
  to many, read-time fields, serials, defaults left to the database, system values but `_id`) is exactly the list below, so a new field type must be placed here first.
- The runtime: a sync rule whose condition and values read fields of every kind it can be
  served runs over the event's values (no read back) and creates the very record it creates
  when the record is read back; rules reading a field left empty, a formula field, a
  relation's title by path, or the owner read the record back — and still see the same.
  Defaults filled by the server (a literal and `NOW()`) are served from the event.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from engine import apps
from engine.core.context import Actor
from engine.forms import apps as forms_apps
from engine.forms.changes import LISTENERS, RecordChanged
from engine.forms.field_types import FIELD_TYPES
from engine.forms.query import Reader
from engine.forms.service import open_form
from engine.rules import listeners, runtime
from engine.rules.known import EXACT_TYPES, KnownRecord, RecordReads, known_record
from engine.rules.values import plain
from engine.store.models import Department, StoredFile, User
from tests.contexts import context
from tests.forms.every_field import every_stored_field
from tests.store_fixtures import prepare_fresh

NOW = dt.datetime(2026, 12, 6, 1, 2, 3, 456789, tzinfo=dt.UTC)
OPTIONS = [{"value": v} for v in ("甲", "乙", "丙")]
# Every field type (`FIELD_TYPES`), filled or not by the record below.
FIELDS: list[dict[str, Any]] = [
    *every_stored_field(OPTIONS),
    {"key": "customers", "type": "relation", "target": "customer", "many": True},
    {"key": "customer_name", "type": "lookup", "relation": "customer", "field": "name"},
    {"key": "double", "type": "formula", "expr": "customer.credit * 2", "precision": 2},
    {"key": "twice", "type": "formula", "expr": "count * 2"},
    {
        "key": "lines",
        "type": "subform",
        "fields": [{"key": "n", "type": "integer"}, {"key": "amount", "type": "money"}],
    },
    {"key": "total", "type": "rollup", "relation": "lines", "field": "amount", "aggregate": "sum"},
    {"key": "section", "type": "section"},
    {"key": "fixed", "type": "text", "default": "默认"},
    {"key": "stamp", "type": "datetime", "default": {"expr": "NOW()"}},
]
# Fields of the mirror form: what the rules below copy a record's values into.
MIRRORED = [f for f in FIELDS if f["type"] in EXACT_TYPES and "default" not in f] + [
    {"key": "customer", "type": "relation", "target": "customer"}
]
TEXTS = ["title", "qty", "count", "price", "ratio", "stars", "level", "day", "when", "at"]


def _rule(key: str, when: str | None, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": key,
        "name": key,
        "form": "item",
        "on": {"type": "record_created"},
        "mode": "sync",
        "when": when,
        "actions": [{"type": "create_record", "form": "mirror", "values": values}],
    }


# Reads every field the event can serve: a condition over them (with OLD()), copies, the
# relation's id, and formulas turning values into text.
SERVED = _rule(
    "served",
    "count <> 0 AND OLD(title) = title AND NOT ISBLANK(fixed) AND stamp <= NOW()",
    {
        **{f["key"]: {"copy": f["key"]} for f in MIRRORED},
        **{f"text_{key}": key for key in TEXTS},
        "text_fixed": "fixed",
        "text_stamp": "stamp",
        "text_id": 'IF(ISBLANK(_id), "无", "有") & IF(done, "是", "否")',
        "source": {"copy": "_id"},
    },
)
# Each reads one thing the event does not tell: the record is read back for it.
UNSERVED = {
    "empty": _rule("empty", "count > 0", {"title": {"copy": "note"}}),
    "formula": _rule("formula", "twice > 0", {"text_title": "twice"}),
    "title": _rule("title", "count > 0", {"text_title": "customer.name"}),
    "owner": _rule("owner", "NOT ISBLANK(_owner)", {"text_title": "title"}),
}
APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "known",
    "name": "known",
    "version": "1",
    "forms": [
        {
            "key": "customer",
            "name": "客户",
            "title_field": "name",
            "fields": [
                {"key": "name", "type": "text"},
                {"key": "credit", "type": "money", "precision": 2},
            ],
        },
        {"key": "item", "name": "条目", "title_field": "title", "fields": FIELDS},
        {
            "key": "mirror",
            "name": "镜像",
            "title_field": "title",
            "fields": [
                *copy.deepcopy(MIRRORED),
                *({"key": f"text_{key}", "type": "text"} for key in [*TEXTS, "fixed", "stamp"]),
                {"key": "text_id", "type": "text"},
                {"key": "source", "type": "integer"},
            ],
        },
    ],
}


def _full(customer: int) -> dict[str, Any]:
    """A record with every field a user fills filled."""
    return {
        "title": "标题 ",
        "note": "a\nb",
        "rich": "<b>粗</b>",
        "email": "a@b.cn",
        "phone": "13800000000",
        "site": "https://x.cn",
        "qty": "1.5",
        "whole": "42",
        "fine": "0.1",
        "count": 7,
        "price": "1200.5",
        "ratio": "0.125",
        "stars": 3,
        "level": "甲",
        "tags": ["乙", "甲"],
        "done": True,
        "day": "2026-12-06",
        "when": "2026-12-06T09:10:11.123456+08:00",
        "at": "09:10:11",
        "person": 1,
        "people": [2, 1],
        "dept": 1,
        "depts": [2, 1],
        "addr": {"province": "浙江", "city": "杭州", "district": "西湖", "detail": "路"},
        "loc": {"lat": 30.1, "lng": 120.2, "address": "西湖"},
        "files": [2, 1],
        "pics": [1],
        "sign": [2],
        "customer": customer,
        "customers": [customer],
        "lines": [{"n": 1, "amount": "2.5"}],
    }


def _edges(customer: int) -> dict[str, Any]:
    """Values at the edges: negative and long decimals, rounding, a moment in another zone
    with microseconds, false, a blank default overridden, Chinese text."""
    return {
        "title": "边界 \t值",
        "note": "😀\u3000\r\n末",
        "rich": "<p>&amp;</p>",
        "email": "X.Y+z@例子.cn",
        "phone": "0571-88888888",
        "site": 'http://[::1]:8/?q="',
        "level": "丙",
        "addr": {"province": "新疆"},
        "qty": "-0.0005",
        "whole": "-9007199254740993",
        "fine": "12345678.12345678905",
        "count": -(10**15),
        "price": "-0.005",
        "ratio": "99.999",
        "stars": 0,
        "tags": ["丙"],
        "done": False,
        "day": "1900-01-01",
        "when": "1969-12-31T19:00:00.999999-05:00",
        "at": "00:00:00",
        "loc": {"lat": -33.8688, "lng": 151.2093},
        "fixed": "自己填",
        "customer": customer,
    }


@pytest.fixture
def known_app(migrated_engine: Engine) -> Iterator[tuple[Engine, int]]:
    """The app with members, departments, files and a customer; the customer's id."""
    prepare_fresh(migrated_engine)
    listeners.register()
    with migrated_engine.begin() as conn:
        apps.create(conn, APP, context(Actor(None, "api"), now=NOW))
        for number in (1, 2):
            conn.execute(insert(Department).values(id=number, name=f"部门{number}"))
            conn.execute(insert(User).values(id=number, username=f"u{number}", display_name="成员"))
            conn.execute(
                insert(StoredFile).values(
                    id=number, sha256="0" * 64, name="f.png", size=1, mime="image/png", created_by=1
                )
            )
    with migrated_engine.begin() as conn:
        customer = open_form(_ctx(), conn, "known", "customer").create_many(
            [{"name": "客户", "credit": "12.5"}]
        )[0]
    yield migrated_engine, customer


def _ctx() -> Any:
    return context(Actor(1, "api"), now=NOW)


def _publish(engine: Engine, *rules: dict[str, Any]) -> None:
    with engine.begin() as conn:
        revision = forms_apps.load(conn, "known").revision
        apps.publish(
            conn,
            "known",
            {**APP, "rules": list(rules)},
            revision=revision,
            plan_hash=None,
            ctx=context(Actor(None, "api"), now=NOW),
        )


# What a `created` event never serves, by field type: read at read time or written with more
# (names, titles, file metadata, row ids) than the event carries.
NOT_SERVED = {
    "relation",  # a relation to one serves its id only (below); to many, nothing
    "user",
    "users",
    "department",
    "departments",
    "attachment",
    "image",
    "signature",
    "subform",
    "serial",
    "formula",
    "lookup",
    "rollup",
    "created_by",
    "created_at",
    "updated_by",
    "updated_at",
    "section",
}


def test_every_field_type_is_either_served_exactly_or_not_at_all() -> None:
    assert set(FIELD_TYPES.names()) == EXACT_TYPES | NOT_SERVED
    assert not EXACT_TYPES & NOT_SERVED
    assert {f["type"] for f in FIELDS} == set(FIELD_TYPES.names())


@pytest.mark.parametrize("shape", ["full", "empty", "edges"])
def test_what_a_created_event_tells_is_what_the_record_reads(
    known_app: tuple[Engine, int], shape: str
) -> None:
    engine, customer = known_app
    values = {"full": _full(customer), "empty": {}, "edges": _edges(customer)}[shape]
    seen: list[RecordChanged] = []

    def loaded() -> Mapping[str, Any]:
        raise AssertionError("nothing here reads the record back")

    listening = LISTENERS.listening("seen", lambda conn, ctx, events: seen.extend(events))
    with listening, engine.begin() as conn:
        record_id = open_form(_ctx(), conn, "known", "item").create_many([values])[0]
        app = forms_apps.load(conn, "known")
        form = app.layout.forms["item"]
        read = Reader(app.layout, form, _ctx()).get(conn, record_id)
        known = known_record(form, seen[-1], loaded)
    served = {key for key in read if known.serves(RecordReads(values=frozenset({key})))}
    ids = {key for key in read if known.serves(RecordReads(ids=frozenset({key})))}
    for key in served:
        assert known[key] == read[key], key
    for key in ids:
        assert plain(known[key]) == plain(read[key]), key
    given = {key for key, value in values.items() if value not in (None, [], "")}
    defaults = {"fixed", "stamp"}  # filled by the server when not given
    by_type = {f["key"]: f["type"] for f in FIELDS}
    assert served == {"_id"} | {key for key in given | defaults if by_type[key] in EXACT_TYPES}
    assert ids - served == ({"customer"} if "customer" in given else set())
    assert not known.loaded
    if shape == "empty":  # left empty: not served, and they read as blank
        left = [k for k, t in by_type.items() if t in EXACT_TYPES and k not in defaults]
        assert not served & set(left)
        assert [read[key] for key in left] == [None] * len(left)


def _mirrors(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        page = open_form(_ctx(), conn, "known", "mirror").list(sort="_id", limit=100)
    skipped = {"_id", "_created_at", "_updated_at", "_version"}
    return [{k: v for k, v in item.items() if k not in skipped} for item in page.items]


def _spy(monkeypatch: pytest.MonkeyPatch) -> tuple[list[bool], list[KnownRecord]]:
    """Watch `runtime.triggering_record`: whether each save's rules got a record known from
    its event, and those records (none may have fallen back to reading the record)."""
    served: list[bool] = []
    knowns: list[KnownRecord] = []
    record_for = runtime.triggering_record

    def spied(*args: Any, **kwargs: Any) -> Mapping[str, Any] | None:
        found = record_for(*args, **kwargs)
        served.append(isinstance(found, KnownRecord))
        if isinstance(found, KnownRecord):
            knowns.append(found)
        return found

    monkeypatch.setattr(runtime, "triggering_record", spied)
    return served, knowns


def _create_both_ways(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, values: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[bool]]:
    """The mirrors the rules create for `values` over the event's values where they can be
    served, then for the same values read back; whether each save's rules got a record known
    from the event (unloaded)."""
    served, knowns = _spy(monkeypatch)

    def create() -> list[dict[str, Any]]:
        before = len(_mirrors(engine))
        with engine.begin() as conn:
            item = open_form(_ctx(), conn, "known", "item").create_many([values])[0]
        made = _mirrors(engine)[before:]
        for mirror in made:  # the item's own id (`{"copy": "_id"}`) told apart from the rest
            mirror["source"] = "the item" if mirror.get("source") == item else mirror.get("source")
        return made

    known_way = create()
    monkeypatch.setattr(KnownRecord, "serves", lambda self, reads: False)
    read_way = create()
    monkeypatch.undo()
    assert not [known for known in knowns if known.loaded]
    return known_way, read_way, served


@pytest.mark.parametrize("shape", ["full", "edges"])
def test_a_rule_served_by_the_event_sees_what_the_read_gives(
    known_app: tuple[Engine, int], monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    engine, customer = known_app
    _publish(engine, SERVED)
    values = _full(customer) if shape == "full" else _edges(customer)
    known_way, read_way, served = _create_both_ways(engine, monkeypatch, values)
    assert served == [True, False]
    assert len(known_way) == 1
    assert known_way == read_way
    mirror = known_way[0]
    assert mirror["customer"]["_id"] == customer
    assert (mirror["title"], mirror["tags"]) == (values["title"], values["tags"])
    assert mirror["text_fixed"] == values.get("fixed", "默认") and mirror["text_stamp"]
    assert (mirror["text_id"], mirror["source"]) == (
        "有是" if values["done"] else "有否",
        "the item",
    )


@pytest.mark.parametrize("case", sorted(UNSERVED))
def test_a_rule_reading_what_the_event_does_not_tell_reads_the_record(
    known_app: tuple[Engine, int], monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    engine, customer = known_app
    _publish(engine, UNSERVED[case])
    values = {**_full(customer), "note": None}  # note left empty
    known_way, read_way, served = _create_both_ways(engine, monkeypatch, values)
    assert served == [False, False]
    assert len(known_way) == 1
    assert known_way == read_way
    expected = {"empty": None, "formula": "14", "title": "客户", "owner": "标题 "}[case]
    assert known_way[0][{"empty": "title"}.get(case, "text_title")] == expected


def test_in_a_batch_only_records_before_the_first_sync_run_are_served(
    known_app: tuple[Engine, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync rule's writes may change the batch's later records (a cascade may update them):
    those are read back, as before."""
    engine, customer = known_app
    _publish(engine, SERVED)
    served, knowns = _spy(monkeypatch)

    with engine.begin() as conn:
        open_form(_ctx(), conn, "known", "item").create_many([_full(customer)] * 3)
    assert served == [True, False, False]
    assert not knowns[0].loaded
    mirrors = _mirrors(engine)
    assert len(mirrors) == 3
    for mirror in mirrors:
        mirror.pop("source")
    assert mirrors[0] == mirrors[1] == mirrors[2]
