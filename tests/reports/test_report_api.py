"""The report engine through its API (issue 15 items 1–4), on SQLite and PostgreSQL.

Every number a report answers is checked against values computed here in Python from the
records read through the records API by the same viewer:

- the stock CRM (`installed_crm`): a ranking per `_owner` with every aggregate, a conditional
  count and a formula measure; a 销售代表 sees only their own numbers; a relation target they may
  not read is a blank dimension; fields hidden from the viewer — own, through a relation, and
  under derived fields (a formula and a lookup over 手机) — refuse that report with 403
  `field_forbidden` (无权限); saving one report is for builders; the export's cells are numbers;
- a small `shop` app of this module: every dimension kind (options, relations, people,
  departments, checkboxes, integers, dates), every date bucket on a date and on an instant at
  23:30 local time on the last day of a month, a pivot with subtotals and totals, the KPI's
  previous period, runtime filters, the 10,000-cell cap, and every bad part of a report shape
  at its path in Chinese and English.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from tests.auth.crm_org import API, APP, installed_crm

TZ = ZoneInfo("Asia/Shanghai")
SHOP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "shop",
    "name": {"zh": "门店", "en": "Shop"},
    "version": "1.0.0",
    "forms": [
        {
            "key": "client",
            "name": "客户",
            "title_field": "name",
            "fields": [{"key": "name", "type": "text", "label": "名称"}],
        },
        {
            "key": "sale",
            "name": "销售",
            "title_field": "title",
            "fields": [
                {"key": "title", "type": "text", "label": "标题"},
                {
                    "key": "region",
                    "type": "select",
                    "label": {"zh": "区域", "en": "Region"},
                    "options": [
                        {"value": "north", "label": {"zh": "北区", "en": "North"}},
                        {"value": "south", "label": {"zh": "南区", "en": "South"}},
                        {"value": "west", "label": {"zh": "西区", "en": "West"}},
                    ],
                },
                {
                    "key": "status",
                    "type": "select",
                    "label": "状态",
                    "options": [{"value": "open"}, {"value": "won"}, {"value": "lost"}],
                },
                {"key": "amount", "type": "money", "label": "金额", "precision": 2},
                {"key": "qty", "type": "integer", "label": "数量"},
                {"key": "paid", "type": "checkbox", "label": "已付"},
                {"key": "signed_at", "type": "datetime", "label": "签约时间"},
                {"key": "signed_on", "type": "date", "label": "签约日期"},
                {"key": "client", "type": "relation", "label": "客户", "target": "client"},
                {"key": "rep", "type": "user", "label": "销售"},
                {"key": "team", "type": "department", "label": "部门"},
                {"key": "net", "type": "formula", "label": "净额", "expr": "amount * 0.9"},
            ],
        },
        {
            "key": "tick",
            "name": "计数",
            "fields": [{"key": "n", "type": "integer", "label": "数"}],
        },
    ],
}
# (region, status, amount, qty, paid, signed_at UTC, signed_on, client index, rep, team index)
SALES = [
    ("north", "won", "100.10", 1, True, "2026-01-31T15:30:00.000Z", "2026-01-31", 0, "rep_a1", 0),
    ("north", "won", "200.25", 2, False, "2026-01-31T16:30:00.000Z", "2026-02-01", 1, "rep_a2", 0),
    ("north", "lost", "50.00", 3, False, "2026-03-31T16:00:00.000Z", "2026-03-30", 0, "rep_b1", 1),
    ("south", "open", "75.50", None, True, "2026-12-31T15:59:59.999Z", "2026-12-31", 1, None, 1),
    ("south", "won", None, 5, True, "2025-12-28T23:00:00.000Z", "2025-12-29", None, "rep_a1", None),
    ("west", "won", "999.99", 7, False, "2026-06-15T04:00:00.000Z", "2026-06-15", 2, "rep_b2", 0),
    (None, "open", "12.34", 1, False, None, None, 2, "rep_a1", None),
    ("west", None, "0.01", 0, True, "2027-01-03T10:00:00.000Z", "2027-01-03", 0, "rep_b1", 1),
    # China kept summer time (UTC+9) until September 1991: 00:30 on 1 July 1990 local time
    ("south", "lost", "3.00", 2, False, "1990-06-30T15:30:00.000Z", "1990-06-30", 1, None, 0),
]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The CRM with derived fields over 手机 (hidden from the auditor), a probe opportunity of
    rep_a1 whose customer is rep_b1's, and the `shop` app with its sales."""
    for found in installed_crm(request, tmp_path_factory):
        admin = found["clients"]["admin"]
        definition = admin.get(f"{API}/apps/crm").json()
        _form(definition, "customer")["fields"].append(
            {"key": "phone_head", "type": "formula", "label": "号段", "expr": "LEFT(phone, 3)"}
        )
        _form(definition, "contact")["fields"].append(
            {
                "key": "customer_phone",
                "type": "lookup",
                "label": "客户手机",
                "relation": "customer",
                "field": "phone",
            }
        )
        assert admin.put(f"{API}/apps/crm", json=definition).status_code == 200
        customer = _create(found, "crm", "customer", {"name": "乙方", "level": "A"}, "rep_b1")
        found["probe"] = _create(
            found,
            "crm",
            "opportunity",
            {"title": "跨组商机", "customer": customer["_id"], "stage": "won", "amount": "10"},
            "rep_a1",
        )
        assert admin.post(f"{API}/apps", json=SHOP).status_code == 201
        departments = [d["id"] for d in admin.get(f"{API}/departments").json()][:2]
        clients = [
            _create(found, "shop", "client", {"name": name}, None)["_id"]
            for name in ("甲", "乙", "丙")
        ]
        for row in SALES:
            region, status, amount, qty, paid, at, on, client, rep, team = row
            data = {
                "title": f"{region}-{status}",
                "region": region,
                "status": status,
                "amount": amount,
                "qty": qty,
                "paid": paid,
                "signed_at": at,
                "signed_on": on,
                "client": clients[client] if client is not None else None,
                "rep": found["ids"][rep] if rep else None,
                "team": departments[team] if team is not None else None,
            }
            _create(found, "shop", "sale", data, None)
        yield found


def _form(definition: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in definition["forms"] if f["key"] == key)
    return found


def _url(app: str, form: str, suffix: str = "") -> str:
    return f"{API}/apps/{app}/forms/{form}/records{suffix}"


def _create(
    crm: dict[str, Any], app: str, form: str, data: dict[str, Any], owner: str | None
) -> dict[str, Any]:
    admin = crm["clients"]["admin"]
    created = admin.post(_url(app, form), json=data)
    assert created.status_code == 201, created.text
    record: dict[str, Any] = created.json()
    if owner is not None:
        moved = admin.post(
            _url(app, form, "/transfer"), json={"ids": [record["_id"]], "owner": crm["ids"][owner]}
        )
        assert moved.status_code == 200, moved.text
    return record


def _records(crm: dict[str, Any], user: str, app: str, form: str) -> list[dict[str, Any]]:
    page = crm["clients"][user].get(_url(app, form), params={"limit": 1000}).json()
    assert page["total"] == len(page["items"]) < 1000
    items: list[dict[str, Any]] = page["items"]
    return items


