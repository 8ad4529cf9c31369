"""Indexes as definition (`engine.forms.indexes`), on SQLite and PostgreSQL.

- A field's `index: true` and a form's composite `indexes` appear in the publish plan and in
  the database; `_owner`, relation columns and the title field are indexed by default (a unique
  title keeps only its unique index); switching an index off plans and performs its drop.
- `index: true` on a field without a column, and unknown keys in `indexes`, are a 422
  `invalid_definition` at their path in Chinese and English, and nothing is written.
- Upgrading an install gives forms published before the default indexes, named as a publish
  names them (the next plan has no index step).
- A page filtered by the first column of a declared composite index and sorted by its
  descending second column is read through that index, without a sort (plan shape from
  EXPLAIN / EXPLAIN QUERY PLAN; PostgreSQL is told to avoid sorts and table scans where it can,
  so a sort in the plan means the ORDER BY did not match the index).
- Record tables' indexes end with `_deleted_at`: a live count with the filter reads the index
  alone (SQLite's covering index, PostgreSQL's index-only scan), and the recycle bin (which does
  not filter live rows) of an "own" caller still pages and counts through `_owner`'s index;
  subform row tables (no `_deleted_at`) keep ``(column, _id)``. Upgrading rebuilds indexes made
  before into that shape under the same names (nothing to plan), and a rerun leaves them be.
- Every record table has the newest-first index ``(_created_at DESC, _id DESC, _deleted_at)``
  (issue 16): a grid's default first page reads it without a sort; 0019_createdindex gives it
  to forms published before, drops it on the way down, and a rerun changes nothing.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine

from engine.auth.permissions import FormAccess
from engine.core.context import Actor
from engine.core.errors import ServiceError
from engine.forms import apps
from engine.forms.indexes import existing_indexes
from engine.forms.query import Reader
from engine.forms.records import Writer
from engine.forms.service import NEWEST_FIRST
from engine.store.models import App
from engine.store.session import alembic_config
from tests.contexts import context
from tests.store_fixtures import prepare_fresh

ACTOR = Actor(None, "api")
FILTER = 'status = "won" AND amount > 0'
"""A page filter on the composite's first column that also excludes blank amounts (the case
where the sort used to be written without NULLS LAST, which no DESC NULLS LAST index matched)."""


def definition(**deal: Any) -> dict[str, Any]:
    """A sales app: customers, and deals with a status, an amount and a customer."""
    deal_form: dict[str, Any] = {
        "key": "deal",
        "name": "商机",
        "title_field": "title",
        "fields": [
            {"key": "title", "type": "text", "label": {"zh": "标题", "en": "Title"}},
            {
                "key": "status",
                "type": "select",
                "label": {"zh": "状态", "en": "Status"},
                "options": [
                    {"value": "open", "label": "进行中"},
                    {"value": "won", "label": "赢单"},
                ],
            },
            {"key": "amount", "type": "money", "label": {"zh": "金额", "en": "Amount"}},
            {"key": "note", "type": "text", "label": {"zh": "备注", "en": "Note"}},
            {"key": "customer", "type": "relation", "target": "customer", "label": "客户"},
            {
                "key": "level",
                "type": "lookup",
                "relation": "customer",
                "field": "name",
                "label": "客户名",
            },
            {
                "key": "items",
                "type": "subform",
                "label": "明细",
                "fields": [{"key": "qty", "type": "number", "label": "数量"}],
            },
        ],
    }
    deal_form.update(deal)
    return {
        "format": "jimu.app/1",
        "key": "sales",
        "name": "销售",
        "version": "1",
        "forms": [
            {
                "key": "customer",
                "name": "客户",
                "title_field": "name",
                "fields": [{"key": "name", "type": "text", "unique": True}],
            },
            deal_form,
        ],
    }


def with_field_option(data: dict[str, Any], key: str, **options: Any) -> dict[str, Any]:
    result = copy.deepcopy(data)
    for form in result["forms"]:
        for field in form["fields"]:
            if field["key"] == key:
                field.update(options)
            for sub in field.get("fields", []):
                if sub["key"] == key:
                    sub.update(options)
    return result


def indexed() -> dict[str, Any]:
    return with_field_option(definition(indexes=[["status", "-amount"]]), "note", index=True)


@pytest.fixture
def store(migrated_engine: Engine) -> Engine:
    prepare_fresh(migrated_engine)
    return migrated_engine


def table_of(conn: Connection, form: str) -> str:
    return apps.load(conn, "sales").form(form).table.name


def columns(conn: Connection, form: str, *keys: str) -> list[str]:
    layout = apps.load(conn, "sales").form(form)
    return [layout.fields[key].column for key in keys]


def test_declared_and_default_indexes_are_planned_and_built(store: Engine) -> None:
    with store.begin() as conn:
        _, plan = apps.create(conn, indexed(), context(ACTOR))
    added = {(s.form, tuple(s.detail["fields"])) for s in plan.steps if s.op == "add_index"}
    assert added == {
        ("customer", ("_owner",)),
        ("customer", ("-_created_at",)),  # newest first, the lists' default order
        ("customer", ("name",)),  # the unique title's pinyin sort index
        ("deal", ("_owner",)),
        ("deal", ("-_created_at",)),
        ("deal", ("title",)),
        ("deal", ("note",)),
        ("deal", ("customer",)),
        ("deal", ("status", "-amount")),
    }
    message = next(s.message for s in plan.steps if s.detail.get("fields") == ["status", "-amount"])
    assert message == {
        "zh": "为 状态、金额（降序） 建索引（常用于筛选和排序）",
        "en": "Index Status, Amount (descending) (used often to filter and sort)",
    }
    newest = next(s.message for s in plan.steps if s.detail.get("fields") == ["-_created_at"])
    assert newest["zh"].startswith("为 创建时间（降序） 建索引")
    assert newest["en"].startswith("Index Created at (descending)")
    with store.connect() as conn:
        deal = table_of(conn, "deal")
        title, note, customer, status, amount = columns(
            conn, "deal", "title", "note", "customer", "status", "amount"
        )
        assert existing_indexes(conn, deal) == {
            f"idx_{deal}_owner",
            f"idx_{deal}_createdd_idd",
            f"idx_{deal}_{title}",
            f"idx_{deal}_{title}k_{title}",  # text sorts by pinyin: the sort index
            f"idx_{deal}_{note}",
            f"idx_{deal}_{note}k_{note}",
            f"idx_{deal}_{customer}",
            f"idx_{deal}_{status}_{amount}d",
        }
        # the customer's title is unique: its unique index serves equality, no second one;
        # its pinyin sort index is the only other
        (name,) = columns(conn, "customer", "name")
        customer_table = table_of(conn, "customer")
        assert existing_indexes(conn, customer_table) == {
            f"idx_{customer_table}_owner",
            f"idx_{customer_table}_createdd_idd",
            f"idx_{customer_table}_{name}k_{name}",
        }
        # nothing left to do: planning the same definition again plans no index step
        again = apps.plan(conn, "sales", indexed())
        assert [s for s in again.steps if "index" in s.op] == []


def test_switching_an_index_off_plans_and_performs_its_drop(store: Engine) -> None:
    with store.begin() as conn:
        apps.create(conn, indexed(), context(ACTOR))
    plain = definition()
    with store.begin() as conn:
        current = apps.load(conn, "sales")
        plan = apps.plan(conn, "sales", plain)
        dropped = {tuple(s.detail["fields"]) for s in plan.steps if s.op == "drop_index"}
        assert dropped == {("note",), ("status", "-amount")}
        assert [s for s in plan.steps if s.op == "add_index"] == []
        apps.publish(
            conn, "sales", plain, revision=current.revision, plan_hash=plan.hash, ctx=context(ACTOR)
        )
    with store.connect() as conn:
        deal = table_of(conn, "deal")
        title, customer = columns(conn, "deal", "title", "customer")
        assert existing_indexes(conn, deal) == {
            f"idx_{deal}_owner",
            f"idx_{deal}_createdd_idd",
            f"idx_{deal}_{title}",
            f"idx_{deal}_{title}k_{title}",
            f"idx_{deal}_{customer}",
        }


def test_the_drop_of_an_index_over_a_removed_field_names_it_by_its_label(store: Engine) -> None:
    with store.begin() as conn:
        apps.create(conn, indexed(), context(ACTOR))
    data = definition(indexes=[["status"]])
    data["forms"][1]["fields"] = [f for f in data["forms"][1]["fields"] if f["key"] != "amount"]
    with store.connect() as conn:
        plan = apps.plan(conn, "sales", data)
    dropped = next(s for s in plan.steps if s.op == "drop_index" and len(s.detail["fields"]) == 2)
    assert dropped.detail["fields"] == ["status", "-amount"]
    assert dropped.message == {
        "zh": "取消索引：状态、金额（降序）",
        "en": "Drop the index on Status, Amount (descending)",
    }


def test_an_index_on_a_subform_row_field_and_a_converted_column(store: Engine) -> None:
    with store.begin() as conn:
        apps.create(conn, with_field_option(definition(), "qty", index=True), context(ACTOR))
    with store.connect() as conn:
        layout = apps.load(conn, "sales").form("deal").fields["items"].rows
        assert layout is not None
        qty = layout.fields["qty"].column
        assert existing_indexes(conn, layout.table.name) == {f"idx_{layout.table.name}_{qty}"}
        # a subform's row table has no _deleted_at: its index ends with _id
        defined = _index_sql(conn, f"idx_{layout.table.name}_{qty}").replace('"', "")
        assert f"({qty}, _id)" in defined
    # note becomes a number: its column is converted, and its index is rebuilt on the new one
    changed = with_field_option(indexed(), "note", type="number")
    with store.begin() as conn:
        current = apps.load(conn, "sales")
        plan = apps.plan(conn, "sales", changed)
        ops = [(s.op, tuple(s.detail.get("fields", ()))) for s in plan.steps if "index" in s.op]
        assert ("drop_index", ("note",)) not in ops  # it was never built
        apps.publish(
            conn,
            "sales",
            changed,
            revision=current.revision,
            plan_hash=plan.hash,
            ctx=context(ACTOR),
        )
    back = with_field_option(indexed(), "note", type="text")
    with store.begin() as conn:
        current = apps.load(conn, "sales")
        plan = apps.plan(conn, "sales", back)
        ops = [(s.op, tuple(s.detail.get("fields", ()))) for s in plan.steps if "index" in s.op]
        # the value index is rebuilt; text gets its pinyin sort index again
        assert ops == [
            ("drop_index", ("note",)),
            ("add_index", ("note",)),
            ("add_index", ("note",)),
        ]
        apps.publish(
            conn, "sales", back, revision=current.revision, plan_hash=plan.hash, ctx=context(ACTOR)
        )
        deal = table_of(conn, "deal")
        (note,) = columns(conn, "deal", "note")
        defined = _index_sql(conn, f"idx_{deal}_{note}")
        assert f"({note}, _id, _deleted_at)" in defined.replace('"', "")


def _index_sql(conn: Connection, name: str) -> str:
    if conn.dialect.name == "postgresql":
        return str(
            conn.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": name}
            ).scalar_one()
        )
    return str(
        conn.execute(
            text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": name}
        ).scalar_one()
    )


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("level", "forms[1].fields[5].index"),  # lookup
        ("items", "forms[1].fields[6].index"),  # subform
    ],
)
def test_index_on_a_field_without_a_column_is_refused(store: Engine, key: str, path: str) -> None:
    with store.begin() as conn, pytest.raises(ServiceError) as caught:
        apps.create(conn, with_field_option(definition(), key, index=True), context(ACTOR))
    assert caught.value.status == 422 and caught.value.code == "invalid_definition"
    found = [i for i in caught.value.issues if i.path == path]
    assert [i.code for i in found] == ["index_no_column"]
    assert key in found[0].message_zh and "没有自己的列" in found[0].message_zh
    assert "cannot be indexed" in found[0].message_en
    with store.connect() as conn:
        assert conn.execute(select(App.id)).first() is None


def test_read_time_formula_and_unknown_index_keys_are_refused(store: Engine) -> None:
    data = definition(indexes=[["status", "-nothing"], ["level"]])
    data["forms"][1]["fields"].append(
        {"key": "age", "type": "formula", "expr": "TODAY()", "label": "今天", "index": True}
    )
    with store.begin() as conn, pytest.raises(ServiceError) as caught:
        apps.create(conn, data, context(ACTOR))
    found = {(i.path, i.code) for i in caught.value.issues}
    assert found == {
        ("forms[1].fields[7].index", "index_no_column"),
        ("forms[1].indexes[0][1]", "unknown_index_field"),
        ("forms[1].indexes[1][0]", "index_no_column"),
    }
    unknown = next(i for i in caught.value.issues if i.code == "unknown_index_field")
    assert unknown.message_zh == "索引中的字段 nothing 不存在"
    assert unknown.message_en == "The indexed field nothing does not exist"


def test_a_combination_declared_twice_is_refused_at_the_second(store: Engine) -> None:
    data = definition(indexes=[["status", "-amount"], ["amount"], ["status", "-amount"]])
    with store.begin() as conn, pytest.raises(ServiceError) as caught:
        apps.create(conn, data, context(ACTOR))
    assert caught.value.status == 422 and caught.value.code == "invalid_definition"
    assert [(i.path, i.code) for i in caught.value.issues] == [
        ("forms[1].indexes[2]", "duplicate_index")
    ]
    assert caught.value.issues[0].message_zh == "组合（status, -amount）重复，与前面的一个相同"
    assert (
        caught.value.issues[0].message_en == "The combination (status, -amount) is declared twice"
    )
    with store.connect() as conn:
        assert conn.execute(select(App.id)).first() is None


@pytest.fixture
def deals(store: Engine) -> Engine:
    """The indexed sales app with 600 deals (a third won, some amounts blank), 86 of them in
    the recycle bin (every 7th), owned by 20 users; tables ANALYZEd."""
    with store.begin() as conn:
        apps.create(conn, indexed(), context(ACTOR))
        app = apps.load(conn, "sales")
        writer = Writer(app.layout, app.id, app.form("deal"), context())
        ids = writer.create_many(
            conn,
            [
                {
                    "title": f"商机{n}",
                    "status": "open" if n % 3 else "won",
                    "amount": None if n % 17 == 0 else str(n * 7 % 1000),
                }
                for n in range(600)
            ],
            ACTOR,
        )
        for record_id in ids[::7]:
            writer.delete(conn, record_id, ACTOR)
        table = app.form("deal").table.name
        conn.execute(text(f"UPDATE {table} SET _owner = _id % 20 + 1"))  # owners for the test
        conn.execute(text(f"ANALYZE {table}"))
    return store


def _deal_plan(conn: Connection, statement: Any) -> str:
    """The plan of `statement`; PostgreSQL is told to avoid sorts, table scans and bitmap scans
    where it can, so a sort or a table read in the plan means no index fits."""
    if conn.dialect.name == "postgresql":
        for setting in ("enable_seqscan", "enable_sort", "enable_bitmapscan"):
            conn.execute(text(f"SET LOCAL {setting} = off"))
        return _explain(conn, statement, "EXPLAIN ")
    return _explain(conn, statement, "EXPLAIN QUERY PLAN ")


def _composite(deal: Any) -> str:
    status, amount = deal.fields["status"].column, deal.fields["amount"].column
    return f"idx_{deal.table.name}_{status}_{amount}d"


def test_a_page_on_a_declared_composite_index_reads_through_it(deals: Engine) -> None:
    with deals.begin() as conn:
        app = apps.load(conn, "sales")
        deal = app.form("deal")
        reader = Reader(app.layout, deal, context())
        found = reader.sql.page_statements(filter=FILTER, sort="-amount", limit=25, count=False)
        name = _composite(deal)
        plan = _deal_plan(conn, found.page)
        if conn.dialect.name == "postgresql":
            assert f"Index Scan using {name}" in plan, plan
            assert "Sort" not in plan, plan
        else:
            assert f"USING INDEX {name}" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
        # and the page is what the reader returns: live won deals by amount, blanks last
        items = reader.list(conn, filter=FILTER, sort="-amount", limit=25).items
        amounts = [item["amount"] for item in items]
        assert len(amounts) == 25 and None not in amounts
        assert amounts == sorted(amounts, key=float, reverse=True)
        # A grid's default first page (newest first, no filter) reads the newest-first index.
        newest = reader.sql.page_statements(sort=NEWEST_FIRST, limit=50, count=False)
        plan = _deal_plan(conn, newest.page)
        name = f"idx_{deal.table.name}_createdd_idd"
        if conn.dialect.name == "postgresql":
            assert f"Index Scan using {name}" in plan or f"Index Only Scan using {name}" in plan
            assert "Sort" not in plan, plan
        else:
            assert name in plan and "TEMP B-TREE" not in plan, plan
        page = [(i["_created_at"], i["_id"]) for i in reader.list(conn, sort=NEWEST_FIRST).items]
        assert len(page) == 50 and page == sorted(page, reverse=True)


def test_a_live_count_on_a_declared_index_reads_the_index_alone(deals: Engine) -> None:
    """`_deleted_at` is in the index: counting live won deals needs no row of the table."""
    with deals.begin() as conn:
        app = apps.load(conn, "sales")
        deal = app.form("deal")
        reader = Reader(app.layout, deal, context())
        found = reader.sql.page_statements(filter='status = "won"', limit=25, count=True)
        assert found.count is not None
        name = _composite(deal)
        plan = _deal_plan(conn, found.count)
        if conn.dialect.name == "postgresql":
            assert f"Index Only Scan using {name}" in plan, plan
        else:
            assert f"USING COVERING INDEX {name}" in plan, plan
        # 200 won deals (every 3rd), 29 of them in the recycle bin (every 21st)
        assert reader.list(conn, filter='status = "won"', limit=0).total == 171


def test_an_own_recycle_bin_still_reads_through_the_owner_index(deals: Engine) -> None:
    """The recycle bin does not filter live rows (`_deleted_at IS NOT NULL`): a caller who may
    delete their own records pages and counts it through `_owner`'s index, in `_id` order."""
    access = FormAccess(7, (), scopes={"view": ("own",), "delete": ("own",)})
    with deals.begin() as conn:
        app = apps.load(conn, "sales")
        deal = app.form("deal")
        reader = Reader(app.layout, deal, context(), access=access)
        found = reader.sql.page_statements(sort="", deleted=True, action="delete", count=True)
        assert found.count is not None
        name = f"idx_{deal.table.name}_owner"
        page, count = _deal_plan(conn, found.page), _deal_plan(conn, found.count)
        if conn.dialect.name == "postgresql":
            assert f"Index Scan using {name}" in page, page
            assert "Sort" not in page, page
            assert f"Index Only Scan using {name}" in count, count
        else:
            assert f"USING INDEX {name}" in page, page
            assert "TEMP B-TREE" not in page, page
            assert f"USING COVERING INDEX {name}" in count, count
        binned = reader.list(conn, sort="", deleted=True, action="delete")
        owned = conn.execute(
            text(
                f"SELECT _id FROM {deal.table.name}"
                " WHERE _owner = 7 AND _deleted_at IS NOT NULL ORDER BY _id"
            )
        ).scalars()
        assert [item["_id"] for item in binned.items] == list(owned)
        assert binned.total == len(binned.items) > 0


