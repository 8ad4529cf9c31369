"""Record JSON straight from the driver's rows (`RecordJson.read_page`, what `Reader.list` runs)
is byte for byte the record JSON of the general path (`RecordJson.page` over rows SQLAlchemy
converted with the column types): properties over random stored values of every field type
with a column — blanks, Chinese text, decimals at every scale, moments written in many time
zones (Asia/Shanghai has no daylight saving; New York has), dates, times, members,
departments, relations to live, deleted and missing records, multi-selects, files, places,
subform rows and rollups — on SQLite and on PostgreSQL with the session in UTC and in other
zones, live pages and the recycle bin; and the text shortcuts themselves against
`datetime_json` and the decimal writers over their whole ranges. (The CRM's scoped callers,
restricted relations and hidden fields: `tests/forms/test_form_sql.py`.)"""

from __future__ import annotations

import datetime as dt
import json
import os
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from engine.auth.permissions import FormAccess
from engine.core.context import Actor
from engine.core.moments import datetime_json, epoch_ms_json, utc_datetime_json
from engine.core.sqltypes import INT64_MAX, ExactDecimal, UtcDateTime, from_epoch_ms
from engine.forms import apps
from engine.forms.field_types.number import scaled_writer
from engine.forms.query import Reader
from engine.store.models import Department, StoredFile, User
from tests.contexts import context
from tests.forms.every_field import every_stored_field
from tests.store_fixtures import prepare_fresh

ACTOR = Actor(None, "api")
BASE = settings(
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def examples(count: int) -> settings:
    return settings(BASE, max_examples=count)


ZONES = ["UTC", "Asia/Shanghai", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]
OPTIONS = [{"value": v} for v in ("甲", "乙", "丙", "a", "b")]

APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "raw",
    "name": "raw",
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
        {
            "key": "item",
            "name": "条目",
            "title_field": "title",
            "fields": [
                *every_stored_field(OPTIONS),
                {"key": "customer_name", "type": "lookup", "relation": "customer", "field": "name"},
                {
                    "key": "customer_credit",
                    "type": "lookup",
                    "relation": "customer",
                    "field": "credit",
                },
                {
                    "key": "double_credit",
                    "type": "formula",
                    "expr": "customer.credit * 2",
                    "precision": 2,
                },
                {
                    "key": "lines",
                    "type": "subform",
                    "fields": [
                        {"key": "n", "type": "integer"},
                        {"key": "amount", "type": "money", "precision": 2},
                        {"key": "at", "type": "datetime"},
                    ],
                },
                {
                    "key": "total",
                    "type": "rollup",
                    "relation": "lines",
                    "field": "amount",
                    "aggregate": "sum",
                },
                {"key": "section", "type": "section"},
            ],
        },
    ],
}

_NOT_STORED = {
    "formula",
    "lookup",
    "rollup",
    "subform",
    "section",
    "created_by",
    "created_at",
    "updated_by",
    "updated_at",
}
USERS = [1, 2, 3]
DEPARTMENTS = [1, 2]
FILES = [1, 2]
CUSTOMERS = [1, 2, 3]  # 3 is in the recycle bin
IDS = st.one_of(st.none(), st.integers(1, 5))  # 4 and 5 name nobody


def moments() -> st.SearchStrategy[dt.datetime]:
    """Aware moments written in many zones, with microseconds the store truncates."""
    return st.builds(
        lambda naive, zone: naive.replace(tzinfo=zoneinfo.ZoneInfo(zone)),
        st.datetimes(min_value=dt.datetime(1, 1, 3), max_value=dt.datetime(9999, 12, 29)),
        st.sampled_from(ZONES),
    )


def texts() -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.none(),
        st.just(""),
        st.sampled_from(["商机", "客户 A", "北京市朝阳区", "0", "null"]),
        # What a record can hold: no NUL (PostgreSQL refuses it), no lone surrogate (refused).
        st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12),
    )


def scaled(scale: int, digits: int = 15) -> st.SearchStrategy[Decimal | None]:
    bound = 10**digits - 1
    return st.one_of(
        st.none(),
        st.integers(-bound, bound).map(lambda n: Decimal(n).scaleb(-scale)),
    )


def ids_list() -> st.SearchStrategy[list[int] | None]:
    return st.one_of(st.none(), st.lists(st.integers(1, 5), max_size=3, unique=True))


def place() -> st.SearchStrategy[dict[str, Any] | None]:
    return st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {"province": st.sampled_from(["北京市", "上海市"]), "detail": texts()}
        ),
        st.fixed_dictionaries(
            {"lat": st.floats(-90, 90), "lng": st.floats(-180, 180), "name": texts()}
        ),
    )


_COLUMN_KEYS = (
    "_deleted_at",
    "_created_by",
    "_updated_by",
    "_owner",
    *(f["key"] for f in APP["forms"][1]["fields"] if f["type"] not in _NOT_STORED),
)