def _query(crm: dict[str, Any], user: str, app: str, shape: dict[str, Any], **kw: Any) -> Any:
    return crm["clients"][user].post(f"{API}/apps/{app}/query", json=shape, **kw)


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def _money(values: list[Decimal], places: int = 2) -> str | None:
    if not values:
        return None
    return str(sum(values, Decimal(0)).quantize(Decimal(1).scaleb(-places)))


def _ten(value: Decimal) -> str:
    return format(value.quantize(Decimal(1).scaleb(-10), ROUND_HALF_UP), "f")


RANKING: dict[str, Any] = {
    "form": "opportunity",
    "rows": [{"field": "_owner"}],
    "measures": [
        {"key": "total", "agg": "sum", "field": "amount"},
        {"key": "n", "agg": "count"},
        {"key": "mean", "agg": "avg", "field": "amount"},
        {"key": "low", "agg": "min", "field": "amount"},
        {"key": "high", "agg": "max", "field": "amount"},
        {"key": "customers", "agg": "count_distinct", "field": "customer"},
        {"key": "won", "agg": "count", "filter": 'stage = "won"'},
        {"key": "rate", "agg": "expr", "expr": "won / n"},
        {"key": "weighted", "agg": "sum", "field": "weighted_amount"},
    ],
    "sort": [{"key": "total", "desc": True}],
    "chart": {"type": "ranking"},
}


