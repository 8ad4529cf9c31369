"""Chart types of a report (DESIGN §10): one registered class per type, owning its checks.

A chart type says which shapes of report it can draw — how many row and column dimensions and
measures — and checks its own `settings`. `check_chart` runs the type's checks and answers
`Issue`s at `reports[i].chart…` paths; an unknown type is `unknown_chart`. Adding a chart type
is one new class registered with `register_chart`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from engine.core.issues import Issue
from engine.core.registry import Registry

BUCKETS = ("year", "quarter", "month", "week", "day")


class ChartType:
    """One kind of chart: the report shapes it draws and the checks of its settings."""

    name: ClassVar[str]
    label: ClassVar[tuple[str, str]]
    rows: ClassVar[tuple[int, int | None]] = (0, None)  # row dimensions, min and max
    columns: ClassVar[tuple[int, int | None]] = (0, None)
    measures: ClassVar[tuple[int, int | None]] = (0, None)

    def check(self, report: Any, at: str) -> list[Issue]:
        """The issues of drawing `report` (its dimensions, measures and chart settings)."""
        issues = _count(report.rows, self.rows, f"{at}.rows", ("行维度", "row dimensions"), self)
        issues += _count(
            report.columns, self.columns, f"{at}.columns", ("列维度", "column dimensions"), self
        )
        issues += _count(
            report.measures, self.measures, f"{at}.measures", ("指标", "measures"), self
        )
        return issues + self.check_settings(report, _settings(report), f"{at}.chart.settings")

    def check_settings(self, report: Any, settings: dict[str, Any], at: str) -> list[Issue]:
        """The issues of the chart's own settings (none by default)."""
        return []


def _settings(report: Any) -> dict[str, Any]:
    chart = report.chart
    found = getattr(chart, "settings", None) if chart is not None else None
    return found if isinstance(found, dict) else {}


def _count(
    items: list[Any], bounds: tuple[int, int | None], at: str, what: tuple[str, str], chart: Any
) -> list[Issue]:
    low, high = bounds
    if len(items) >= low and (high is None or len(items) <= high):
        return []
    if high is None:
        zh, en = f"至少 {low} 个", f"at least {low}"
    elif low == high:
        zh, en = f"恰好 {low} 个", f"exactly {low}"
    else:
        zh, en = f"{low} 到 {high} 个", f"{low} to {high}"
    return [
        Issue(
            at,
            "chart_shape",
            f"{chart.label[0]}需要{zh}{what[0]}",
            f"A {chart.label[1]} chart needs {en} {what[1]}",
        )
    ]


def _flag(settings: dict[str, Any], key: str, at: str) -> list[Issue]:
    if key in settings and not isinstance(settings[key], bool):
        return [Issue(f"{at}.{key}", "bool_type", "应为真/假", "Should be true or false")]
    return []


CHARTS: Registry[ChartType] = Registry("chart type")


def register_chart(cls: type[ChartType]) -> type[ChartType]:
    """Register a chart type class by its `name`."""
    CHARTS.register(cls.name, cls())
    return cls


@register_chart
class TableChart(ChartType):
    """A plain table of the result rows."""

    name = "table"
    label = ("表格", "table")


@register_chart
class PivotChart(ChartType):
    """A pivot table: row and column dimensions, measures in the cells; optional subtotals and
    grand totals (`settings.subtotals`, `settings.totals`)."""

    name = "pivot"
    label = ("透视表", "pivot")
    measures = (1, None)

    def check_settings(self, report: Any, settings: dict[str, Any], at: str) -> list[Issue]:
        return _flag(settings, "subtotals", at) + _flag(settings, "totals", at)


class _Categories(ChartType):
    """A chart over one category dimension and optionally one series dimension: the series is
    the column dimension, or the second row dimension."""

    label = ("图表", "chart")
    rows = (1, 2)
    columns = (0, 1)
    measures = (1, None)

    def check(self, report: Any, at: str) -> list[Issue]:
        issues = super().check(report, at)
        if not issues and len(report.rows) + len(report.columns) > 2:
            issues.append(
                Issue(
                    f"{at}.columns",
                    "chart_shape",
                    f"{self.label[0]}最多有两个维度（类别和系列）",
                    f"A {self.label[1]} chart has at most two dimensions (category and series)",
                )
            )
        return issues


@register_chart
class BarChart(_Categories):
    """Bars per category (a series per column value or per measure)."""

    name = "bar"
    label = ("柱状图", "bar")