def records() -> st.SearchStrategy[dict[str, Any]]:
    """Stored values of one record, by field key (system columns under their names)."""
    return st.fixed_dictionaries(
        {
            "_created_at": moments(),
            "_updated_at": moments(),
            "_deleted_at": st.one_of(st.none(), moments()),
            "_created_by": IDS,
            "_updated_by": IDS,
            "_owner": IDS,
            "title": texts(),
            "note": texts(),
            "rich": texts(),
            "email": texts(),
            "phone": texts(),
            "site": texts(),
            "qty": scaled(3),
            "whole": scaled(0, 18),
            "fine": scaled(10, 18),
            "count": st.one_of(st.none(), st.integers(-(10**17), 10**17)),
            "price": scaled(2, 18),
            "ratio": scaled(4),
            "stars": st.one_of(st.none(), st.integers(0, 5)),
            "level": st.one_of(st.none(), st.sampled_from([o["value"] for o in OPTIONS])),
            "tags": st.one_of(
                st.none(), st.lists(st.sampled_from([o["value"] for o in OPTIONS]), unique=True)
            ),
            "done": st.one_of(st.none(), st.booleans()),
            "day": st.one_of(st.none(), st.dates()),
            "when": st.one_of(st.none(), moments()),
            "at": st.one_of(st.none(), st.times().map(lambda t: t.replace(microsecond=0))),
            "person": IDS,
            "people": ids_list(),
            "dept": IDS,
            "depts": ids_list(),
            "addr": place(),
            "loc": place(),
            "files": ids_list(),
            "pics": ids_list(),
            "sign": ids_list(),
            "no": texts(),
            "customer": IDS,
            "lines": st.lists(
                st.fixed_dictionaries({"n": IDS, "amount": scaled(2), "at": moments()}),
                max_size=3,
            ),
        }
    )


@pytest.fixture
def raw_app(store_engine: Engine) -> Engine:
    """The app above with members, departments, files and customers (one deleted)."""
    prepare_fresh(store_engine)
    with store_engine.begin() as conn:
        apps.create(conn, APP, context(ACTOR))
        for number in DEPARTMENTS:
            conn.execute(insert(Department).values(id=number, name=f"部门{number}"))
        for number in USERS:
            conn.execute(
                insert(User).values(id=number, username=f"u{number}", display_name=f"成员{number}")
            )
        for number in FILES:
            conn.execute(
                insert(StoredFile).values(
                    id=number, sha256="0" * 64, name=f"文件{number}.pdf", size=number, mime="a/b"
                )
            )
        app = apps.load(conn, "raw")
        customer = app.form("customer")
        moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        for number in CUSTOMERS:
            conn.execute(
                insert(customer.table).values(
                    _id=number,
                    _created_at=moment,
                    _updated_at=moment,
                    _version=1,
                    _deleted_at=moment if number == 3 else None,
                    **{
                        customer.fields["name"].column: f"客户{number}" if number != 2 else None,
                        customer.fields["credit"].column: Decimal(number * 1000) / 7 // 1,
                    },
                )
            )
    return store_engine


def _store(conn: Connection, app: apps.LoadedApp, values: list[dict[str, Any]]) -> None:
    item = app.form("item")
    lines = item.fields["lines"].rows
    assert lines is not None
    conn.execute(delete(lines.table))
    conn.execute(delete(item.table))
    for number, record in enumerate(values, start=1):
        row: dict[str, Any] = {"_id": number, "_version": 1}
        for key, value in record.items():
            if key.startswith("_"):
                row[key] = value
            elif key != "lines":
                row[item.fields[key].column] = value
        conn.execute(insert(item.table).values(**row))
        for seq, line in enumerate(record["lines"]):
            conn.execute(
                insert(lines.table).values(
                    _parent_id=number,
                    _seq=seq,
                    **{lines.fields[k].column: v for k, v in line.items()},
                )
            )


def _both_paths(conn: Connection, reader: Reader, **options: Any) -> None:
    """`Reader.list` (the raw path) writes exactly the general path's JSON for this page."""
    found = reader.sql.page_statements(count=False, **options)
    general = reader.json.page(conn, conn.execute(found.page, found.params).all())
    raw = reader.list(conn, count=False, **options).items
    assert json.dumps(raw, ensure_ascii=False) == json.dumps(general, ensure_ascii=False)