def _expected_ranking(items: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        groups[item["_owner"]].append(item)
    found: dict[int, dict[str, Any]] = {}
    for owner, rows in groups.items():
        amounts = [Decimal(r["amount"]) for r in rows if r["amount"] is not None]
        won = sum(1 for r in rows if r["stage"] == "won")
        weighted = [Decimal(r["weighted_amount"]) for r in rows if r["weighted_amount"]]
        found[owner] = {
            "total": _money(amounts),
            "n": len(rows),
            "mean": _ten(sum(amounts, Decimal(0)) / len(amounts)) if amounts else None,
            "low": str(min(amounts)) if amounts else None,
            "high": str(max(amounts)) if amounts else None,
            # a customer outside the viewer's rights counts as blank, like a blank dimension
            "customers": len(
                {
                    r["customer"]["_id"]
                    for r in rows
                    if r["customer"] and not r["customer"].get("restricted")
                }
            ),
            "won": won,
            "rate": _ten(Decimal(won) / Decimal(len(rows))),
            "weighted": _money(weighted),
        }
    return found


def _by_key(result: dict[str, Any]) -> list[dict[str, Any]]:
    keys = [c["key"] for c in result["columns"]]
    return [dict(zip(keys, row, strict=True)) for row in result["rows"]]


@pytest.mark.parametrize("user", ["admin", "director", "rep_a1", "rep_b2"])
def test_a_ranking_per_owner_matches_the_records_the_viewer_may_read(
    crm: dict[str, Any], user: str
) -> None:
    result = _ok(_query(crm, user, "crm", RANKING))
    items = _records(crm, user, "crm", "opportunity")
    expected = _expected_ranking(items)
    rows = _by_key(result)
    assert {row["_owner"]["value"] for row in rows} == set(expected)
    names = {
        u["id"]: u["display_name"]
        for u in crm["clients"]["admin"].get(f"{API}/users", params={"limit": 100}).json()
    }
    for row in rows:
        owner = row["_owner"]
        assert owner["label"] == names[owner["value"]]
        want = expected[owner["value"]]
        assert {k: row[k] for k in want} == want, owner
    totals = [Decimal(row["total"] or 0) for row in rows]
    assert totals == sorted(totals, reverse=True)
    if user.startswith("rep_"):  # a 销售代表 sees only their own numbers
        assert [row["_owner"]["value"] for row in rows] == [crm["ids"][user]]
    else:
        assert len(rows) > 1
    columns = {c["key"]: c for c in result["columns"]}
    assert columns["_owner"]["label"] == "负责人" and columns["total"]["label"] == "金额（合计）"


def test_a_saved_report_runs_as_each_viewer_and_only_builders_save_it(
    crm: dict[str, Any],
) -> None:
    admin = crm["clients"]["admin"]
    revision = admin.get(f"{API}/apps/crm").json()["_revision"]
    report = {**RANKING, "name": {"zh": "本月签单金额排行榜", "en": "Ranking"}, "limit": 3}
    refused = crm["clients"]["rep_a1"].put(
        f"{API}/apps/crm/reports/ranking", json={**report, "_revision": revision}
    )
    assert refused.status_code in (403, 404), refused.text
    saved = admin.put(f"{API}/apps/crm/reports/ranking", json={**report, "_revision": revision})
    assert saved.status_code == 200, saved.text
    assert saved.json()["key"] == "ranking" and saved.json()["_revision"] == revision + 1
    entry = admin.get(f"{API}/audit", params={"kind": "app.publish_part"}).json()[0]
    assert entry["detail"]["report"] == "ranking" and entry["subject"] == "crm"
    stale = admin.put(f"{API}/apps/crm/reports/ranking", json={**report, "_revision": revision})
    assert stale.status_code == 409
    definition = admin.get(f"{API}/apps/crm").json()
    pack = [r["key"] for r in APP["reports"]]  # the pack's own reports (test_crm_reports)
    assert [r["key"] for r in definition["reports"]] == [*pack, "ranking"]
    assert len(definition["forms"]) == len(APP["forms"])  # saving one report keeps the rest
    for user in ("director", "rep_a2"):
        result = _ok(crm["clients"][user].post(f"{API}/apps/crm/reports/ranking/run"))
        expected = _expected_ranking(_records(crm, user, "crm", "opportunity"))
        rows = _by_key(result)
        assert len(rows) == min(3, len(expected))
        ordered = sorted(
            expected.items(), key=lambda kv: Decimal(kv[1]["total"] or 0), reverse=True
        )
        assert [Decimal(r["total"] or 0) for r in rows] == [
            Decimal(v["total"] or 0) for _, v in ordered[:3]
        ]
    assert crm["clients"]["admin"].post(f"{API}/apps/crm/reports/nope/run").status_code == 404
    bad = admin.put(
        f"{API}/apps/crm/reports/broken",
        json={**report, "key": "broken", "rows": [{"field": "nope"}], "_revision": revision + 1},
    )
    assert bad.status_code == 422
    assert [i["path"] for i in bad.json()["error"]["issues"]] == [
        f"reports[{len(pack) + 1}].rows[0].field"
    ]


def test_the_export_holds_the_result_as_numbers(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    if not any(r["key"] == "ranking" for r in admin.get(f"{API}/apps/crm").json()["reports"]):
        revision = admin.get(f"{API}/apps/crm").json()["_revision"]
        report = {**RANKING, "name": "排行", "limit": 3, "_revision": revision}
        assert admin.put(f"{API}/apps/crm/reports/ranking", json=report).status_code == 200
    client = crm["clients"]["director"]
    result = _ok(client.post(f"{API}/apps/crm/reports/ranking/run"))
    exported = client.get(f"{API}/apps/crm/reports/ranking/export", params={"format": "xlsx"})
    assert exported.status_code == 200, exported.text
    sheet = load_workbook(io.BytesIO(exported.content)).active
    assert sheet is not None
    cells = list(sheet.iter_rows(values_only=True))
    assert list(cells[0]) == [c["label"] for c in result["columns"]]
    assert len(cells) == 1 + len(result["rows"])
    for line, row in zip(cells[1:], result["rows"], strict=True):
        assert line[0] == row[0]["label"]
        assert Decimal(str(line[1])) == Decimal(row[1]) and isinstance(line[1], float | int)
        assert line[2] == row[2] and isinstance(line[2], int)
    number_cell = next(iter(sheet.iter_rows(min_row=2, max_row=2)))[1]
    assert number_cell.number_format == "#,##0.00"
    posted = client.post(f"{API}/apps/crm/reports/ranking/export", params={"format": "csv"})
    assert posted.status_code == 200
    lines = list(csv.reader(io.StringIO(posted.content.decode("utf-8-sig"))))
    assert lines[0] == [c["label"] for c in result["columns"]]
    assert lines[1][1] == result["rows"][0][1]
    # Exporting needs the role's export action on the form, as exporting records does: a
    # 销售代表 may run a contract report but not export it.
    revision = admin.get(f"{API}/apps/crm").json()["_revision"]
    contracts = {
        "name": "合同",
        "form": "contract",
        "measures": [{"key": "n", "agg": "count"}],
        "_revision": revision,
    }
    assert admin.put(f"{API}/apps/crm/reports/contracts", json=contracts).status_code == 200
    rep = crm["clients"]["rep_a1"]
    assert rep.post(f"{API}/apps/crm/reports/contracts/run").status_code == 200
    refused = rep.get(f"{API}/apps/crm/reports/contracts/export", params={"format": "csv"})
    assert refused.status_code == 403
    assert rep.get(f"{API}/apps/crm/reports/ranking/export").status_code == 200


def test_a_relation_target_the_viewer_may_not_read_is_a_blank_dimension(
    crm: dict[str, Any],
) -> None:
    shape = {
        "form": "opportunity",
        "filter": 'title = "跨组商机"',
        "rows": [{"field": "customer"}, {"field": "customer.level"}],
        "measures": [{"key": "n", "agg": "count"}, {"key": "s", "agg": "sum", "field": "amount"}],
    }
    mine = _ok(_query(crm, "rep_a1", "crm", shape))
    assert mine["rows"] == [
        [{"value": None, "label": "(空)"}, {"value": None, "label": "(空)"}, 1, "10.00"]
    ]
    english = _ok(_query(crm, "rep_a1", "crm", shape, headers={"Accept-Language": "en"}))
    assert english["rows"][0][0] == {"value": None, "label": "(blank)"}
    seen = _ok(_query(crm, "admin", "crm", shape))
    customer = crm["probe"]["customer"]
    assert seen["rows"] == [
        [
            {"value": {"_id": customer["_id"], "title": "乙方"}, "label": "乙方"},
            {"value": "A", "label": "A 类（重点）"},
            1,
            "10.00",
        ]
    ]
    # Over the whole form: the joined dimension agrees with what rep_a1's records show.
    shape = {**shape, "filter": None, "rows": [{"field": "customer.level"}]}
    counts = {row[0]["value"]: row[1] for row in _ok(_query(crm, "rep_a1", "crm", shape))["rows"]}
    items = _records(crm, "rep_a1", "crm", "opportunity")
    assert counts == dict(Counter(item["customer_level"] for item in items))


@pytest.mark.parametrize(
    ("user", "form", "part", "path"),
    [
        ("auditor", "customer", {"rows": [{"field": "phone"}]}, "rows[0].field"),
        ("auditor", "customer", {"columns": [{"field": "phone_head"}]}, "columns[0].field"),
        ("auditor", "contact", {"rows": [{"field": "customer.phone"}]}, "rows[0].field"),
        (
            "auditor",
            "contact",
            {"measures": [{"key": "p", "agg": "count_distinct", "field": "customer_phone"}]},
            "measures[0].field",
        ),
        ("auditor", "customer", {"filter": 'phone = "1"'}, "filter"),
        (
            "auditor",
            "customer",
            {"measures": [{"key": "p", "agg": "count", "filter": 'phone_head = "139"'}]},
            "measures[0].filter",
        ),
        ("finance", "customer", {"rows": [{"field": "phone_head"}]}, "rows[0].field"),
    ],
)
def test_a_field_hidden_from_the_viewer_refuses_the_report(
    crm: dict[str, Any], user: str, form: str, part: dict[str, Any], path: str
) -> None:
    shape = {"form": form, "rows": [], "measures": [{"key": "n", "agg": "count"}], **part}
    refused = _query(crm, user, "crm", shape)
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "field_forbidden" and "无权限" in error["message"]
    assert [(i["path"], i["code"]) for i in error["issues"]] == [(path, "field_forbidden")]
    english = _query(crm, user, "crm", shape, headers={"Accept-Language": "en"})
    assert "No permission" in english.json()["error"]["issues"][0]["message"]
    allowed = _ok(_query(crm, "admin", "crm", shape))  # the administrator reads everything
    assert allowed["rows"]
    # The same viewer's report over readable fields runs, scoped.
    plain = {"form": form, "measures": [{"key": "n", "agg": "count"}]}
    assert _ok(_query(crm, user, "crm", plain))["rows"] == [[len(_records(crm, user, "crm", form))]]


def _local(at: str | None) -> dt.datetime | None:
    if at is None:
        return None
    return dt.datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(TZ)


def _start(day: dt.date, bucket: str) -> dt.date:
    return {
        "year": day.replace(month=1, day=1),
        "quarter": day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1),
        "month": day.replace(day=1),
        "week": day - dt.timedelta(days=day.weekday()),
        "day": day,
    }[bucket]


@pytest.mark.parametrize("bucket", ["year", "quarter", "month", "week", "day"])
@pytest.mark.parametrize("field", ["signed_at", "signed_on"])
def test_date_buckets_cut_in_the_organisation_time_zone(
    crm: dict[str, Any], bucket: str, field: str
) -> None:
    shape = {
        "form": "sale",
        "rows": [{"field": field, "bucket": bucket}],
        "measures": [{"key": "n", "agg": "count"}, {"key": "s", "agg": "sum", "field": "amount"}],
    }
    result = _ok(_query(crm, "admin", "shop", shape))
    expected: dict[str | None, list[Any]] = defaultdict(list)
    for item in _records(crm, "admin", "shop", "sale"):
        if field == "signed_at":
            local = _local(item["signed_at"])
            day = local.date() if local else None
        else:
            day = dt.date.fromisoformat(item["signed_on"]) if item["signed_on"] else None
        expected[_start(day, bucket).isoformat() if day else None].append(item)
    found = {row[0]["value"]: (row[1], row[2]) for row in result["rows"]}
    assert found == {
        key: (len(items), _money([Decimal(i["amount"]) for i in items if i["amount"]]))
        for key, items in expected.items()
    }
    assert [row[0]["value"] for row in result["rows"]] == sorted(
        found, key=lambda v: (v is None, v or "")
    )
    labels = {row[0]["value"]: row[0]["label"] for row in result["rows"]}
    if bucket == "month" and field == "signed_at":  # 23:30 on 31 January stays in January
        assert labels["2026-01-01"] == "2026-01" and found["2026-01-01"][0] == 1
        assert found["2026-02-01"][0] == 1
    if bucket == "week":
        assert labels["2025-12-29"] == "2026-W01"
    if bucket == "day" and field == "signed_at":
        assert found["1990-07-01"][0] == 1 and "1990-06-30" not in found
    if bucket == "quarter":
        assert labels["2026-01-01"] == "2026 Q1"
    assert labels[None] == "(空)"


def test_each_dimension_kind_has_its_value_and_label(crm: dict[str, Any]) -> None:
    items = _records(crm, "admin", "shop", "sale")
    cases: dict[str, Any] = {
        "region": lambda i: i["region"],
        "client": lambda i: i["client"]["_id"] if i["client"] else None,
        "rep": lambda i: i["rep"]["id"] if i["rep"] else None,
        "team": lambda i: i["team"]["id"] if i["team"] else None,
        "paid": lambda i: i["paid"],
        "qty": lambda i: i["qty"],
        "_created_by": lambda i: i["_created_by"],
        "signed_on": lambda i: i["signed_on"],
        "signed_at": lambda i: i["signed_at"],
        "net": lambda i: i["net"],
    }
    for field, read in cases.items():
        shape = {
            "form": "sale",
            "rows": [{"field": field}],
            "measures": [{"key": "q", "agg": "sum", "field": "qty"}],
        }
        result = _ok(_query(crm, "admin", "shop", shape))
        found: dict[Any, Any] = {}
        for cell, total in result["rows"]:
            value = cell["value"]
            key = value.get("id", value.get("_id")) if isinstance(value, dict) else value
            if field == "_created_by":
                assert cell["label"] and cell["label"] != str(value)
            found[key] = total
            if isinstance(value, dict) and "id" in value:
                assert cell["label"] == value["name"] and value["name"], field
            if isinstance(value, dict) and "_id" in value:
                assert cell["label"] == value["title"] in ("甲", "乙", "丙"), field
        expected: dict[Any, Any] = {}
        for item in items:
            key = read(item)
            if item["qty"] is not None:
                expected[key] = (expected.get(key) or 0) + item["qty"]
            else:
                expected.setdefault(key, None)
        if field == "net":
            expected = {
                (Decimal(k).normalize() if k is not None else None): v for k, v in expected.items()
            }
            found = {
                (Decimal(k).normalize() if k is not None else None): v for k, v in found.items()
            }
        assert found == expected, field
    region = _ok(
        _query(
            crm,
            "admin",
            "shop",
            {
                "form": "sale",
                "rows": [{"field": "region"}],
                "measures": [{"key": "n", "agg": "count"}],
            },
            headers={"Accept-Language": "en"},
        )
    )
    # Options keep their order in the definition, blanks last, labels in the viewer's language.
    assert [row[0] for row in region["rows"]] == [
        {"value": "north", "label": "North"},
        {"value": "south", "label": "South"},
        {"value": "west", "label": "West"},
        {"value": None, "label": "(blank)"},
    ]
    paid = _ok(
        _query(crm, "admin", "shop", {"form": "sale", "rows": [{"field": "paid"}], "measures": []})
    )
    assert {row[0]["label"] for row in paid["rows"]} == {"是", "否"}


def test_a_pivot_with_subtotals_and_totals(crm: dict[str, Any]) -> None:
    shape = {
        "form": "sale",
        "rows": [{"field": "region"}, {"field": "paid"}],
        "columns": [{"field": "status"}],
        "measures": [
            {"key": "s", "agg": "sum", "field": "amount"},
            {"key": "n", "agg": "count"},
            {"key": "a", "agg": "avg", "field": "amount"},
            {"key": "lo", "agg": "min", "field": "amount"},
            {"key": "hi", "agg": "max", "field": "amount"},
            {"key": "q", "agg": "sum", "field": "qty"},
        ],
        "chart": {"type": "pivot", "settings": {"subtotals": True, "totals": True}},
    }
    result = _ok(_query(crm, "admin", "shop", shape))
    items = _records(crm, "admin", "shop", "sale")

    def numbers(group: list[dict[str, Any]]) -> list[Any]:
        amounts = [Decimal(i["amount"]) for i in group if i["amount"] is not None]
        return [
            _money(amounts),
            len(group),
            _ten(sum(amounts, Decimal(0)) / len(amounts)) if amounts else None,
            str(min(amounts)) if amounts else None,
            str(max(amounts)) if amounts else None,
            sum(i["qty"] or 0 for i in group) if any(i["qty"] is not None for i in group) else None,
        ]

    def cells(row: list[Any]) -> tuple[Any, ...]:
        return tuple("*" if c.get("total") else c["value"] for c in row[:3])

    detail: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        detail[(item["region"], item["paid"], item["status"])].append(item)
    assert {cells(row): row[3:] for row in result["rows"]} == {
        key: numbers(group) for key, group in detail.items()
    }
    wanted: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        wanted[(item["region"], "*", item["status"])].append(item)  # subtotal per region
        wanted[("*", "*", item["status"])].append(item)  # total row per column
        wanted[(item["region"], item["paid"], "*")].append(item)  # total column
        wanted[("*", "*", "*")].append(item)  # grand total
    assert {cells(row): row[3:] for row in result["totals"]} == {
        key: numbers(group) for key, group in wanted.items()
    }
    assert all(c["label"] == "合计" for row in result["totals"] for c in row[:3] if c.get("total"))
    # `limit` keeps the first rows; the totals stay over every group.
    limited = _ok(_query(crm, "admin", "shop", {**shape, "limit": 2}))
    assert limited["rows"] == result["rows"][:2]
    assert sorted(map(str, limited["totals"])) == sorted(map(str, result["totals"]))


def test_kpi_with_the_previous_period_and_runtime_filters(crm: dict[str, Any]) -> None:
    today = dt.datetime.now(TZ).date()
    last_month = today.replace(day=1) - dt.timedelta(days=1)
    for day, amount in ((today, "30.00"), (today, "12.50"), (last_month, "7.25")):
        _create(
            crm,
            "shop",
            "sale",
            {"title": "kpi", "signed_on": day.isoformat(), "amount": amount, "region": "north"},
            None,
        )
    shape = {
        "form": "sale",
        "filter": 'title = "kpi"',
        "measures": [{"key": "s", "agg": "sum", "field": "amount"}],
        "chart": {"type": "kpi", "settings": {"date": "signed_on", "period": "month"}},
    }
    result = _ok(_query(crm, "admin", "shop", shape))
    assert result["rows"] == [["42.50"]] and result["previous"] == {"s": "7.25"}
    assert result["periods"]["current"][0] == today.replace(day=1).isoformat()
    assert result["periods"]["previous"] == [
        last_month.replace(day=1).isoformat(),
        last_month.isoformat(),
    ]
    # Runtime filters (a dashboard's) are ANDed to the report's own filter.
    admin = crm["clients"]["admin"]
    revision = admin.get(f"{API}/apps/shop").json()["_revision"]
    report = {
        "name": "区域",
        "form": "sale",
        "rows": [{"field": "region"}],
        "measures": [{"key": "n", "agg": "count"}],
        "_revision": revision,
    }
    assert admin.put(f"{API}/apps/shop/reports/regions", json=report).status_code == 200
    run = admin.post(
        f"{API}/apps/shop/reports/regions/run", json={"filters": ['status = "won"', "qty > 1"]}
    )
    items = _records(crm, "admin", "shop", "sale")
    want = Counter(i["region"] for i in items if i["status"] == "won" and (i["qty"] or 0) > 1)
    assert {row[0]["value"]: row[1] for row in _ok(run)["rows"]} == dict(want)
    bad = admin.post(f"{API}/apps/shop/reports/regions/run", json={"filters": ["nope = 1"]})
    assert bad.status_code == 422
    assert bad.json()["error"]["issues"][0]["path"] == "filters[0]"


def test_the_pivot_cap(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    for start in (0, 1000):
        count = 1000 if start == 0 else 2
        batch = admin.post(
            _url("shop", "tick", "/batch"), json=[{"n": start + i} for i in range(count)]
        )
        assert batch.status_code == 200, batch.text
    measures = [{"key": f"m{i}", "agg": "sum", "field": "n"} for i in range(10)]
    shape = {"form": "tick", "rows": [{"field": "_id"}], "measures": measures}
    refused = _query(crm, "admin", "shop", shape)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "pivot_too_large" and "10000" in error["message"]
    kept = _ok(_query(crm, "admin", "shop", {**shape, "limit": 1000}))
    assert len(kept["rows"]) == 1000
    fewer = _ok(_query(crm, "admin", "shop", {**shape, "measures": measures[:9]}))
    assert len(fewer["rows"]) == 1002


BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"form": "nope"}, "form", "unknown_form"),
    ({"rows": [{"field": "nope"}]}, "rows[0].field", "unknown_field"),
    ({"rows": [{"field": "title", "bucket": "month"}]}, "rows[0].bucket", "bucket_not_date"),
    ({"rows": [{"field": "title", "bucket": "decade"}]}, "rows[0].bucket", "literal_error"),
    ({"columns": [{"field": "client.nope"}]}, "columns[0].field", "unknown_field"),
    ({"measures": [{"key": "s", "agg": "sum"}]}, "measures[0].field", "missing"),
    (
        {"measures": [{"key": "s", "agg": "sum", "field": "title"}]},
        "measures[0].field",
        "not_a_number",
    ),
    (
        {"measures": [{"key": "s", "agg": "median", "field": "qty"}]},
        "measures[0].agg",
        "literal_error",
    ),
    (
        {"measures": [{"key": "r", "agg": "expr", "expr": "nope / 2"}]},
        "measures[0].expr",
        "unknown_field",
    ),
    ({"measures": [{"key": "r", "agg": "expr"}]}, "measures[0].expr", "missing"),
    (
        {"measures": [{"key": "c", "agg": "count", "filter": "qty + 1"}]},
        "measures[0].filter",
        "not_boolean",
    ),
    (
        {"measures": [{"key": "n", "agg": "count"}, {"key": "n", "agg": "count"}]},
        "measures[1].key",
        "duplicate_key",
    ),
    ({"sort": [{"key": "nope"}]}, "sort[0].key", "unknown_sort"),
    ({"filter": "qty +"}, "filter", "unexpected_end"),
    ({"chart": {"type": "radar"}}, "chart.type", "unknown_chart"),
    ({"chart": {"type": "pie"}, "rows": []}, "rows", "chart_shape"),
    (
        {"chart": {"type": "kpi", "settings": {"date": "signed_on"}}},
        "chart.settings.period",
        "missing",
    ),
    (
        {"chart": {"type": "kpi", "settings": {"date": "title", "period": "month"}}},
        "chart.settings.date",
        "not_a_date",
    ),
    (
        {"chart": {"type": "pivot", "settings": {"totals": "yes"}}},
        "chart.settings.totals",
        "bool_type",
    ),
    (
        {
            "chart": {"type": "dual_axis", "settings": {"right": "x"}},
            "measures": [{"key": "a", "agg": "count"}, {"key": "b", "agg": "count"}],
            "rows": [{"field": "region"}],
        },
        "chart.settings.right",
        "unknown_measure",
    ),
    ({"limit": 0}, "limit", "greater_than_equal"),
]


