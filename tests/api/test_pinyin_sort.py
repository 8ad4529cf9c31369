"""Chinese text sorts by pinyin through the API, identically on SQLite and PostgreSQL (issue 16).

One app per database for the module (a SQLite file and a PostgreSQL schema); every test asks
both and requires the same answer, worked out by hand from the readings. Each test writes its
own records under its own `batch` tag and filters by it. Filters, comparisons and `unique` keep
code-point order; every path that writes a text value writes its key (create, update, batch,
import, pack import, a type change, a restored field, the upgrade of an install made before).
"""

from __future__ import annotations

import copy
import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from engine.forms import apps
from engine.forms.query import Reader
from engine.forms.sortkey import backfill, digit_sort_key, key_column, sort_key
from engine.store.session import alembic_config
from tests.api.records_client import API, api_client
from tests.contexts import context
from tests.store_fixtures import module_database

pytestmark = pytest.mark.postgres

DEFINITION: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "cities",
    "name": "城市",
    "version": "1",
    "forms": [
        {
            "key": "city",
            "name": "城市",
            "title_field": "name",
            "fields": [
                {"key": "name", "type": "text", "label": "名称", "index": True},
                {"key": "batch", "type": "text", "label": "批次", "index": True},
                {"key": "note", "type": "textarea", "label": "备注"},
                {"key": "code", "type": "text", "label": "编码", "unique": True},
                {"key": "size", "type": "number", "label": "规模"},
                {"key": "region", "type": "text", "label": "区域"},
            ],
            "indexes": [["batch", "note"], ["-region"]],
        },
        {
            "key": "trip",
            "name": "行程",
            "fields": [
                {"key": "batch", "type": "text", "label": "批次"},
                {"key": "city", "type": "relation", "label": "城市", "target": "city"},
                {
                    "key": "city_name",
                    "type": "lookup",
                    "label": "城市名",
                    "relation": "city",
                    "field": "name",
                },
                {
                    "key": "city_tier",
                    "type": "lookup",
                    "label": "线级",
                    "relation": "city",
                    "field": "tier",
                },
            ],
        },
    ],
}
DEFINITION["forms"][0]["fields"].append(
    {"key": "label", "type": "formula", "label": "标签", "expr": 'region & "-" & name'}
)
DEFINITION["forms"][0]["fields"].append(
    {
        "key": "tier",
        "type": "select",
        "label": "线级",
        "options": [{"value": v, "label": v} for v in ("一线", "新一线", "二线")],
    }
)
RECORDS = f"{API}/apps/cities/forms/city/records"


class Side:
    """One database's client and engine."""

    def __init__(self, client: TestClient, engine: Engine) -> None:
        self.client = client
        self.engine = engine


@pytest.fixture(scope="module")
def sides(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, Side]]:
    """The cities app on SQLite and on PostgreSQL."""
    found: dict[str, Side] = {}
    with (
        module_database(_Param(request, "sqlite"), tmp_path_factory.mktemp("py"), "py") as lite,
        module_database(_Param(request, "postgres"), tmp_path_factory.mktemp("pg"), "py") as pg,
    ):
        for name, connect in (("sqlite", lite), ("postgres", pg)):
            engine = connect()
            client = api_client(engine, tmp_path_factory.mktemp(name))
            created = client.post(f"{API}/apps", json=DEFINITION)
            assert created.status_code == 201, created.text
            found[name] = Side(client, engine)
        try:
            yield found
        finally:
            for side in found.values():
                side.engine.dispose()


class _Param:
    """A fixture request standing for one database (`module_database` reads `param`)."""

    def __init__(self, request: pytest.FixtureRequest, param: str) -> None:
        self.param = param
        self._request = request

    def getfixturevalue(self, name: str) -> Any:
        return self._request.getfixturevalue(name)


def add(side: Side, batch: str, values: list[dict[str, Any]]) -> int:
    response = side.client.post(f"{RECORDS}/batch", json=[{**v, "batch": batch} for v in values])
    assert response.status_code in (200, 201), response.text
    return len(response.json()["results"])


def listed(side: Side, batch: str, sort: str, field: str = "name", **params: Any) -> list[Any]:
    response = side.client.get(
        RECORDS, params={"filter": f'batch = "{batch}"', "sort": sort, "limit": 500} | params
    )
    assert response.status_code == 200, response.text
    return [item[field] for item in response.json()["items"]]


