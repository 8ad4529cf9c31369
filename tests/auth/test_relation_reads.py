"""Nothing outside the caller's rights is readable through relations (issue 10, finding 1, read
side), on SQLite and PostgreSQL with the stock CRM and its sample data.

Each attack of the finding is replayed: a filter through a relation as a yes/no oracle on
another rep's customer, the `finance` role reading customer phones it may not see through
`LEFT(customer.phone, 2)`, lookups and formulas showing hidden values, titles, to-many
relations, rollups, exports, sorts and `related=` reaching records outside the caller's scope.
A property test then generates filters over relation paths and requires that a record pointing
at an out-of-scope customer matches exactly as one pointing at another out-of-scope customer
with different values does, and that records pointing at in-scope customers match as they do
for an administrator.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.auth.permissions import form_access
from engine.auth.principal import Principal
from engine.forms import apps
from engine.forms.cache import lru_on_layout
from engine.forms.query import Reader
from tests.auth.crm_org import API, USERS, installed_crm
from tests.contexts import context

PARTNERS = [
    {
        "key": "partners",
        "type": "relation",
        "label": {"zh": "合作客户", "en": "Partners"},
        "target": "customer",
        "many": True,
    },
    {
        "key": "partners_total",
        "type": "rollup",
        "label": {"zh": "合作客户采购额", "en": "Partners' purchases"},
        "relation": "partners",
        "field": "annual_purchase",
        "aggregate": "sum",
    },
    {
        "key": "partner_levels",
        "type": "lookup",
        "label": {"zh": "合作客户等级", "en": "Partner levels"},
        "relation": "partners",
        "field": "level",
    },
]
# Computed fields of follow-ups reading through the opportunity: a lookup of a lookup, a formula.
FOLLOWUP_EXTRA = [
    {
        "key": "deal_level",
        "type": "lookup",
        "label": {"zh": "商机客户等级", "en": "Deal level"},
        "relation": "opportunity",
        "field": "customer_level",
    },
    {
        "key": "deal_note",
        "type": "formula",
        "label": {"zh": "商机备注", "en": "Deal note"},
        "expr": 'opportunity.title & "!"',
    },
]
# A sales rep who may not see customer levels, opportunity amounts nor opportunity titles.
BLIND: dict[str, Any] = {
    "key": "blind_rep",
    "name": {"zh": "受限销售", "en": "Restricted rep"},
    "forms": {
        "customer": {"actions": ["view"], "scope": "own", "fields": {"level": "hidden"}},
        "contact": {"actions": ["view", "export"], "scope": "own"},
        "opportunity": {
            "actions": ["view"],
            "scope": "own",
            "fields": {"amount": "hidden", "title": "hidden"},
        },
        "followup": {"actions": ["view"], "scope": "own"},
    },
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The CRM with sample data, a to-many relation `opportunity.partners` (with a rollup and
    a lookup over it), the `blind_rep` role held by a new user `blind`, and probe records."""
    for found in installed_crm(request, tmp_path_factory):
        admin = found["clients"]["admin"]
        definition = admin.get(f"{API}/apps/crm").json()
        opportunity = next(f for f in definition["forms"] if f["key"] == "opportunity")
        opportunity["fields"].extend(PARTNERS)
        next(f for f in definition["forms"] if f["key"] == "followup")["fields"].extend(
            FOLLOWUP_EXTRA
        )
        definition["roles"].append(BLIND)
        published = admin.put(f"{API}/apps/crm", json=definition)
        assert published.status_code == 200, published.text
        found["ids"]["blind"] = _add_user(admin, found, "blind", "blind_rep")
        found["probe"] = _probes(found)
        yield found


def _add_user(admin: TestClient, crm: dict[str, Any], username: str, role_key: str) -> int:
    team = next(d for d in admin.get(f"{API}/departments").json() if d["name"] == "销售一组")
    user = admin.post(
        f"{API}/users",
        json={
            "username": username,
            "display_name": username,
            "department_id": team["id"],
            "password": USERS["password"],
        },
    )
    assert user.status_code == 201, user.text
    role = next(
        r for r in admin.get(f"{API}/roles", params={"app": "crm"}).json() if r["key"] == role_key
    )
    assert (
        admin.post(
            f"{API}/roles/{role['id']}/members", json={"user_id": user.json()["id"]}
        ).status_code
        == 201
    )
    client = TestClient(crm["app"], raise_server_exceptions=False)
    login = client.post(
        f"{API}/auth/login", json={"username": username, "password": USERS["password"]}
    )
    assert login.status_code == 200, login.text
    client.headers["Authorization"] = f"Bearer {login.json()['token']}"
    crm["clients"][username] = client
    user_id: int = user.json()["id"]
    return user_id