@pytest.mark.parametrize(("part", "path", "code"), BAD)
def test_every_bad_part_of_a_report_is_an_issue_at_its_path(
    crm: dict[str, Any], part: dict[str, Any], path: str, code: str
) -> None:
    shape = {"form": "sale", "rows": [], "measures": [{"key": "n", "agg": "count"}], **part}
    messages = []
    for language in ("zh-CN", "en"):
        answer = _query(crm, "admin", "shop", shape, headers={"Accept-Language": language})
        assert answer.status_code == 422, answer.text
        issues = answer.json()["error"]["issues"]
        found = [i for i in issues if i["path"] == path]
        assert found, issues
        assert found[0]["code"].startswith(code) or code in found[0]["code"], issues
        messages.append(found[0]["message"])
    assert messages[0] != messages[1] or code in ("literal_error", "greater_than_equal")


@pytest.mark.parametrize("user", ["admin", "rep_a1"])
def test_subform_rows_as_the_source(crm: dict[str, Any], user: str) -> None:
    shape = {
        "form": "contract",
        "subform": "items",
        "filter": "qty > 0",
        "rows": [{"field": "status"}, {"field": "product"}],
        "measures": [
            {"key": "qty", "agg": "sum", "field": "qty"},
            {"key": "total", "agg": "sum", "field": "subtotal"},
            {"key": "n", "agg": "count"},
            {"key": "big", "agg": "count", "filter": "price >= 1000"},
        ],
    }
    result = _ok(_query(crm, user, "crm", shape))
    expected: dict[tuple[Any, Any], list[Any]] = {}
    for contract in _records(crm, user, "crm", "contract"):
        for line in contract["items"] or []:
            if not line["qty"] or line["qty"] <= 0:
                continue
            key = (contract["status"], line["product"])
            qty, total, n, big = expected.get(key, [0, Decimal(0), 0, 0])
            expected[key] = [
                qty + line["qty"],
                total + Decimal(line["subtotal"] or 0),
                n + 1,
                big + (1 if line["price"] and Decimal(line["price"]) >= 1000 else 0),
            ]
    found = {
        (row[0]["value"], row[1]["value"]): [row[2], Decimal(row[3]), row[4], row[5]]
        for row in result["rows"]
    }
    assert found == expected and found
    bad = _query(crm, user, "crm", {**shape, "subform": "nope"})
    assert bad.status_code == 422
    assert bad.json()["error"]["issues"][0]["path"] == "subform"