def on_both(sides: dict[str, Side], values: list[dict[str, Any]]) -> str:
    batch = uuid.uuid4().hex[:12]
    for side in sides.values():
        add(side, batch, values)
    return batch


def test_cities_sort_by_pinyin_with_blanks_last(sides: dict[str, Side]) -> None:
    names = ["上海", "深圳", None, "重庆", "北京", "成都", "长沙", "西藏", "先锋", "西安"]
    batch = on_both(sides, [{"name": n} for n in names])
    # bei < chang < cheng < chong < shang < shen < xi·an < xi·zang < xian·feng, blank last
    expected = ["北京", "长沙", "成都", "重庆", "上海", "深圳", "西安", "西藏", "先锋"]
    for side in sides.values():
        assert listed(side, batch, "name") == [*expected, None]
        assert listed(side, batch, "-name") == [*reversed(expected), None]
        # pages of 4 read the same order, across the keyed values and the blank
        pages = [listed(side, batch, "-name", limit=4, offset=at) for at in (0, 4, 8)]
        assert [v for page in pages for v in page] == [*reversed(expected), None]
        # the export reads the same order
        exported = side.client.get(
            f"{RECORDS}/export",
            params={"filter": f'batch = "{batch}"', "sort": "name", "format": "csv"},
        )
        assert exported.status_code == 200
        lines = exported.content.decode("utf-8-sig").splitlines()[1:]
        assert [line.split(",")[1] for line in lines][: len(expected)] == expected


def test_mixed_text_polyphones_tones_and_ties(sides: dict[str, Side]) -> None:
    values = ["北京", "beijing", "Beijing", "123", "9号", "Apple", "阿里", "_x"]
    words = ["重要", "长大", "银行", "行走", "骂", "马", "麻", "妈", "北京"]
    batch = on_both(sides, [{"name": v} for v in values + words])
    expected = [
        *["_x", "9号", "123", "Apple", "Beijing", "beijing"],  # punctuation, numbers, Latin
        # a < bei < ma (tones 1, 2, 3, 4) < xing < yin < zhang < zhong
        *["阿里", "北京", "北京", "妈", "麻", "马", "骂", "行走", "银行", "长大", "重要"],
    ]
    answers = [listed(side, batch, "name") for side in sides.values()]
    assert answers[0] == answers[1] == expected
    ids = {
        name: [
            i["_id"]
            for i in side.client.get(
                RECORDS, params={"filter": f'batch = "{batch}"', "sort": "-name", "limit": 50}
            ).json()["items"]
            if i["name"] == "北京"
        ]
        for name, side in sides.items()
    }
    for found in ids.values():  # equal values: by id, in either direction
        assert found == sorted(found) and len(found) == 2


def test_filters_comparisons_and_unique_keep_code_point_order(sides: dict[str, Side]) -> None:
    batch = on_both(sides, [{"name": n} for n in ["上海", "北京", "深圳"]])
    for side in sides.values():
        # 上 (U+4E0A) < 北 (U+5317) < 深 (U+6DF1): 上海 > 北京 is FALSE, as before
        bigger = side.client.get(
            RECORDS, params={"filter": f'batch = "{batch}" AND name > "北京"', "sort": "name"}
        ).json()["items"]
        assert [i["name"] for i in bigger] == ["深圳"]
        checked = side.client.post(
            f"{API}/expr/check", json={"expr": '"上海" > "北京"', "record": {}}
        )
        assert checked.status_code == 200, checked.text
        assert checked.json()["value"] is False
        # unique compares values: "Apple" and "apple" share a key but are different values
        codes = [f"Apple{batch}", f"apple{batch}"]
        assert add(side, batch, [{"code": c} for c in codes]) == 2
        again = side.client.post(RECORDS, json={"code": codes[0]})
        assert again.status_code == 422


