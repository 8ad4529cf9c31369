"""`GET …/records?related=field:id`: the records of a form whose relation points to one record
(what a record drawer lists as related records), on SQLite and PostgreSQL — within the
caller's row scope, and 422 in the one error shape for anything that is not a relation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.auth.links import LinkAccess
from engine.core.errors import ServiceError
from engine.forms import apps
from engine.forms.query import Reader
from tests.auth.crm_org import API, installed_crm
from tests.contexts import context


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from installed_crm(request, tmp_path_factory)


def url(form: str) -> str:
    return f"{API}/apps/crm/forms/{form}/records"


def everything(client: Any, form: str) -> list[dict[str, Any]]:
    response = client.get(url(form), params={"limit": 1000})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_lists_exactly_the_records_pointing_to_the_record(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    followups = everything(admin, "followup")
    customer = max(
        {f["customer"]["_id"] for f in followups},
        key=lambda c: sum(f["customer"]["_id"] == c for f in followups),
    )
    expected = sorted(f["_id"] for f in followups if f["customer"]["_id"] == customer)
    assert len(expected) > 1
    response = admin.get(url("followup"), params={"related": f"customer:{customer}", "limit": 1000})
    assert response.status_code == 200, response.text
    assert sorted(r["_id"] for r in response.json()["items"]) == expected
    assert response.json()["total"] == len(expected)
    # Combines with paging, sort and a filter like any list.
    page = admin.get(
        url("followup"), params={"related": f"customer:{customer}", "limit": 1, "sort": "-_id"}
    ).json()
    assert [r["_id"] for r in page["items"]] == [max(expected)]
    assert page["total"] == len(expected)
    filtered = admin.get(
        url("followup"),
        params={"related": f"customer:{customer}", "filter": 'content = "no such content"'},
    ).json()
    assert filtered == {"items": [], "total": 0}
    # A record nothing points to has no related records.
    assert admin.get(url("contact"), params={"related": "customer:999999"}).json() == {
        "items": [],
        "total": 0,
    }


def test_the_callers_row_scope_decides_what_is_listed(crm: dict[str, Any]) -> None:
    admin, rep = crm["clients"]["admin"], crm["clients"]["rep_a1"]
    customer = everything(rep, "customer")[0]
    created = admin.post(
        url("followup"),
        json={"customer": customer["_id"], "method": "phone", "content": "另一位销售的跟进"},
    )
    assert created.status_code == 201, created.text
    other = created.json()["_id"]
    moved = admin.post(
        f"{url('followup')}/transfer", json={"ids": [other], "owner": crm["ids"]["rep_b1"]}
    )
    assert moved.status_code == 200, moved.text

    seen_by_admin = admin.get(
        url("followup"), params={"related": f"customer:{customer['_id']}", "limit": 1000}
    ).json()
    seen_by_rep = rep.get(
        url("followup"), params={"related": f"customer:{customer['_id']}", "limit": 1000}
    ).json()
    assert other in {r["_id"] for r in seen_by_admin["items"]}
    assert other not in {r["_id"] for r in seen_by_rep["items"]}
    mine = {
        r["_id"] for r in everything(rep, "followup") if r["customer"]["_id"] == customer["_id"]
    }
    assert {r["_id"] for r in seen_by_rep["items"]} == mine
    assert seen_by_rep["total"] == len(mine)


@pytest.mark.parametrize(
    ("related", "status", "code"),
    [
        ("content:1", 422, "not_a_relation"),  # a field, but no relation
        ("nosuch:1", 422, "not_a_relation"),
        ("customer", 400, "string_pattern_mismatch"),  # not `field:id`
        ("customer:0", 400, "string_pattern_mismatch"),
        ("customer:abc", 400, "string_pattern_mismatch"),
        ("customer:1:2", 400, "string_pattern_mismatch"),
    ],
)
def test_anything_but_a_relation_and_an_id_is_refused(
    crm: dict[str, Any], related: str, status: int, code: str
) -> None:
    response = crm["clients"]["admin"].get(url("followup"), params={"related": related})
    assert response.status_code == status, response.text
    issues = response.json()["error"]["issues"]
    assert [(issue["path"], issue["code"]) for issue in issues] == [("related", code)]


def test_a_relation_hidden_from_the_caller_cannot_be_used(crm: dict[str, Any]) -> None:
    """A caller that may not see the relation field cannot list by it (its values would leak):
    here a query link's access, which shows only `content`."""
    with crm["engine"].connect() as conn:
        loaded = apps.load(conn, "crm")
        form = loaded.form("followup")
        access = LinkAccess(
            "query", frozenset({"content"}), frozenset(form.fields), keys=(("content", "x"),)
        )
        with pytest.raises(ServiceError) as raised:
            Reader(loaded.layout, form, context(), access=access).list(
                conn, related=("customer", 1)
            )
    assert raised.value.status == 422
    assert [(i.path, i.code) for i in raised.value.issues] == [("related", "not_a_relation")]