def url(form: str, suffix: str = "") -> str:
    return f"{API}/apps/crm/forms/{form}/records{suffix}"


def create(crm: dict[str, Any], form: str, data: dict[str, Any], owner: str) -> dict[str, Any]:
    """A record written by the administrator (system writes may point anywhere), then handed
    to `owner`."""
    admin = crm["clients"]["admin"]
    created = admin.post(url(form), json=data)
    assert created.status_code == 201, created.text
    record_id = created.json()["_id"]
    assert (
        admin.post(
            url(form, "/transfer"), json={"ids": [record_id], "owner": crm["ids"][owner]}
        ).status_code
        == 200
    )
    record: dict[str, Any] = admin.get(url(form, f"/{record_id}")).json()
    return record


def _probes(crm: dict[str, Any]) -> dict[str, Any]:
    """Customers of rep_b1 (out of rep_a1's scope) and of rep_a1, and contacts of rep_a1
    pointing at each; the same for `blind`; an opportunity of rep_a1 with both as partners."""
    theirs = create(
        crm,
        "customer",
        {
            "name": "乙方秘密客户",
            "level": "A",
            "phone": "13912345678",
            "annual_purchase": "250000",
            "industry": "internet",
        },
        "rep_b1",
    )
    twin = create(
        crm,
        "customer",
        {
            "name": "另一家客户",
            "level": "C",
            "phone": "18800001111",
            "annual_purchase": "10",
            "note": "x",
        },
        "rep_b1",
    )
    mine = create(
        crm,
        "customer",
        {"name": "甲方自己的客户", "level": "B", "phone": "13700000000", "annual_purchase": "5000"},
        "rep_a1",
    )
    blinds = create(
        crm, "customer", {"name": "受限者的客户", "level": "A", "annual_purchase": "70000"}, "blind"
    )
    probe = create(crm, "contact", {"name": "probe", "customer": theirs["_id"]}, "rep_a1")
    probe_twin = create(crm, "contact", {"name": "probe-twin", "customer": twin["_id"]}, "rep_a1")
    own = create(crm, "contact", {"name": "probe-own", "customer": mine["_id"]}, "rep_a1")
    blind_contact = create(
        crm, "contact", {"name": "blind-contact", "customer": blinds["_id"]}, "blind"
    )
    deal = create(
        crm,
        "opportunity",
        {
            "title": "合作商机",
            "customer": mine["_id"],
            "partners": [mine["_id"], theirs["_id"]],
            "amount": "80000",
            "win_rate": "0.5",
            "stage": "initial",
        },
        "rep_a1",
    )
    blind_deal = create(
        crm,
        "opportunity",
        {
            "title": "受限商机",
            "customer": blinds["_id"],
            "amount": "90000",
            "win_rate": "0.4",
            "stage": "initial",
        },
        "blind",
    )
    blind_followup = create(
        crm,
        "followup",
        {
            "customer": blinds["_id"],
            "opportunity": blind_deal["_id"],
            "method": "visit",
            "content": "拜访",
        },
        "blind",
    )
    return {
        "blind_followup": blind_followup,
        "theirs": theirs,
        "twin": twin,
        "mine": mine,
        "blinds": blinds,
        "contact": probe,
        "contact_twin": probe_twin,
        "contact_own": own,
        "blind_contact": blind_contact,
        "deal": deal,
        "blind_deal": blind_deal,
    }


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.text
    return {item["_id"] for item in response.json()["items"]}


def total(client: TestClient, form: str, filter: str) -> int:
    found = client.get(url(form), params={"filter": filter, "limit": 0})
    assert found.status_code == 200, found.text
    count: int = found.json()["total"]
    return count


# --- the attacks of the finding -------------------------------------------------------------