@examples(25)
@given(values=st.lists(records(), min_size=1, max_size=4), zone=st.sampled_from(ZONES))
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_raw_path_writes_the_general_paths_json(
    raw_app: Engine, values: list[dict[str, Any]], zone: str
) -> None:
    with raw_app.connect() as conn:
        if conn.dialect.name == "postgresql":  # the driver's datetimes come in the session zone
            conn.execute(text(f"SET TIME ZONE '{zone}'"))
        app = apps.load(conn, "raw")
        _store(conn, app, values)
        reader = Reader(app.layout, app.form("item"), context(tz=zone))
        _both_paths(conn, reader, sort="_id", limit=10)
        _both_paths(conn, reader, sort="-when,_id", deleted=True, limit=10)
        conn.rollback()


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_callers_whose_titles_are_typed_otherwise_get_their_own_row_writer(
    raw_app: Engine,
) -> None:
    """A relation's title hidden from a caller is a typed NULL under the same label: row
    writers are kept per rights, so callers reading the same page one after the other each get
    the general path's JSON."""
    values = [
        {"customer": 1, "price": Decimal("12.30"), "title": "一"},
        {"customer": 2, "price": None, "title": None},
        {"customer": 3, "price": Decimal("-0.05"), "title": ""},
    ]
    with raw_app.connect() as conn:
        app = apps.load(conn, "raw")
        full = dict.fromkeys(app.form("item").fields, "read_only")

        def rights(name_hidden: bool, mark: str) -> FormAccess:
            on_customer = FormAccess(
                7,
                (),
                scopes={"view": ("all",)},
                fields={"name": "hidden" if name_hidden else "read_only", "credit": "read_only"},
                fingerprint=(mark, "customer"),
            )
            return FormAccess(
                7,
                (),
                scopes={"view": ("all",)},
                fields=full,
                peers=lambda form: on_customer,
                fingerprint=(mark,),
            )

        stored = [dict.fromkeys(_COLUMN_KEYS) | {"lines": []} | one for one in values]
        for one in stored:
            for key in ("_created_at", "_updated_at"):
                one[key] = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
        _store(conn, app, stored)
        readers = [
            Reader(app.layout, app.form("item"), context(), access=rights(hidden, mark))
            for hidden, mark in ((True, "a"), (False, "b"), (True, "a"))
        ]
        titles = []
        for reader in [*readers, Reader(app.layout, app.form("item"), context())]:
            _both_paths(conn, reader, sort="_id")
            titles.append([i["customer"] for i in reader.list(conn, sort="_id").items])
        assert titles[0][0] == titles[2][0] == {"_id": 1, "title": None, "restricted": True}
        assert titles[1][0] == titles[3][0] == {"_id": 1, "title": "客户1"}
        conn.rollback()


# --- the text shortcuts over their whole ranges ------------------------------------------------

FIRST_MS = -62_135_596_800_000  # 0001-01-01T00:00:00.000Z
LAST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


@examples(2000)
@given(ms=st.one_of(st.integers(FIRST_MS, LAST_MS), st.sampled_from([FIRST_MS, LAST_MS, 0, -1])))
def test_epoch_ms_json_is_datetime_json(ms: int) -> None:
    assert epoch_ms_json(ms) == datetime_json(from_epoch_ms(ms))


@examples(2000)
@given(
    moment=st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.one_of(
            st.none(), st.just(dt.UTC), st.sampled_from(ZONES).map(zoneinfo.ZoneInfo)
        ),
    )
)
def test_utc_datetime_json_is_datetime_json(moment: dt.datetime) -> None:
    assert utc_datetime_json(moment) == datetime_json(moment)


@examples(3000)
@given(
    scale=st.integers(0, 10),
    stored=st.one_of(
        st.integers(-INT64_MAX, INT64_MAX),
        st.integers(-1000, 1000),
        st.sampled_from([0, 1, -1, INT64_MAX, -INT64_MAX]),
    ),
)
def test_decimal_shortcut_is_the_writer_of_the_converted_value(scale: int, stored: int) -> None:
    """SQLite's scaled integer, and PostgreSQL's Decimal of the column's scale, as text."""
    column = ExactDecimal(scale)
    writer = scaled_writer(scale)

    def unexpected(value: Any) -> Any:
        raise AssertionError(value)

    lite = sqlite.dialect()
    converted = column.dialect_impl(lite).result_processor(lite, None)(stored)
    assert column.json_reader(lite, unexpected)(stored) == writer(converted)
    number = Decimal(stored).scaleb(-scale)
    pg = postgresql.psycopg.dialect()
    assert column.json_reader(pg, unexpected)(number) == writer(number)


def test_shortcuts_hand_other_forms_to_the_general_path() -> None:
    """A value in a form the shortcut does not expect goes to the fallback it was given."""
    lite, pg = sqlite.dialect(), postgresql.psycopg.dialect()
    seen: list[Any] = []

    def fallback(value: Any) -> str:
        seen.append(value)
        return "general"

    for reader in (
        ExactDecimal(2).json_reader(lite, fallback),
        ExactDecimal(0).json_reader(lite, fallback),
        ExactDecimal(6).json_reader(lite, fallback),
        UtcDateTime().json_reader(lite, fallback),
    ):
        assert reader("12.5") == "general"
        assert reader(12.5) == "general"
    assert ExactDecimal(2).json_reader(pg, fallback)(12) == "general"
    assert UtcDateTime().json_reader(pg, fallback)(dt.date(2024, 1, 1)) == "general"
    assert len(seen) == 10
    assert ExactDecimal(2).json_reader(lite, fallback)(-5) == "-0.05"
    assert ExactDecimal(6).json_reader(lite, fallback)(-5) == "-0.000005"
    assert UtcDateTime().json_reader(lite, fallback)(-1) == "1969-12-31T23:59:59.999Z"