def test_update_import_and_pack_paths_write_the_key(sides: dict[str, Side]) -> None:
    batch = on_both(sides, [{"name": "北京"}, {"name": "上海"}])
    for side in sides.values():
        first = side.client.get(
            RECORDS, params={"filter": f'batch = "{batch}" AND name = "北京"'}
        ).json()["items"][0]
        changed = side.client.patch(
            f"{RECORDS}/{first['_id']}", json={"name": "重庆", "_version": first["_version"]}
        )
        assert changed.status_code == 200, changed.text
        csv = f"名称,批次\n成都,{batch}\n长沙,{batch}\n".encode()
        imported = side.client.post(
            f"{RECORDS}/import", files={"file": ("cities.csv", io.BytesIO(csv), "text/csv")}
        )
        assert imported.status_code in (200, 201), imported.text
        # chang < cheng < chong < shang
        assert listed(side, batch, "name") == ["长沙", "成都", "重庆", "上海"]
        assert _keys_match_values(side.engine)
    # a pack imported with its records (the pack loader's bulk path)
    for side in sides.values():
        pack = side.client.get(f"{API}/apps/cities/export", params={"data": "true"}).json()
        pack["key"] = f"copy{batch[:6]}"
        loaded = side.client.post(f"{API}/apps/import", json=pack)
        assert loaded.status_code in (200, 201), loaded.text
        copied = side.client.get(
            f"{API}/apps/{pack['key']}/forms/city/records",
            params={"filter": f'batch = "{batch}"', "sort": "name"},
        ).json()["items"]
        assert [i["name"] for i in copied] == ["长沙", "成都", "重庆", "上海"]
        assert _keys_match_values(side.engine)


def _keys_match_values(engine: Engine, key: Any = sort_key, formulas: bool = True) -> bool:
    """Every text column's key column holds the key of its value, in every record table (and
    every stored text formula's, with `formulas`)."""
    with engine.connect() as conn:
        for table, column in _keyed_columns(conn, formulas):
            rows = conn.execute(text(f"SELECT {column}, {key_column(column)} FROM {table}")).all()
            if any(stored != key(value) for value, stored in rows):
                return False
    return True


def _keyed_columns(conn: Connection, formulas: bool = True) -> list[tuple[str, str]]:
    kinds = "ff.type IN ('text', 'textarea')"
    if formulas:  # stored text formulas have keys from 0020_pinyinnum on
        kinds = f"({kinds} OR ff.type = 'formula' AND ff.storage = 'text')"
    rows = conn.execute(
        text(
            "SELECT ff.form_id, ff.id FROM form_fields ff JOIN forms f ON f.id = ff.form_id"
            f" WHERE {kinds} AND ff.parent_id IS NULL"
            " AND ff.retired_at IS NULL AND f.retired_at IS NULL"
        )
    ).all()
    return [(f"r{form}", f"f{field}") for form, field in rows]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.text(
            alphabet="重庆长沙北京上海行银西安先阿里妈麻马骂绿路女乐和aB1029０ ·",
            min_size=1,
            max_size=6,
        ),
        min_size=2,
        max_size=12,
    )
)
def test_both_databases_give_the_same_order(sides: dict[str, Side], names: list[str]) -> None:
    names = [n for n in names if n.strip()] or ["北京"]
    batch = on_both(sides, [{"name": n} for n in names])
    lite, pg = (listed(side, batch, "name") for side in sides.values())
    assert lite == pg == sorted(names, key=lambda n: (sort_key(n), n))
    assert listed(sides["sqlite"], batch, "-name") == listed(sides["postgres"], batch, "-name")


def _plan(conn: Connection, statement: Any) -> str:
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN " if conn.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    rows = conn.execute(text(prefix + str(compiled))).all()
    return "\n".join(" ".join(str(v) for v in row) for row in rows)


