"""The permission matrix (issue 10): every read path and every write answer, driven as a
member whose role narrows the row scope and hides fields on *both ends of a relation*.

The app holds marked values ("canaries") wherever the member has no right to look: records
of another member (row scope) and hidden fields (on the source form, on the target form, and
fields derived from them). Each path is asked as the member, and no canary may appear in any
answer: JSON, spreadsheet exports, history, files, data linkage, filters used as yes/no
oracles. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from engine.api.main import create_app
from engine.auth.directory import ensure_admin
from engine.settings import Settings
from engine.store import prepare_database
from tests.store_fixtures import module_database

API = "/api/v1"
TOKEN = "permission-matrix-token"
PASSWORD = "Matrix@2026"

# Values the member `rep1` must never receive, in any form (money is matched by its digits).
OTHER_ACCOUNT = "CANARY-OTHER-ACCOUNT"
OTHER_SECRET = "CANARY-OTHER-SECRET"
OWN_SECRET = "CANARY-OWN-SECRET"
OTHER_DEAL = "CANARY-OTHER-DEAL"
OTHER_FILE = "CANARY-OTHER-FILE.txt"
HIDDEN_NUMBERS = ("31313", "42424", "53535", "77777", "88888")  # margins and credits
CANARIES = (OTHER_ACCOUNT, OTHER_SECRET, OWN_SECRET, OTHER_DEAL, OTHER_FILE, *HIDDEN_NUMBERS)


def _label(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def _options(*values: str) -> list[dict[str, Any]]:
    return [{"value": v, "label": _label(v, v)} for v in values]


MATRIX_APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "matrix",
    "name": _label("权限矩阵", "Permission matrix"),
    "version": "1.0.0",
    "forms": [
        {
            "key": "account",
            "name": _label("客户", "Account"),
            "title_field": "name",
            "fields": [
                {"key": "name", "type": "text", "label": _label("名称", "Name"), "required": True},
                {"key": "secret", "type": "text", "label": _label("机密", "Secret")},
                {
                    "key": "tier",
                    "type": "select",
                    "label": _label("等级", "Tier"),
                    "options": _options("A", "B"),
                },
                {"key": "credit", "type": "money", "label": _label("授信", "Credit")},
                {"key": "docs", "type": "attachment", "label": _label("附件", "Documents")},
                {
                    "key": "deals",
                    "type": "relation",
                    "target": "deal",
                    "many": True,
                    "label": _label("商机", "Deals"),
                },
                {
                    "key": "deal_count",
                    "type": "rollup",
                    "relation": "deals",
                    "field": "amount",
                    "aggregate": "count",
                    "label": _label("商机数", "Deal count"),
                },
                {
                    "key": "deal_sum",
                    "type": "rollup",
                    "relation": "deals",
                    "field": "amount",
                    "aggregate": "sum",
                    "label": _label("商机金额", "Deal amount"),
                },
                {
                    "key": "margin_sum",
                    "type": "rollup",
                    "relation": "deals",
                    "field": "margin",
                    "aggregate": "sum",
                    "label": _label("毛利合计", "Margin total"),
                },
            ],
        },
        {
            "key": "deal",
            "name": _label("商机", "Deal"),
            "title_field": "title",
            "fields": [
                {
                    "key": "title",
                    "type": "text",
                    "label": _label("标题", "Title"),
                    "required": True,
                },
                {"key": "code", "type": "text", "label": _label("编号", "Code"), "unique": True},
                {
                    "key": "account",
                    "type": "relation",
                    "target": "account",
                    "label": _label("客户", "Account"),
                },
                {"key": "amount", "type": "money", "label": _label("金额", "Amount")},
                {"key": "margin", "type": "money", "label": _label("毛利", "Margin")},
                {
                    "key": "account_tier",
                    "type": "lookup",
                    "relation": "account",
                    "field": "tier",
                    "label": _label("客户等级", "Account tier"),
                },
                {
                    "key": "account_secret",
                    "type": "lookup",
                    "relation": "account",
                    "field": "secret",
                    "label": _label("客户机密", "Account secret"),
                },
                {
                    "key": "score",
                    "type": "formula",
                    "expr": "margin * 2",
                    "label": _label("得分", "Score"),
                },
                {
                    "key": "headroom",
                    "type": "formula",
                    "expr": "account.credit - amount",
                    "label": _label("余量", "Headroom"),
                },
                {
                    "key": "tier_copy",
                    "type": "select",
                    "options": _options("A", "B"),
                    "label": _label("等级副本", "Tier copy"),
                    "default": {
                        "linkage": {
                            "form": "account",
                            "when": [{"field": "_id", "equals": "account"}],
                            "take": "tier",
                        }
                    },
                },
                {
                    "key": "secret_copy",
                    "type": "text",
                    "label": _label("机密副本", "Secret copy"),
                    "default": {
                        "linkage": {
                            "form": "account",
                            "when": [{"field": "_id", "equals": "account"}],
                            "take": "secret",
                        }
                    },
                },
                {
                    "key": "note",
                    "type": "text",
                    "label": _label("备注", "Note"),
                    "readonly_when": "amount > 150",
                },
                {
                    "key": "reason",
                    "type": "text",
                    "label": _label("原因", "Reason"),
                    "required": True,
                    "visible_when": 'account_tier = "B"',
                },
            ],
            "validations": [
                {"expr": "amount <= 1000000", "message": _label("金额过大", "Amount too large")},
                {
                    "expr": "ISBLANK(account.credit) OR ISBLANK(amount) OR amount <= account.credit",
                    "message": _label("超出客户授信", "Over the account's credit"),
                },
            ],
        },
    ],
    "roles": [
        {
            "key": "rep",
            "name": _label("销售", "Rep"),
            "forms": {
                "account": {
                    "actions": ["view", "create", "edit"],
                    "scope": "own",
                    "fields": {"secret": "hidden", "credit": "hidden"},
                },
                "deal": {
                    "actions": ["view", "create", "edit", "export", "links"],
                    "scope": "own",
                    "fields": {"margin": "hidden"},
                },
            },
        }
    ],
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The matrix app with its data, `rep1`'s client and the admin's, per database."""
    tmp = tmp_path_factory.mktemp("matrix")
    with module_database(request, tmp, "matrix") as connect:
        engine = connect()
        prepare_database(engine)
        with engine.begin() as conn:
            ensure_admin(conn, "admin-password-1")
        app = create_app(Settings(data_dir=tmp, admin_token=SecretStr(TOKEN)))
        app.state.engine = engine
        admin = TestClient(app, raise_server_exceptions=False)
        admin.headers["Authorization"] = f"Bearer {TOKEN}"
        try:
            yield _build(app, admin)
        finally:
            engine.dispose()


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _build(app: Any, admin: TestClient) -> dict[str, Any]:
    _ok(admin.post(f"{API}/apps", json=MATRIX_APP), 201)
    role = next(
        r for r in _ok(admin.get(f"{API}/roles", params={"app": "matrix"})) if r["key"] == "rep"
    )
    users: dict[str, int] = {}
    clients: dict[str, TestClient] = {"admin": admin}
    for name in ("rep1", "rep2"):
        user = _ok(
            admin.post(
                f"{API}/users", json={"username": name, "display_name": name, "password": PASSWORD}
            ),
            201,
        )
        users[name] = user["id"]
        _ok(admin.post(f"{API}/roles/{role['id']}/members", json={"user_id": user["id"]}), 201)
        client = TestClient(app, raise_server_exceptions=False)
        login = _ok(client.post(f"{API}/auth/login", json={"username": name, "password": PASSWORD}))
        client.headers["Authorization"] = f"Bearer {login['token']}"
        clients[name] = client

    upload = admin.post(
        f"{API}/files", files={"file": (OTHER_FILE, b"secret file body", "text/plain")}
    )
    file_id = _ok(upload, 201 if upload.status_code == 201 else 200)["file_id"]

    def create(form: str, values: dict[str, Any], owner: str) -> dict[str, Any]:
        record = _ok(admin.post(f"{API}/apps/matrix/forms/{form}/records", json=values), 201)
        _ok(
            admin.post(
                f"{API}/apps/matrix/forms/{form}/records/transfer",
                json={"ids": [record["_id"]], "owner": users[owner]},
            )
        )
        return record

    own_account = create(
        "account",
        {"name": "Own account", "secret": OWN_SECRET, "tier": "A", "credit": "77777.00"},
        "rep1",
    )
    other_account = create(
        "account",
        {
            "name": OTHER_ACCOUNT,
            "secret": OTHER_SECRET,
            "tier": "A",
            "credit": "88888.00",
            "docs": [{"file_id": file_id}],
        },
        "rep2",
    )
    deal_values = {"tier_copy": None, "secret_copy": None, "reason": "r"}
    own_deal = create(
        "deal",
        {
            **deal_values,
            "title": "Own deal",
            "code": "D-1",
            "account": own_account["_id"],
            "amount": "100",
            "margin": "31313",
        },
        "rep1",
    )
    crossing = create(
        "deal",
        {
            **deal_values,
            "title": "Own deal of another's account",
            "code": "D-2",
            "account": other_account["_id"],
            "amount": "120",
            "margin": "42424",
        },
        "rep1",
    )
    other_deal = create(
        "deal",
        {
            **deal_values,
            "title": OTHER_DEAL,
            "code": "DUP-CODE-1",
            "account": other_account["_id"],
            "amount": "300",
            "margin": "53535",
        },
        "rep2",
    )
    account_url = f"{API}/apps/matrix/forms/account/records/{own_account['_id']}"
    version = _ok(admin.get(account_url))["_version"]
    _ok(
        admin.patch(
            account_url, json={"_version": version, "deals": [own_deal["_id"], other_deal["_id"]]}
        )
    )
    return {
        "admin": admin,
        "rep": clients["rep1"],
        "app": app,
        "users": users,
        "file_id": file_id,
        "own_account": own_account["_id"],
        "other_account": other_account["_id"],
        "own_deal": own_deal["_id"],
        "crossing": crossing["_id"],
        "other_deal": other_deal["_id"],
    }


