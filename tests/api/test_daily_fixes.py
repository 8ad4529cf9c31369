"""Issue 16 item 4 (first half), the engine side, on SQLite and PostgreSQL with the stock CRM:

- created-by/updated-by fields read as `{id, name}` like user fields (lists, single reads,
  exports, lookups of them, formulas over them), while `_created_by`/`_owner` stay ids;
- the app's menu answer (`GET /apps/{app}/menu`) says per form what the viewer may do, and
  how lookups and formulas display (their source's type and options, a formula's format);
- a new form without a title field gets its first text field as title;
- lists are newest first when no sort is asked for;
- the live scripts carry formula defaults, so the fill page shows `TODAY()` before saving.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest

from tests.auth.crm_org import API, installed_crm

NOTES: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "notes",
    "version": "1.0.0",
    "name": {"zh": "便签", "en": "Notes"},
    "forms": [
        {
            "key": "note",
            "name": {"zh": "便签", "en": "Note"},
            "fields": [
                {"key": "n", "type": "integer", "label": {"zh": "序号"}},
                {"key": "body", "type": "text", "label": {"zh": "内容"}},
                {"key": "maker", "type": "created_by", "label": {"zh": "创建人"}},
                {"key": "changer", "type": "updated_by", "label": {"zh": "修改人"}},
                {"key": "mine", "type": "formula", "expr": "maker = CURRENT_USER()"},
                {"key": "day", "type": "date", "default": {"expr": "TODAY()"}},
                {"key": "by", "type": "user", "default": {"expr": "CURRENT_USER()"}},
            ],
        },
        {
            "key": "comment",
            "name": {"zh": "评论", "en": "Comment"},
            "title_field": "text",
            "fields": [
                {"key": "text", "type": "text"},
                {"key": "note", "type": "relation", "target": "note"},
                {"key": "note_maker", "type": "lookup", "relation": "note", "field": "maker"},
            ],
        },
    ],
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    for found in installed_crm(request, tmp_path_factory):
        admin = found["clients"]["admin"]
        created = admin.post(f"{API}/apps", json=NOTES)
        assert created.status_code == 201, created.text
        yield found


def test_created_and_updated_by_read_as_members(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    me = admin.get(f"{API}/me").json()
    made = admin.post(f"{API}/apps/notes/forms/note/records", json={"n": 1, "body": "第一条"})
    assert made.status_code == 201, made.text
    record = made.json()
    person = {"id": me["id"], "name": me["display_name"]}
    assert record["maker"] == person and record["changer"] == person
    assert record["_created_by"] == me["id"] and record["_owner"] == me["id"]
    assert record["mine"] is True  # a formula over the field still compares ids
    got = admin.get(f"{API}/apps/notes/forms/note/records/{record['_id']}").json()
    assert got["maker"] == person and got["_created_by"] == me["id"]
    listed = admin.get(f"{API}/apps/notes/forms/note/records").json()["items"]
    assert listed[0]["maker"] == person and listed[0]["_owner"] == me["id"]
    filtered = admin.get(
        f"{API}/apps/notes/forms/note/records", params={"filter": f"maker = {me['id']}"}
    ).json()
    assert [i["_id"] for i in filtered["items"]] == [record["_id"]]
    comment = admin.post(
        f"{API}/apps/notes/forms/comment/records", json={"text": "好", "note": record["_id"]}
    )
    assert comment.status_code == 201, comment.text
    assert comment.json()["note_maker"] == person
    exported = admin.get(
        f"{API}/apps/notes/forms/note/records/export",
        params={"format": "csv", "fields": "n,maker"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0]["创建人"] == me["display_name"]


def test_crm_follow_up_shows_who_followed_up(crm: dict[str, Any]) -> None:
    rep = crm["clients"]["rep_a1"]
    items = rep.get(f"{API}/apps/crm/forms/followup/records", params={"limit": 5}).json()["items"]
    assert items
    for item in items:
        assert item["created_by"] == {
            "id": item["_created_by"],
            "name": rep.get(f"{API}/me").json()["display_name"]
            if item["_created_by"] == crm["ids"]["rep_a1"]
            else item["created_by"]["name"],
        }
        assert isinstance(item["created_by"]["name"], str) and item["created_by"]["name"]


def test_lists_are_newest_first_unless_sorted(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    url = f"{API}/apps/notes/forms/note/records"
    made = [admin.post(url, json={"n": n, "body": f"第{n}条"}).json()["_id"] for n in (7, 8, 9)]
    newest = [i["_id"] for i in admin.get(url).json()["items"]]
    assert newest[:3] == made[::-1]
    assert newest == sorted(newest, reverse=True)
    oldest = [i["_id"] for i in admin.get(url, params={"sort": "_id"}).json()["items"]]
    assert oldest == sorted(newest)
    by_n = [i["n"] for i in admin.get(url, params={"sort": "-n", "limit": 3}).json()["items"]]
    assert by_n == [9, 8, 7]


def test_a_form_without_a_title_gets_its_first_text_field(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    definition = admin.get(f"{API}/apps/notes").json()
    assert definition["forms"][0]["title_field"] == "body"  # set when the app was created
    assert definition["forms"][1]["title_field"] == "text"  # a chosen title is kept
    definition["forms"].append(
        {
            "key": "task",
            "name": {"zh": "任务"},
            "fields": [
                {"key": "due", "type": "date"},
                {"key": "what", "type": "text"},
                {"key": "more", "type": "text"},
            ],
        }
    )
    definition["forms"][0]["title_field"] = None
    published = admin.put(f"{API}/apps/notes", json=definition)
    assert published.status_code == 200, published.text
    forms = {f["key"]: f for f in published.json()["forms"]}
    assert forms["task"]["title_field"] == "what"
    assert forms["note"]["title_field"] == "body"
    record = admin.post(f"{API}/apps/notes/forms/task/records", json={"what": "打电话"}).json()
    comment = admin.post(
        f"{API}/apps/notes/forms/comment/records", json={"text": "x", "note": 1}
    ).json()
    assert comment["note"]["title"] == "第一条"
    assert record["what"] == "打电话"


def _menu(client: Any) -> dict[str, Any]:
    answer = client.get(f"{API}/apps/crm/menu")
    assert answer.status_code == 200, answer.text
    return {k: (v["read"], v["create"]) for k, v in answer.json()["forms"].items()}


def test_the_menu_says_what_each_role_may_do(crm: dict[str, Any]) -> None:
    clients = crm["clients"]
    every = {k: (True, True) for k in _menu(clients["admin"])}
    assert _menu(clients["admin"]) == every
    assert _menu(clients["director"]) == every
    assert _menu(clients["finance"]) == {
        **{k: (False, False) for k in every},
        "customer": (True, False),
        "contract": (True, True),
        "payment": (True, True),
    }
    assert _menu(clients["gm"]) == {k: (True, False) for k in every}
    rep = _menu(clients["rep_a1"])
    assert rep["payment"] == (True, False) and rep["project"] == (True, False)
    assert rep["followup"] == (True, True)
    # What the menu says is what the engine does: a form marked unreadable is a 404.
    assert clients["finance"].get(f"{API}/apps/crm/forms/lead/records").status_code == 404
    assert clients["gm"].post(f"{API}/apps/crm/forms/lead/records", json={}).status_code == 403
    outsider = clients["admin"].get(f"{API}/apps/notes/menu")
    assert outsider.status_code == 200
    assert clients["finance"].get(f"{API}/apps/notes/menu").status_code == 404


def test_the_menu_says_how_lookups_and_formulas_show(crm: dict[str, Any]) -> None:
    forms = crm["clients"]["rep_a1"].get(f"{API}/apps/crm/menu").json()["forms"]
    level = forms["opportunity"]["display"]["customer_level"]
    assert level["type"] == "select"
    assert level["options"][0] == {
        "value": "A",
        "label": {"zh": "A 类（重点）", "en": "Class A (key account)"},
        "color": "#e53935",
    }
    assert forms["opportunity"]["display"]["weighted_amount"] == {
        "type": "money",
        "currency": "CNY",
        "precision": 2,
    }
    assert forms["contract"]["display"]["items.subtotal"]["type"] == "money"
    assert forms["contract"]["display"]["amount"]["type"] == "money"
    assert "name" not in forms["customer"]["display"]


def test_the_fill_page_gets_its_formula_defaults(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    live = admin.get(f"{API}/apps/notes/forms/note/live")
    assert live.status_code == 200, live.text
    defaults = {d["key"]: d for d in live.json()["defaults"]}
    assert set(defaults) == {"day", "by"}
    assert defaults["day"]["type"] == "date" and "TODAY" in defaults["day"]["js"]
    assert defaults["by"]["type"] == "user"
    saved = admin.post(f"{API}/apps/notes/forms/note/records", json={"n": 30}).json()
    assert saved["day"] is not None  # the server still applies it on save


FILL: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "fillonly",
    "version": "1.0.0",
    "name": {"zh": "填报", "en": "Filing"},
    "forms": [
        {
            "key": "client",
            "name": {"zh": "客户", "en": "Client"},
            "title_field": "name",
            "fields": [{"key": "name", "type": "text"}, {"key": "note", "type": "text"}],
        },
        {
            "key": "report",
            "name": {"zh": "日报", "en": "Report"},
            "title_field": "work",
            "fields": [
                {"key": "work", "type": "text", "required": True},
                {"key": "client", "type": "relation", "target": "client"},
                {"key": "client_note", "type": "lookup", "relation": "client", "field": "note"},
                {"key": "hours", "type": "number", "precision": 1},
                {"key": "double", "type": "formula", "expr": "hours * 2"},
                {"key": "day", "type": "date", "default": {"expr": "TODAY()"}},
            ],
        },
        {
            "key": "remark",
            "name": {"zh": "批注", "en": "Remark"},
            "title_field": "text",
            "fields": [
                {"key": "text", "type": "text"},
                {"key": "report", "type": "relation", "target": "report"},
            ],
        },
    ],
    "roles": [
        {
            "key": "filer",
            "name": {"zh": "填报员", "en": "Filer"},
            "forms": {
                "client": {"actions": ["view"], "scope": "own"},
                "report": {"actions": ["create"], "scope": "all"},
                "remark": {"actions": ["view", "create"], "scope": "all"},
            },
        }
    ],
}


def test_a_create_only_role_submits_but_reads_nothing(crm: dict[str, Any]) -> None:
    """A 填报-only role (create without view): the fill page's calls answer, a submit is saved
    and answered with the id and the values sent only; every read of the form is a 404, and
    relations are checked with the rights on the other form at both ends."""
    admin, filer = crm["clients"]["admin"], crm["clients"]["rep_b1"]
    assert admin.post(f"{API}/apps", json=FILL).status_code == 201
    [role] = [r for r in admin.get(f"{API}/roles", params={"app": "fillonly"}).json()]
    me = crm["ids"]["rep_b1"]
    assert admin.post(f"{API}/roles/{role['id']}/members", json={"user_id": me}).status_code == 201
    url = f"{API}/apps/fillonly/forms"
    mine = admin.post(f"{url}/client/records", json={"name": "甲", "note": "秘"})
    theirs = admin.post(f"{url}/client/records", json={"name": "乙", "note": "密"})
    assert mine.status_code == theirs.status_code == 201, (mine.text, theirs.text)
    mine_id, theirs_id = mine.json()["_id"], theirs.json()["_id"]
    given = admin.post(f"{url}/client/records/transfer", json={"ids": [mine_id], "owner": me})
    assert given.status_code == 200, given.text

    menu = filer.get(f"{API}/apps/fillonly/menu").json()["forms"]
    assert (menu["report"]["read"], menu["report"]["create"]) == (False, True)
    rights = filer.get(f"{url}/report/permissions/me")
    assert rights.status_code == 200 and rights.json()["actions"] == ["create"]
    assert filer.get(f"{url}/report/live").status_code == 200  # the fill page's scripts
    # the customer picker lists only the customers their rights on that form allow
    picked = filer.get(f"{url}/client/records").json()["items"]
    assert [c["_id"] for c in picked] == [mine_id]

    other = filer.post(f"{url}/report/records", json={"work": "拜访", "client": theirs_id})
    assert other.status_code == 422, other.text
    assert [i["path"] for i in other.json()["error"]["issues"]] == ["client"]
    sent = {"work": "拜访客户", "client": mine_id, "hours": 1.5}
    saved = filer.post(f"{url}/report/records", json=sent)
    assert saved.status_code == 201, saved.text
    answer = saved.json()
    assert answer == {"_id": answer["_id"], **sent}  # no stored record, lookup or formula
    report_id = answer["_id"]
    stored = admin.get(f"{url}/report/records/{report_id}").json()
    assert stored["_created_by"] == me and stored["double"] == "3" and stored["day"]
    assert admin.get(f"{url}/report/records").json()["total"] == 1  # the refused one: nothing

    for path in ("records", f"records/{report_id}", f"records/{report_id}/history", "recycle-bin"):
        refused = filer.get(f"{url}/report/{path}")
        assert refused.status_code == 404, (path, refused.text)
    assert filer.patch(
        f"{url}/report/records/{report_id}", json={"work": "改", "_version": 1}
    ).status_code in (403, 404)
    assert admin.get(f"{url}/report/records/{report_id}").json()["work"] == "拜访客户"
    batch = filer.post(f"{url}/report/records/batch", json=[{"work": "批量"}])
    assert batch.status_code == 200 and batch.json()["results"][0]["ok"] is True
    # The other end: a form they view may not point at (or name) a report they cannot view.
    remark = filer.post(f"{url}/remark/records", json={"text": "好", "report": report_id})
    assert remark.status_code == 422, remark.text
    assert [i["path"] for i in remark.json()["error"]["issues"]] == ["report"]
    made = admin.post(f"{url}/remark/records", json={"text": "阅", "report": report_id}).json()
    shown = filer.get(f"{url}/remark/records/{made['_id']}").json()
    assert "拜访客户" not in str(shown)