def test_a_sort_by_an_indexed_text_field_reads_its_sort_index(sides: dict[str, Side]) -> None:
    for side in sides.values():
        with side.engine.connect() as conn:
            app = apps.load(conn, "cities")
            city = app.form("city")
            name = city.fields["name"].column
            index = f"idx_{city.table.name}_{name}k_{name}"
            reader = Reader(app.layout, city, context())
            page = reader.sql.page_statements(sort="name", limit=25).page
            if conn.dialect.name == "postgresql":
                # a small table: rule out a scan and a sort, so only an index in this order serves
                conn.execute(text("SET LOCAL enable_seqscan = off"))
                conn.execute(text("SET LOCAL enable_sort = off"))
                found = _plan(conn, page)
                assert f"Index Scan using {index}" in found, found
                assert "Sort" not in found.replace("Sort Key", ""), found
            else:  # SQLite walks an index forwards when the filter leaves no blank (as before)
                page = reader.sql.page_statements(filter='name >= "0"', sort="name", limit=25).page
                found = _plan(conn, page)
                assert index in found, found
                assert "TEMP B-TREE" not in found, found
            # descending, blanks last: its ascending sort index, walked backwards (no index
            # declared for it; the keyed records and the blank ones are picked apart)
            backwards = reader.sql.page_statements(sort="-name", limit=25, offset=5).page
            found = _plan(conn, backwards)
            if conn.dialect.name == "postgresql":
                assert f"Scan Backward using {index}" in found, found  # (Index Only)
                assert "Seq Scan" not in found, found
            else:
                assert index in found, found
            # a combination filtered by its first field sorts by the next one's key
            composite = reader.sql.page_statements(
                filter='batch = "x" AND note >= "0"', sort="note", limit=25
            ).page
            note = city.fields["note"].column
            batch = city.fields["batch"].column
            combined = f"idx_{city.table.name}_{batch}_{note}k_{note}"
            found = _plan(conn, composite)
            assert combined in found and "TEMP B-TREE" not in found, found
            assert "Sort" not in found.replace("Sort Key", ""), found
            # a descending sort reads a descending combination of the field alone
            region = city.fields["region"].column
            backwards = reader.sql.page_statements(sort="-region", limit=25).page
            found = _plan(conn, backwards)
            assert f"idx_{city.table.name}_{region}kd_{region}d" in found, found
            assert "TEMP B-TREE" not in found and "Sort" not in found.replace("Sort Key", ""), found


def test_type_changes_and_a_restored_field_keep_keys_right(sides: dict[str, Side]) -> None:
    batch = on_both(sides, [{"size": 12}, {"size": 3}, {"name": "北京", "size": 7}])
    for side in sides.values():
        client = side.client
        app = client.get(f"{API}/apps/cities").json()
        as_text = _retype(app, "size", {"type": "text"})
        assert client.put(f"{API}/apps/cities", json=as_text).status_code == 200
        assert listed(side, batch, "size", field="size") == ["3.00", "7.00", "12.00"]
        assert _keys_match_values(side.engine)
        back = _retype(client.get(f"{API}/apps/cities").json(), "size", {"type": "number"})
        assert client.put(f"{API}/apps/cities", json=back).status_code == 200
        again = _retype(client.get(f"{API}/apps/cities").json(), "size", {"type": "textarea"})
        assert client.put(f"{API}/apps/cities", json=again).status_code == 200
        assert _keys_match_values(side.engine)
        # a text field deleted, then added back: its values and keys return
        current = client.get(f"{API}/apps/cities").json()
        without = copy.deepcopy(current)
        without["forms"][0]["fields"] = [
            f for f in without["forms"][0]["fields"] if f["key"] != "size"
        ]
        assert client.put(f"{API}/apps/cities", json=without).status_code == 200
        restored = client.get(f"{API}/apps/cities").json()
        restored["forms"][0]["fields"].append(
            next(f for f in current["forms"][0]["fields"] if f["key"] == "size")
        )
        assert client.put(f"{API}/apps/cities", json=restored).status_code == 200
        assert listed(side, batch, "size", field="size") == ["3.00", "7.00", "12.00"]
        assert _keys_match_values(side.engine)