def records(form: str, suffix: str = "") -> str:
    return f"{API}/apps/matrix/forms/{form}/records{suffix}"


def assert_clean(body: str | bytes, *, allow: tuple[str, ...] = ()) -> None:
    """No canary in an answer (money may show as 31313.00 or 31,313.00)."""
    found = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    flat = found.replace(",", "")
    leaked = [c for c in CANARIES if c not in allow and c in flat]
    assert not leaked, f"leaked {leaked} in {found[:2000]}"


# --- reads ----------------------------------------------------------------------------------


def test_lists_and_gets_show_nothing_outside_the_rights(matrix: dict[str, Any]) -> None:
    rep = matrix["rep"]
    deals = rep.get(records("deal"), params={"limit": 100})
    assert_clean(deals.text)
    items = {item["_id"]: item for item in _ok(deals)["items"]}
    assert set(items) == {matrix["own_deal"], matrix["crossing"]}
    crossing = items[matrix["crossing"]]
    assert crossing["account"] == {
        "_id": matrix["other_account"],
        "title": None,
        "restricted": True,
    }
    assert crossing["account_tier"] is None  # the target's lookups are blank
    for derived in ("margin", "score", "headroom", "account_secret"):
        assert derived not in crossing
    assert items[matrix["own_deal"]]["account"]["title"] == "Own account"
    assert items[matrix["own_deal"]]["account_tier"] == "A"

    got = rep.get(records("deal", f"/{matrix['crossing']}"))
    assert_clean(got.text)
    assert _ok(got)["account"]["restricted"] is True
    assert rep.get(records("deal", f"/{matrix['other_deal']}")).status_code == 404
    assert rep.get(records("account", f"/{matrix['other_account']}")).status_code == 404


