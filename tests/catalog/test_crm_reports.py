"""The CRM pack's reports and its install-relative sample dates (issue 15 item 6), on SQLite and
PostgreSQL with the stock CRM installed with its sample data (`installed_crm`).

Every number a pack report answers is checked against values computed here in Python from the
records the same viewer reads through the records API: 销售漏斗, 本月签单金额排行榜 (a 销售代表
sees only their own row; right after install this month is not empty), 客户来源分析 (a formula
measure over conditional distinct counts), 月度签约趋势 (twelve months, the current one last) and
跟进方式分布. The sample dates land around the install day as `engine.catalog` documents, and the
pack validates and publishes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine import apps as assembly
from engine.catalog import move_sample_date
from tests.auth.crm_org import API, APP, installed_crm

PACK = Path(__file__).resolve().parents[2] / "apps_catalog" / "crm"
SAMPLE: dict[str, list[dict[str, Any]]] = json.loads(
    (PACK / "sample_data.json").read_text(encoding="utf-8")
)
SNAPSHOT = dt.date.fromisoformat(
    json.loads((PACK / "sample_dates.json").read_text(encoding="utf-8"))["today"]
)
TZ = ZoneInfo("Asia/Shanghai")  # the settings' default organisation time zone
REPORTS = {report["key"]: report for report in APP["reports"]}
VIEWERS = ["admin", "gm", "director", "rep_a1", "rep_a2", "rep_b2", "finance"]
Row = dict[str, Any]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from installed_crm(request, tmp_path_factory)


# -- helpers ----------------------------------------------------------------------------------


def _today() -> dt.date:
    return dt.datetime.now(TZ).date()


def _month_end(day: dt.date, months: int = 0) -> dt.date:
    """EOMONTH(day, months)."""
    index = day.year * 12 + day.month - 1 + months + 1
    return dt.date(index // 12, index % 12 + 1, 1) - dt.timedelta(days=1)


def _records(crm: dict[str, Any], user: str, form: str) -> list[Row]:
    response = crm["clients"][user].get(
        f"{API}/apps/crm/forms/{form}/records", params={"limit": 1000}
    )
    if response.status_code in (403, 404):  # the viewer may not read the form at all
        return []
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == len(page["items"]) < 1000
    items: list[Row] = page["items"]
    return items


def _run(crm: dict[str, Any], user: str, report: str) -> list[Row] | None:
    """The saved report's rows as {column key: cell}, or None when the viewer may not run it."""
    response = crm["clients"][user].post(f"{API}/apps/crm/reports/{report}/run")
    if response.status_code in (403, 404):
        return None
    assert response.status_code == 200, response.text
    result = response.json()
    keys = [column["key"] for column in result["columns"]]
    return [dict(zip(keys, row, strict=True)) for row in result["rows"]]


def _money(values: list[Decimal]) -> str | None:
    return str(sum(values, Decimal(0)).quantize(Decimal("0.01"))) if values else None


def _ten(value: Decimal) -> str:
    return format(value.quantize(Decimal(1).scaleb(-10), ROUND_HALF_UP), "f")


def _options(form: str, field: str) -> dict[str, str]:
    """Option value -> Chinese label, in the field's order."""
    entry = next(
        f for f in next(f for f in APP["forms"] if f["key"] == form)["fields"] if f["key"] == field
    )
    return {option["value"]: option["label"]["zh"] for option in entry["options"]}


def _signed(contract: Row) -> bool:
    """What the pack's reports count as signed: a 签约日期 and not 已终止."""
    return contract["signed_date"] is not None and contract["status"] != "terminated"


def _groups(items: list[Row], key: Callable[[Row], Any]) -> dict[Any, list[Row]]:
    found: dict[Any, list[Row]] = defaultdict(list)
    for item in items:
        found[key(item)].append(item)
    return found


def _amounts(rows: list[Row]) -> list[Decimal]:
    return [Decimal(r["amount"]) for r in rows if r["amount"] is not None]