def _retype(app: dict[str, Any], key: str, change: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(app)
    for field in result["forms"][0]["fields"]:
        if field["key"] == key:
            for option in ("precision", "min", "max"):
                field.pop(option, None)
            field.update(change)
    return result


def test_upgrade_fills_keys_and_builds_sort_indexes_and_a_stopped_fill_resumes(
    sides: dict[str, Side],
) -> None:
    on_both(sides, [{"name": n} for n in ["深圳", "北京", "长沙"]])
    for side in sides.values():
        with side.engine.connect() as conn:
            layout = apps.load(conn, "cities").form("city")
            table = layout.table.name
            before = _index_names(conn, table)
            stored = ", ".join(["_id", *(f.column for f in layout.fields.values())])
            values = conn.execute(text(f"SELECT {stored} FROM {table} ORDER BY _id")).all()
        with side.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0016_ruleswitchstamp")
        with side.engine.connect() as conn:
            columns = _columns(conn, table)
            assert not any(c.endswith("k") for c in columns if c.startswith("f"))
            assert not any("k_" in n for n in _index_names(conn, table))
        with side.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        with side.engine.connect() as conn:
            assert _index_names(conn, table) == before
            assert conn.execute(text(f"SELECT {stored} FROM {table} ORDER BY _id")).all() == values
        assert _keys_match_values(side.engine)
        # a rerun (after a stamp back) changes nothing
        with side.engine.begin() as conn:
            command.stamp(alembic_config(conn), "0016_ruleswitchstamp")
        with side.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        with side.engine.connect() as conn:
            assert _index_names(conn, table) == before
            assert sum(c.endswith("k") for c in _columns(conn, table) if c.startswith("f")) == len(
                [f for f in layout.fields.values() if f.sort_column]
            )
        assert _keys_match_values(side.engine)
        # a fill stopped after its first batch picks up where it stopped
        name = layout.fields["name"].column
        with side.engine.begin() as conn:
            conn.execute(text(f"UPDATE {table} SET {key_column(name)} = NULL"))
        with side.engine.begin() as conn, pytest.raises(_Stop):
            backfill(_StopAfterOneBatch(conn), table, name, batch=2)  # type: ignore[arg-type]
        with side.engine.connect() as conn:
            filled = conn.execute(
                text(f"SELECT COUNT({key_column(name)}) FROM {table}")
            ).scalar_one()
            left = conn.execute(
                text(f"SELECT COUNT({name}) FROM {table} WHERE {key_column(name)} IS NULL")
            ).scalar_one()
        assert filled == 2 and left > 0  # the first batch was kept
        with side.engine.begin() as conn:
            assert backfill(conn, table, name, batch=2) == left  # only what was left
        assert _keys_match_values(side.engine)


class _Stop(Exception):
    pass


class _StopAfterOneBatch:
    """A connection that commits after each batch and stops after the first one's writes."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._writes = 0

    def execute(self, statement: Any, params: Any = None) -> Any:
        result = self._conn.execute(statement, params)
        if str(statement).startswith("UPDATE"):
            self._writes += 1
            self._conn.commit()
            raise _Stop
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _index_names(conn: Connection, table: str) -> set[str]:
    from engine.forms.indexes import existing_indexes

    return existing_indexes(conn, table)


def _columns(conn: Connection, table: str) -> list[str]:
    from sqlalchemy import inspect

    return [c["name"] for c in inspect(conn).get_columns(table)]


def test_report_dimensions_of_text_are_ordered_by_pinyin(sides: dict[str, Side]) -> None:
    batch = on_both(sides, [{"name": n} for n in ["上海", "深圳", "北京", "重庆", "长沙", "上海"]])
    query = {
        "form": "city",
        "filter": f'batch = "{batch}"',
        "rows": [{"field": "name"}],
        "columns": [],
        "measures": [{"key": "n", "agg": "count"}],
        "chart": {"type": "table"},
    }
    for side in sides.values():
        response = side.client.post(f"{API}/apps/cities/query", json=query)
        assert response.status_code == 200, response.text
        rows = [(row[0]["value"], row[1]) for row in response.json()["rows"]]
        assert rows == [("北京", 1), ("长沙", 1), ("重庆", 1), ("上海", 2), ("深圳", 1)]
        descending = side.client.post(
            f"{API}/apps/cities/query", json={**query, "sort": [{"key": "name", "desc": True}]}
        ).json()["rows"]
        assert [row[0]["value"] for row in descending] == ["深圳", "上海", "重庆", "长沙", "北京"]


def test_numbers_inside_text_sort_by_value_and_the_upgrade_rewrites_old_keys(
    sides: dict[str, Side],
) -> None:
    names = ["客户10", "客户9", "客户100", "客户2", "北京", None]
    batch = on_both(sides, [{"name": n} for n in names])
    natural = ["北京", "客户2", "客户9", "客户10", "客户100", None]
    below = ScriptDirectory.from_config(alembic_config()).get_revision("0020_pinyinnum")
    assert below is not None and isinstance(below.down_revision, str)
    for side in sides.values():
        assert listed(side, batch, "name") == natural
        assert listed(side, batch, "-name") == [*reversed(natural[:-1]), None]
        # below 0020 the keys are as 0017 wrote them: digit by digit (客户10 < 客户100 < 客户2)
        with side.engine.begin() as conn:
            command.downgrade(alembic_config(conn), below.down_revision)
        assert _keys_match_values(side.engine, digit_sort_key, formulas=False)
        assert listed(side, batch, "name")[1:5] == ["客户10", "客户100", "客户2", "客户9"]
        with side.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        assert _keys_match_values(side.engine)
        assert listed(side, batch, "name") == natural
        # a rerun (after a stamp back) writes nothing
        with side.engine.begin() as conn:
            command.stamp(alembic_config(conn), below.down_revision)
        with side.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        assert listed(side, batch, "name") == natural and _keys_match_values(side.engine)


def test_lookups_and_selects_sort_like_their_source(sides: dict[str, Side]) -> None:
    cities = [("上海", "一线"), ("长沙", "新一线"), ("北京", "一线"), ("重庆", "二线")]
    cities += [("成都", None), ("客户10", "新一线"), ("客户9", "二线")]
    batch = uuid.uuid4().hex[:12]
    trips = f"{API}/apps/cities/forms/trip/records"
    # pinyin and numbers by value, blank last (the trip without a city)
    by_name = ["北京", "长沙", "成都", "重庆", "客户9", "客户10", "上海", None]
    # option order 一线 < 新一线 < 二线 (code point would put 一 < 二 < 新), blank last
    by_tier = ["一线", "一线", "新一线", "新一线", "二线", "二线", None, None]
    for side in sides.values():
        made = side.client.post(
            f"{RECORDS}/batch",
            json=[{"name": n, "tier": t, "batch": batch} for n, t in cities],
        ).json()["results"]
        linked = [{"batch": batch, "city": r["_id"]} for r in made] + [{"batch": batch}]
        response = side.client.post(f"{trips}/batch", json=linked)
        assert response.status_code in (200, 201), response.text

        def trip_list(sort: str, field: str, client: TestClient = side.client) -> list[Any]:
            got = client.get(trips, params={"filter": f'batch = "{batch}"', "sort": sort})
            assert got.status_code == 200, got.text
            return [item[field] for item in got.json()["items"]]

        assert trip_list("city_name", "city_name") == by_name
        assert trip_list("-city_name", "city_name") == [*reversed(by_name[:-1]), None]
        assert trip_list("city_tier", "city_tier") == by_tier
        assert trip_list("-city_tier", "city_tier") == [*reversed(by_tier[:-2]), None, None]
        # the select itself sorts by its options the same way
        assert listed(side, batch, "tier", field="tier") == by_tier[:-1]
        # a report by the lookup of text: groups in pinyin order too
        query = {
            "form": "trip",
            "filter": f'batch = "{batch}"',
            "rows": [{"field": "city_name"}],
            "columns": [],
            "measures": [{"key": "n", "agg": "count"}],
            "chart": {"type": "table"},
        }
        report = side.client.post(f"{API}/apps/cities/query", json=query)
        assert report.status_code == 200, report.text
        assert [row[0]["value"] for row in report.json()["rows"]] == by_name


def test_a_stored_text_formula_sorts_by_pinyin(sides: dict[str, Side]) -> None:
    regions = ["上海", "北京", "长沙", "北京"]
    batch = on_both(sides, [{"region": r, "name": f"{i}号"} for i, r in enumerate(regions)])
    for side in sides.values():
        # bei·jing (0号 < 3号) < chang·sha < shang·hai
        expected = ["北京-1号", "北京-3号", "长沙-2号", "上海-0号"]
        assert listed(side, batch, "label", field="label") == expected
        first = side.client.get(
            RECORDS, params={"filter": f'batch = "{batch}" AND name = "0号"'}
        ).json()["items"][0]
        changed = side.client.patch(
            f"{RECORDS}/{first['_id']}", json={"region": "阿坝", "_version": first["_version"]}
        )
        assert changed.status_code == 200, changed.text
        assert listed(side, batch, "label", field="label")[0] == "阿坝-0号"  # a·ba first
        # a publish that changes the formula recomputes its values and their keys
        app = side.client.get(f"{API}/apps/cities").json()
        for field in app["forms"][0]["fields"]:
            if field["key"] == "label":
                field["expr"] = 'name & "-" & region'
        assert side.client.put(f"{API}/apps/cities", json=app).status_code == 200
        assert listed(side, batch, "label", field="label") == [
            "0号-阿坝",
            "1号-北京",
            "2号-长沙",
            "3号-北京",
        ]
        assert _keys_match_values(side.engine)
        app = side.client.get(f"{API}/apps/cities").json()
        for field in app["forms"][0]["fields"]:
            if field["key"] == "label":
                field["expr"] = 'region & "-" & name'
        assert side.client.put(f"{API}/apps/cities", json=app).status_code == 200
