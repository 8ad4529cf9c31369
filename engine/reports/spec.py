"""The report and dashboard parts of an app definition (DESIGN §10): typed, still small.

```json
{"key": "sales_ranking", "name": {"zh": "签单排行", "en": "Sales ranking"}, "form": "contract",
 "filter": "amount > 0", "rows": [{"field": "_owner"}], "columns": [],
 "measures": [{"key": "total", "agg": "sum", "field": "amount"}, {"key": "n", "agg": "count"}],
 "sort": [{"key": "total", "desc": true}], "limit": 10, "chart": {"type": "bar"}}
{"key": "sales", "name": {"zh": "销售看板", "en": "Sales"},
 "widgets": [{"report": "sales_ranking", "x": 0, "y": 0, "w": 6, "h": 4}]}
```

This module owns both shapes and their checks against the rest of the app: a report's form
exists, its dimensions and measures name its fields (or system fields), measure keys are
unique, a sort names a measure or a dimension, the filter type-checks over its records; a
dashboard's widgets name reports of the app. Dimensions, measures, charts and widgets tolerate
further properties (chart settings, drill-down), which the reports engine will type. A report's
plan lists the fields it reads, a dashboard's the reports it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import Field

from engine.core.issues import Issue
from engine.core.parts import DefinitionPart, register_part
from engine.forms.common import Formula, Key, Label, OpenSpec, Spec
from engine.forms.references import FormRefs, duplicate_keys
from engine.forms.spec import AppSpec

FieldName = Annotated[str, Field(pattern=r"^_?[a-z][a-z0-9_]{0,40}$")]
Aggregate = Literal["sum", "count", "avg", "min", "max", "count_distinct", "expr"]


class Dimension(OpenSpec):
    """A row or column dimension: a field (or system field), dates optionally bucketed."""

    field: FieldName
    bucket: Literal["year", "quarter", "month", "week", "day"] | None = None


class Measure(OpenSpec):
    """A measure: `agg` over `field` (none for `count`), or a formula for `expr`."""

    key: Key
    agg: Aggregate
    field: FieldName | None = None
    expr: Formula | None = None
    label: Label | None = None


class SortKey(Spec):
    """Order by a measure key or a dimension field."""

    key: FieldName
    desc: bool = False


class Chart(OpenSpec):
    """How the result is drawn (table, pivot, bar, line, pie, KPI, …)."""

    type: Key


class ReportSpec(Spec):
    """A report over `form`'s records: filter, dimensions, measures, order, limit and chart."""

    key: Key
    name: Label
    form: Key
    description: Label | None = None
    filter: Formula | None = None
    rows: list[Dimension] = Field(default_factory=list)
    columns: list[Dimension] = Field(default_factory=list)
    measures: list[Measure] = Field(default_factory=list)
    sort: list[SortKey] = Field(default_factory=list)
    limit: Annotated[int, Field(ge=1, le=10_000)] | None = None
    chart: Chart | None = None


class Widget(OpenSpec):
    """A dashboard widget showing one report, placed on the grid."""

    report: Key
    x: Annotated[int, Field(ge=0)] | None = None
    y: Annotated[int, Field(ge=0)] | None = None
    w: Annotated[int, Field(ge=1)] | None = None
    h: Annotated[int, Field(ge=1)] | None = None


class DashboardSpec(Spec):
    """A dashboard: widgets on a grid, and its global filters (typed by the reports engine)."""

    key: Key
    name: Label
    description: Label | None = None
    widgets: list[Widget] = Field(default_factory=list)
    filters: list[dict[str, Any]] = Field(default_factory=list)