# --- the compiler's statement -------------------------------------------------------------


def _form_sql(crm: dict[str, Any], conn: Any, username: str, form: str) -> Any:
    from engine.auth.permissions import form_access
    from engine.auth.principal import Principal
    from engine.forms import apps
    from engine.forms.sql import FormSql
    from tests.contexts import context

    loaded = apps.load(conn, "crm")
    principal = Principal(crm["ids"][username], username, False, "session")
    layout = loaded.layout.forms[form]
    access = form_access(conn, principal, loaded.id, loaded.layout.spec, layout)
    return FormSql(loaded.layout, layout, context(), access=access)


def test_one_statement_per_run_with_relations_joined(crm: dict[str, Any]) -> None:
    from sqlalchemy import event

    from engine.reports.compile import ReportCompiler
    from engine.reports.runtime import run_report
    from engine.reports.spec import ReportSpec

    report = ReportSpec.model_validate(
        {
            **RANKING,
            "key": "r",
            "name": "r",
            "rows": [{"field": "customer.level"}, {"field": "_owner"}],
        }
    )
    engine = crm["engine"]
    with engine.connect() as conn:
        sql = _form_sql(crm, conn, "rep_a1", "opportunity")
        statements: list[str] = []

        def seen(*args: Any) -> None:
            statements.append(args[2])

        event.listen(conn, "before_cursor_execute", seen)
        try:
            result = run_report(conn, sql, report)
        finally:
            event.remove(conn, "before_cursor_execute", seen)
        assert len(statements) == 1 and result.rows
        compiled = ReportCompiler(sql, report).compile(conn.dialect.name).statement
        text = str(compiled.compile(dialect=conn.dialect))
        # the target joined once, with rep_a1's scope on it in the ON, not a subquery per row;
        # three SELECTs: the records, their groups, and the groups with the owners' names
        assert text.count("LEFT OUTER JOIN r") == 1 and text.count("SELECT") == 3
        assert text.index("LEFT OUTER JOIN users") > text.index("GROUP BY")
        join = text.split("LEFT OUTER JOIN r", 1)[1].split("WHERE", 1)[0]
        assert "_owner" in join


