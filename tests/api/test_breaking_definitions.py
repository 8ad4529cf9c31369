"""Definitions that used to publish with 201 and then answer 500 on every list or create of the
form (issue 10, finding 4) are a 422 naming the path, on SQLite and PostgreSQL; a records
filter or export filter the database cannot compute is a 422 at `filter`, never a 500."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.records_client import API

SPLIT = 'COUNTA(SPLIT(name, ",")) > 1'
NAME = {"type": "text", "key": "name", "label": "Name"}
TAGS = {
    "type": "multiselect",
    "key": "tags",
    "label": "Tags",
    "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}],
}


def definition(
    key: str, *forms: dict[str, Any], roles: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "format": "jimu.app/1",
        "key": key,
        "name": key,
        "version": "1.0.0",
        "forms": list(forms),
        "roles": roles or [],
    }


def form(key: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"key": key, "name": key, "fields": [NAME, *fields], **extra}


def relation(key: str, target: str, many: bool = False) -> dict[str, Any]:
    return {"type": "relation", "key": key, "label": key, "target": target, "many": many}


ATTACKS: dict[str, tuple[dict[str, Any], list[tuple[str, str]]]] = {
    "self_lookup": (
        definition(
            "a",
            form(
                "f",
                relation("r", "f"),
                {"type": "lookup", "key": "l", "label": "L", "relation": "r", "field": "l"},
            ),
        ),
        [("forms[0].fields[2].field", "reference_cycle")],
    ),
    "lookups_across_two_forms": (
        definition(
            "a",
            form(
                "f",
                relation("g", "g"),
                {"type": "lookup", "key": "l", "label": "L", "relation": "g", "field": "m"},
            ),
            form(
                "g",
                relation("f", "f"),
                {"type": "lookup", "key": "m", "label": "M", "relation": "f", "field": "l"},
            ),
        ),
        [
            ("forms[0].fields[2].field", "reference_cycle"),
            ("forms[1].fields[2].field", "reference_cycle"),
        ],
    ),
    "rollup_of_itself": (
        definition(
            "a",
            form(
                "f",
                relation("r", "f", many=True),
                {
                    "type": "rollup",
                    "key": "s",
                    "label": "S",
                    "relation": "r",
                    "field": "s",
                    "aggregate": "sum",
                },
            ),
        ),
        [("forms[0].fields[2].field", "reference_cycle")],
    ),
    "split_in_validations": (
        definition(
            "a",
            form(
                "f",
                validations=[{"expr": SPLIT, "message": {"zh": "多于一项", "en": "More than one"}}],
            ),
        ),
        [("forms[0].validations[0].expr", "not_in_backend")],
    ),
    "split_in_required_visible_when": (
        definition(
            "a",
            form(
                "f",
                {"type": "text", "key": "b", "label": "B", "required": True, "visible_when": SPLIT},
            ),
        ),
        [("forms[0].fields[1].visible_when", "not_in_backend")],
    ),
    "split_in_role_scope": (
        definition(
            "a",
            form("f"),
            roles=[
                {
                    "key": "r",
                    "name": "R",
                    "forms": {"f": {"actions": ["view", "create"], "scope": {"expr": SPLIT}}},
                }
            ],
        ),
        [("roles[0].forms.f.scope.expr", "not_in_backend")],
    ),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_definition_that_would_break_the_form_is_refused_at_publish(
    client: TestClient, attack: str
) -> None:
    data, expected = ATTACKS[attack]
    response = client.post(f"{API}/apps", json=data, headers={"Accept-Language": "en"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_definition"
    assert [(i["path"], i["code"]) for i in error["issues"]] == expected
    assert client.get(f"{API}/apps/a").status_code == 404  # nothing was installed


def test_publishing_a_breaking_change_keeps_the_working_revision(client: TestClient) -> None:
    data = definition(
        "a", form("f", relation("r", "f"), {"type": "text", "key": "b", "label": "B"})
    )
    created = client.post(f"{API}/apps", json=data)
    assert created.status_code == 201, created.text
    assert client.post(f"{API}/apps/a/forms/f/records", json={"name": "x,y"}).status_code == 201
    changed = copy.deepcopy(data)
    changed["forms"][0]["fields"][2] = {
        "type": "lookup",
        "key": "b",
        "label": "B",
        "relation": "r",
        "field": "b",
    }
    published = client.put(
        f"{API}/apps/a", json={**changed, "_revision": created.json()["_revision"]}
    )
    assert published.status_code == 422, published.text
    [found] = published.json()["error"]["issues"]
    assert (found["path"], found["code"]) == ("forms[0].fields[2].field", "reference_cycle")
    assert found["message"] == "字段 b 经由关联、关联查询、汇总或公式引用了自身：f.b → f.b"
    listed = client.get(f"{API}/apps/a/forms/f/records")
    assert listed.status_code == 200 and listed.json()["total"] == 1


def test_split_in_a_formula_computed_on_write_still_works(client: TestClient) -> None:
    parts = {
        "type": "formula",
        "key": "parts",
        "label": "Parts",
        "expr": 'COUNTA(SPLIT(name, ","))',
    }
    assert client.post(f"{API}/apps", json=definition("a", form("f", parts))).status_code == 201
    created = client.post(f"{API}/apps/a/forms/f/records", json={"name": "x,y,z"})
    assert created.status_code == 201, created.text
    assert created.json()["parts"] == "3"  # formula numbers are decimal text in JSON
    listed = client.get(f"{API}/apps/a/forms/f/records", params={"filter": "parts > 2"})
    assert listed.status_code == 200 and [item["parts"] for item in listed.json()["items"]] == ["3"]


@pytest.mark.parametrize(
    ("source", "code", "column"),
    [
        (SPLIT, "not_in_backend", 8),
        ('TEXTJOIN(",", TRUE, tags & "x") = ""', "list_not_in_backend", 26),
    ],
    ids=["split", "element_wise_multiselect"],
)
@pytest.mark.parametrize("route", ["records", "records/export"])
def test_a_filter_the_database_cannot_compute_is_a_422_at_filter(
    client: TestClient, source: str, code: str, column: int, route: str
) -> None:
    assert client.post(f"{API}/apps", json=definition("a", form("f", TAGS))).status_code == 201
    assert (
        client.post(
            f"{API}/apps/a/forms/f/records", json={"name": "x,y", "tags": ["a"]}
        ).status_code
        == 201
    )
    response = client.get(
        f"{API}/apps/a/forms/f/{route}",
        params={"filter": source},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422, response.text
    [found] = response.json()["error"]["issues"]
    assert (found["path"], found["code"], found["line"], found["column"]) == (
        "filter",
        code,
        1,
        column,
    )
    assert "database" in found["message"]
    assert (
        client.get(f"{API}/apps/a/forms/f/records").status_code == 200
    )  # the next request is fine
