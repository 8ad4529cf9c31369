"""Relation values written by a caller must point inside the caller's view scope of the target
form (issue 10, finding 1, the write side), on SQLite and PostgreSQL, on the stock CRM with its
sample data: a create, a batch, a PATCH or an import naming another rep's customer is the same
422 as a missing id and writes nothing; the answer shows nothing of that customer; a value the
record already holds may be echoed back unchanged; to-many relations and subform rows are held
to the same rule; system writers (rules, flows, CLI, pack loads: a Writer without access) are
not."""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.core.context import Actor
from engine.forms import apps
from engine.forms.query import Reader
from engine.forms.records import Writer
from engine.forms.spreadsheet import Formatter
from tests.auth.crm_org import API, installed_crm
from tests.contexts import context

MISSING = 999_999_999
# A form the CRM lacks: a to-many relation and a relation in subform rows, with a validation
# and a conditional required field that read the related customer.
VISIT = {
    "key": "visit",
    "name": {"zh": "拜访", "en": "Visit"},
    "title_field": "topic",
    "fields": [
        {"key": "topic", "type": "text", "label": {"zh": "主题", "en": "Topic"}, "required": True},
        {
            "key": "customer",
            "type": "relation",
            "label": {"zh": "主客户", "en": "Main customer"},
            "target": "customer",
        },
        {
            "key": "customers",
            "type": "relation",
            "label": {"zh": "客户", "en": "Customers"},
            "target": "customer",
            "many": True,
        },
        {
            "key": "reason",
            "type": "text",
            "label": {"zh": "原因", "en": "Reason"},
            "required": True,
            "visible_when": 'customer.level = "A"',
        },
        {
            "key": "lines",
            "type": "subform",
            "label": {"zh": "明细", "en": "Lines"},
            "fields": [
                {
                    "key": "customer",
                    "type": "relation",
                    "label": {"zh": "客户", "en": "Customer"},
                    "target": "customer",
                },
                {"key": "hours", "type": "integer", "label": {"zh": "时长", "en": "Hours"}},
            ],
        },
    ],
    "validations": [
        {
            "expr": 'customer.level <> "D"',
            "message": {"zh": "不拜访 D 类客户", "en": "No visits to class D customers"},
        },
    ],
}
REP_VISITS = {"actions": ["view", "create", "edit"], "scope": "own"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The CRM with sample data per database, with the `visit` form added for sales reps."""
    for installed in installed_crm(request, tmp_path_factory):
        admin = installed["clients"]["admin"]
        definition = admin.get(f"{API}/apps/crm").json()
        definition["forms"].append(VISIT)
        next(r for r in definition["roles"] if r["key"] == "sales_rep")["forms"]["visit"] = (
            REP_VISITS
        )
        published = admin.put(f"{API}/apps/crm", json=definition)
        assert published.status_code == 200, published.text
        yield installed


def url(form: str, suffix: str = "") -> str:
    return f"{API}/apps/crm/forms/{form}/records{suffix}"


def customers(crm: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The customers rep_a1 may see and those they may not (as the admin reads them)."""
    everyone = crm["clients"]["admin"].get(url("customer"), params={"limit": 1000}).json()["items"]
    mine = {
        c["_id"]
        for c in crm["clients"]["rep_a1"]
        .get(url("customer"), params={"limit": 1000})
        .json()["items"]
    }
    inside = [c for c in everyone if c["_id"] in mine]
    outside = [c for c in everyone if c["_id"] not in mine]
    assert inside and len(outside) > 5
    return inside, outside


def revealed(text: str, records: list[dict[str, Any]]) -> list[str]:
    """The names of `records` that appear in `text`."""
    return [r["name"] for r in records if r["name"] in text]


def issues(response: Any) -> list[tuple[str, str]]:
    return [(i["path"], i["code"]) for i in response.json()["error"]["issues"]]


def count(crm: dict[str, Any], form: str, filter: str) -> int:
    found = crm["clients"]["admin"].get(url(form), params={"filter": filter, "limit": 0})
    assert found.status_code == 200, found.text
    total: int = found.json()["total"]
    return total


def without_id(issue: dict[str, Any], record_id: int) -> dict[str, Any]:
    """An issue with the id it names blanked (to compare a refusal with a missing id's)."""
    return {
        k: v.replace(str(record_id), "#") if isinstance(v, str) else v for k, v in issue.items()
    }


def own_visit(crm: dict[str, Any], **values: Any) -> dict[str, Any]:
    """A visit the admin writes with `values` and gives to rep_a1 (as rep_a1 reads it)."""
    admin = crm["clients"]["admin"]
    created = admin.post(url("visit"), json={"topic": "拜访", "reason": "例行", **values})
    assert created.status_code == 201, created.text
    record_id = created.json()["_id"]
    assert (
        admin.post(
            url("visit", "/transfer"), json={"ids": [record_id], "owner": crm["ids"]["rep_a1"]}
        ).status_code
        == 200
    )
    mine = crm["clients"]["rep_a1"].get(url("visit", f"/{record_id}"))
    assert mine.status_code == 200, mine.text
    record: dict[str, Any] = mine.json()
    return record


def test_a_create_naming_another_reps_customer_is_the_422_of_a_missing_id(
    crm: dict[str, Any],
) -> None:
    rep = crm["clients"]["rep_a1"]
    inside, outside = customers(crm)
    theirs = outside[0]["_id"]
    assert rep.get(url("customer", f"/{theirs}")).status_code == 404
    for value in (theirs, {"_id": theirs}, {"_id": theirs, "title": "whatever"}):
        refused = rep.post(url("contact"), json={"name": "probe-create", "customer": value})
        assert refused.status_code == 422, refused.text
        missing = rep.post(url("contact"), json={"name": "probe-create", "customer": MISSING})
        assert [without_id(i, theirs) for i in refused.json()["error"]["issues"]] == [
            without_id(i, MISSING) for i in missing.json()["error"]["issues"]
        ]
        assert issues(refused) == [("customer", "record_not_found")]
        assert not revealed(refused.text, outside)
    assert count(crm, "contact", 'name = "probe-create"') == 0
    created = rep.post(url("contact"), json={"name": "probe-create", "customer": inside[0]["_id"]})
    assert created.status_code == 201, created.text  # one's own customer is fine
    assert created.json()["customer"]["_id"] == inside[0]["_id"]


def test_a_partial_batch_of_every_customer_reveals_none_of_them(crm: dict[str, Any]) -> None:
    rep = crm["clients"]["rep_a1"]
    inside, outside = customers(crm)
    rows = [{"name": "probe-batch", "customer": c["_id"]} for c in [*outside, inside[0]]]
    answer = rep.post(url("contact", "/batch"), params={"partial": "true"}, json=rows)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["ok"] for r in results] == [False] * len(outside) + [True]
    for index, result in enumerate(results[:-1]):
        assert [(i["path"], i["code"]) for i in result["error"]["issues"]] == [
            (f"[{index}].customer", "record_not_found")
        ]
    assert not revealed(answer.text, outside)
    assert count(crm, "contact", 'name = "probe-batch"') == 1
    whole = rep.post(url("contact", "/batch"), json=rows)  # all or nothing
    assert whole.status_code == 422 and not revealed(whole.text, outside)
    assert count(crm, "contact", 'name = "probe-batch"') == 1