def test_a_path_through_two_relations_is_joined_with_each_targets_scope(
    crm: dict[str, Any],
) -> None:
    """`opportunity.customer` on follow-ups (a relation's relation, as deep as the language
    reaches): both hops are LEFT JOINs of the one statement, each with the viewer's scope in its
    ON — no subquery per row. rep_a1's follow-up of their opportunity whose customer is
    rep_b1's falls in the blank group for rep_a1 and has the customer for the administrator;
    every count equals what the viewer's own records, read through the records API hop by hop,
    give."""
    from engine.reports.compile import ReportCompiler
    from engine.reports.spec import ReportSpec

    probe = crm["probe"]
    if not any(f["content"] == "两跳探针" for f in _records(crm, "admin", "crm", "followup")):
        data = {
            "customer": probe["customer"]["_id"],
            "opportunity": probe["_id"],
            "method": "visit",
            "content": "两跳探针",
        }
        _create(crm, "crm", "followup", data, "rep_a1")
    shape = {
        "form": "followup",
        "rows": [{"field": "opportunity.customer"}, {"field": "opportunity"}],
        "measures": [{"key": "n", "agg": "count"}],
    }
    for user in ("rep_a1", "rep_b1", "admin"):
        opportunities = {o["_id"]: o for o in _records(crm, user, "crm", "opportunity")}
        customers = {c["_id"]: c for c in _records(crm, user, "crm", "customer")}
        expected: Counter[tuple[Any, Any]] = Counter()
        for followup in _records(crm, user, "crm", "followup"):
            opportunity = opportunities.get((followup["opportunity"] or {}).get("_id"))
            customer = customers.get(((opportunity or {}).get("customer") or {}).get("_id"))
            key = (
                customer["_id"] if customer else None,
                opportunity["_id"] if opportunity else None,
            )
            expected[key] += 1
        rows = _ok(_query(crm, user, "crm", shape))["rows"]
        found = {
            ((r[0]["value"] or {}).get("_id"), (r[1]["value"] or {}).get("_id")): r[2] for r in rows
        }
        assert found == dict(expected) and found, user
        for r in rows:
            if r[0]["value"] is not None:
                assert r[0]["label"] == customers[r[0]["value"]["_id"]]["name"]
    probed = {**shape, "filter": 'content = "两跳探针"'}
    mine = _ok(_query(crm, "rep_a1", "crm", probed))["rows"]
    assert [(r[0]["value"], r[1]["value"]["_id"]) for r in mine] == [(None, probe["_id"])]
    theirs = _ok(_query(crm, "admin", "crm", probed))["rows"]
    assert [r[0]["value"] for r in theirs] == [{"_id": probe["customer"]["_id"], "title": "乙方"}]
    with crm["engine"].connect() as conn:
        sql = _form_sql(crm, conn, "rep_a1", "followup")
        report = ReportSpec.model_validate({**shape, "key": "r", "name": "r"})
        compiled = ReportCompiler(sql, report).compile(conn.dialect.name).statement
        text = str(compiled.compile(dialect=conn.dialect))
        pg = conn.dialect.name == "postgresql"
    joins = text.split("LEFT OUTER JOIN r")[1:]
    assert len(joins) == 2  # the opportunity, then its customer — each joined once
    for join in joins:  # rep_a1's own scope on each target, in its ON
        assert "_owner" in join.split("WHERE", 1)[0].split("GROUP BY", 1)[0]
    # the records, their groups (and on PostgreSQL the groups ordered outside): no subquery
    assert text.count("SELECT") == (3 if pg else 2)


DEPOT: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "depot",
    "name": {"zh": "仓库", "en": "Depot"},
    "version": "1.0.0",
    "forms": [
        {
            "key": "item",
            "name": "货品",
            "title_field": "name",
            "fields": [{"key": "name", "type": "text", "label": "名称"}],
        },
        {
            "key": "order",
            "name": "订单",
            "fields": [
                {"key": "note", "type": "text", "label": "备注"},
                {
                    "key": "lines",
                    "type": "subform",
                    "label": "明细",
                    "fields": [
                        {"key": "item", "type": "relation", "label": "货品", "target": "item"},
                        {"key": "qty", "type": "integer", "label": "数量"},
                    ],
                },
            ],
        },
    ],
    "roles": [
        {
            "key": "clerk",
            "name": "店员",
            "forms": {
                "order": {"actions": ["view"], "scope": "all"},
                "item": {"actions": ["view"], "scope": "own"},
            },
        }
    ],
}


def test_a_subform_rows_relation_is_joined_with_its_targets_scope(crm: dict[str, Any]) -> None:
    """Subform rows as the source, grouped by a row's relation: the target is a LEFT JOIN with
    the viewer's scope in its ON. A clerk who may read only their own 货品 sees the other
    货品's quantity under the blank group; the administrator sees each."""
    from engine.reports.compile import ReportCompiler
    from engine.reports.spec import ReportSpec

    admin = crm["clients"]["admin"]
    if admin.get(f"{API}/apps/depot").status_code == 404:
        assert admin.post(f"{API}/apps", json=DEPOT).status_code == 201
        role = next(r for r in admin.get(f"{API}/roles", params={"app": "depot"}).json())
        added = admin.post(
            f"{API}/roles/{role['id']}/members", json={"user_id": crm["ids"]["rep_a1"]}
        )
        assert added.status_code == 201, added.text
        mine = _create(crm, "depot", "item", {"name": "螺丝"}, "rep_a1")["_id"]
        theirs = _create(crm, "depot", "item", {"name": "螺母"}, "rep_b1")["_id"]
        lines = [{"item": mine, "qty": 1}, {"item": theirs, "qty": 2}, {"item": mine, "qty": 3}]
        _create(crm, "depot", "order", {"note": "一单", "lines": lines}, None)
    names = {i["_id"]: i["name"] for i in _records(crm, "admin", "depot", "item")}
    shape = {
        "form": "order",
        "subform": "lines",
        "rows": [{"field": "item"}],
        "measures": [{"key": "qty", "agg": "sum", "field": "qty"}],
    }
    seen = {
        user: {
            (r[0]["value"] or {}).get("_id"): (r[0]["label"], r[1])
            for r in _ok(_query(crm, user, "depot", shape))["rows"]
        }
        for user in ("rep_a1", "admin")
    }
    by_name = {name: key for key, name in names.items()}
    assert seen["admin"] == {by_name["螺丝"]: ("螺丝", 4), by_name["螺母"]: ("螺母", 2)}
    assert seen["rep_a1"] == {by_name["螺丝"]: ("螺丝", 4), None: ("(空)", 2)}
    with crm["engine"].connect() as conn:
        from engine.auth.permissions import form_access
        from engine.auth.principal import Principal
        from engine.forms import apps
        from engine.forms.sql import FormSql
        from tests.contexts import context

        loaded = apps.load(conn, "depot")
        principal = Principal(crm["ids"]["rep_a1"], "rep_a1", False, "session")
        layout = loaded.layout.forms["order"]
        access = form_access(conn, principal, loaded.id, loaded.layout.spec, layout)
        sql = FormSql(loaded.layout, layout, context(), access=access)
        report = ReportSpec.model_validate({**shape, "key": "r", "name": "r"})
        compiled = ReportCompiler(sql, report).compile(conn.dialect.name).statement
        text = str(compiled.compile(dialect=conn.dialect))
    joins = text.split("LEFT OUTER JOIN r")[1:]
    assert len(joins) == 1 and "_owner" in joins[0].split("WHERE", 1)[0]