def test_a_filter_through_a_relation_is_no_oracle_on_an_out_of_scope_target(
    crm: dict[str, Any],
) -> None:
    rep = crm["clients"]["rep_a1"]
    admin = crm["clients"]["admin"]
    assert rep.get(url("customer", f"/{crm['probe']['theirs']['_id']}")).status_code == 404
    # The customer's purchases are 250000: as the administrator the two filters differ…
    low, high = (
        'customer.annual_purchase > 20000 AND name = "probe"',
        'customer.annual_purchase > 300000 AND name = "probe"',
    )
    assert (total(admin, "contact", low), total(admin, "contact", high)) == (1, 0)
    # …as rep_a1 they answer the same, as they do for a customer that does not match at all.
    assert total(rep, "contact", low) == total(rep, "contact", high) == 0
    assert total(rep, "contact", 'LEFT(customer.phone, 2) = "13" AND name = "probe"') == 0
    # The customer reads as blank, like no customer; the lookup through it is blank too.
    assert total(rep, "contact", 'ISBLANK(customer.phone) AND name = "probe"') == 1
    assert total(rep, "contact", 'customer_level = "A" AND name = "probe"') == 0
    # The same filters do work on the rep's own customer.
    assert total(rep, "contact", 'customer.annual_purchase > 1000 AND name = "probe-own"') == 1
    assert total(rep, "contact", 'LEFT(customer.phone, 3) = "137" AND name = "probe-own"') == 1


def test_out_of_scope_relation_reads_as_restricted_with_blank_lookups(crm: dict[str, Any]) -> None:
    rep = crm["clients"]["rep_a1"]
    probe = crm["probe"]
    got = rep.get(url("contact", f"/{probe['contact']['_id']}"))
    assert got.status_code == 200, got.text
    record = got.json()
    assert record["customer"] == {"_id": probe["theirs"]["_id"], "title": None, "restricted": True}
    assert record["customer_level"] is None
    listed = rep.get(url("contact"), params={"filter": 'name = "probe"'}).json()["items"]
    assert [item["customer"] for item in listed] == [record["customer"]]
    own = rep.get(url("contact", f"/{probe['contact_own']['_id']}")).json()
    assert own["customer"] == {"_id": probe["mine"]["_id"], "title": "甲方自己的客户"}
    assert own["customer_level"] == "B"
    # Administrators see everything as before.
    full = crm["clients"]["admin"].get(url("contact", f"/{probe['contact']['_id']}")).json()
    assert full["customer"] == {"_id": probe["theirs"]["_id"], "title": "乙方秘密客户"}
    assert full["customer_level"] == "A"


def test_finance_cannot_read_a_hidden_phone_through_a_relation(crm: dict[str, Any]) -> None:
    finance = crm["clients"]["finance"]
    own = finance.get(url("customer"), params={"filter": 'phone = "x"'})
    assert own.status_code == 422 and own.json()["error"]["issues"][0]["code"] == "hidden_field"
    for probe in (
        'LEFT(customer.phone, 2) = "13"',
        "ISBLANK(customer.phone)",
        'customer.phone <> ""',
    ):
        found = finance.get(url("contract"), params={"filter": probe, "limit": 0})
        assert found.status_code == 422, (probe, found.text)
        issue = found.json()["error"]["issues"][0]
        assert (issue["path"], issue["code"]) == ("filter", "hidden_field")
        assert "customer.phone" in issue["message"]
    # Visible fields of the same customer still filter.
    assert (
        finance.get(
            url("contract"), params={"filter": 'LEFT(customer.name, 1) <> "~"', "limit": 0}
        ).status_code
        == 200
    )
    # A form finance may not view at all: every field of it is hidden through the relation, and
    # its records' titles read as restricted.
    refused = finance.get(url("contract"), params={"filter": "opportunity.amount > 0"})
    assert (
        refused.status_code == 422
        and refused.json()["error"]["issues"][0]["code"] == "hidden_field"
    )
    listed = finance.get(url("contract"), params={"limit": 100})
    assert listed.status_code == 200, listed.text
    contracts = [c for c in listed.json()["items"] if c["opportunity"] is not None]
    assert contracts and all(
        c["opportunity"]["restricted"] and c["opportunity"]["title"] is None for c in contracts
    )