def _option_rows(
    rows: list[Row], field: str, options: dict[str, str], expected: dict[Any, Row]
) -> None:
    """Rows of an option dimension: in the options' order (blank last), labelled, and holding
    exactly the expected measures."""
    order = [*options, None]
    assert [row[field]["value"] for row in rows] == [v for v in order if v in expected]
    for row in rows:
        value = row[field]["value"]
        assert row[field]["label"] == (options[value] if value is not None else "(空)")
        assert {k: row[k] for k in expected[value]} == expected[value], value


def _given(report: Row) -> Row:
    """A stored report without the empty defaults the definition adds (`columns`, `sort`)."""
    return {k: v for k, v in report.items() if v not in ([], None)}


# -- the pack ---------------------------------------------------------------------------------


def test_the_pack_validates_and_publishes_its_reports(crm: dict[str, Any]) -> None:
    assert assembly.validated(APP).reports  # no issue in the whole pack
    admin = crm["clients"]["admin"]
    definition = admin.get(f"{API}/apps/crm").json()
    assert [_given(r) for r in definition["reports"]] == APP["reports"]
    assert [r["name"]["zh"] for r in definition["reports"]] == [
        "销售漏斗", "本月签单金额排行榜", "客户来源分析", "月度签约趋势", "跟进方式分布", "项目状态分布",
    ]  # fmt: skip
    report = REPORTS["followup_methods"]
    saved = admin.put(
        f"{API}/apps/crm/reports/followup_methods",
        json={**report, "_revision": definition["_revision"]},
    )
    assert saved.status_code == 200, saved.text
    assert [_given(r) for r in admin.get(f"{API}/apps/crm").json()["reports"]] == APP["reports"]


# -- sample dates -----------------------------------------------------------------------------


def test_sample_dates_are_moved_to_the_install_day(crm: dict[str, Any]) -> None:
    today = crm["installed_on"]
    for form, field in [
        ("contract", "signed_date"),
        ("contract", "end_date"),
        ("payment", "paid_on"),
        ("opportunity", "expected_close"),
        ("followup", "next_date"),
    ]:
        stored = {r["_id"]: r[field] for r in _records(crm, "admin", form)}
        for record in SAMPLE[form]:
            if field not in record:
                assert stored[record["_id"]] is None
                continue
            day = dt.date.fromisoformat(record[field])
            moved = dt.date.fromisoformat(stored[record["_id"]])
            assert moved == move_sample_date(day, SNAPSHOT, today), (form, record["_id"])
            # past stays past, planned stays ahead
            assert moved <= today if day <= SNAPSHOT else moved >= today
    signed = [
        dt.date.fromisoformat(r["signed_date"])
        for r in _records(crm, "admin", "contract")
        if _signed(r)
    ]
    assert any(day.replace(day=1) == today.replace(day=1) for day in signed)  # this month
    first = (_month_end(today, -12) + dt.timedelta(days=1)).isoformat()[:7]
    months = {day.isoformat()[:7] for day in signed if day.isoformat()[:7] >= first}
    assert len(months) == 12  # each of the last 12 months, this one included


@pytest.mark.parametrize(
    "today",
    [
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 31),
        dt.date(2027, 2, 28),
        dt.date(2028, 2, 29),
        dt.date(2026, 6, 30),
        dt.date(2031, 1, 15),
    ],
)
def test_moving_sample_dates_keeps_their_order_and_sides(today: dt.date) -> None:
    days = sorted(
        {
            dt.date.fromisoformat(value)
            for records in SAMPLE.values()
            for record in records
            for value in record.values()
            if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-"
        }
    )
    moved = [move_sample_date(day, SNAPSHOT, today) for day in days]
    assert moved == sorted(moved)  # end after start, payment after signing: all still hold
    for day, new in zip(days, moved, strict=True):
        months = (new.year - day.year) * 12 + new.month - day.month
        if day <= SNAPSHOT:
            assert new <= today
            assert months == (today.year - SNAPSHOT.year) * 12 + today.month - SNAPSHOT.month
        else:
            assert new > today  # the snapshot's "today" ends its month: planned is next month on
        assert new.day == day.day or new == today or new == _month_end(new)
    this_month = [new for day, new in zip(days, moved, strict=True) if day <= SNAPSHOT]
    assert any(new.replace(day=1) == today.replace(day=1) for new in this_month)
    moved_today = move_sample_date(SNAPSHOT, SNAPSHOT, today)  # same day of the month, or today
    assert moved_today.replace(day=1) == today.replace(day=1) and moved_today <= today


