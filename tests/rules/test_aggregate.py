"""The rule value `aggregate` (issue 14) on the stock CRM, SQLite and PostgreSQL: the signed
contract amounts of a customer summed in SQL (the 客户等级 use case: the amount is a rollup over
the contract's line items), count / avg / min / max, blanks when nothing matches (count 0),
conversion to the target field, and the checks of its settings."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from engine.core.context import Actor
from engine.core.errors import ServiceError
from engine.forms import apps as forms_apps
from engine.forms.service import open_form
from engine.rules.kinds import VALUE_KINDS
from tests.contexts import context
from tests.rules.acts_fixtures import NOW, Acts, install, rolled_back, rule

SIGNED = "NOT ISBLANK(signed_date)"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from install(request, tmp_path_factory)


def _contracts(conn: Any) -> list[dict[str, Any]]:
    service = open_form(context(Actor(None, "api"), now=NOW), conn, "crm", "contract")
    return service.list(limit=1000).items


def _busiest_customer(contracts: list[dict[str, Any]]) -> int:
    counts: dict[int, int] = {}
    for c in contracts:
        if c["customer"] is not None:
            counts[c["customer"]["_id"]] = counts.get(c["customer"]["_id"], 0) + 1
    return max(counts, key=lambda k: (counts[k], -k))


def _of(
    contracts: list[dict[str, Any]], customer: int, signed: bool = True
) -> list[dict[str, Any]]:
    return [
        c
        for c in contracts
        if c["customer"] is not None
        and c["customer"]["_id"] == customer
        and (not signed or c["signed_date"] is not None)
    ]


def _agg(**spec: Any) -> dict[str, Any]:
    return {"aggregate": {"form": "contract", "match": {"customer": "_id"}, **spec}}


def test_sums_the_signed_contract_amounts_of_a_customer(crm: dict[str, Any]) -> None:
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        contracts = _contracts(conn)
        customer = _busiest_customer(contracts)
        mine = _of(contracts, customer)
        assert len(mine) >= 2
        expected = sum(Decimal(c["amount"]) for c in mine)
        found = acts.value(
            _agg(agg="sum", field="amount", filter=SIGNED),
            customer,
            "customer",
            "customer",
            "annual_purchase",
        )
        assert Decimal(found) == expected
        # unsigned contracts are left out by the filter: sign nothing new, unsign one
        first = mine[0]
        service = open_form(context(Actor(None, "api"), now=NOW), conn, "crm", "contract")
        service.update(first["_id"], {"_version": first["_version"], "signed_date": None})
        again = acts.value(
            _agg(agg="sum", field="amount", filter=SIGNED),
            customer,
            "customer",
            "customer",
            "annual_purchase",
        )
        assert Decimal(again) == expected - Decimal(first["amount"])


def test_count_avg_min_max(crm: dict[str, Any]) -> None:
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        contracts = _contracts(conn)
        customer = _busiest_customer(contracts)
        mine = _of(contracts, customer, signed=False)
        amounts = [Decimal(c["amount"]) for c in mine]

        def value(spec: dict[str, Any], field: str | None = "annual_purchase") -> Any:
            return acts.value(spec, customer, "customer", "customer" if field else None, field)

        assert Decimal(value(_agg(agg="count"))) == len(mine)
        avg = Decimal(value(_agg(agg="avg", field="amount")))
        assert abs(avg - sum(amounts) / len(amounts)) < Decimal("0.01")
        assert Decimal(value(_agg(agg="min", field="amount"))) == min(amounts)
        assert Decimal(value(_agg(agg="max", field="amount"))) == max(amounts)
        dates = [c["signed_date"] for c in mine if c["signed_date"]]
        assert value(_agg(agg="max", field="signed_date"), None) == max(dates)
        active = [c for c in mine if c["status"] == "active"]
        counted = value(_agg(agg="count", filter='status = "active"'), None)
        assert counted == len(active)


def test_nothing_matching_is_blank_except_count(crm: dict[str, Any]) -> None:
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        customers = open_form(context(Actor(None, "api"), now=NOW), conn, "crm", "customer")
        lonely = int(customers.create({"name": "还没有合同的客户"})["_id"])
        args = (lonely, "customer", "customer", "annual_purchase")
        assert acts.value(_agg(agg="sum", field="amount"), *args) is None
        assert acts.value(_agg(agg="max", field="amount"), *args) is None
        assert Decimal(acts.value(_agg(agg="count"), *args)) == 0
        # a blank match value matches nothing (the customer's own blank `note`)
        blank = {"aggregate": {"form": "contract", "agg": "count", "match": {"title": "note"}}}
        assert Decimal(acts.value(blank, *args)) == 0


def test_result_that_does_not_fit_the_target_refuses(crm: dict[str, Any]) -> None:
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        contracts = _contracts(conn)
        customer = _busiest_customer(contracts)
        with pytest.raises(ServiceError) as caught:
            acts.value(_agg(agg="count"), customer, "customer", "customer", "level")
        assert caught.value.code == "aggregate_target_type"


def _check(
    conn: Any, spec: Any, target: tuple[str, str] | None = ("customer", "annual_purchase")
) -> list[Any]:
    app = forms_apps.load(conn, "crm").layout.spec
    owner = rule({"type": "create_record", "form": "customer"}, form="customer")
    form, field = target if target else (None, None)
    return VALUE_KINDS["aggregate"].check(
        app, owner, form, field, spec, "rules[0].actions[0].values.x"
    )


@pytest.mark.parametrize(
    ("spec", "path", "code"),
    [
        ({"form": "nope", "agg": "count"}, "form", "unknown_form"),
        ({"form": "contract", "agg": "median", "field": "amount"}, "agg", "literal_error"),
        ({"form": "contract", "agg": "sum"}, "field", "missing"),
        ({"form": "contract", "agg": "sum", "field": "title"}, "agg", "aggregate_type"),
        ({"form": "contract", "agg": "max", "field": "status"}, "agg", "aggregate_type"),
        ({"form": "contract", "agg": "sum", "field": "nope"}, "field", "unknown_field"),
        (
            {"form": "contract", "agg": "count", "match": {"nope": "_id"}},
            "match.nope",
            "unknown_field",
        ),
        (
            {"form": "contract", "agg": "count", "match": {"items": "_id"}},
            "match.items",
            "not_comparable",
        ),
        (
            {"form": "contract", "agg": "count", "match": {"customer": "nmae"}},
            "match.customer",
            "unknown_field",
        ),
        (
            {"form": "contract", "agg": "count", "match": {"customer": {"what": 1}}},
            "match.customer",
            "unknown_value_kind",
        ),
        ({"form": "contract", "agg": "count", "filter": "amount +"}, "filter", "unexpected_end"),
        ({"form": "contract", "agg": "count", "filter": "statuz = 1"}, "filter", "unknown_field"),
        ({"form": "contract", "agg": "count", "colour": 1}, "colour", "unknown_property"),
    ],
)
def test_checks(crm: dict[str, Any], spec: dict[str, Any], path: str, code: str) -> None:
    with crm["engine"].connect() as conn:
        issues = _check(conn, spec)
    found = [(i.path, i.code) for i in issues]
    assert (f"rules[0].actions[0].values.x.aggregate.{path}", code) in found, found
    assert all(i.message_zh and i.message_en for i in issues)


def test_target_compatibility(crm: dict[str, Any]) -> None:
    with crm["engine"].connect() as conn:
        good = {"form": "contract", "agg": "sum", "field": "amount", "filter": SIGNED}
        assert _check(conn, {**good, "match": {"customer": "_id"}}) == []
        assert _check(conn, good, None) == []
        level = _check(conn, good, ("customer", "level"))
        assert [(i.path, i.code) for i in level] == [
            ("rules[0].actions[0].values.x.aggregate", "aggregate_target_type")
        ]
        dates = {"form": "contract", "agg": "max", "field": "signed_date"}
        assert _check(conn, dates, ("contract", "end_date")) == []
        assert _check(conn, dates, ("customer", "annual_purchase"))[0].code == (
            "aggregate_target_type"
        )
        assert _check(conn, "not an object")[0].code == "expected_object"