def test_a_lookup_of_a_hidden_field_is_hidden(crm: dict[str, Any]) -> None:
    blind = crm["clients"]["blind"]
    me = blind.get(f"{API}/apps/crm/forms/contact/permissions/me").json()
    assert me["fields"]["customer_level"] == "hidden"
    assert me["fields"]["customer"] != "hidden"
    record = blind.get(url("contact", f"/{crm['probe']['blind_contact']['_id']}")).json()
    assert record["customer"]["title"] == "受限者的客户"  # the customer is in scope…
    assert "customer_level" not in record  # …but its level is hidden, so is the lookup
    for bad in ('customer_level = "A"', 'customer.level = "A"'):
        refused = blind.get(url("contact"), params={"filter": bad})
        assert (
            refused.status_code == 422
            and refused.json()["error"]["issues"][0]["code"] == "hidden_field"
        ), bad
    assert blind.get(url("contact"), params={"sort": "customer_level"}).status_code == 422
    # rep_a1 (customer level visible) still has the lookup.
    assert (
        crm["clients"]["rep_a1"]
        .get(f"{API}/apps/crm/forms/contact/permissions/me")
        .json()["fields"]["customer_level"]
        != "hidden"
    )


def test_a_formula_over_a_hidden_field_is_hidden_and_neither_filters_nor_sorts(
    crm: dict[str, Any],
) -> None:
    blind = crm["clients"]["blind"]
    me = blind.get(f"{API}/apps/crm/forms/opportunity/permissions/me").json()
    assert me["fields"]["amount"] == me["fields"]["weighted_amount"] == "hidden"
    assert me["fields"]["customer_level"] == "hidden"  # a lookup of the customer's hidden level
    record = blind.get(url("opportunity", f"/{crm['probe']['blind_deal']['_id']}")).json()
    assert (
        "amount" not in record
        and "weighted_amount" not in record
        and "customer_level" not in record
    )
    assert record["win_rate"] is not None
    for params in (
        {"filter": "weighted_amount > 30000"},
        {"sort": "-weighted_amount"},
        {"sort": "weighted_amount"},
    ):
        refused = blind.get(url("opportunity"), params=params)
        assert refused.status_code == 422, (params, refused.text)
    # The rollup over partners reads customer annual purchases, which blind may see.
    assert me["fields"]["partners_total"] != "hidden"
    assert me["fields"]["partner_levels"] == "hidden"


def test_a_to_many_relation_its_rollup_and_lookup_count_only_visible_targets(
    crm: dict[str, Any],
) -> None:
    rep = crm["clients"]["rep_a1"]
    probe = crm["probe"]
    deal = rep.get(url("opportunity", f"/{probe['deal']['_id']}")).json()
    assert deal["partners"] == [
        {"_id": probe["mine"]["_id"], "title": "甲方自己的客户"},
        {"_id": probe["theirs"]["_id"], "title": None, "restricted": True},
    ]
    assert deal["partners_total"] == "5000.00"  # only the visible partner's purchases
    assert deal["partner_levels"] == ["B"]
    full = crm["clients"]["admin"].get(url("opportunity", f"/{probe['deal']['_id']}")).json()
    assert full["partners_total"] == "255000.00" and sorted(full["partner_levels"]) == ["A", "B"]
    # Filters over the rollup or the list do not tell the hidden partner either.
    title = 'title = "合作商机"'
    assert total(rep, "opportunity", f"partners_total > 100000 AND {title}") == 0
    assert total(rep, "opportunity", f"partners_total = 5000 AND {title}") == 1
    assert total(rep, "opportunity", f"COUNTA(partners.name) = 1 AND {title}") == 1
    assert (
        total(
            rep, "opportunity", f'TEXTJOIN(",", TRUE, partners.phone) = "13700000000" AND {title}'
        )
        == 1
    )


def test_sorting_by_a_lookup_puts_out_of_scope_targets_with_the_blanks(crm: dict[str, Any]) -> None:
    rep = crm["clients"]["rep_a1"]
    probe = crm["probe"]["contact"]["_id"]
    for sort in ("customer_level", "-customer_level"):
        items = rep.get(url("contact"), params={"sort": sort, "limit": 1000}).json()["items"]
        levels = [item["customer_level"] for item in items]
        blanks = [i for i, level in enumerate(levels) if level is None]
        # Blanks come last, in either direction.
        assert blanks == list(range(len(levels) - len(blanks), len(levels)))
        assert probe in {items[i]["_id"] for i in blanks}


