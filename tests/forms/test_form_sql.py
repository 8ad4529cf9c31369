"""The SQL half of the reader as a report compiler uses it (`engine.forms.sql`), and record JSON
read by column label, on SQLite and PostgreSQL with the stock CRM and its demo users.

- `FormSql.scoped(...).grouped(...)`: a GROUP BY count per option field counts only the records
  the caller may see (a rep only their own), agrees with what `Reader.list` shows them, reads
  lookups through relations with the caller's rights on the target (an opportunity of rep_a1
  pointing at rep_b1's customer counts under a blank level for rep_a1), and refuses fields
  hidden from the caller — own, and reached through a relation — with a field-level 422.
- `RecordJson.page` reads columns by label: the page statement built with its columns in another
  order, or with a column it does not know first, gives the same record JSON as `Reader.list`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import literal, select
from sqlalchemy.engine import Connection

from engine.auth.permissions import form_access
from engine.auth.principal import Principal
from engine.core.errors import ServiceError
from engine.forms import apps
from engine.forms.access import Access
from engine.forms.field_types.links import RelationField
from engine.forms.query import Reader
from engine.forms.record_json import RecordJson
from engine.forms.sql import FormSql
from tests.auth.crm_org import API, installed_crm
from tests.contexts import context


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The CRM with sample data and one probe: an opportunity of rep_a1 whose customer belongs
    to rep_b1 (outside rep_a1's scope), written by the administrator and handed over."""
    for found in installed_crm(request, tmp_path_factory):
        customer = _create(
            found,
            "customer",
            {"name": "乙方的客户", "level": "A", "phone": "13912340000"},
            "rep_b1",
        )
        found["probe"] = _create(
            found,
            "opportunity",
            {"title": "跨组商机", "customer": customer["_id"], "stage": "won", "amount": "10"},
            "rep_a1",
        )
        yield found


def _url(form: str, suffix: str = "") -> str:
    return f"{API}/apps/crm/forms/{form}/records{suffix}"


def _create(crm: dict[str, Any], form: str, data: dict[str, Any], owner: str) -> dict[str, Any]:
    admin = crm["clients"]["admin"]
    created = admin.post(_url(form), json=data)
    assert created.status_code == 201, created.text
    record_id = created.json()["_id"]
    moved = admin.post(
        _url(form, "/transfer"), json={"ids": [record_id], "owner": crm["ids"][owner]}
    )
    assert moved.status_code == 200, moved.text
    record: dict[str, Any] = admin.get(_url(form, f"/{record_id}")).json()
    return record


def _access(conn: Connection, crm: dict[str, Any], username: str, form: str) -> Access | None:
    """`username`'s rights on `form` (None for the engine itself: everything)."""
    if username == "engine":
        return None
    loaded = apps.load(conn, "crm")
    principal = Principal(crm["ids"][username], username, False, "session")
    return form_access(conn, principal, loaded.id, loaded.layout.spec, loaded.layout.forms[form])


def _sql(conn: Connection, crm: dict[str, Any], username: str, form: str) -> FormSql:
    loaded = apps.load(conn, "crm")
    access = _access(conn, crm, username, form)
    return FormSql(loaded.layout, loaded.layout.forms[form], context(), access=access)


def _listed(
    conn: Connection, crm: dict[str, Any], username: str, form: str
) -> list[dict[str, Any]]:
    loaded = apps.load(conn, "crm")
    access = _access(conn, crm, username, form)
    reader = Reader(loaded.layout, loaded.layout.forms[form], context(), access=access)
    page = reader.list(conn, sort="_id", limit=1000)
    assert page.total == len(page.items) < 1000
    return page.items


def _refused(call: Any) -> tuple[str, str, str, str]:
    with pytest.raises(ServiceError) as caught:
        call()
    assert caught.value.status == 422
    issue = caught.value.issues[0]
    assert issue.message_zh and issue.message_en
    return issue.path, issue.code, issue.message_zh, issue.message_en


def test_a_group_by_count_per_option_counts_only_what_the_caller_may_see(
    crm: dict[str, Any],
) -> None:
    with crm["engine"].connect() as conn:
        everything = _listed(conn, crm, "engine", "opportunity")
        for username in ("engine", "rep_a1", "rep_b2", "director"):
            sql = _sql(conn, crm, username, "opportunity")
            scoped = sql.scoped()
            statement = scoped.grouped(
                {"stage": scoped.value("stage")},
                {"n": ("count", None), "total": ("sum", scoped.value("amount"))},
            )
            found = {row.stage: (row.n, row.total) for row in conn.execute(statement)}
            seen = _listed(conn, crm, username, "opportunity")
            assert {stage: n for stage, (n, _) in found.items()} == Counter(
                item["stage"] for item in seen
            ), username
            for stage, (_, total) in found.items():
                expected = sum(
                    (Decimal(i["amount"]) for i in seen if i["stage"] == stage and i["amount"]),
                    Decimal(0),
                )
                assert round(Decimal(str(total or 0)), 2) == expected, (username, stage)
            if username.startswith("rep_"):
                me = crm["ids"][username]
                own = Counter(i["stage"] for i in everything if i["_owner"] == me)
                assert {stage: n for stage, (n, _) in found.items()} == own, username
                assert 0 < sum(own.values()) < len(everything), username
        assert {item["_id"] for item in everything} >= {crm["probe"]["_id"]}