def test_to_many_relations_and_rollups_count_only_what_the_member_may_see(
    matrix: dict[str, Any],
) -> None:
    rep = matrix["rep"]
    account = rep.get(records("account", f"/{matrix['own_account']}"))
    assert_clean(account.text)
    body = _ok(account)
    titles = {entry["_id"]: entry for entry in body["deals"]}
    assert titles[matrix["own_deal"]]["title"] == "Own deal"
    assert titles[matrix["other_deal"]] == {
        "_id": matrix["other_deal"],
        "title": None,
        "restricted": True,
    }
    assert body["deal_count"] == "1"  # a rollup is a number: a decimal string
    assert body["deal_sum"] == "100.00"
    for hidden in ("secret", "credit", "margin_sum"):
        assert hidden not in body


def test_permissions_me_lists_derived_fields_as_hidden(matrix: dict[str, Any]) -> None:
    me = _ok(matrix["rep"].get(f"{API}/apps/matrix/forms/deal/permissions/me"))
    for key in ("margin", "score", "headroom", "account_secret"):
        assert me["fields"][key] == "hidden", key
    assert me["fields"]["account_tier"] != "hidden"
    account = _ok(matrix["rep"].get(f"{API}/apps/matrix/forms/account/permissions/me"))
    assert account["fields"]["margin_sum"] == "hidden"