def test_related_records_of_an_out_of_scope_record_are_empty(crm: dict[str, Any]) -> None:
    rep = crm["clients"]["rep_a1"]
    probe = crm["probe"]
    theirs = rep.get(url("contact"), params={"related": f"customer:{probe['theirs']['_id']}"})
    assert ids(theirs) == set()
    mine = rep.get(url("contact"), params={"related": f"customer:{probe['mine']['_id']}"})
    assert probe["contact_own"]["_id"] in ids(mine)
    # The administrator sees the contact pointing at rep_b1's customer.
    assert probe["contact"]["_id"] in ids(
        crm["clients"]["admin"].get(
            url("contact"), params={"related": f"customer:{probe['theirs']['_id']}"}
        )
    )


def test_an_export_shows_no_access_for_an_out_of_scope_relation(crm: dict[str, Any]) -> None:
    rep = crm["clients"]["rep_a1"]
    for lang, word, level in (
        ("zh-CN", "无权限", "B 类（重要）"),
        ("en", "No access", "Class B (important)"),
    ):
        exported = rep.get(
            url("contact", "/export"),
            params={
                "filter": 'LEFT(name, 5) = "probe"',
                "format": "csv",
                "fields": "name,customer,customer_level",
                "sort": "_id",
            },
            headers={"Accept-Language": lang},
        )
        assert exported.status_code == 200, exported.text
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        by_name = {row[1]: row for row in rows[1:]}
        assert by_name["probe"][2:] == [word, ""]
        assert by_name["probe-own"][2] == "甲方自己的客户"
        assert by_name["probe-own"][3] == level  # the level's option label
        assert "乙方秘密客户" not in exported.content.decode("utf-8-sig")


# --- property: filters over relation paths tell nothing about out-of-scope targets ---------

FIELDS = {
    "customer.name": "text",
    "customer.phone": "text",
    "customer.note": "text",
    "customer.level": "select",
    "customer.industry": "select",
    "customer.annual_purchase": "number",
    "customer_level": "select",
}
TEXTS = [
    "乙方秘密客户",
    "另一家客户",
    "甲方自己的客户",
    "13912345678",
    "18800001111",
    "x",
    "",
    "1",
    "甲",
]
LEVELS = ["A", "B", "C", "internet", "retail", ""]
NUMBERS = ["0", "10", "5000", "20000", "250000", "300000"]
OPS = ["=", "<>", ">", "<", ">=", "<="]


def _quote(text: str) -> str:
    return '"' + text + '"'


@st.composite
def atoms(draw: st.DrawFn) -> str:
    path = draw(st.sampled_from(sorted(FIELDS)))
    kind = FIELDS[path]
    op = draw(st.sampled_from(OPS))
    if kind == "number":
        return f"{path} {op} {draw(st.sampled_from(NUMBERS))}"
    if kind == "select":
        return (
            f"{path} {draw(st.sampled_from(['=', '<>']))} {_quote(draw(st.sampled_from(LEVELS)))}"
        )
    shape = draw(st.sampled_from(["compare", "left", "len", "blank", "search"]))
    if shape == "left":
        return f"LEFT({path}, {draw(st.integers(1, 4))}) = {_quote(draw(st.sampled_from(['13', '18', '乙', '甲方', '另'])))}"
    if shape == "len":
        return f"LEN({path}) {op} {draw(st.integers(0, 12))}"
    if shape == "blank":
        return f"ISBLANK({path})"
    if shape == "search":
        return f"NOT ISBLANK(SEARCH({_quote(draw(st.sampled_from(['秘密', '客户', '1234'])))}, {path}))"
    return f"{path} {op} {_quote(draw(st.sampled_from(TEXTS)))}"


filters = st.recursive(
    atoms(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda f: f"NOT ({f})"),
    ),
    max_leaves=4,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(condition=filters)
def test_filters_over_relations_tell_nothing_about_out_of_scope_targets(
    crm: dict[str, Any], condition: str
) -> None:
    rep, admin = crm["clients"]["rep_a1"], crm["clients"]["admin"]
    probe = crm["probe"]
    names = 'LEFT(name, 5) = "probe"'
    params = {"filter": f"({condition}) AND {names}", "limit": 1000}
    mine = rep.get(url("contact"), params=params)
    assert mine.status_code == 200, (condition, mine.text)
    found = ids(mine)
    # Two contacts pointing at two different out-of-scope customers answer alike…
    assert (probe["contact"]["_id"] in found) == (probe["contact_twin"]["_id"] in found), condition
    # …and a contact pointing at an in-scope customer answers as it does for an administrator.
    full = ids(admin.get(url("contact"), params=params))
    assert (probe["contact_own"]["_id"] in found) == (probe["contact_own"]["_id"] in full), (
        condition
    )


