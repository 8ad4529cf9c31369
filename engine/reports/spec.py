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
exists, its dimensions and measures name its fields (or system fields, or a field reached
through to-one relations: `customer.industry`) holding one value per record, date buckets are
on dates, sums and averages are over numbers, measure keys are unique, a measure's own
`filter` is a condition over the records, a formula measure (`agg: "expr"`) combines other
measures (`won / n`), a sort names a measure or a dimension, the filter type-checks over its
records, and the chart can draw the report (`engine.reports.charts`); a dashboard's widgets name
reports of the app. Dimensions, measures, charts and widgets tolerate further properties
(drill-down), which the reports engine will type. A report's plan lists the fields it reads, a
dashboard's the reports it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import Field

from engine import expr
from engine.core.issues import Issue
from engine.core.parts import DefinitionPart, register_part
from engine.forms.checks import _formula_issues
from engine.forms.common import Formula, Key, Label, OpenSpec, Spec
from engine.forms.references import FormRefs, duplicate_keys
from engine.forms.schema import form_schemas, row_schema
from engine.forms.spec import AppSpec
from engine.reports.charts import check_chart

FieldName = Annotated[str, Field(pattern=r"^_?[a-z][a-z0-9_]{0,40}(\.[a-z][a-z0-9_]{0,40}){0,3}$")]
"""A field key, a system field (`_owner`) or a path through to-one relations (`customer.level`)."""
Aggregate = Literal["sum", "count", "avg", "min", "max", "count_distinct", "expr"]


class Dimension(OpenSpec):
    """A row or column dimension: a field (or system field, or relation path), dates optionally
    bucketed (ISO weeks; in the organisation's time zone)."""

    field: FieldName
    bucket: Literal["year", "quarter", "month", "week", "day"] | None = None
    label: Label | None = None


class Measure(OpenSpec):
    """A measure: `agg` over `field` (none for `count`: records), only over the records its own
    `filter` keeps (conditional counts); or, for `expr`, a formula over the other measures'
    keys (`won / n`)."""

    key: Key
    agg: Aggregate
    field: FieldName | None = None
    expr: Formula | None = None
    filter: Formula | None = None
    label: Label | None = None


class SortKey(Spec):
    """Order by a measure key or a dimension field."""

    key: FieldName
    desc: bool = False


class Chart(OpenSpec):
    """How the result is drawn (table, pivot, bar, line, pie, KPI, …: `engine.reports.charts`)
    and that chart type's `settings`."""

    type: Key
    settings: dict[str, Any] | None = None


class ReportSpec(Spec):
    """A report over `form`'s records — or, with `subform`, over the rows of that subform (whose
    formulas also see the record's fields) —: filter, dimensions, measures, order, limit and
    chart."""

    key: Key
    name: Label
    form: Key
    subform: Key | None = None
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
        issues += check_report(refs, report, f"reports[{index}]")
    return issues


def check_report(refs: FormRefs, report: Any, at: str) -> list[Issue]:
    """One report's issues (paths under `at`, e.g. ``reports[0]``)."""
    issues = refs.form_issues(report.form, f"{at}.form")
    if issues:
        return issues
    if report.subform is not None and report.subform not in refs.subforms(report.form):
        return [
            Issue(
                f"{at}.subform",
                "unknown_subform",
                f"表单 {report.form} 没有子表 {report.subform}",
                f"Form {report.form} has no subform {report.subform}",
            )
        ]
    for part in ("rows", "columns"):
        for d, dim in enumerate(getattr(report, part)):
            where = f"{at}.{part}[{d}]"
            found, kind = _path_kind(refs, report, dim.field, f"{where}.field")
            issues += found
            if not found and dim.bucket is not None and kind not in ("date", "datetime"):
                issues.append(
                    Issue(
                        f"{where}.bucket",
                        "bucket_not_date",
                        f"只有日期字段可以按{_BUCKETS_ZH[dim.bucket]}分组",
                        f"Only dates can be grouped by {dim.bucket}",
                    )
                )
    issues += duplicate_keys(
        [m.key for m in report.measures], f"{at}.measures", ("指标", "measure")
    )
    issues += _measure_issues(refs, report, at)
    names = {m.key for m in report.measures} | {d.field for d in [*report.rows, *report.columns]}
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
        issues += _condition_issues(refs, report, report.filter, f"{at}.filter")
    issues += check_chart(report, at)
    chart = report.chart
    date = (chart.settings or {}).get("date") if chart is not None else None
    if isinstance(date, str):
        found, kind = _path_kind(refs, report, date, f"{at}.chart.settings.date")
        issues += found
        if not found and kind not in ("date", "datetime"):
            issues.append(
                Issue(
                    f"{at}.chart.settings.date",
                    "not_a_date",
                    f"{date} 不是日期字段",
                    f"{date} is not a date field",
                )
            )
    return issues


