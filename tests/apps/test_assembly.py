"""App assembly (issue 11, item 5): typed parts, their endpoints, revisions and the app cache,
on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from engine import apps as assembly
from engine.api.deps import read_only
from engine.core.context import Actor, ExecutionContext
from engine.forms import apps as forms_apps
from engine.forms.query import Reader
from engine.settings import get_settings
from engine.store.models import AppVersion
from tests.api.records_client import API, api_client

PASSWORD = "Builder@2026"

ORDER = {
    "key": "order",
    "name": {"zh": "订单", "en": "Order"},
    "title_field": "title",
    "fields": [
        {"key": "title", "type": "text", "label": "标题", "required": True},
        {"key": "amount", "type": "number", "label": "金额", "precision": 2},
        {"key": "note", "type": "textarea", "label": "备注"},
        {
            "key": "status",
            "type": "select",
            "label": "状态",
            "options": [{"value": "new", "label": "新"}, {"value": "done", "label": "完成"}],
        },
    ],
}
ROLES = [
    {
        "key": "designer",
        "name": {"zh": "设计者", "en": "Designer"},
        "builder": True,
        "forms": {"order": {"actions": ["view"], "scope": "own"}},
    },
    {
        "key": "clerk",
        "name": {"zh": "文员", "en": "Clerk"},
        "forms": {"order": {"actions": ["view", "create"], "scope": "own"}},
    },
]
SHOP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "shop",
    "name": {"zh": "商店", "en": "Shop"},
    "version": "1.0.0",
    "forms": [ORDER],
    "roles": ROLES,
}
FLOW = {
    "key": "order_approval",
    "name": {"zh": "订单审批", "en": "Order approval"},
    "form": "order",
    "nodes": [
        {"id": "start", "type": "start"},
        {
            "id": "boss",
            "type": "approve",
            "assignees": [{"role": "designer"}],
            "fields": {"amount": "read_only", "note": "edit"},
        },
        {"id": "end", "type": "end"},
        {"id": "gate", "type": "exclusive"},
    ],
    "edges": [
        {"from": "gate", "to": "boss", "when": "amount >= 1000"},
        {"from": "gate", "to": "end", "default": True},
        {"from": "start", "to": "gate"},
        {"from": "boss", "to": "end"},
    ],
}
RULE = {
    "key": "done_note",
    "name": {"zh": "完成备注", "en": "Done note"},
    "form": "order",
    "on": {"type": "field_changed", "fields": ["status"]},
    "when": 'status = "done"',
    "mode": "sync",
    "actions": [{"type": "update_records", "target": "self", "values": {"note": '"done"'}}],
}
REPORT = {
    "key": "totals",
    "name": {"zh": "金额汇总", "en": "Totals"},
    "form": "order",
    "filter": "amount > 0",
    "rows": [{"field": "status"}, {"field": "_owner"}],
    "measures": [{"key": "total", "agg": "sum", "field": "amount"}, {"key": "n", "agg": "count"}],
    "sort": [{"key": "total", "desc": True}],
    "limit": 10,
    "chart": {"type": "bar", "stacked": True},
}
DASHBOARD = {
    "key": "main",
    "name": {"zh": "总览", "en": "Overview"},
    "widgets": [{"report": "totals", "x": 0, "y": 0, "w": 6, "h": 4}],
}


@pytest.fixture
def client(migrated_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """The admin's client with the shop app installed."""
    with api_client(migrated_engine, tmp_path) as admin:
        assert admin.post(f"{API}/apps", json=SHOP).status_code == 201
        yield admin


def _revision(client: TestClient) -> int:
    revision: int = client.get(f"{API}/apps/shop").json()["_revision"]
    return revision


def _versions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(AppVersion)).scalar_one())


def _put(client: TestClient, part: str, items: Any, revision: int | None = None) -> Any:
    body = {"_revision": _revision(client) if revision is None else revision, part: items}
    return client.put(f"{API}/apps/shop/{part}", json=body)