@register_chart
class LineChart(_Categories):
    """A line per measure (or per column value) over the categories, usually dates."""

    name = "line"
    label = ("折线图", "line")


@register_chart
class AreaChart(_Categories):
    """A filled line chart."""

    name = "area"
    label = ("面积图", "area")


@register_chart
class StackedBarChart(_Categories):
    """Bars stacked by the column dimension's values, or by the measures."""

    name = "stacked_bar"
    label = ("堆叠柱状图", "stacked bar")

    def check_settings(self, report: Any, settings: dict[str, Any], at: str) -> list[Issue]:
        if len(report.rows) + len(report.columns) < 2 and len(report.measures) < 2:
            return [
                Issue(
                    at.rsplit(".chart", 1)[0] + ".columns",
                    "chart_shape",
                    "堆叠柱状图需要一个列维度或至少两个指标",
                    "A stacked bar chart needs a column dimension or at least two measures",
                )
            ]
        return []


class _Parts(ChartType):
    """One dimension, one measure: the parts of a whole."""

    label = ("图表", "chart")
    rows = (1, 1)
    columns = (0, 0)
    measures = (1, 1)


@register_chart
class PieChart(_Parts):
    """Slices of one measure per category."""

    name = "pie"
    label = ("饼图", "pie")


@register_chart
class FunnelChart(_Parts):
    """Stages of a process (in the dimension's option order): the first measure sizes each
    stage, a second one (the amount beside the count) is shown with it."""

    name = "funnel"
    label = ("漏斗图", "funnel")
    measures = (1, 2)


@register_chart
class RankingChart(ChartType):
    """A ranked list: one dimension, measures, ordered by the first measure unless sorted."""

    name = "ranking"
    label = ("排行榜", "ranking")
    rows = (1, 1)
    columns = (0, 0)
    measures = (1, None)


@register_chart
class DualAxisChart(ChartType):
    """Two measures over one category dimension, each on its own axis (`settings.right`: the
    measure on the right axis, default the second)."""

    name = "dual_axis"
    label = ("双轴图", "dual axis")
    rows = (1, 1)
    columns = (0, 0)
    measures = (2, 2)

    def check_settings(self, report: Any, settings: dict[str, Any], at: str) -> list[Issue]:
        right = settings.get("right")
        if right is not None and right not in {m.key for m in report.measures}:
            return [
                Issue(
                    f"{at}.right",
                    "unknown_measure",
                    f"右轴指标 {right} 不是本报表的指标",
                    f"Right-axis measure {right} is not a measure of this report",
                )
            ]
        return []


@register_chart
class KpiChart(ChartType):
    """One number, and with `settings.date` (a date field) and `settings.period` (a bucket) the
    same number for the previous period: this month's total against last month's."""

    name = "kpi"
    label = ("指标卡", "KPI")
    rows = (0, 0)
    columns = (0, 0)
    measures = (1, 1)

    def check_settings(self, report: Any, settings: dict[str, Any], at: str) -> list[Issue]:
        issues: list[Issue] = []
        date, period = settings.get("date"), settings.get("period")
        if (date is None) != (period is None):
            missing = "period" if period is None else "date"
            issues.append(
                Issue(
                    f"{at}.{missing}",
                    "missing",
                    "对比上期需要同时给出日期字段和周期",
                    "Comparing with the previous period needs both a date field and a period",
                )
            )
        if period is not None and period not in BUCKETS:
            issues.append(
                Issue(
                    f"{at}.period",
                    "unknown_period",
                    f"周期应为 {'、'.join(BUCKETS)} 之一",
                    f"The period should be one of {', '.join(BUCKETS)}",
                )
            )
        if date is not None and not isinstance(date, str):
            issues.append(Issue(f"{at}.date", "string_type", "应为文本", "Should be text"))
        return issues


def check_chart(report: Any, at: str) -> list[Issue]:
    """The issues of `report`'s chart (none without one) at `at` (``reports[0]``)."""
    if report.chart is None:
        return []
    chart = CHARTS.get(report.chart.type)
    if chart is None:
        return [
            Issue(
                f"{at}.chart.type",
                "unknown_chart",
                f"未知图表类型 {report.chart.type}（可选：{'、'.join(CHARTS.names())}）",
                f"Unknown chart type {report.chart.type} (one of: {', '.join(CHARTS.names())})",
            )
        ]
    return chart.check(report, at)


__all__ = ["BUCKETS", "CHARTS", "ChartType", "check_chart", "register_chart"]