def test_values_through_relations_are_grouped_with_the_rights_on_the_target(
    crm: dict[str, Any],
) -> None:
    probe = crm["probe"]
    with crm["engine"].connect() as conn:
        for username, level in (("engine", "A"), ("rep_a1", None)):
            scoped = _sql(conn, crm, username, "opportunity").scoped(filter='title = "跨组商机"')
            for value in (scoped.value("customer_level"), scoped.formula("customer.level")):
                statement = scoped.grouped({"level": value}, {"n": ("count", None)})
                assert conn.execute(statement).all() == [(level, 1)], username
        # The whole form grouped by the lookup agrees with the levels rep_a1's list shows.
        scoped = _sql(conn, crm, "rep_a1", "opportunity").scoped()
        statement = scoped.grouped(
            {"level": scoped.value("customer_level")},
            {"n": ("count", None), "customers": ("count_distinct", scoped.value("customer"))},
        )
        found = {row.level: row.n for row in conn.execute(statement)}
        seen = _listed(conn, crm, "rep_a1", "opportunity")
        assert found == Counter(item["customer_level"] for item in seen)
        assert any(i["_id"] == probe["_id"] and i["customer_level"] is None for i in seen)
        # One row per record, with the scope in WHERE, sorted like a page.
        rows = conn.execute(scoped.rows({"id": scoped.value("_id")})).scalars().all()
        assert sorted(rows) == [item["_id"] for item in seen]
        loaded = apps.load(conn, "crm")
        access = _access(conn, crm, "rep_a1", "opportunity")
        reader = Reader(loaded.layout, loaded.form("opportunity"), context(), access=access)
        for sort in ("-amount,title", "customer_level,-_id"):
            listed = reader.list(conn, sort=sort, filter="amount > 0", limit=1000).items
            positive = reader.scoped(filter="amount > 0")
            rows = conn.execute(positive.rows({"id": positive.value("_id")}, sort=sort)).scalars()
            assert list(rows) == [item["_id"] for item in listed], sort
        assert _refused(lambda: scoped.rows({}, sort="nope"))[:2] == ("sort", "unknown_sort")


def test_fields_hidden_from_the_caller_are_refused_and_the_scope_holds(
    crm: dict[str, Any],
) -> None:
    with crm["engine"].connect() as conn:
        # auditor: customers with level "A" only, phone hidden.
        sql = _sql(conn, crm, "auditor", "customer")
        scoped = sql.scoped()
        counts = dict(
            conn.execute(
                scoped.grouped({"level": scoped.value("level")}, {"n": ("count", None)})
            ).all()
        )
        everything = _listed(conn, crm, "engine", "customer")
        assert counts == {"A": sum(1 for i in everything if i["level"] == "A")}
        assert len(everything) > counts["A"] > 0
        path, code, zh, en = _refused(lambda: scoped.value("phone", "dimensions[0]"))
        assert (path, code) == ("dimensions[0]", "hidden_field")
        assert "phone" in zh and "phone" in en
        assert _refused(lambda: scoped.formula('LEFT(phone, 2) = "13"'))[:2] == (
            "expr",
            "hidden_field",
        )
        assert _refused(lambda: sql.scoped(filter='phone = "13912340000"'))[:2] == (
            "filter",
            "hidden_field",
        )
        assert _refused(lambda: scoped.value("nope"))[:2] == ("field", "unknown_field")
        assert _refused(lambda: scoped.formula("nope + 1"))[1] == "unknown_field"
        # finance may read contracts but not customers' phones: refused through the relation.
        contracts = _sql(conn, crm, "finance", "contract").scoped()
        path, code, zh, en = _refused(lambda: contracts.formula("customer.phone"))
        assert (path, code) == ("expr", "hidden_field")
        assert "customer.phone" in en
        assert _refused(lambda: contracts.value("items"))[1] == "not_a_value"
        # The administrator's engine reads the phone.
        full = _sql(conn, crm, "engine", "customer").scoped()
        assert conn.execute(full.rows({"p": full.value("phone")})).first() is not None


@pytest.mark.parametrize(
    ("username", "form"),
    [
        ("engine", "contract"),
        ("engine", "customer"),
        ("rep_a1", "opportunity"),
        ("finance", "contract"),
        ("auditor", "customer"),
    ],
)
def test_record_json_reads_columns_by_label_not_position(
    crm: dict[str, Any], username: str, form: str
) -> None:
    """A page statement with its columns reversed, and with a column the JSON half does not
    know in front (a new system column), reads exactly as `Reader.list`, through the general
    path (rows converted by SQLAlchemy) and straight from the driver's rows alike."""
    with crm["engine"].connect() as conn:
        expected = _listed(conn, crm, username, form)
        assert expected
        sql = _sql(conn, crm, username, form)
        _, resolver = sql.base_select()
        shape = sql.page_shape(resolver)
        columns = list(shape.columns)
        table = sql.form.table
        for shuffled in (
            list(reversed(columns)),
            [literal(7).label("_future"), *columns[1:], columns[0]],
        ):
            assert shuffled[0] is not columns[0]
            page = (
                select(*shuffled)
                .select_from(shape.from_)
                .where(sql.visible(resolver))
                .order_by(table.c._id)
                .limit(1000)
            )
            rows = conn.execute(page).all()
            assert rows[0]._fields[0] != "_id"
            assert RecordJson(sql).page(conn, rows) == expected
            assert RecordJson(sql).read_page(conn, page, {}) == expected  # straight from rows
        assert RecordJson(sql).page(conn, []) == []