def test_each_part_is_published_through_its_endpoint_with_its_plan(
    client: TestClient, migrated_engine: Engine
) -> None:
    start = _revision(client)
    for part, item in (
        ("flows", FLOW),
        ("rules", RULE),
        ("reports", REPORT),
        ("dashboards", DASHBOARD),
    ):
        response = _put(client, part, [item])
        assert response.status_code == 200, response.text
        body = response.json()
        assert body[part] == [
            assembly.PARTS[part]
            .item.model_validate(item)
            .model_dump(mode="json", by_alias=True, exclude_none=True)
        ]
        assert item["key"] in body["plans"]
        assert body["warnings"] == []
    definition = client.get(f"{API}/apps/shop").json()
    assert definition["_revision"] == start + 4
    assert definition["flows"][0]["edges"][0] == {
        "from": "gate",
        "to": "boss",
        "when": "amount >= 1000",
        "default": False,
    }
    assert definition["flows"][0]["nodes"][1]["assignees"] == [{"role": "designer"}]
    assert definition["reports"][0]["chart"] == {"type": "bar", "stacked": True}
    assert definition["roles"] == client.get(f"{API}/apps/shop").json()["roles"]
    with migrated_engine.connect() as conn:
        revision = assembly.load_revision(conn, "shop", start + 4)
        plans = conn.execute(
            select(AppVersion.plans).where(AppVersion.revision == start + 4)
        ).scalar_one()
    assert revision.plans == plans
    assert plans["flows"]["order_approval"]["next"]["gate"] == [
        {"to": "boss", "when": "amount >= 1000", "default": False},
        {"to": "end", "when": None, "default": True},
    ]
    assert {"form": "order", "field": "amount", "type": "number"} in plans["reports"]["totals"][
        "fields"
    ]
    assert plans["dashboards"]["main"] == {"reports": ["totals"]}
    assert revision.spec.flows[0].form == "order"
    assert revision.spec.rules[0].mode == "sync"


BAD_PARTS = [
    ("flows", {**FLOW, "form": "nope"}, "flows[0].form", "unknown_form"),
    ("flows", {k: v for k, v in FLOW.items() if k != "name"}, "flows[0].name", "missing"),
    (
        "flows",
        {**FLOW, "nodes": [*FLOW["nodes"], {"id": "x", "type": "cc", "fields": {"ghost": "edit"}}]},
        "flows[0].nodes[4].fields.ghost",
        "unknown_field",
    ),
    (
        "flows",
        {**FLOW, "edges": [{"from": "start", "to": "nowhere"}]},
        "flows[0].edges[0].to",
        "unknown_node",
    ),
    (
        "flows",
        {
            **FLOW,
            "edges": [*FLOW["edges"][1:], {"from": "gate", "to": "boss", "when": "amount + 1"}],
        },
        "flows[0].edges[3].when",
        "not_boolean",
    ),
    ("flows", [FLOW, FLOW], "flows[1].key", "duplicate_key"),
    (
        "flows",
        {**FLOW, "edges": [*FLOW["edges"], {"from": "end", "to": "boss"}]},
        "flows[0].nodes[2]",
        "end_outgoing",
    ),
    (
        "rules",
        {**RULE, "on": {"type": "field_changed", "fields": ["ghost"]}},
        "rules[0].on.fields[0]",
        "unknown_field",
    ),
    ("rules", {**RULE, "when": "amout > 1"}, "rules[0].when", "unknown_field"),
    (
        "rules",
        {**RULE, "actions": [{"type": "create_record", "form": "ghost"}]},
        "rules[0].actions[0].form",
        "unknown_form",
    ),
    ("rules", {**RULE, "mode": "later"}, "rules[0].mode", "literal_error"),
    (
        "reports",
        {**REPORT, "measures": [{"key": "t", "agg": "sum", "field": "ghost"}], "sort": []},
        "reports[0].measures[0].field",
        "unknown_field",
    ),
    ("reports", {**REPORT, "sort": [{"key": "ghost"}]}, "reports[0].sort[0].key", "unknown_sort"),
    (
        "reports",
        {**REPORT, "rows": [{"field": "ghost"}]},
        "reports[0].rows[0].field",
        "unknown_field",
    ),
    ("reports", {**REPORT, "limit": 0}, "reports[0].limit", "greater_than_equal"),
    (
        "dashboards",
        {**DASHBOARD, "widgets": [{"report": "ghost"}]},
        "dashboards[0].widgets[0].report",
        "unknown_report",
    ),
    ("dashboards", "main", "dashboards", "list_type"),
]