@pytest.mark.parametrize(
    "condition",
    [
        'account.secret = "x"',
        'LEFT(account.secret, 1) = "C"',
        "account.credit > 10",
        "margin > 0",
        "score > 0",
        "headroom > 0",
        'account_secret = "x"',
        "SUM(account.credit) > 0",
    ],
)
def test_filters_on_hidden_values_anywhere_are_refused(
    matrix: dict[str, Any], condition: str
) -> None:
    answer = matrix["rep"].get(records("deal"), params={"filter": condition, "limit": 0})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["issues"][0]["code"] == "hidden_field"
    assert_clean(answer.text)


@pytest.mark.parametrize("sort", ["margin", "-score", "headroom", "account_secret"])
def test_sorting_by_hidden_or_derived_fields_is_refused(matrix: dict[str, Any], sort: str) -> None:
    answer = matrix["rep"].get(records("deal"), params={"sort": sort})
    assert answer.status_code == 422, answer.text


def test_filters_through_a_relation_are_no_oracle_on_records_out_of_scope(
    matrix: dict[str, Any],
) -> None:
    rep, admin = matrix["rep"], matrix["admin"]

    def count(condition: str) -> int:
        total: int = _ok(rep.get(records("deal"), params={"filter": condition, "limit": 0}))[
            "total"
        ]
        return total

    other = records("account", f"/{matrix['other_account']}")
    assert (
        count('account.tier = "A"') == 1
    )  # only the own account's deal: the other account reads blank
    assert count(f'account.name = "{OTHER_ACCOUNT}"') == 0
    assert count("ISBLANK(account.name)") == 1  # the deal whose account is out of scope
    version = _ok(admin.get(other))["_version"]
    _ok(admin.patch(other, json={"_version": version, "tier": "B"}))
    try:
        assert count('account.tier = "A"') == 1
        assert count('account.tier = "B"') == 0
        assert count('account_tier = "B"') == 0
    finally:
        version = _ok(admin.get(other))["_version"]
        _ok(admin.patch(other, json={"_version": version, "tier": "A"}))


def test_search_and_related_records_stay_in_scope(matrix: dict[str, Any]) -> None:
    rep = matrix["rep"]
    searched = rep.get(records("deal"), params={"q": "CANARY"})
    assert _ok(searched)["items"] == []
    related = rep.get(records("deal"), params={"related": f"account:{matrix['other_account']}"})
    assert related.status_code in (200, 404, 422), related.text
    assert_clean(related.text)
    if related.status_code == 200:
        assert {item["_id"] for item in related.json()["items"]} <= {matrix["crossing"]}


def test_exports_write_no_access_for_records_out_of_scope(matrix: dict[str, Any]) -> None:
    rep = matrix["rep"]
    exported = rep.get(records("deal", "/export"), params={"format": "csv"})
    assert exported.status_code == 200, exported.text
    assert_clean(exported.content)
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    crossing = next(row for row in rows[1:] if row[0] == str(matrix["crossing"]))
    assert "无权限" in crossing
    header = rows[0]
    for hidden in ("毛利", "得分", "余量", "客户机密"):
        assert hidden not in header
    english = rep.get(
        records("deal", "/export"), params={"format": "csv"}, headers={"Accept-Language": "en"}
    )
    assert "No access" in english.content.decode("utf-8-sig")