def check_reports(app: AppSpec, reports: Sequence[Any]) -> list[Issue]:
    """The reports' issues against the forms of `app`."""
    refs = FormRefs(app)
    issues = duplicate_keys([r.key for r in reports], "reports", ("报表", "report"))
    for index, report in enumerate(reports):
        at = f"reports[{index}]"
        issues += refs.form_issues(report.form, f"{at}.form")
        for part in ("rows", "columns"):
            for d, dim in enumerate(getattr(report, part)):
                issues += refs.field_issues(report.form, dim.field, f"{at}.{part}[{d}].field")
        issues += duplicate_keys(
            [m.key for m in report.measures], f"{at}.measures", ("指标", "measure")
        )
        for m, measure in enumerate(report.measures):
            where = f"{at}.measures[{m}]"
            if measure.field is not None:
                issues += refs.field_issues(report.form, measure.field, f"{where}.field")
            elif measure.agg not in ("count", "expr"):
                issues.append(_missing(f"{where}.field", "汇总字段", "the field to aggregate"))
            if measure.agg == "expr":
                if measure.expr is None:
                    issues.append(_missing(f"{where}.expr", "指标公式", "the measure's formula"))
                else:
                    issues += refs.condition_issues(
                        report.form, measure.expr, f"{where}.expr", boolean=False
                    )
        names = {m.key for m in report.measures} | {
            d.field for d in [*report.rows, *report.columns]
        }
        for s, key in enumerate(report.sort):
            if key.key not in names:
                issues.append(
                    Issue(
                        f"{at}.sort[{s}].key",
                        "unknown_sort",
                        f"排序项 {key.key} 不是本报表的指标或维度",
                        f"Sort key {key.key} is not a measure or dimension of this report",
                    )
                )
        if report.filter is not None:
            issues += refs.condition_issues(report.form, report.filter, f"{at}.filter")
    return issues


def _missing(path: str, zh: str, en: str) -> Issue:
    return Issue(path, "missing", f"缺少{zh}", f"Missing {en}")


def plan_report(app: AppSpec, report: Any) -> dict[str, Any]:
    """What running `report` reads: its form and the fields (with their types as published)."""
    refs = FormRefs(app)
    keys = [d.field for d in [*report.rows, *report.columns]]
    keys += [m.field for m in report.measures if m.field is not None]
    return {
        "form": report.form,
        "measures": [m.key for m in report.measures],
        "fields": [refs.field_ref(report.form, key) for key in dict.fromkeys(keys)],
    }


def check_dashboards(app: Any, dashboards: Sequence[Any]) -> list[Issue]:
    """The dashboards' issues: every widget shows a report of the app."""
    reports = {report.key for report in getattr(app, "reports", [])}
    issues = duplicate_keys([d.key for d in dashboards], "dashboards", ("仪表盘", "dashboard"))
    for index, dashboard in enumerate(dashboards):
        for w, widget in enumerate(dashboard.widgets):
            if widget.report not in reports:
                issues.append(
                    Issue(
                        f"dashboards[{index}].widgets[{w}].report",
                        "unknown_report",
                        f"报表 {widget.report} 不存在",
                        f"Report {widget.report} does not exist",
                    )
                )
    return issues


def plan_dashboard(app: Any, dashboard: Any) -> dict[str, Any]:
    """The reports a dashboard shows, in widget order."""
    return {"reports": [widget.report for widget in dashboard.widgets]}


REPORTS = register_part(
    DefinitionPart(
        name="reports",
        item=ReportSpec,
        title=("报表", "reports"),
        check=check_reports,
        plan=plan_report,
    )
)
DASHBOARDS = register_part(
    DefinitionPart(
        name="dashboards",
        item=DashboardSpec,
        title=("仪表盘", "dashboards"),
        check=check_dashboards,
        plan=plan_dashboard,
    )
)

__all__ = [
    "DASHBOARDS",
    "REPORTS",
    "Chart",
    "DashboardSpec",
    "Dimension",
    "Measure",
    "ReportSpec",
    "SortKey",
    "Widget",
    "check_dashboards",
    "check_reports",
    "plan_dashboard",
    "plan_report",
]
