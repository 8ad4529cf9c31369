"""The record service called directly (issue 11, item 2), on SQLite and PostgreSQL, on the stock
CRM with its sample data: every operation as a caller who may and one who may not, the checks
that follow a relation to another form, public-link callers and system loads.

Each test works inside one transaction that is rolled back, so the tests share one install.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection

from engine.auth.callers import open_as
from engine.auth.links import LinkAccess
from engine.auth.principal import Principal
from engine.auth.public import link_caller
from engine.core.context import Actor
from engine.core.errors import ServiceError
from engine.forms import apps
from engine.forms.service import RecordService, open_form, system_caller
from engine.forms.spreadsheet import read_rows
from engine.store.models import AuditEntry
from tests.auth.crm_org import installed_crm
from tests.contexts import context

ADMIN = Principal(None, "admin", True, "admin_token")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from installed_crm(request, tmp_path_factory)


@pytest.fixture
def conn(crm: dict[str, Any]) -> Iterator[Connection]:
    """A connection in a transaction that is rolled back after the test."""
    with crm["engine"].connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


def member(crm: dict[str, Any], username: str, *, can_write: bool = True) -> Principal:
    return Principal(crm["ids"][username], username, False, "session", can_write=can_write)


def opened(
    crm: dict[str, Any],
    conn: Connection,
    username: str,
    form: str = "customer",
    *,
    writes: bool = True,
    can_write: bool = True,
) -> RecordService:
    principal = ADMIN if username == "admin" else member(crm, username, can_write=can_write)
    ctx = context(principal.actor())
    return open_as(ctx, conn, principal, "crm", form, writes=writes, ip="10.0.0.1")


def refused(status: int, call: Any, *args: Any, **kwargs: Any) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args, **kwargs)
    assert caught.value.status == status, caught.value
    return caught.value


def codes(exc: ServiceError) -> list[tuple[str, str]]:
    return [(i.path, i.code) for i in exc.issues]


def everything(crm: dict[str, Any], conn: Connection, form: str) -> list[dict[str, Any]]:
    return opened(crm, conn, "admin", form).list(limit=1000).items


def others(crm: dict[str, Any], conn: Connection, username: str) -> dict[str, Any]:
    """A customer owned by someone other than `username`."""
    user = crm["ids"][username]
    return next(c for c in everything(crm, conn, "customer") if c["_owner"] != user)


def test_opening_refuses_unknown_forms_forms_without_view_and_read_only_writes(
    crm: dict[str, Any], conn: Connection
) -> None:
    refused(404, opened, crm, conn, "rep_a1", "nope")
    refused(404, opened, crm, conn, "finance", "lead")  # finance has no role on leads
    refused(403, opened, crm, conn, "rep_a1", writes=True, can_write=False)
    reading = opened(crm, conn, "rep_a1", writes=False, can_write=False)
    assert reading.list(limit=1).items  # a read-only token reads...
    refused(403, reading.create, {"name": "只读令牌客户"})  # ...and writes nothing
    assert opened(crm, conn, "finance", "contract").form.key == "contract"


def test_list_and_get_apply_the_row_scope_and_hidden_fields(
    crm: dict[str, Any], conn: Connection
) -> None:
    rep = crm["ids"]["rep_a1"]
    mine = opened(crm, conn, "rep_a1").list(limit=1000)
    assert mine.items and all(c["_owner"] == rep for c in mine.items)
    assert mine.total is not None and mine.total < len(everything(crm, conn, "customer"))
    service = opened(crm, conn, "rep_a1")
    assert service.get(mine.items[0]["_id"])["_id"] == mine.items[0]["_id"]
    refused(404, service.get, others(crm, conn, "rep_a1")["_id"])
    finance = opened(crm, conn, "finance").list(limit=5).items
    assert finance and all("phone" not in c for c in finance)
    auditor = opened(crm, conn, "auditor").list(limit=1000).items
    assert auditor and {c["level"] for c in auditor} == {"A"}


def test_create_update_and_history_as_allowed_and_refused_callers(
    crm: dict[str, Any], conn: Connection
) -> None:
    service = opened(crm, conn, "rep_a1")
    created = service.create({"name": "服务层新客户", "level": "B"})
    assert created["_owner"] == crm["ids"]["rep_a1"] and created["_version"] == 1
    changed = service.update(created["_id"], {"_version": 1, "level": "A"})
    assert changed["level"] == "A" and changed["_version"] == 2
    assert [e["event"] for e in service.history(created["_id"])] == ["create", "update"]
    refused(403, opened(crm, conn, "gm").create, {"name": "总经理不能建"})
    outside = others(crm, conn, "rep_a1")
    refused(404, service.update, outside["_id"], {"_version": outside["_version"], "note": "x"})
    refused(404, service.history, outside["_id"])
    hidden = refused(422, opened(crm, conn, "auditor").create, {"name": "审计", "phone": "1"})
    assert codes(hidden) == [("phone", "unknown_field")]
    assert not opened(crm, conn, "admin").list(filter='name = "审计"').items


def test_delete_restore_and_the_recycle_bin(crm: dict[str, Any], conn: Connection) -> None:
    director = opened(crm, conn, "director")
    target = director.list(limit=1).items[0]
    refused(403, opened(crm, conn, "rep_a1").delete, target["_id"])
    refused(403, opened(crm, conn, "rep_a1").recycle_bin)
    director.delete(target["_id"])
    refused(404, director.get, target["_id"])
    assert target["_id"] in [r["_id"] for r in director.recycle_bin(limit=1000).items]
    refused(403, opened(crm, conn, "rep_a1").restore, target["_id"])
    assert director.restore(target["_id"])["_id"] == target["_id"]
    admin = opened(crm, conn, "admin")
    office = admin.create({"name": "总经办客户"})  # then given to the general manager, outside
    admin.transfer([office["_id"]], crm["ids"]["gm"])  # the director's department tree
    refused(404, director.delete, office["_id"])
    refused(404, director.restore, office["_id"])


def test_transfer_needs_edit_rights_on_every_record(crm: dict[str, Any], conn: Connection) -> None:
    service = opened(crm, conn, "rep_a1")
    own = service.list(limit=2).items
    outside = others(crm, conn, "rep_a1")
    refused(404, service.transfer, [own[0]["_id"], outside["_id"]], crm["ids"]["rep_a2"])
    assert service.get(own[0]["_id"])["_owner"] == crm["ids"]["rep_a1"]  # all or nothing
    refused(403, opened(crm, conn, "gm").transfer, [own[0]["_id"]], crm["ids"]["gm"])
    assert service.transfer([r["_id"] for r in own], crm["ids"]["rep_a2"]) == len(own)
    moved = opened(crm, conn, "admin").get(own[0]["_id"])
    assert moved["_owner"] == crm["ids"]["rep_a2"]


def test_batches_are_all_or_nothing_or_per_row(crm: dict[str, Any], conn: Connection) -> None:
    service = opened(crm, conn, "rep_a1")
    own = service.list(limit=1).items[0]
    rows: list[Any] = [
        {"name": "批量一"},
        {"_id": own["_id"], "_version": own["_version"], "note": "批量改"},
        {"level": "A"},  # no name: required
    ]
    failed = refused(422, service.batch, rows)
    assert codes(failed) == [("[2].name", "required")]
    assert not service.list(filter='name = "批量一"').items
    results = service.batch(rows, partial=True)
    assert [r["ok"] for r in results] == [True, True, False]
    assert results[1]["_version"] == own["_version"] + 1
    assert service.list(filter='name = "批量一"').total == 1
    outside = others(crm, conn, "rep_a1")
    change = [{"_id": outside["_id"], "_version": outside["_version"], "note": "x"}]
    refused(404, service.batch, change)
    refused(403, opened(crm, conn, "gm").batch, [{"name": "总经理批量"}])


def test_a_relation_is_read_and_written_with_the_target_forms_rights(
    crm: dict[str, Any], conn: Connection
) -> None:
    service = opened(crm, conn, "rep_a1", "contact")
    own = opened(crm, conn, "rep_a1").list(limit=1).items[0]
    outside = others(crm, conn, "rep_a1")
    created = service.create({"name": "联系人甲", "customer": own["_id"]})
    assert created["customer"]["_id"] == own["_id"]
    hidden = refused(422, service.create, {"name": "联系人乙", "customer": outside["_id"]})
    assert codes(hidden) == [("customer", "record_not_found")]
    batch = refused(422, service.batch, [{"name": "联系人丙", "customer": outside["_id"]}])
    assert codes(batch) == [("[0].customer", "record_not_found")]
    # a filter through the relation sees only the customers the caller may see
    found = service.list(filter=f"customer = {outside['_id']}", limit=1000)
    assert found.items == []
    assert (
        opened(crm, conn, "admin", "contact").create(
            {"name": "管理员联系人", "customer": outside["_id"]}
        )["customer"]["_id"]
        == (outside["_id"])
    )


def test_export_needs_the_action_and_keeps_scope_hidden_fields_and_audit(
    crm: dict[str, Any], tmp_path: Path
) -> None:
    engine = crm["engine"]
    with engine.execution_options(jimu_read_only=True).connect() as conn:  # as the router reads
        finance = opened(crm, conn, "finance", writes=False)
        refused(403, finance.export, tmp_path / "x.csv", fmt="csv", lang="en")
        service = opened(crm, conn, "auditor", writes=False)
        total, count = service.list(limit=0).total, service.export_count()
        path = tmp_path / "auditor.csv"
        result = service.export(path, fmt="csv", lang="en", sort="_id")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert result.rows == len(rows) - 1 == count == total
    assert "Phone" not in rows[0] and "Name" in rows[0]
    with engine.begin() as writing:  # the audit entry is written in a transaction of its own
        service.audit_export(writing, result)
        entry = writing.execute(
            select(AuditEntry)
            .where(AuditEntry.kind == "records.export")
            .order_by(AuditEntry.id.desc())
        ).first()
    assert entry is not None and entry.actor_id == crm["ids"]["auditor"]
    assert entry.subject == "crm/customer" and entry.ip == "10.0.0.1"
    assert entry.detail["rows"] == result.rows and entry.detail["via"] == "session"


def test_import_needs_the_action_and_is_all_or_nothing_with_an_audit_entry(
    crm: dict[str, Any], conn: Connection
) -> None:
    text = "名称,客户等级\n导入甲,A\n导入乙,Z\n"
    rows = read_rows(text.encode(), "csv", 100)
    refused(403, opened(crm, conn, "rep_a1").import_rows, rows)
    director = opened(crm, conn, "director")
    failed = refused(422, director.import_rows, rows)
    assert codes(failed) == [("rows[3].level", "not_an_option")]
    assert not director.list(filter='name = "导入甲"').items
    result = director.import_rows(rows, partial=True, detail={"file": "a.csv"})
    assert list(result.created) == [2] and list(result.failed) == [3]
    made = director.get(result.created[2])
    assert made["_owner"] == crm["ids"]["director"] and made["level"] == "A"
    assert [e["channel"] for e in director.history(made["_id"])] == ["import"]
    entry = conn.execute(
        select(AuditEntry).where(AuditEntry.kind == "records.import").order_by(AuditEntry.id.desc())
    ).first()
    assert entry is not None and entry.actor_id == crm["ids"]["director"]
    assert entry.detail == {"file": "a.csv", "via": "session", "created": 1, "failed": 1}


def test_public_link_callers_only_do_what_their_link_allows(
    crm: dict[str, Any], conn: Connection
) -> None:
    loaded = apps.load(conn, "crm")
    form = loaded.form("lead")
    fill = LinkAccess("fill", frozenset({"name", "phone"}), frozenset(form.fields))
    owner = crm["ids"]["rep_a1"]
    ctx = context(Actor(None, "public_link", owner=owner, link_id=None))
    service = open_form(ctx, conn, loaded, "lead", link_caller(fill))
    system = refused(422, service.create_many, [{"name": "外链线索", "_owner": crm["ids"]["gm"]}])
    assert codes(system) == [("_owner", "unknown_field")]
    outside = refused(422, service.create_many, [{"name": "外链线索", "status": "new"}])
    assert codes(outside) == [("status", "unknown_field")]
    [lead] = service.create_many([{"name": "外链线索"}])
    assert opened(crm, conn, "admin", "lead").get(lead)["_owner"] == owner
    refused(404, service.get, lead)  # a fill link reads nothing back
    refused(403, service.update, lead, {"_version": 1, "name": "改"})
    refused(403, service.import_rows, [["name"], ["x"]])
    query = LinkAccess(
        "query", frozenset({"name"}), frozenset(form.fields), keys=(("name", "外链线索"),)
    )
    found = open_form(ctx, conn, loaded, "lead", link_caller(query)).list(count=False).items
    assert [item["_id"] for item in found] == [lead]
    assert "phone" not in found[0]


def test_system_loads_keep_ids_and_only_system_callers_may_load(
    crm: dict[str, Any], conn: Connection
) -> None:
    loaded = apps.load(conn, "crm")
    ctx = context(Actor(None, "import"))
    refused(403, opened(crm, conn, "admin").load, [{"name": "x"}], paths=["data.customer[0]."])
    service = open_form(ctx, conn, loaded, "customer", system_caller(via="pack"))
    deferred = service.load([{"_id": 900_001, "name": "包客户"}], paths=["data.customer[0]."])
    assert deferred == []
    assert service.get(900_001)["name"] == "包客户"
    contacts = open_form(ctx, conn, loaded, "contact", system_caller(via="pack"))
    links = contacts.load(
        [{"_id": 900_002, "name": "包联系人", "customer": 900_003}], paths=["data.contact[0]."]
    )
    assert links == [("customer", 900_003, "data.contact[0].customer")]


def test_linkage_previews_need_the_right_to_create(crm: dict[str, Any], conn: Connection) -> None:
    refused(403, opened(crm, conn, "gm", "contact").linkage_preview, {"name": "x"})
    assert opened(crm, conn, "rep_a1", "contact").linkage_preview({"name": "x"}) == {}
    # followup.customer_owner copies the chosen customer's owner, read with the caller's rights
    followup = opened(crm, conn, "rep_a1", "followup")
    own = opened(crm, conn, "rep_a1").list(limit=1).items[0]
    outside = others(crm, conn, "rep_a1")
    mine = followup.linkage_preview({"customer": {"_id": own["_id"]}})
    assert mine["customer_owner"]["id"] == crm["ids"]["rep_a1"]
    hidden = followup.linkage_preview({"customer": {"_id": outside["_id"]}})
    assert hidden == {"customer_owner": None}
    admin = opened(crm, conn, "admin", "followup")
    found = admin.linkage_preview({"customer": {"_id": outside["_id"]}})
    assert found["customer_owner"]["id"] == outside["_owner"]