def test_history_shows_no_hidden_values(matrix: dict[str, Any]) -> None:
    rep = matrix["rep"]
    for record in (matrix["own_deal"], matrix["crossing"]):
        answer = rep.get(records("deal", f"/{record}/history"))
        assert answer.status_code == 200, answer.text
        assert_clean(answer.text)


def test_files_of_records_out_of_scope_are_not_found(matrix: dict[str, Any]) -> None:
    rep, file_id = matrix["rep"], matrix["file_id"]
    assert rep.get(f"{API}/files/{file_id}").status_code == 404
    through = rep.get(records("account", f"/{matrix['other_account']}/files/{file_id}"))
    assert through.status_code == 404
    assert_clean(through.text)


def test_data_linkage_copies_nothing_the_member_may_not_read(matrix: dict[str, Any]) -> None:
    rep = matrix["rep"]
    linkage = f"{API}/apps/matrix/forms/deal/linkage"
    own = rep.post(linkage, json={"values": {"account": matrix["own_account"]}})
    assert own.status_code == 200, own.text
    assert_clean(own.text)
    assert own.json()["values"].get("tier_copy") == "A"
    other = rep.post(linkage, json={"values": {"account": matrix["other_account"]}})
    assert other.status_code in (200, 422), other.text
    assert_clean(other.text)
    if other.status_code == 200:
        assert other.json()["values"].get("tier_copy") is None


def test_formula_check_needs_a_signed_in_caller(matrix: dict[str, Any]) -> None:
    anonymous = TestClient(matrix["app"], raise_server_exceptions=False)
    answer = anonymous.post(f"{API}/expr/check", json={"expr": "1 + 1", "schema": {}})
    assert answer.status_code == 401, answer.text
    signed_in = matrix["rep"].post(f"{API}/expr/check", json={"expr": "1 + 1", "schema": {}})
    assert signed_in.status_code == 200, signed_in.text


def test_public_links_show_no_more_than_their_creator_may_see(matrix: dict[str, Any]) -> None:
    rep = matrix["rep"]
    links = f"{API}/apps/matrix/forms/deal/links"
    refused = rep.post(
        links,
        json={"kind": "query", "key_fields": ["code"], "fields": ["title", "margin", "score"]},
    )
    assert refused.status_code == 422, refused.text
    assert_clean(refused.text)
    created = rep.post(
        links,
        json={
            "kind": "query",
            "key_fields": ["code"],
            "fields": ["title", "account", "account_tier"],
        },
    )
    assert created.status_code == 201, created.text
    anonymous = TestClient(matrix["app"], raise_server_exceptions=False)
    public = f"{API}/public/{created.json()['token']}"
    crossing = anonymous.post(public, json={"code": "D-2"})
    assert crossing.status_code == 200, crossing.text
    assert_clean(crossing.text)
    [item] = crossing.json()["items"]
    assert item["account"] == {"_id": matrix["other_account"], "title": None, "restricted": True}
    assert item["account_tier"] is None
    others = anonymous.post(public, json={"code": "DUP-CODE-1"})  # another rep's deal
    assert others.status_code == 200, others.text
    assert others.json()["items"] == []
    assert_clean(anonymous.get(public).text)


# --- writes ---------------------------------------------------------------------------------