def test_totals_and_count_distinct_take_each_database_s_measured_shape(
    crm: dict[str, Any],
) -> None:
    from engine.reports.compile import ReportCompiler
    from engine.reports.runtime import run_report
    from engine.reports.spec import ReportSpec

    pivot = ReportSpec.model_validate(
        {
            "key": "p",
            "name": "p",
            "form": "opportunity",
            "rows": [{"field": "_owner"}],
            "columns": [{"field": "stage"}],
            "measures": [{"key": "s", "agg": "sum", "field": "amount"}],
            "chart": {"type": "pivot", "settings": {"totals": True}},
        }
    )
    distinct = ReportSpec.model_validate(
        {
            "key": "d",
            "name": "d",
            "form": "opportunity",
            "rows": [{"field": "stage"}],
            "measures": [{"key": "c", "agg": "count_distinct", "field": "customer"}],
        }
    )
    with crm["engine"].connect() as conn:
        sql = _form_sql(crm, conn, "rep_a1", "opportunity")
        dialect = conn.dialect.name

        def text(report: Any) -> str:
            statement = ReportCompiler(sql, report).compile(dialect).statement
            return str(statement.compile(dialect=conn.dialect)).upper()

        pivot_sql, distinct_sql = text(pivot), text(distinct)
        assert "UNION" not in pivot_sql
        assert ("GROUPING SETS" in pivot_sql) == (dialect == "postgresql")
        assert ("JIMU_PAIRS" in distinct_sql) == (dialect == "postgresql")
        # PostgreSQL groups in a MATERIALIZED CTE, ordered outside (a hash aggregate, not a
        # sort of every record to feed the ORDER BY)
        assert ("MATERIALIZED" in distinct_sql) == (dialect == "postgresql")
        # the rewrite answers what counting distinct values per group answers
        counted = run_report(conn, sql, distinct)
        both = ReportSpec.model_validate(
            {
                **distinct.model_dump(),
                "measures": [*distinct.model_dump()["measures"], {"key": "n", "agg": "count"}],
            }
        )
        plain = run_report(conn, sql, both)
        assert [row[:2] for row in plain.rows] == counted.rows


def test_read_time_fields_filters_by_id_and_sorting_by_a_formula_measure(
    crm: dict[str, Any],
) -> None:
    # a lookup as the dimension, a rollup (over the contract's lines) as the measure
    shape = {
        "form": "contract",
        "rows": [{"field": "customer.level"}],
        "measures": [
            {"key": "total", "agg": "sum", "field": "amount"},
            {"key": "n", "agg": "count"},
            {"key": "mean", "agg": "expr", "expr": "total / n"},
        ],
        "sort": [{"key": "mean", "desc": True}],
        "limit": 2,
    }
    result = _ok(_query(crm, "admin", "crm", shape))
    contracts = _records(crm, "admin", "crm", "contract")
    customers = {c["_id"]: c for c in _records(crm, "admin", "crm", "customer")}
    groups: dict[Any, list[Decimal]] = defaultdict(list)
    for contract in contracts:
        level = customers[contract["customer"]["_id"]]["level"] if contract["customer"] else None
        groups[level].append(Decimal(contract["amount"] or 0))
    means = sorted(
        ((level, sum(v, Decimal(0)) / len(v)) for level, v in groups.items()),
        key=lambda kv: -kv[1],
    )
    assert [row[0]["value"] for row in result["rows"]] == [level for level, _ in means[:2]]
    assert [row[3] for row in result["rows"]] == [_ten(mean) for _, mean in means[:2]]
    lookup = {
        "form": "contact",
        "rows": [{"field": "customer_level"}],
        "measures": [{"key": "n", "agg": "count"}],
    }
    counts = {row[0]["value"]: row[1] for row in _ok(_query(crm, "rep_a1", "crm", lookup))["rows"]}
    assert counts == dict(
        Counter(c["customer_level"] for c in _records(crm, "rep_a1", "crm", "contact"))
    )
    # filters compare people by id, CURRENT_USER() included
    mine = {
        "form": "opportunity",
        "filter": "_owner = CURRENT_USER()",
        "measures": [{"key": "n", "agg": "count"}],
    }
    for user in ("director", "rep_b1"):
        owned = [
            i for i in _records(crm, user, "crm", "opportunity") if i["_owner"] == crm["ids"][user]
        ]
        assert _ok(_query(crm, user, "crm", mine))["rows"] == [[len(owned)]]
    rep = crm["ids"]["rep_b2"]
    by_id = {**mine, "filter": f"_owner = {rep}"}
    items = _records(crm, "admin", "crm", "opportunity")
    assert _ok(_query(crm, "admin", "crm", by_id))["rows"] == [
        [sum(1 for i in items if i["_owner"] == rep)]
    ]


def test_a_viewer_without_access_to_the_form_gets_404(crm: dict[str, Any]) -> None:
    shape = {"form": "opportunity", "measures": [{"key": "n", "agg": "count"}]}
    assert _query(crm, "finance", "crm", shape).status_code == 404
    assert _query(crm, "finance", "nope", shape).status_code == 404


# --- kept statements and the menu (issue 15 leftovers) --------------------------------------

THIS_MONTH = {
    "key": "month",
    "name": "month",
    "form": "contract",
    "filter": "signed_date > EOMONTH(TODAY(), -1) AND signed_date <= EOMONTH(TODAY(), 0)",
    "rows": [{"field": "_owner"}],
    "measures": [{"key": "n", "agg": "count"}],
}


def _month_counts(items: list[dict[str, Any]], day: dt.date) -> dict[int, int]:
    """Contracts signed in `day`'s month per owner, counted here from the records."""
    found: Counter[int] = Counter()
    for item in items:
        signed = item.get("signed_date")
        if signed and signed[:7] == day.isoformat()[:7]:
            found[item["_owner"]] += 1
    return dict(found)


