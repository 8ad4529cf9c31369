"""The CRM's roles enforced through the API, on SQLite and PostgreSQL: a permission matrix
generated from the pack's role definitions plus one test role (`auditor`) that brings what the
pack lacks — a formula scope, the `department` scope, and hidden and read-only fields on forms
it may edit and export. Every role x form is checked through list, get, create, patch, delete,
batch, export, import and history, in and out of scope; field access, filters on hidden fields,
transfers and the issue's own scenario follow."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.auth.crm_org import API, APP, AUDITOR, USERS, installed_crm

ROLES = {role["key"]: role for role in [*APP["roles"], AUDITOR]}
ROLE_USER = {
    role: next((u["username"] for u in USERS["users"] if role in u["roles"]), role)
    for role in ROLES
}
FORMS = [form["key"] for form in APP["forms"]]
LABELS = {
    form["key"]: {f["key"]: f["label"]["zh"] for f in form["fields"]} for form in APP["forms"]
}
# Whose records a department scope covers: the user's department (and for `department_tree`
# its children) in the sample organisation; the auditor sits in 销售一组.
DEPARTMENT = {"auditor": {"auditor", "rep_a1", "rep_a2"}}
DEPARTMENT_TREE = {"director": {"director", "rep_a1", "rep_a2", "rep_b1", "rep_b2", "auditor"}}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """One CRM installation with sample data per database for the whole module."""
    yield from installed_crm(request, tmp_path_factory)


def url(form: str, suffix: str = "") -> str:
    return f"{API}/apps/crm/forms/{form}/records{suffix}"


def permission(role: str, form: str) -> dict[str, Any]:
    found: dict[str, Any] = ROLES[role]["forms"].get(form, {"actions": [], "scope": "all"})
    return found


def actions_of(role: str, form: str) -> set[str]:
    return set(permission(role, form)["actions"])


def hidden_of(role: str, form: str) -> set[str]:
    return {k for k, v in permission(role, form).get("fields", {}).items() if v == "hidden"}


def covers(crm: dict[str, Any], role: str, form: str, record: dict[str, Any]) -> bool:
    """Whether the role's scope on `form` covers `record` (as the admin reads it)."""
    scope = permission(role, form)["scope"]
    username = ROLE_USER[role]
    owner = crm["names"].get(record["_owner"], "")
    if scope == "all":
        return True
    if scope == "own":
        return owner == username
    if scope == "department":
        return owner in DEPARTMENT[username]
    if scope == "department_tree":
        return owner in DEPARTMENT_TREE[username]
    assert scope == {"expr": 'level = "A"'}, scope  # the auditor's formula scope
    return bool(record.get("level") == "A")