def test_a_patch_may_not_point_a_relation_outside_but_may_echo_what_is_stored(
    crm: dict[str, Any],
) -> None:
    admin, rep = crm["clients"]["admin"], crm["clients"]["rep_a1"]
    inside, outside = customers(crm)
    created = rep.post(url("contact"), json={"name": "probe-patch", "customer": inside[0]["_id"]})
    assert created.status_code == 201, created.text
    contact = created.json()
    target = url("contact", f"/{contact['_id']}")
    refused = rep.patch(
        target, json={"customer": outside[0]["_id"], "_version": contact["_version"]}
    )
    assert refused.status_code == 422 and issues(refused) == [("customer", "record_not_found")]
    assert not revealed(refused.text, outside)
    assert admin.get(target).json()["customer"]["_id"] == inside[0]["_id"]  # nothing written
    # The admin links it to another rep's customer; the rep echoes the record back unchanged.
    moved = admin.patch(
        target, json={"customer": outside[1]["_id"], "_version": contact["_version"]}
    )
    assert moved.status_code == 200, moved.text
    mine = rep.get(target).json()
    echoed = {k: v for k, v in mine.items() if not k.startswith("_") or k == "_version"}
    echoed["title"] = "经理"
    kept = rep.patch(target, json=echoed)
    assert kept.status_code == 200, kept.text
    again = rep.patch(
        target, json={"customer": outside[1]["_id"], "_version": kept.json()["_version"]}
    )
    assert again.status_code == 200, again.text  # the same id as a plain number
    assert admin.get(target).json()["customer"]["_id"] == outside[1]["_id"]
    # ... but a kept value is no key to the others.
    other = rep.patch(
        target, json={"customer": outside[2]["_id"], "_version": again.json()["_version"]}
    )
    assert other.status_code == 422 and issues(other) == [("customer", "record_not_found")]