_BUCKETS_ZH = {"year": "年", "quarter": "季度", "month": "月", "week": "周", "day": "日"}
_NUMERIC_AGGREGATES = ("sum", "avg")


def _measure_issues(refs: FormRefs, report: Any, at: str) -> list[Issue]:
    issues: list[Issue] = []
    others = {m.key: {"type": "number"} for m in report.measures if m.agg != "expr"}
    for m, measure in enumerate(report.measures):
        where = f"{at}.measures[{m}]"
        if measure.agg == "expr":
            if measure.expr is None:
                issues.append(_missing(f"{where}.expr", "指标公式", "the measure's formula"))
            else:
                issues += _formula_issues(measure.expr, others, f"{where}.expr", set(), False)
            if measure.field is not None or measure.filter is not None:
                issues.append(
                    Issue(
                        where,
                        "expr_measure",
                        "公式指标只由其他指标计算，不能再指定字段或筛选",
                        "A formula measure combines other measures: no field or filter of its own",
                    )
                )
            continue
        if measure.field is not None:
            found, kind = _path_kind(refs, report, measure.field, f"{where}.field")
            issues += found
            if not found and measure.agg in _NUMERIC_AGGREGATES and kind != "number":
                issues.append(
                    Issue(
                        f"{where}.field",
                        "not_a_number",
                        f"只能对数字求和或平均，{measure.field} 不是数字",
                        f"Only numbers can be summed or averaged; {measure.field} is not a number",
                    )
                )
        elif measure.agg != "count":
            issues.append(_missing(f"{where}.field", "汇总字段", "the field to aggregate"))
        if measure.filter is not None:
            issues += _condition_issues(refs, report, measure.filter, f"{where}.filter")
    return issues


def _path_kind(refs: FormRefs, report: Any, path: str, at: str) -> tuple[list[Issue], str | None]:
    """The issues of a dimension's or measure's field path, and the kind of its value: unknown
    fields, lists (a subform, a to-many relation) and layout fields are refused. Over a
    subform's rows a path names a row field or a field of the record."""
    form = report.form
    head = path.split(".", 1)[0]
    rows = refs.subforms(form).get(report.subform or "")
    row_keys = {f.key for f in rows.fields} if rows is not None else set()
    if head not in row_keys:
        issues = refs.field_issues(form, head, at)
        if issues:
            return issues, None
        found = refs.forms[form]
        spec = next((f for f in found.fields if f.key == head), None)
    else:
        assert rows is not None
        spec = next(f for f in rows.fields if f.key == head)
    if spec is not None and spec.type in ("subform", "section"):
        return [_not_a_value(at, path)], None
    issues = _condition_issues(refs, report, path, at, boolean=False)
    if issues:
        return issues, None
    try:
        kind = expr.check(path, _source_schema(refs, report))
    except (expr.ExprError, ValueError):  # pragma: no cover - reported above
        return [], None
    if kind.is_list:
        return [_not_a_value(at, path)], None
    return [], kind.kind


def _condition_issues(
    refs: FormRefs, report: Any, source: str, at: str, *, boolean: bool = True
) -> list[Issue]:
    """A formula over the report's source (records, or subform rows) and its issues."""
    if report.subform is None:
        return refs.condition_issues(report.form, source, at, boolean=boolean)
    return _formula_issues(source, _source_schema(refs, report), at, set(), boolean)


def _source_schema(refs: FormRefs, report: Any) -> dict[str, Any]:
    """The formula schema of the report's source: its form's, or a subform row's."""
    schema = _schema(refs, report.form)
    rows = refs.subforms(report.form).get(report.subform or "")
    return schema if rows is None else row_schema(schema, rows)


def _schema(refs: FormRefs, form: str) -> dict[str, Any]:
    """The formula schema of `form` (built once per check, like `FormRefs.condition_issues`)."""
    schemas = getattr(refs, "_report_schemas", None)
    if schemas is None:
        schemas = form_schemas(refs.app)
        refs._report_schemas = schemas  # type: ignore[attr-defined]
    found: dict[str, Any] = schemas.get(form, {})
    return found


def _not_a_value(at: str, path: str) -> Issue:
    return Issue(
        at,
        "not_a_value",
        f"{path} 不是每条记录一个值（子表、多值关联不能作为维度或指标）",
        f"{path} does not hold one value per record (subforms and to-many relations cannot be "
        "dimensions or measures)",
    )


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
    "check_report",
    "check_reports",
    "plan_dashboard",
    "plan_report",
]