def test_a_relation_to_a_record_out_of_scope_is_the_same_422_as_a_missing_one(
    matrix: dict[str, Any],
) -> None:
    rep = matrix["rep"]
    before = _ok(rep.get(records("deal"), params={"limit": 0}))["total"]
    out_of_scope = rep.post(
        records("deal"), json={"title": "probe", "account": matrix["other_account"], "reason": "r"}
    )
    missing = rep.post(
        records("deal"), json={"title": "probe", "account": 987654321, "reason": "r"}
    )
    assert out_of_scope.status_code == missing.status_code == 422, out_of_scope.text
    assert_clean(out_of_scope.text)
    [issue] = out_of_scope.json()["error"]["issues"]
    [expected] = missing.json()["error"]["issues"]
    assert (
        (issue["path"], issue["code"])
        == (expected["path"], expected["code"])
        == ("account", "record_not_found")
    )
    assert issue["message"] == expected["message"].replace(
        "987654321", str(matrix["other_account"])
    )

    batch = rep.post(
        records("deal", "/batch"),
        params={"partial": "true"},
        json=[
            {"title": f"probe {n}", "account": matrix["other_account"], "reason": "r"}
            for n in range(3)
        ],
    )
    assert batch.status_code in (200, 207, 422), batch.text
    assert_clean(batch.text)
    assert _ok(rep.get(records("deal"), params={"limit": 0}))["total"] == before


def test_patching_a_relation_out_of_scope_is_refused_but_an_unchanged_value_is_kept(
    matrix: dict[str, Any],
) -> None:
    rep = matrix["rep"]
    own = _ok(rep.get(records("deal", f"/{matrix['own_deal']}")))
    moved = rep.patch(
        records("deal", f"/{matrix['own_deal']}"),
        json={"_version": own["_version"], "account": matrix["other_account"]},
    )
    assert moved.status_code == 422, moved.text
    assert_clean(moved.text)

    crossing = _ok(rep.get(records("deal", f"/{matrix['crossing']}")))
    echoed = rep.patch(
        records("deal", f"/{matrix['crossing']}"),
        json={
            "_version": crossing["_version"],
            "account": crossing["account"]["_id"],
            "title": "Own deal of another's account",
        },
    )
    assert echoed.status_code == 200, echoed.text
    assert_clean(echoed.text)
    assert echoed.json()["account"]["restricted"] is True


def test_write_answers_reveal_no_value_outside_the_rights(matrix: dict[str, Any]) -> None:
    rep = matrix["rep"]
    duplicate = rep.post(
        records("deal"),
        json={
            "title": "dup",
            "code": "DUP-CODE-1",
            "account": matrix["own_account"],
            "reason": "r",
        },
    )
    assert duplicate.status_code == 422, duplicate.text
    assert_clean(duplicate.text)
    assert str(matrix["other_deal"]) not in duplicate.json()["error"]["message"]
    assert [i["path"] for i in duplicate.json()["error"]["issues"]] == ["code"]

    invalid = rep.post(
        records("deal"),
        json={"title": "big", "account": matrix["own_account"], "amount": "2000000", "reason": "r"},
    )
    assert invalid.status_code == 422, invalid.text
    assert_clean(invalid.text)

    crossing = _ok(rep.get(records("deal", f"/{matrix['crossing']}")))
    locked = rep.patch(
        records("deal", f"/{matrix['crossing']}"),
        json={"_version": crossing["_version"], "amount": "200", "note": "x"},
    )
    assert_clean(locked.text)
    required = rep.post(
        records("deal"), json={"title": "needs reason", "account": matrix["own_account"]}
    )
    assert_clean(required.text)


def test_business_rules_hold_over_values_the_member_may_not_see(matrix: dict[str, Any]) -> None:
    """A validation reads the record as stored (the account's credit is hidden from the member):
    the rule is enforced, and only its fixed message reaches the member."""
    rep = matrix["rep"]
    within = rep.post(
        records("deal"),
        json={
            "title": "within credit",
            "account": matrix["own_account"],
            "amount": "500",
            "reason": "r",
        },
    )
    assert within.status_code == 201, within.text
    assert_clean(within.text)
    over = rep.post(
        records("deal"),
        json={
            "title": "over credit",
            "account": matrix["own_account"],
            "amount": "80000",
            "reason": "r",
        },
    )
    assert over.status_code == 422, over.text
    assert_clean(over.text)
    assert [(i["code"], i["message"]) for i in over.json()["error"]["issues"]] == [
        ("validation", "超出客户授信")
    ]