def _explain(conn: Connection, statement: Any, prefix: str) -> str:
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    rows = conn.execute(text(prefix + str(compiled))).all()
    return "\n".join(" ".join(str(v) for v in row) for row in rows)


def test_upgrade_gives_forms_published_before_the_default_indexes(store: Engine) -> None:
    with store.begin() as conn:
        apps.create(conn, definition(), context(ACTOR))
    with store.connect() as conn:  # names read by today's engine, before the schema goes back
        deal = table_of(conn, "deal")
        title, customer = columns(conn, "deal", "title", "customer")
    with store.begin() as conn:
        command.downgrade(alembic_config(conn), "0009_apps")  # as installed before issue 12
    with store.connect() as conn:
        assert existing_indexes(conn, deal) == set()
    with store.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    with store.connect() as conn:
        assert existing_indexes(conn, deal) == {
            f"idx_{deal}_owner",
            f"idx_{deal}_createdd_idd",
            f"idx_{deal}_{title}",
            f"idx_{deal}_{title}k_{title}",  # 0017_pinyin: the title's sort index
            f"idx_{deal}_{customer}",
        }
        customer_table = table_of(conn, "customer")
        (name,) = columns(conn, "customer", "name")
        assert existing_indexes(conn, customer_table) == {
            f"idx_{customer_table}_owner",
            f"idx_{customer_table}_createdd_idd",
            f"idx_{customer_table}_{name}k_{name}",
        }
        # the same indexes a publish wants: planning the live definition plans no index step
        plan = apps.plan(conn, "sales", definition())
        assert [s for s in plan.steps if "index" in s.op] == []
    # 0019_createdindex alone: down drops the newest-first index, up (and a rerun) gives it back
    with store.begin() as conn:
        command.downgrade(alembic_config(conn), "0018_mustchange")
    with store.connect() as conn:
        assert f"idx_{deal}_createdd_idd" not in existing_indexes(conn, deal)
        assert f"idx_{deal}_owner" in existing_indexes(conn, deal)
    for _ in range(2):
        with store.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
            command.stamp(alembic_config(conn), "0018_mustchange")
    with store.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    with store.connect() as conn:
        assert f"idx_{customer_table}_createdd_idd" in existing_indexes(conn, customer_table)
        assert [s for s in apps.plan(conn, "sales", definition()).steps if "index" in s.op] == []