@pytest.mark.parametrize(("part", "item", "path", "code"), BAD_PARTS)
def test_a_bad_part_is_a_422_at_its_path_and_writes_nothing(
    client: TestClient, migrated_engine: Engine, part: str, item: Any, path: str, code: str
) -> None:
    before, versions = _revision(client), _versions(migrated_engine)
    items = item if isinstance(item, (list, str)) else [item]
    response = _put(client, part, items)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_definition"
    found = [i for i in error["issues"] if i["path"] == path]
    assert [i["code"] for i in found] == [code], error["issues"]
    english = client.put(
        f"{API}/apps/shop/{part}",
        json={"_revision": before, part: items},
        headers={"Accept-Language": "en"},
    ).json()["error"]["issues"]
    zh = next(i for i in error["issues"] if i["path"] == path)["message"]
    en = next(i for i in english if i["path"] == path)["message"]
    assert zh != en and en.isascii() and not zh.isascii()
    assert _revision(client) == before and _versions(migrated_engine) == versions


def test_the_whole_app_publish_checks_the_parts_too(client: TestClient) -> None:
    definition = client.get(f"{API}/apps/shop").json()
    bad = {**definition, "reports": [{**REPORT, "form": "ghost"}]}
    response = client.put(f"{API}/apps/shop", json=bad)
    assert response.status_code == 422
    assert [i["path"] for i in response.json()["error"]["issues"]] == ["reports[0].form"]
    forms = copy.deepcopy(definition["forms"])
    forms[0]["flow"] = "order_approval"
    response = client.put(f"{API}/apps/shop", json={**definition, "forms": forms})
    assert response.status_code == 422
    assert [(i["path"], i["code"]) for i in response.json()["error"]["issues"]] == [
        ("forms[0].flow", "unknown_flow")
    ]
    response = client.put(f"{API}/apps/shop", json={**definition, "forms": forms, "flows": [FLOW]})
    assert response.status_code == 200, response.text
    assert response.json()["warnings"] == []


def test_a_publish_answer_sent_back_as_is_plans_and_publishes(client: TestClient) -> None:
    """The designer keeps the publish answer and sends it back for the next change: its
    `warnings`, `plan` and `_revision` are the answer's, not definition properties (found by
    the English e2e journey, whose second publish was a 422 at `warnings`)."""
    definition = client.get(f"{API}/apps/shop").json()
    answer = client.put(f"{API}/apps/shop", json={**definition, "flows": [FLOW]})
    assert answer.status_code == 200, answer.text
    echoed = answer.json()
    assert {"warnings", "plan", "_revision"} <= echoed.keys()
    planned = client.post(f"{API}/apps/shop/plan", json=echoed)
    assert planned.status_code == 200, planned.text
    again = client.put(f"{API}/apps/shop", json=echoed)
    assert again.status_code == 200, again.text
    assert again.json()["_revision"] == echoed["_revision"] + 1


def test_part_publishes_check_the_revision(client: TestClient) -> None:
    live = _revision(client)
    assert _put(client, "flows", [FLOW], revision=live).status_code == 200
    stale = _put(client, "rules", [RULE], revision=live)
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "stale_revision"
    missing = client.put(f"{API}/apps/shop/rules", json={"rules": [RULE]})
    assert missing.status_code == 422
    assert [i["path"] for i in missing.json()["error"]["issues"]] == ["_revision"]
    assert _revision(client) == live + 1
    assert client.get(f"{API}/apps/shop").json()["rules"] == []


def _role_id(client: TestClient, key: str) -> int:
    roles = client.get(f"{API}/roles", params={"app": "shop"}).json()
    found: int = next(r["id"] for r in roles if r["key"] == key)
    return found