def test_history_reads_relations_with_the_callers_rights_now(crm: dict[str, Any]) -> None:
    admin, rep = crm["clients"]["admin"], crm["clients"]["rep_a1"]
    probe = crm["probe"]
    contact = create(
        crm, "contact", {"name": "probe-history", "customer": probe["theirs"]["_id"]}, "rep_a1"
    )
    changed = admin.patch(
        url("contact", f"/{contact['_id']}"),
        json={"customer": probe["mine"]["_id"], "_version": contact["_version"]},
    )
    assert changed.status_code == 200, changed.text
    full = admin.get(url("contact", f"/{contact['_id']}/history")).json()
    # The administrator sees all.
    assert "乙方秘密客户" in str(full) and "customer_level" in full[-1]["changes"]
    entries = rep.get(url("contact", f"/{contact['_id']}/history"))
    assert entries.status_code == 200, entries.text
    assert "乙方秘密客户" not in entries.text and "13912345678" not in entries.text
    update = entries.json()[-1]["changes"]
    assert update["customer"] == [
        {"_id": probe["theirs"]["_id"], "title": None, "restricted": True},
        {"_id": probe["mine"]["_id"], "title": "甲方自己的客户"},
    ]
    assert "customer_level" not in update  # read with someone else's rights at the time


def test_a_hidden_title_reads_as_restricted_and_chains_of_computed_fields_are_hidden(
    crm: dict[str, Any],
) -> None:
    blind = crm["clients"]["blind"]
    probe = crm["probe"]
    record = blind.get(url("followup", f"/{probe['blind_followup']['_id']}")).json()
    # The opportunity is blind's own, but its title field is hidden from them.
    assert record["opportunity"] == {
        "_id": probe["blind_deal"]["_id"],
        "title": None,
        "restricted": True,
    }
    assert record["customer"] == {"_id": probe["blinds"]["_id"], "title": "受限者的客户"}
    # A lookup of a lookup of a hidden field, and a formula over a hidden title, are hidden.
    assert "deal_level" not in record and "deal_note" not in record
    me = blind.get(f"{API}/apps/crm/forms/followup/permissions/me").json()
    assert me["fields"]["deal_level"] == me["fields"]["deal_note"] == "hidden"
    for bad in (
        'deal_note = "受限商机!"',
        'opportunity.title = "受限商机"',
        'opportunity.customer_level = "A"',
    ):
        refused = blind.get(url("followup"), params={"filter": bad})
        assert (
            refused.status_code == 422
            and refused.json()["error"]["issues"][0]["code"] == "hidden_field"
        ), bad
    # The administrator reads them all.
    full = crm["clients"]["admin"].get(url("followup", f"/{probe['blind_followup']['_id']}")).json()
    assert (full["deal_level"], full["deal_note"]) == ("A", "受限商机!")


def test_statements_kept_for_one_caller_are_not_reused_for_another(crm: dict[str, Any]) -> None:
    """Page shapes, filters and sorts hold the target's scope, so they are kept per caller on
    the (shared) layout: what rep_a1's reads kept cannot show rep_a2 rep_a1's customer."""
    probe = crm["probe"]
    create(crm, "contact", {"name": "probe-a2", "customer": probe["mine"]["_id"]}, "rep_a2")
    with crm["engine"].connect() as conn:
        loaded = apps.load(conn, "crm")
        form = loaded.layout.forms["contact"]

        def reader(username: str) -> Reader:
            principal = Principal(crm["ids"][username], username, False, "session")
            access = form_access(conn, principal, loaded.id, loaded.layout.spec, form)
            return Reader(loaded.layout, form, context(), access=access)

        for _ in range(2):  # the second round finds what the first kept
            for username, name, title in (
                ("rep_a1", "probe-own", "甲方自己的客户"),
                ("rep_a2", "probe-a2", None),
            ):
                page = reader(username).list(conn, filter=f'name = "{name}"', sort="customer_level")
                assert [item["customer"]["title"] for item in page.items] == [title], username
                matching = reader(username).list(
                    conn, filter=f'customer.level = "B" AND name = "{name}"'
                )
                assert matching.total == (1 if title else 0), username
        assert reader("rep_a1")._scope_key != reader("rep_a2")._scope_key
        assert len(lru_on_layout(form, "reader")) >= 2  # one kept page shape per caller