def _shapes(conn: Connection, table: str) -> dict[str, str]:
    """Each `idx_` index of `table` by name: its columns as the database defines them."""
    found = {}
    for name in existing_indexes(conn, table):
        defined = _index_sql(conn, name).replace('"', "")
        found[name] = defined[defined.index("(") :]
    return found


def test_upgrade_rebuilds_indexes_made_before_to_cover_live_rows(store: Engine) -> None:
    with store.begin() as conn:
        apps.create(conn, with_field_option(indexed(), "qty", index=True), context(ACTOR))
    with store.connect() as conn:
        layout = apps.load(conn, "sales").form("deal")
        rows = layout.fields["items"].rows
        assert rows is not None
        deal, items = layout.table.name, rows.table.name
        published = _shapes(conn, deal)
        row_indexes = _shapes(conn, items)
    newest = f"idx_{deal}_createdd_idd"  # its own `_id`, descending (NEWEST_FIRST_COLUMNS)
    assert len(published) == 8 and all(
        s.endswith(", _id, _deleted_at)") for name, s in published.items() if name != newest
    )
    assert published[newest].replace(" NULLS LAST", "") == (
        "(_created_at DESC, _id DESC, _deleted_at)"
    )
    with store.begin() as conn:
        command.downgrade(alembic_config(conn), "0010_indexes")  # as installed before
    with store.connect() as conn:
        before = _shapes(conn, deal)
        # the pinyin sort indexes (0017_pinyin) went with the key columns, and the newest-first
        # one (0019_createdindex) with its revision
        assert before.keys() == {n for n in published if "k_" not in n and n != newest}
        assert all(s.endswith(", _id)") for s in before.values()), before
        assert _shapes(conn, items) == row_indexes  # no _deleted_at there: left alone
    with store.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    with store.connect() as conn:
        assert _shapes(conn, deal) == published
        assert _shapes(conn, items) == row_indexes
        # the names say the same columns: the migrator plans nothing
        plan = apps.plan(conn, "sales", with_field_option(indexed(), "qty", index=True))
        assert [s for s in plan.steps if "index" in s.op] == []
        identity = _identities(conn, published)
    # a rerun changes nothing: an index already covering live rows is left as it is
    with store.begin() as conn:
        command.stamp(alembic_config(conn), "0010_indexes")
    with store.begin() as conn:
        command.upgrade(alembic_config(conn), "0011_idxlive")  # rerun it alone
        command.stamp(alembic_config(conn), "head")  # later revisions stay applied
    with store.connect() as conn:
        assert _shapes(conn, deal) == published
        assert _identities(conn, published) == identity


def _identities(conn: Connection, names: dict[str, str]) -> dict[str, Any]:
    """What identifies each index's storage: PostgreSQL's OID (a rebuilt index gets a new one),
    SQLite's root page (which a rebuild may reuse: there the definitions above are the check)."""
    if conn.dialect.name == "postgresql":
        query = "SELECT CAST(CAST(:n AS regclass) AS oid)"
    else:
        query = "SELECT rootpage FROM sqlite_master WHERE name = :n"
    return {name: conn.execute(text(query), {"n": name}).scalar_one() for name in names}