# -- the reports ------------------------------------------------------------------------------


@pytest.mark.parametrize("user", VIEWERS)
def test_sales_funnel(crm: dict[str, Any], user: str) -> None:
    rows = _run(crm, user, "sales_funnel")
    deals = [d for d in _records(crm, user, "opportunity") if d["stage"] != "lost"]
    if rows is None:
        assert deals == []
        return
    expected = {
        stage: {"deals": len(group), "amount": _money(_amounts(group))}
        for stage, group in _groups(deals, lambda d: d["stage"]).items()
    }
    options = {k: v for k, v in _options("opportunity", "stage").items() if k != "lost"}
    _option_rows(rows, "stage", options, expected)
    if user == "admin":
        assert [row["stage"]["value"] for row in rows] == list(options)


@pytest.mark.parametrize("user", VIEWERS)
def test_this_month_ranking(crm: dict[str, Any], user: str) -> None:
    today = _today()
    rows = _run(crm, user, "monthly_ranking")
    contracts = [
        c
        for c in _records(crm, user, "contract")
        if _signed(c) and _month_end(today, -1).isoformat() < c["signed_date"]
        and c["signed_date"] <= _month_end(today).isoformat()
    ]  # fmt: skip
    if rows is None:
        assert contracts == []
        return
    expected = {
        owner: {"total": _money(_amounts(group)), "contracts": len(group)}
        for owner, group in _groups(contracts, lambda c: c["_owner"]).items()
    }
    ranked = sorted(expected.items(), key=lambda kv: Decimal(kv[1]["total"] or 0), reverse=True)
    assert len(rows) == min(10, len(expected))
    assert [Decimal(r["total"] or 0) for r in rows] == [
        Decimal(v["total"] or 0) for _, v in ranked[:10]
    ]
    names = {
        u["id"]: u["display_name"]
        for u in crm["clients"]["admin"].get(f"{API}/users", params={"limit": 100}).json()
    }
    for row in rows:
        assert {k: row[k] for k in ("total", "contracts")} == expected[row["_owner"]["value"]]
        assert row["_owner"]["label"] == names[row["_owner"]["value"]]
    if user.startswith("rep_"):  # a 销售代表 sees only their own numbers
        assert [row["_owner"]["value"] for row in rows] in ([], [crm["ids"][user]])
    if user in ("admin", "gm", "director", "rep_a2"):
        assert rows, "this month's ranking is empty right after install"


def test_a_rep_s_ranking_is_their_own_row_of_the_manager_s(crm: dict[str, Any]) -> None:
    everyone = _run(crm, "admin", "monthly_ranking")
    mine = _run(crm, "rep_a2", "monthly_ranking")
    assert everyone and mine
    rep = crm["ids"]["rep_a2"]
    assert mine == [row for row in everyone if row["_owner"]["value"] == rep]
    assert len(everyone) > 1  # the manager sees the other reps too