def _member(client: TestClient, username: str, role: str | None) -> TestClient:
    made = client.post(
        f"{API}/users", json={"username": username, "display_name": username, "password": PASSWORD}
    )
    assert made.status_code == 201, made.text
    if role is not None:
        role_id = _role_id(client, role)
        added = client.post(f"{API}/roles/{role_id}/members", json={"user_id": made.json()["id"]})
        assert added.status_code == 201, added.text
    member = TestClient(client.app, raise_server_exceptions=False)
    login = member.post(f"{API}/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    member.headers["Authorization"] = f"Bearer {login.json()['token']}"
    return member


def test_builders_publish_parts_but_never_roles(client: TestClient) -> None:
    builder = _member(client, "designer1", "designer")
    clerk = _member(client, "clerk1", "clerk")
    outsider = _member(client, "outsider", None)
    response = _put(builder, "flows", [FLOW])
    assert response.status_code == 200, response.text
    assert _put(builder, "reports", [REPORT]).status_code == 200
    definition = builder.get(f"{API}/apps/shop").json()
    roles = definition["roles"]
    # everything that would let a builder grant rights is refused
    granted = copy.deepcopy(roles)
    granted[0]["forms"]["order"] = {"actions": ["view", "create", "edit", "delete"], "scope": "all"}
    granted.append({"key": "boss", "name": "Boss", "builder": True})
    whole = {k: v for k, v in definition.items() if k != "_revision"}
    attempts = [
        builder.put(
            f"{API}/apps/shop",
            json={**whole, "roles": granted, "_revision": definition["_revision"]},
        ),
        builder.post(f"{API}/apps/shop/plan", json={**whole, "roles": granted}),
        builder.put(
            f"{API}/apps/shop/flows",
            json={"_revision": definition["_revision"], "flows": [FLOW], "roles": granted},
        ),
        builder.put(
            f"{API}/apps/shop/roles", json={"_revision": definition["_revision"], "roles": granted}
        ),
        builder.post(
            f"{API}/apps/import", params={"mode": "upgrade"}, json={**whole, "roles": granted}
        ),
        builder.post(f"{API}/roles", params={"app": "shop"}, json={"key": "boss", "name": "Boss"}),
    ]
    me = builder.get(f"{API}/me").json()
    me_id = me.get("id", me.get("user", {}).get("id"))
    attempts += [
        builder.post(f"{API}/roles/{_role_id(client, 'clerk')}/members", json={"user_id": me_id}),
        builder.patch(f"{API}/users/{me_id}", json={"is_admin": True}),
    ]
    assert [a.status_code for a in attempts] == [403, 403, 422, 404, 403, 403, 403, 403], [
        a.text for a in attempts
    ]
    assert attempts[2].json()["error"]["issues"][0] == {
        "path": "roles",
        "code": "unknown_property",
        "message": "不允许的属性 roles",
    }
    after = client.get(f"{API}/apps/shop").json()
    assert after["roles"] == roles and after["_revision"] == definition["_revision"]
    assert me_id is not None and builder.get(f"{API}/me").json() == me  # still no admin
    # members without a builder role: 403; people outside the app: 404
    assert _put(clerk, "flows", []).status_code == 403
    assert (
        outsider.put(
            f"{API}/apps/shop/flows", json={"_revision": after["_revision"], "flows": []}
        ).status_code
        == 404
    )
    assert client.get(f"{API}/apps/shop").json()["flows"] != []


def test_an_old_revision_reads_fields_gone_or_retyped_since_as_blank(
    client: TestClient, migrated_engine: Engine
) -> None:
    assert _put(client, "flows", [FLOW]).status_code == 200
    old = _revision(client)
    created = client.post(
        f"{API}/apps/shop/forms/order/records",
        json={"title": "A", "amount": "12.50", "note": "n", "status": "new"},
    )
    assert created.status_code == 201, created.text
    definition = client.get(f"{API}/apps/shop").json()
    fields = definition["forms"][0]["fields"]
    definition["forms"][0]["fields"] = [
        f if f["key"] != "amount" else {"key": "amount", "type": "text", "label": "金额"}
        for f in fields
        if f["key"] != "note"
    ]
    definition["flows"][0]["nodes"][1]["fields"] = {}
    definition["flows"][0]["edges"][0]["when"] = "NOT ISBLANK(amount)"  # amount is text now
    published = client.put(f"{API}/apps/shop", json=definition)
    assert published.status_code == 200, published.text
    ctx = ExecutionContext.create(Actor(None, "api"), "UTC")
    with migrated_engine.connect() as conn:
        revision = assembly.load_revision(conn, "shop", old)
        current = forms_apps.load(conn, "shop")
        record = Reader(current.layout, current.form("order"), ctx).get(conn, created.json()["_id"])
        assert revision.revision == old and revision.current.revision == old + 1
        assert revision.plans["flows"]["order_approval"]["fields"] == [
            {"form": "order", "field": "amount", "type": "number"},
            {"form": "order", "field": "note", "type": "textarea"},
        ]
        assert set(revision.fields("order")) == {"title", "amount", "note", "status"}
        assert revision.fields("order")["amount"] is None  # retyped: number -> text
        assert revision.fields("order")["note"] is None  # deleted
        seen = revision.read("order", record)
    assert record["amount"] == "12.50"  # the live layout reads the converted value
    assert seen["amount"] is None and seen["note"] is None
    assert seen["title"] == "A" and seen["status"] == "new" and seen["_id"] == record["_id"]


def test_a_stored_part_that_no_longer_fits_its_model_still_loads(
    client: TestClient, migrated_engine: Engine
) -> None:
    live = _revision(client)
    with migrated_engine.begin() as conn:
        stored = conn.execute(
            select(AppVersion.definition).where(AppVersion.revision == live)
        ).scalar_one()
        legacy = {**stored, "flows": [{"key": "old_style"}], "reports": []}
        conn.execute(
            update(AppVersion)
            .where(AppVersion.revision == live)
            .values(definition=legacy, plans=None)
        )
    with migrated_engine.connect() as conn:
        revision = assembly.load_revision(conn, "shop", live)
    assert revision.spec.flows == [] and revision.plans["flows"] == {}
    assert {i.path for i in revision.issues} == {"flows[0].name", "flows[0].form"}
    assert client.get(f"{API}/apps/shop/forms/order/records").status_code == 200


def test_export_and_import_round_trip_the_parts(client: TestClient) -> None:
    for part, item in (
        ("flows", FLOW),
        ("rules", RULE),
        ("reports", REPORT),
        ("dashboards", DASHBOARD),
    ):
        assert _put(client, part, [item]).status_code == 200
    pack = client.get(f"{API}/apps/shop/export").json()
    copied = {**pack, "key": "shop2"}
    imported = client.post(f"{API}/apps/import", json=copied)
    assert imported.status_code == 201, imported.text
    again = client.get(f"{API}/apps/shop2/export").json()
    assert again == copied
    for part in ("flows", "rules", "reports", "dashboards"):
        assert len(again[part]) == 1


def test_reads_hit_the_loaded_app_cache(client: TestClient, migrated_engine: Engine) -> None:
    with read_only(migrated_engine) as first, read_only(migrated_engine) as second:
        assert forms_apps.load(first, "shop") is forms_apps.load(second, "shop")
    with migrated_engine.connect() as conn:
        loaded = forms_apps.load(conn, "shop")
    with read_only(migrated_engine) as conn:
        assert forms_apps.load(conn, "shop") is loaded


def test_the_cache_is_bounded_and_drops_superseded_revisions(
    migrated_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIMU_APP_CACHE_SIZE", "2")
    get_settings.cache_clear()
    try:
        with api_client(migrated_engine, tmp_path) as admin:
            for key in ("a1", "a2", "a3"):
                assert admin.post(f"{API}/apps", json={**SHOP, "key": key}).status_code == 201
            with read_only(migrated_engine) as conn:
                first = forms_apps.load(conn, "a1")
                assert forms_apps.load(conn, "a1") is first
                forms_apps.load(conn, "a2")
                forms_apps.load(conn, "a3")
                assert len(forms_apps._cache(conn)) == 2
                assert forms_apps.load(conn, "a1") is not first  # evicted, loaded again
            definition = admin.get(f"{API}/apps/a1").json()
            assert admin.put(f"{API}/apps/a1", json=definition).status_code == 200
            with read_only(migrated_engine) as conn:
                newer = forms_apps.load(conn, "a1")
                assert newer.revision == first.revision + 1
                cache = forms_apps._cache(conn)
                assert cache.get((first.id, first.revision)) is None
                assert cache.get((newer.id, newer.revision)) is newer
    finally:
        monkeypatch.delenv("JIMU_APP_CACHE_SIZE")
        get_settings.cache_clear()