def test_a_kept_report_moves_with_the_clock_and_answers_each_viewer(
    crm: dict[str, Any],
) -> None:
    """The compiled report is kept (the same statement for the same viewer on the same day),
    yet "this month" follows the clock the engine is given and each viewer's scope."""
    from engine.reports.runtime import compiled_report, run_report
    from engine.reports.spec import ReportSpec
    from tests.contexts import context

    report = ReportSpec.model_validate(THIS_MONTH)
    today = dt.datetime.now(TZ).date()
    months = [today.replace(day=15) - dt.timedelta(days=31 * back) for back in range(3)]
    answered = 0
    with crm["engine"].connect() as conn:
        for user in ("rep_a1", "director", "finance"):
            items = _records(crm, user, "crm", "contract")
            base = _form_sql(crm, conn, user, "contract")
            for day in months:
                moment = dt.datetime(day.year, day.month, day.day, 12, tzinfo=TZ)
                sql = type(base)(base.app, base.form, context(now=moment), access=base.access)
                again = type(base)(base.app, base.form, context(now=moment), access=base.access)
                kept = compiled_report(conn, sql, report)
                assert compiled_report(conn, again, report) is kept
                found = run_report(conn, sql, report)
                counts = {row[0]["value"]: row[1] for row in found.rows}
                assert counts == _month_counts(items, day), (user, day)
                answered += len(counts)
    assert answered  # the sample data has contracts in these months


def test_a_publish_starts_the_kept_reports_afresh(crm: dict[str, Any]) -> None:
    admin = crm["clients"]["admin"]
    shape = {**THIS_MONTH, "rows": [{"field": "status"}]}
    assert _ok(_query(crm, "admin", "crm", shape))["columns"][0]["label"] == "状态"
    definition = admin.get(f"{API}/apps/crm").json()
    original = _form(definition, "contract")
    field = next(f for f in original["fields"] if f["key"] == "status")
    label = field["label"]
    field["label"] = {"zh": "合同状态", "en": "Contract status"}
    published = admin.put(f"{API}/apps/crm", json=definition)
    assert published.status_code == 200, published.text
    try:
        assert _ok(_query(crm, "admin", "crm", shape))["columns"][0]["label"] == "合同状态"
        english = _query(crm, "admin", "crm", shape, headers={"Accept-Language": "en"})
        assert _ok(english)["columns"][0]["label"] == "Contract status"
    finally:
        field["label"] = label
        definition["_revision"] = published.json()["_revision"]
        assert admin.put(f"{API}/apps/crm", json=definition).status_code == 200


def test_the_menu_lists_the_reports_each_viewer_may_run(crm: dict[str, Any]) -> None:
    definition = crm["clients"]["admin"].get(f"{API}/apps/crm").json()
    forms_of = {r["key"]: r["form"] for r in definition["reports"]}

    def menu(user: str) -> list[str]:
        answer = _ok(crm["clients"][user].get(f"{API}/apps/crm/menu"))
        found: list[str] = answer["reports"]
        return found

    assert menu("admin") == list(forms_of)
    assert menu("auditor") == []  # customers and contacts only: no report to run, no 报表
    finance = [key for key, form in forms_of.items() if form == "contract"]
    assert finance and menu("finance") == finance
    for key in menu("rep_a1"):  # what the menu offers runs
        assert crm["clients"]["rep_a1"].post(f"{API}/apps/crm/reports/{key}/run").status_code == 200
    assert (
        crm["clients"]["finance"].post(f"{API}/apps/crm/reports/sales_funnel/run").status_code
        == 404
    )


def test_a_browser_session_runs_reports_with_its_csrf_token(crm: dict[str, Any]) -> None:
    """The run routes authenticate in the statement that opens the read: a session cookie's
    POST still needs its X-CSRF-Token, and no or a wrong credential is a 401."""
    from fastapi.testclient import TestClient

    from tests.auth.crm_org import USERS

    browser = TestClient(crm["app"], raise_server_exceptions=False)
    shape = {"form": "opportunity", "measures": [{"key": "n", "agg": "count"}]}
    assert browser.post(f"{API}/apps/crm/query", json=shape).status_code == 401
    bad = {"Authorization": "Bearer jimu_s_nope"}
    assert browser.post(f"{API}/apps/crm/query", json=shape, headers=bad).status_code == 401
    login = browser.post(
        f"{API}/auth/login", json={"username": "rep_a1", "password": USERS["password"]}
    )
    assert login.status_code == 200, login.text
    refused = browser.post(f"{API}/apps/crm/query", json=shape)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    token = {"X-CSRF-Token": login.json()["csrf_token"]}
    found = _ok(browser.post(f"{API}/apps/crm/query", json=shape, headers=token))
    mine = len(_records(crm, "rep_a1", "crm", "opportunity"))
    assert found["rows"] == [[mine]]
    ran = browser.post(f"{API}/apps/crm/reports/sales_funnel/run", headers=token)
    assert ran.status_code == 200, ran.text


def test_a_members_saved_report_through_http_is_compiled_once(crm: dict[str, Any]) -> None:
    """`POST …/reports/{report}/run` for a member reuses the statement kept for them: the
    second run compiles nothing (`KEPT`) and answers the same; another member compiles their
    own (their scope is in it)."""
    from engine.reports.runtime import KEPT

    def run(user: str) -> dict[str, Any]:
        answer = crm["clients"][user].post(f"{API}/apps/crm/reports/customer_sources/run")
        found: dict[str, Any] = _ok(answer)
        return found

    first = run("rep_a1")
    before = KEPT.copy()
    assert run("rep_a1") == first
    assert KEPT["compiled"] == before["compiled"]
    assert KEPT["reused"] == before["reused"] + 1
    other = run("rep_b1")
    assert KEPT["compiled"] == before["compiled"] + 1
    assert run("rep_b1") == other and KEPT["compiled"] == before["compiled"] + 1


def test_cells_from_the_drivers_values_equal_the_general_paths(
    crm: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report whose rows are its answer is written from the driver's values (each column
    converted once per distinct dimension value, money sums as text straight from the value):
    the same cells as the general path, which converts every value and writes `CellWriter.row`."""
    from engine.forms import apps
    from engine.forms.sql import FormSql
    from engine.reports import runtime
    from engine.reports.spec import ReportSpec
    from tests.contexts import context

    measures = [
        {"key": "s", "agg": "sum", "field": "amount"},
        {"key": "lo", "agg": "min", "field": "amount"},
        {"key": "hi", "agg": "max", "field": "amount"},
        {"key": "q", "agg": "sum", "field": "qty"},
        {"key": "n", "agg": "count"},
        {"key": "c", "agg": "count_distinct", "field": "client"},
        {"key": "net", "agg": "sum", "field": "net"},
        {"key": "late", "agg": "max", "field": "signed_at"},
    ]
    dimensions = [
        [{"field": "region"}, {"field": "status"}],
        [{"field": "signed_at", "bucket": "month"}],
        [{"field": "signed_on", "bucket": "week"}, {"field": "paid"}],
        [{"field": "client"}, {"field": "rep"}, {"field": "team"}],
        [{"field": "_owner"}, {"field": "qty"}],
        [{"field": "amount"}],
    ]
    with crm["engine"].connect() as conn:
        loaded = apps.load(conn, "shop")
        sql = FormSql(loaded.layout, loaded.layout.forms["sale"], context(), access=None)
        for rows in dimensions:
            for lang in ("zh", "en"):
                report = ReportSpec.model_validate(
                    {"key": "r", "name": "r", "form": "sale", "rows": rows, "measures": measures}
                )
                assert runtime._plain_cells(runtime.compiled_report(conn, sql, report), report)
                plain = runtime.run_report(conn, sql, report, lang=lang)
                with monkeypatch.context() as patched:
                    patched.setattr(runtime, "_plain_cells", lambda *_: False)
                    general = runtime.run_report(conn, sql, report, lang=lang)
                assert plain.rows and plain.model_dump() == general.model_dump(), rows