def everything(crm: dict[str, Any], form: str, filter: str | None = None) -> list[dict[str, Any]]:
    # Oldest first: the sample records, not the copies earlier tests of the module made.
    params: dict[str, Any] = {
        "limit": 1000,
        "sort": "_id",
        **({"filter": filter} if filter else {}),
    }
    response = crm["clients"]["admin"].get(url(form), params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def owned_record(crm: dict[str, Any], form: str, owner: str) -> dict[str, Any]:
    """A live record of `form` owned by `owner` (read as the admin). Asked for by owner: this
    runs several times per test, and the whole list of a form is a thousand rows with lookups."""
    owner_id = crm["ids"][owner]
    record: dict[str, Any] = next(
        r for r in everything(crm, form, f"_owner = {owner_id}") if r["_owner"] == owner_id
    )
    return record


def copy_body(source: dict[str, Any], role: str | None = None, form: str = "") -> dict[str, Any]:
    """Record JSON as input for a new record (DESIGN §12: reads are valid input), without unique
    values and without the fields `role` may not write."""
    writable = permission(role, form).get("fields", {}) if role else {}
    return {
        k: v
        for k, v in source.items()
        if not k.startswith("_") and k not in ("phone", "email") and k not in writable
    }


def fresh_record(crm: dict[str, Any], form: str, owner: str, **changes: Any) -> dict[str, Any]:
    """A new copy of one of `owner`'s records, made by the admin and given to `owner`."""
    admin = crm["clients"]["admin"]
    created = admin.post(url(form), json={**copy_body(owned_record(crm, form, owner)), **changes})
    assert created.status_code == 201, created.text
    record: dict[str, Any] = created.json()
    if form == "contract":  # the CRM's 合同审批 starts and locks it; these tests are about roles
        withdrawn = admin.post(url(form, f"/{record['_id']}/flow/withdraw"))
        assert withdrawn.status_code == 200, withdrawn.text
    assert (
        admin.post(
            url(form, "/transfer"), json={"ids": [record["_id"]], "owner": crm["ids"][owner]}
        ).status_code
        == 200
    )
    return dict(admin.get(url(form, f"/{record['_id']}")).json())


def in_and_out(
    crm: dict[str, Any], role: str, form: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Fresh records of `form` the role's scope covers and does not cover (None when there is none)."""
    found: dict[bool, dict[str, Any] | None] = {True: None, False: None}
    for owner in ("rep_a1", "rep_b2", "rep_a2"):
        if not owned_or_none(crm, form, owner):
            continue
        for level in ["A", "C"] if form == "customer" else [None]:
            record = fresh_record(crm, form, owner, **({"level": level} if level else {}))
            side = covers(crm, role, form, record)
            if found[side] is None:
                found[side] = record
            if found[True] is not None and found[False] is not None:
                return found[True], found[False]
    return found[True], found[False]


MATRIX = [(role, form) for role in ROLES for form in FORMS]
IDS = [f"{r}-{f}" for r, f in MATRIX]


@pytest.mark.parametrize(("role", "form"), MATRIX, ids=IDS)
def test_view_scope_matches_the_role(crm: dict[str, Any], role: str, form: str) -> None:
    client = crm["clients"][ROLE_USER[role]]
    response = client.get(url(form), params={"limit": 1000})
    if "view" not in actions_of(role, form):
        assert response.status_code == 404
        return
    assert response.status_code == 200, response.text
    seen = {r["_id"] for r in response.json()["items"]}
    expected = {r["_id"] for r in everything(crm, form) if covers(crm, role, form, r)}
    assert seen == expected
    assert response.json()["total"] == len(expected)
    for record in response.json()["items"]:
        assert not hidden_of(role, form) & record.keys()


@pytest.mark.parametrize(("role", "form"), MATRIX, ids=IDS)
def test_field_access_matches_the_role(crm: dict[str, Any], role: str, form: str) -> None:
    me = crm["clients"][ROLE_USER[role]].get(f"{API}/apps/crm/forms/{form}/permissions/me")
    if "view" not in actions_of(role, form):
        assert me.status_code == 404
        return
    writes = bool({"create", "edit"} & actions_of(role, form))
    declared = permission(role, form).get("fields", {})
    expected = {
        key: declared.get(key, "editable" if writes else "read_only") for key in LABELS[form]
    }
    assert me.json()["fields"] == expected
    assert set(me.json()["actions"]) == actions_of(role, form)


@pytest.mark.parametrize(("role", "form"), MATRIX, ids=IDS)
def test_get_patch_and_delete_in_and_out_of_scope(
    crm: dict[str, Any], role: str, form: str
) -> None:
    client = crm["clients"][ROLE_USER[role]]
    actions = actions_of(role, form)
    for record in in_and_out(crm, role, form):
        if record is None:
            continue
        target = url(form, f"/{record['_id']}")
        visible = "view" in actions and covers(crm, role, form, record)
        got = client.get(target)
        assert got.status_code == (200 if visible else 404), got.text
        if visible:
            assert not hidden_of(role, form) & got.json().keys()
        note_key = next((k for k in ("note", "content", "title", "name") if k in record), None)
        if note_key is not None:
            patched = client.patch(
                target, json={note_key: record.get(note_key) or "x", "_version": record["_version"]}
            )
            assert patched.status_code == outcome(actions, "edit", visible, 200), patched.text
        history = client.get(f"{target}/history")
        assert history.status_code == (200 if visible else 404), history.text
        deleted = client.delete(target)
        assert deleted.status_code == outcome(actions, "delete", visible, 204), deleted.text


def outcome(actions: set[str], action: str, visible: bool, success: int) -> int:
    """A form the caller cannot view is 404; an action the role lacks on the form is 403 for
    every id (so it tells nothing about which records exist); a record out of scope is 404."""
    if "view" not in actions:
        return 404
    if action not in actions:
        return 403
    return success if visible else 404


def owned_or_none(crm: dict[str, Any], form: str, owner: str) -> bool:
    try:
        owned_record(crm, form, owner)
    except StopIteration:
        return False
    return True


@pytest.mark.parametrize(("role", "form"), MATRIX, ids=IDS)
def test_create_follows_the_role(crm: dict[str, Any], role: str, form: str) -> None:
    client = crm["clients"][ROLE_USER[role]]
    source = owned_record(crm, form, "rep_a1")
    body = copy_body(source, role, form)
    if form == "customer":
        body["level"] = "A"  # inside the auditor's formula scope
    response = client.post(url(form), json=body)
    assert response.status_code == outcome(actions_of(role, form), "create", True, 201), (
        response.text
    )
    if response.status_code == 201:
        assert response.json()["_owner"] == crm["ids"][ROLE_USER[role]]
        assert not hidden_of(role, form) & response.json().keys()


@pytest.mark.parametrize(("role", "form"), MATRIX, ids=IDS)
def test_batch_follows_the_role(crm: dict[str, Any], role: str, form: str) -> None:
    client = crm["clients"][ROLE_USER[role]]
    actions = actions_of(role, form)
    body = copy_body(owned_record(crm, form, "rep_a1"), role, form)
    if form == "customer":
        body["level"] = "A"
    created = client.post(url(form, "/batch"), json=[body])
    assert created.status_code == outcome(actions, "create", True, 200), created.text
    inside, outside = in_and_out(crm, role, form)
    rows = [r for r in (inside, outside) if r is not None]
    changes = [{"_id": r["_id"], "_version": r["_version"]} for r in rows]
    together = client.post(url(form, "/batch"), json=changes)
    if "view" not in actions or "edit" not in actions:
        assert together.status_code == outcome(actions, "edit", True, 200)
        return
    assert together.status_code == (404 if outside is not None else 200), (
        together.text
    )  # all or nothing
    admin = crm["clients"]["admin"]
    if outside is not None and inside is not None:
        assert (
            admin.get(url(form, f"/{inside['_id']}")).json()["_version"] == inside["_version"]
        )  # nothing written
    rows = [admin.get(url(form, f"/{r['_id']}")).json() for r in rows]  # current versions
    changes = [{"_id": r["_id"], "_version": r["_version"]} for r in rows]
    partial = client.post(url(form, "/batch"), params={"partial": "true"}, json=changes)
    assert partial.status_code == 200, partial.text
    results = {r["index"]: r for r in partial.json()["results"]}
    for index, row in enumerate(rows):
        if covers(crm, role, form, row):
            assert results[index]["ok"] is True
        else:
            assert results[index]["error"]["code"] == "not_found"
            assert admin.get(url(form, f"/{row['_id']}")).json()["_version"] == row["_version"]


def exported(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.mark.parametrize(("role", "form"), MATRIX, ids=IDS)
def test_export_follows_the_role(crm: dict[str, Any], role: str, form: str) -> None:
    client = crm["clients"][ROLE_USER[role]]
    response = client.get(url(form, "/export"), params={"format": "csv"})
    assert response.status_code == outcome(actions_of(role, form), "export", True, 200), (
        response.text
    )
    if response.status_code != 200:
        return
    rows = exported(response)
    everyone = everything(crm, form)
    expected = {r["_id"] for r in everyone if covers(crm, role, form, r)}
    assert {int(r["记录ID"]) for r in rows} == expected
    text = response.content.decode("utf-8-sig")
    for key in hidden_of(role, form):
        assert LABELS[form][key] not in rows[0]
        values = {str(r[key]) for r in everyone if r.get(key)}
        assert values and not any(value in text for value in values)  # no hidden value anywhere
    entry = crm["clients"]["admin"].get(f"{API}/audit", params={"kind": "records.export"}).json()[0]
    assert entry["actor"]["username"] == ROLE_USER[role] and entry["subject"] == f"crm/{form}"
    assert entry["detail"]["rows"] == len(expected)


@pytest.mark.parametrize(("role", "form"), MATRIX, ids=IDS)
def test_import_follows_the_role(crm: dict[str, Any], role: str, form: str) -> None:
    client = crm["clients"][ROLE_USER[role]]
    source = owned_record(crm, form, "rep_a1")
    header = [
        k for k in ("name", "title", "content", "today") if k in LABELS[form] and k in source
    ][:1] or ["note"]
    if form == "customer":
        header.append("level")
    row = [source.get(key) or "导入" for key in header]
    if form == "customer":
        row[-1] = "A"
    out = io.StringIO()
    csv.writer(out).writerows([[LABELS[form][k] for k in header], row])
    response = client.post(
        url(form, "/import"), files={"file": ("rows.csv", out.getvalue().encode())}
    )
    allowed = outcome(actions_of(role, form), "import", True, 200)
    if allowed == 200 and response.status_code == 422:
        # a form with required fields this one-column file leaves out: refused per row, nothing written
        assert all(i["path"].startswith("rows[2]") for i in response.json()["error"]["issues"]), (
            response.text
        )
        return
    assert response.status_code == allowed, response.text
    if allowed == 200:
        record = (
            crm["clients"]["admin"]
            .get(url(form, f"/{response.json()['results'][0]['_id']}"))
            .json()
        )
        assert record["_owner"] == crm["ids"][ROLE_USER[role]]


@pytest.mark.parametrize(("role", "form"), MATRIX, ids=IDS)
def test_history_never_shows_hidden_fields(crm: dict[str, Any], role: str, form: str) -> None:
    hidden = hidden_of(role, form)
    if not hidden:
        return
    admin = crm["clients"]["admin"]
    inside, _ = in_and_out(crm, role, form)
    assert inside is not None
    secret = {
        "phone": f"139{uuid.uuid4().int % 10**8:08d}",
        "email": f"hidden.{uuid.uuid4().hex[:8]}@example.com",
    }
    changes = {key: secret[key] for key in hidden}
    assert (
        admin.patch(
            url(form, f"/{inside['_id']}"), json={**changes, "_version": inside["_version"]}
        ).status_code
        == 200
    )
    full = admin.get(url(form, f"/{inside['_id']}/history")).json()
    assert any(hidden & entry["changes"].keys() for entry in full)  # the admin sees the change
    mine = crm["clients"][ROLE_USER[role]].get(url(form, f"/{inside['_id']}/history"))
    assert mine.status_code == 200 and mine.json()
    assert all(not hidden & entry["changes"].keys() for entry in mine.json())
    assert not any(value in mine.text for value in changes.values())


def test_hidden_and_read_only_fields_refuse_every_write(crm: dict[str, Any]) -> None:
    auditor = crm["clients"]["auditor"]
    record = fresh_record(crm, "customer", "rep_a1", level="A")
    target = url("customer", f"/{record['_id']}")
    hidden = auditor.post(
        url("customer"), json={"name": "审计新客户", "level": "A", "phone": "13912345678"}
    )
    assert hidden.status_code == 422 and hidden.json()["error"]["issues"][0] == {
        "path": "phone",
        "code": "unknown_field",
        "message": "字段 phone 不存在",
    }
    read_only = auditor.patch(
        target, json={"annual_purchase": "1.00", "_version": record["_version"]}
    )
    assert (
        read_only.status_code == 422
        and read_only.json()["error"]["issues"][0]["code"] == "read_only_field"
    )
    batch = auditor.post(
        url("customer", "/batch"), json=[{"name": "x", "level": "A", "phone": "13912345678"}]
    )
    assert batch.status_code == 422 and batch.json()["error"]["issues"][0]["path"] == "[0].phone"
    outside = auditor.post(url("customer"), json={"name": "审计 C 类客户", "level": "C"})
    assert (
        outside.status_code == 422
        and outside.json()["error"]["issues"][0]["code"] == "out_of_scope"
    )
    for params in ({"fields": "name,phone"}, {"filter": 'phone = "1"'}, {"sort": "phone"}):
        assert auditor.get(url("customer", "/export"), params=params).status_code == 422, params
    header = "名称,客户等级,{}\n".format
    refused = auditor.post(
        url("customer", "/import"),
        files={"file": ("c.csv", (header("手机") + "甲,A,13912345678\n").encode())},
    )
    assert (
        refused.status_code == 422
        and refused.json()["error"]["issues"][0]["code"] == "unknown_column"
    )
    locked = auditor.post(
        url("customer", "/import"),
        files={"file": ("c.csv", (header("年采购额") + "甲,A,100\n").encode())},
    )
    assert locked.status_code == 422
    assert locked.json()["error"]["issues"][0]["path"] == "rows[2].annual_purchase"
    assert locked.json()["error"]["issues"][0]["code"] == "read_only_field"
    scope = auditor.post(
        url("customer", "/import"), files={"file": ("c.csv", "名称,客户等级\n甲,C\n".encode())}
    )
    assert scope.status_code == 422 and scope.json()["error"]["issues"][0] == {
        "path": "rows[2]",
        "code": "out_of_scope",
        "message": "记录不在你有权创建的范围内",
    }
    assert auditor.get(target).json()["_version"] == record["_version"]


def test_finance_never_sees_customer_phones(crm: dict[str, Any]) -> None:
    finance = crm["clients"]["finance"]
    page = finance.get(url("customer"), params={"limit": 1000}).json()
    assert page["total"] >= 200 and all("phone" not in r for r in page["items"])
    one = finance.get(url("customer", f"/{page['items'][0]['_id']}")).json()
    assert "phone" not in one
    refused = finance.get(url("customer"), params={"filter": 'LEFT(phone, 3) = "138"'})
    assert (
        refused.status_code == 422
        and refused.json()["error"]["issues"][0]["code"] == "hidden_field"
    )
    assert finance.get(url("customer"), params={"sort": "phone"}).status_code == 422
    history = finance.get(url("customer", f"/{page['items'][0]['_id']}/history")).json()
    assert all("phone" not in entry["changes"] for entry in history)
    assert finance.post(url("customer"), json={"name": "x"}).status_code == 403
    me = finance.get(f"{API}/apps/crm/forms/customer/permissions/me").json()
    assert me["actions"] == ["view"] and me["fields"]["phone"] == "hidden"


def test_a_rep_sees_only_their_customers_and_cannot_delete_contracts(crm: dict[str, Any]) -> None:
    rep = crm["clients"]["rep_a1"]
    mine = rep.get(url("customer"), params={"limit": 1000}).json()
    everything = (
        crm["clients"]["admin"].get(url("customer"), params={"limit": 1000}).json()["items"]
    )
    owned = [r for r in everything if r["_owner"] == crm["ids"]["rep_a1"]]
    assert mine["total"] == len(owned) >= 60  # the sample gives each rep 60; other tests add copies
    assert {r["_owner"] for r in mine["items"]} == {crm["ids"]["rep_a1"]}
    others = owned_record(crm, "customer", "rep_b1")
    assert rep.get(url("customer", f"/{others['_id']}")).status_code == 404
    assert rep.get(url("customer"), params={"filter": f"_id = {others['_id']}"}).status_code in (
        200,
        422,
    )
    contract = owned_record(crm, "contract", "rep_a1")
    assert rep.delete(url("contract", f"/{contract['_id']}")).status_code == 403
    me = rep.get(f"{API}/apps/crm/forms/contract/permissions/me").json()
    assert "delete" not in me["actions"] and me["scopes"]["view"] == ["own"]


def test_the_director_sees_both_teams_and_transfers_ownership(crm: dict[str, Any]) -> None:
    director = crm["clients"]["director"]
    teams = [
        r
        for r in everything(crm, "customer")
        if crm["names"].get(r["_owner"], "").startswith("rep_")
    ]
    seen = director.get(url("customer"), params={"limit": 1000}).json()["items"]
    assert {r["_id"] for r in teams} <= {r["_id"] for r in seen} and len(
        teams
    ) >= 240  # both teams' customers
    record = owned_record(crm, "customer", "rep_a2")
    moved = director.post(
        url("customer", "/transfer"), json={"ids": [record["_id"]], "owner": crm["ids"]["rep_b2"]}
    )
    assert moved.status_code == 200 and moved.json() == {"transferred": 1}
    assert crm["clients"]["rep_a2"].get(url("customer", f"/{record['_id']}")).status_code == 404
    assert crm["clients"]["rep_b2"].get(url("customer", f"/{record['_id']}")).status_code == 200
    history = director.get(url("customer", f"/{record['_id']}/history")).json()
    assert history[-1]["event"] == "transfer"
    rep = crm["clients"]["rep_b2"]
    theirs = owned_record(crm, "customer", "rep_a1")
    assert (
        rep.post(
            url("customer", "/transfer"),
            json={"ids": [theirs["_id"]], "owner": crm["ids"]["rep_b2"]},
        ).status_code
        == 404
    )


def test_the_general_manager_reads_everything_and_changes_nothing(crm: dict[str, Any]) -> None:
    gm = crm["clients"]["gm"]
    everything = crm["clients"]["admin"].get(url("contract"), params={"limit": 0}).json()["total"]
    assert gm.get(url("contract"), params={"limit": 0}).json()["total"] == everything >= 120
    record = owned_record(crm, "customer", "rep_a1")
    assert (
        gm.patch(
            url("customer", f"/{record['_id']}"), json={"note": "x", "_version": record["_version"]}
        ).status_code
        == 403
    )
    assert gm.post(url("customer", "/batch"), json=[{"name": "x"}]).status_code == 403


def test_members_see_only_apps_they_belong_to(crm: dict[str, Any]) -> None:
    assert [a["key"] for a in crm["clients"]["rep_a1"].get(f"{API}/apps").json()] == ["crm"]
    assert crm["clients"]["rep_a1"].get(f"{API}/apps/crm").status_code == 200
    assert crm["clients"]["rep_a1"].get(f"{API}/apps/crm/export").status_code == 403
    assert crm["clients"]["rep_a1"].put(f"{API}/apps/crm", json={}).status_code == 403