def _relation_keys(sql: FormSql) -> list[str]:
    """The to-one relations a page of `sql`'s form shows (their titles are joined)."""
    return [
        key
        for key, field in sql.form.fields.items()
        if isinstance(field.spec, RelationField) and field.link is None and key not in sql.hidden
    ]


@pytest.mark.parametrize("username", ["engine", "admin", "rep_a1", "rep_b1", "finance", "auditor"])
@pytest.mark.parametrize("form", ["opportunity", "contact", "contract"])
def test_joined_titles_answer_like_the_correlated_subqueries(
    crm: dict[str, Any], username: str, form: str
) -> None:
    """A page reads each to-one relation's title and restriction through a LEFT JOIN; for every
    record, as every kind of caller, they equal what the per-record subqueries (`title_sql`,
    `restricted_sql`) answer — with targets outside the caller's scope (the probe), a deleted
    target and a target id that names no record (both made in a transaction rolled back)."""
    with crm["engine"].connect() as conn:
        sql = _sql(conn, crm, username, form)
        keys = _relation_keys(sql)
        assert keys, f"{form} shows no to-one relation"
        table = sql.form.table
        try:  # every change below is rolled back
            field = sql.form.fields[keys[0]]
            target = sql.app.forms[field.spec.target]  # type: ignore[attr-defined]
            pointing = conn.execute(
                select(table.c._id, table.c[field.column])
                .where(table.c[field.column].is_not(None))
                .order_by(table.c._id)
            ).all()
            assert len(pointing) >= 2, f"{form}.{keys[0]} points nowhere in the sample data"
            conn.execute(
                target.table.update()
                .where(target.table.c._id == pointing[0][1])
                .values(_deleted_at=target.table.c._created_at)
            )
            conn.execute(
                table.update()
                .where(table.c._id == pointing[1][0])
                .values({field.column: 987654321})
            )
            statements = sql.page_statements(sort="_id", limit=1000, count=False)
            joined = {row._id: row._mapping for row in conn.execute(statements.page)}
            if sql.access is not None and not sql.access.allows("view"):
                assert not joined  # a caller who may not view the form reads nothing
                return
            assert joined
            _, resolver = sql.base_select()
            checked = 0
            for key in keys:
                value = resolver.value(key)
                restricted = sql.restricted_sql(sql.form.fields[key].spec.target, value)  # type: ignore[attr-defined]
                columns = [
                    table.c._id,
                    sql.title_sql(sql.form.fields[key].spec.target, value).label("sub_title"),
                ]  # type: ignore[attr-defined]
                if restricted is not None:
                    columns.append(restricted.label("sub_restricted"))
                rows = conn.execute(select(*columns).where(table.c._id.in_(list(joined)))).all()
                for row in rows:
                    page_row = joined[row._id]
                    assert page_row[f"{key}#title"] == row.sub_title, (key, row._id)
                    if restricted is not None:
                        page = page_row[f"{key}#restricted"]
                        assert (None if page is None else bool(page)) == (
                            None if row.sub_restricted is None else bool(row.sub_restricted)
                        ), (key, row._id)
                    else:
                        assert f"{key}#restricted" not in page_row
                    checked += 1
            assert checked >= len(joined)
        finally:
            conn.rollback()


def test_contract_amount_rollup_is_plain_sql_and_adds_up(crm: dict[str, Any]) -> None:
    """The CRM contract's ``amount`` (the sum of its items' stored ``subtotal = qty * price``)
    is added by the database's own aggregates — on SQLite the only Python function left on the
    contract page is the sum's fallback past 64 bits — and equals the sum of the listed items'
    products for every contract."""
    with crm["engine"].connect() as conn:
        sql = _sql(conn, crm, "engine", "contract")
        statements = sql.page_statements(sort="_id", limit=1000, count=False)
        text = str(statements.page.compile(conn))
        if conn.dialect.name == "sqlite":
            assert "typeof(" in text and text.count("jimu_sumagg(") == 1, text
        contracts = _listed(conn, crm, "engine", "contract")
    with_items = [c for c in contracts if c["items"]]
    assert with_items
    for contract in contracts:
        total = sum(
            (
                Decimal(item["qty"]) * Decimal(item["price"])
                for item in contract["items"]
                if item["qty"] is not None and item["price"] is not None
            ),
            Decimal(0),
        )
        assert Decimal(contract["amount"]) == total, contract["_id"]