def test_to_many_relations_and_subform_rows_follow_the_same_rule(crm: dict[str, Any]) -> None:
    rep = crm["clients"]["rep_a1"]
    inside, outside = customers(crm)
    mine, theirs = inside[0]["_id"], outside[0]["_id"]
    body = {
        "topic": "probe-many",
        "customers": [mine, theirs],
        "lines": [{"customer": mine}, {"customer": {"_id": theirs}}],
    }
    refused = rep.post(url("visit"), json=body)
    assert refused.status_code == 422, refused.text
    assert sorted(issues(refused)) == [
        ("customers[1]", "record_not_found"),
        ("lines[1].customer", "record_not_found"),
    ]
    assert not revealed(refused.text, outside)
    assert count(crm, "visit", 'topic = "probe-many"') == 0
    # Values the admin stored may be echoed back, rows and all; a new one outside may not.
    visit = own_visit(crm, customers=[mine, theirs], lines=[{"customer": theirs, "hours": 1}])
    target = url("visit", f"/{visit['_id']}")
    echoed = {
        "customers": visit["customers"],
        "lines": visit["lines"],
        "topic": "改",
        "_version": visit["_version"],
    }
    kept = rep.patch(target, json=echoed)
    assert kept.status_code == 200, kept.text
    more = copy.deepcopy(echoed) | {"_version": kept.json()["_version"]}
    more["customers"].append(outside[1]["_id"])
    more["lines"].append({"customer": outside[1]["_id"]})
    refused = rep.patch(target, json=more)
    assert refused.status_code == 422, refused.text
    assert sorted(issues(refused)) == [
        ("customers[2]", "record_not_found"),
        ("lines[1].customer", "record_not_found"),
    ]
    moved = rep.patch(target, json={"customer": theirs, "_version": kept.json()["_version"]})
    assert moved.status_code == 422 and issues(moved) == [
        ("customer", "record_not_found")
    ]  # not into another field


def test_checks_over_the_related_record_never_answer_for_one_out_of_scope(
    crm: dict[str, Any],
) -> None:
    """The validation and the conditional required field read `customer.level`: for a customer
    the rep may not see, the only answer is the missing-record one, whatever its level."""
    rep = crm["clients"]["rep_a1"]
    inside, outside = customers(crm)
    answers = set()
    for customer in outside:
        refused = rep.post(url("visit"), json={"topic": "probe-check", "customer": customer["_id"]})
        assert refused.status_code == 422, refused.text
        assert issues(refused) == [("customer", "record_not_found")]
        answers.add(refused.text.replace(str(customer["_id"]), "#"))
    assert len(answers) == 1  # the same answer for every level
    levels = {c["level"] for c in outside}
    assert {"A", "D"} <= levels | {c["level"] for c in inside}  # the checks have something to tell
    own = {c["level"]: c for c in inside}
    if "A" in own:
        required = rep.post(
            url("visit"), json={"topic": "probe-check", "customer": own["A"]["_id"]}
        )
        assert issues(required) == [("reason", "required")]
    assert count(crm, "visit", 'topic = "probe-check"') == 0


def test_an_import_naming_another_reps_customer_writes_nothing(crm: dict[str, Any]) -> None:
    admin, director = (
        crm["clients"]["admin"],
        crm["clients"]["director"],
    )  # may import contacts, within the sales teams
    created = admin.post(url("customer"), json={"name": "总经理的客户", "level": "B"})
    assert created.status_code == 201, created.text
    theirs = created.json()["_id"]
    assert (
        admin.post(
            url("customer", "/transfer"), json={"ids": [theirs], "owner": crm["ids"]["gm"]}
        ).status_code
        == 200
    )
    assert director.get(url("customer", f"/{theirs}")).status_code == 404
    for cell in ("总经理的客户", str(theirs)):
        out = io.StringIO()
        csv.writer(out).writerows([["姓名", "客户"], ["probe-import", cell]])
        answer = director.post(
            url("contact", "/import"), files={"file": ("rows.csv", out.getvalue().encode())}
        )
        assert answer.status_code == 422, answer.text
        assert [i["path"] for i in answer.json()["error"]["issues"]] == ["rows[2].customer"]
    assert count(crm, "contact", 'name = "probe-import"') == 0


def test_system_writers_may_link_any_record(crm: dict[str, Any]) -> None:
    _, outside = customers(crm)
    with crm["engine"].begin() as conn:
        app = apps.load(conn, "crm")
        writer = Writer(
            app.layout, app.id, app.form("contact"), context()
        )  # rules, flows, the CLI, pack loads
        [record_id] = writer.create_many(
            conn, [{"name": "probe-system", "customer": outside[0]["_id"]}], Actor(None, "rule")
        )
        assert writer.reader.get(conn, record_id)["customer"]["_id"] == outside[0]["_id"]
    admin: TestClient = crm["clients"]["admin"]
    created = admin.post(
        url("contact"), json={"name": "probe-system", "customer": outside[1]["_id"]}
    )
    assert created.status_code == 201, created.text  # administrators see every customer


def test_exports_show_a_restricted_relation_as_no_access(crm: dict[str, Any]) -> None:
    """What the read side sends for a linked record out of the reader's scope reads 无权限 in a
    spreadsheet, like in the UI."""
    with crm["engine"].connect() as conn:
        app = apps.load(conn, "crm")
    form = app.form("contact")
    reader = Reader(app.layout, form, context())
    cells = {
        lang: Formatter(form, lang, "Asia/Shanghai", reader.value_owner).cell(
            form, form.fields["customer"], value
        )[0]
        for lang, value in (
            ("zh", {"_id": 12, "title": None, "restricted": True}),
            ("en", {"_id": 12, "title": None, "restricted": True}),
        )
    }
    assert cells == {"zh": "无权限", "en": "No access"}
    shown = Formatter(form, "zh", "Asia/Shanghai", reader.value_owner).cell(
        form, form.fields["customer"], {"_id": 3, "title": "华为"}
    )
    assert shown[0] == "华为"