@pytest.mark.parametrize("user", VIEWERS)
def test_customer_sources_with_conversion_rate(crm: dict[str, Any], user: str) -> None:
    rows = _run(crm, user, "customer_sources")
    deals = _records(crm, user, "opportunity")
    if rows is None:
        assert deals == []
        return
    readable = {c["_id"]: c["source"] for c in _records(crm, user, "customer")}

    def customer(deal: Row) -> int | None:
        """The deal's customer if the viewer may read it (else it counts as blank)."""
        link = deal["customer"]
        return link["_id"] if link and link["_id"] in readable else None

    expected: dict[Any, Row] = {}
    for source, group in _groups(
        deals, lambda d: readable[customer(d)] if customer(d) is not None else None
    ).items():
        customers = {customer(d) for d in group} - {None}
        won = [d for d in group if d["stage"] == "won"]
        signed = {customer(d) for d in won} - {None}
        expected[source] = {
            "customers": len(customers),
            "signed": len(signed),
            "rate": _ten(Decimal(len(signed)) / len(customers)) if customers else None,
            "amount": _money(_amounts(won)),
        }
    options = _options("customer", "source")
    assert {row["customer.source"]["value"] for row in rows} == set(expected)
    for row in rows:
        value = row["customer.source"]["value"]
        assert row["customer.source"]["label"] == (options[value] if value else "(空)")
        assert {k: row[k] for k in expected[value]} == expected[value], value
    order = [
        (-row["customers"], [*options, None].index(row["customer.source"]["value"])) for row in rows
    ]
    assert order == sorted(order)
    if user == "admin":
        assert len(rows) == len(options) and all(row["signed"] for row in rows)


@pytest.mark.parametrize("user", VIEWERS)
def test_monthly_signing_trend(crm: dict[str, Any], user: str) -> None:
    today = _today()
    rows = _run(crm, user, "monthly_signing")
    first, last = _month_end(today, -12).isoformat(), _month_end(today).isoformat()
    contracts = [
        c
        for c in _records(crm, user, "contract")
        if _signed(c) and first < c["signed_date"] <= last
    ]
    if rows is None:
        assert contracts == []
        return
    expected = {
        month: {"total": _money(_amounts(group)), "contracts": len(group)}
        for month, group in _groups(contracts, lambda c: c["signed_date"][:7] + "-01").items()
    }
    assert [row["signed_date:month"]["value"] for row in rows] == sorted(expected)
    for row in rows:
        month = row["signed_date:month"]["value"]
        assert row["signed_date:month"]["label"] == month[:7]
        assert {k: row[k] for k in ("total", "contracts")} == expected[month]
    if user == "admin":
        assert (
            len(rows) == 12
            and rows[-1]["signed_date:month"]["value"] == today.replace(day=1).isoformat()
        )


@pytest.mark.parametrize("user", VIEWERS)
def test_followups_by_method(crm: dict[str, Any], user: str) -> None:
    rows = _run(crm, user, "followup_methods")
    followups = _records(crm, user, "followup")
    if rows is None:
        assert followups == []
        return
    expected = {
        method: {"followups": len(group)}
        for method, group in _groups(followups, lambda f: f["method"]).items()
    }
    _option_rows(rows, "method", _options("followup", "method"), expected)
    assert sum(row["followups"] for row in rows) == len(followups)


@pytest.mark.parametrize("user", VIEWERS)
def test_projects_by_status(crm: dict[str, Any], user: str) -> None:
    rows = _run(crm, user, "project_status")
    projects = _records(crm, user, "project")
    if rows is None:
        assert projects == []
        return
    expected = {
        status: {"projects": len(group)}
        for status, group in _groups(projects, lambda p: p["status"]).items()
    }
    _option_rows(rows, "status", _options("project", "status"), expected)
    assert sum(row["projects"] for row in rows) == len(projects)


def test_every_pack_report_runs_as_every_demo_user(crm: dict[str, Any]) -> None:
    """No pack report answers anything but its result or a refusal (no 500, no issue list)."""
    for user, key in itertools.product(crm["clients"], REPORTS):
        response = crm["clients"][user].post(f"{API}/apps/crm/reports/{key}/run")
        assert response.status_code in (200, 403, 404), (user, key, response.text)
