"""The report compiler: one report spec, one viewer → ONE SQL statement (DESIGN §10).

Built on the forms engine's SQL half (`engine.forms.sql.FormSql.scoped`): the viewer's row scope
and the report's filter are the WHERE; each dimension and measure is a value of the form's
records as the forms engine reads it (fields, system fields, read-time formulas, lookups and
rollups), so the same rights apply as in a records page. What this module adds:

- **Refusals first.** Every field the report reads — dimensions, measures, filters, the KPI's
  date, and what derived fields read in turn (a formula, lookup or rollup over a hidden field,
  here or through a relation) — is checked against the viewer's field access; a hidden one
  refuses the whole report with 403 ``field_forbidden`` (无权限) at the report's path. Nothing
  runs.
- **Relations joined.** A dimension or measure over a to-one relation (``customer`` or
  ``customer.industry``) reads the target through one LEFT JOIN per relation whose ON holds the
  target's live rows *and the viewer's row scope on it*: a record pointing at a target the viewer
  may not read contributes a blank dimension, not the target's value. Deeper paths and bucketed
  relation dates go through the forms engine's correlated reads (same rights).
- **Date buckets** (year, quarter, month, ISO week, day) are native SQL in the organisation's
  time zone (`engine.reports.buckets`), falling back to the expression language's date
  functions (``DATE(YEAR(d), MONTH(d), 1)``) where SQLite cannot shift by a fixed offset; a
  bucket's value is the date it starts on.
- **Labels in the statement.** People and departments are named by a LEFT JOIN to the directory
  tables and relation titles read on the joined target, grouped along with the ids (they depend
  on them), so labelling needs no second query; option labels come from the definition.
- **Measures.** sum/min/max keep the value's SQL type (scaled integers on SQLite read back as
  exact decimals; formula numbers — decimal text on SQLite — go through the exact ``jimu_*agg``
  aggregates); avg is carried as its exact sum and count and divided afterwards (10 places), so
  an average's subtotal is Σsum/Σcount; a measure's own `filter` is a CASE inside the
  aggregate; count distinct on PostgreSQL, when it is the report's only aggregate, is a GROUP BY
  over SELECT DISTINCT pairs (measured 4.8× faster); formula measures (`won / n`) combine the
  group's measures after the statement.
- **Totals.** A pivot's subtotals and grand totals (`chart.settings.subtotals` / `totals`) are
  GROUPING SETS on PostgreSQL and summed from the cells on SQLite (`engine.reports.totals`).
- **SQLite's date-index rule** (`wide_ranges_scan`): a filter bounding an indexed date or
  instant column to more than `DATE_INDEX_SHARE` of the column's span compares ``+column``, so
  SQLite scans instead of walking the index over a third of the table (measured 2.6–3.1×
  slower); `Compiled.statement` is the SQL to compare with hand-written SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Select,
    and_,
    case,
    func,
    literal,
    literal_column,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.sql import ColumnElement, operators, visitors
from sqlalchemy.sql.elements import BindParameter, UnaryExpression

from engine import expr
from engine.core.errors import ServiceError
from engine.core.issues import Issue
from engine.expr.backends.sql.nodes import Op
from engine.expr.backends.sql.types import NumberValue
from engine.forms.field_types.computed import FormulaField
from engine.forms.field_types.links import LookupField, RelationField, RollupField
from engine.forms.layout import Container, FieldLayout, RowsLayout
from engine.forms.resolve import Resolver, target_access
from engine.forms.sql import FormSql, Scoped, expr_text_type, hidden_prefix, ref_paths
from engine.reports.buckets import bucket_sql
from engine.store.models import Department, User

PIVOT_CELLS = 10_000
"""The most cells (result rows × measures) a report answers; more is 422 ``pivot_too_large``."""
DATE_INDEX_SHARE = 0.12
"""SQLite picks a date index even for a range over a third of the table (2.6–3.1× slower,
measured): a range on an indexed date or instant column covering more than this share of the
column's span (its first to last value) is written ``+column`` on SQLite, so it scans instead."""
Span = tuple[Any, Any] | None
Spans = Callable[[Any], Span]
"""The first and last value of a record table's column (None: empty or unknown)."""
PEOPLE = ("user", "department")


class Source(Protocol):
    """What a report selects over: a form's records (`Scoped`) or a subform's rows
    (`RowsScoped`) — the WHERE, the resolver, and values and formulas refusing bad paths."""

    @property
    def where(self) -> ColumnElement[Any]: ...

    @property
    def resolver(self) -> Resolver: ...

    def value(self, key: str, where: str = ...) -> ColumnElement[Any]: ...

    def formula(self, source: str, where: str = ...) -> ColumnElement[Any]: ...


@dataclass
class Dim:
    """One dimension as compiled: its result key, the labelled columns it selects (`value` and,
    for people and relations, `label`), the kind of its values and what writes and labels them."""

    key: str
    field: str
    bucket: str | None
    kind: str  # an expression kind: text, number, date, datetime, user, department, record, …
    owner: FieldLayout | None
    value: ColumnElement[Any]
    label: ColumnElement[Any] | None = None
    order: ColumnElement[Any] | None = None  # option order for select fields
    late: Any = None  # people: the directory table joined to the groups for `label`
    sort: ColumnElement[Any] | None = None  # text: its pinyin sort key column (`#k`)


@dataclass
class Measure:
    """One measure as compiled: the aggregates it selects (avg: sum and count) per variant."""

    key: str
    agg: str
    kind: str  # count | number | integer | date | datetime | text | …
    scale: int | None
    expr: str | None = None
    value: ColumnElement[Any] | None = None  # the per-record value (None: records)
    condition: ColumnElement[Any] | None = None  # the measure's own filter


@dataclass
class Compiled:
    """A report compiled for one viewer: the statement and how to read its rows."""

    statement: Select[Any]
    dims: list[Dim]
    measures: list[Measure]
    variants: list[str]  # "" and, for a KPI over periods, "prev"
    grouping: bool  # the statement has a `grouping` column (GROUPING SETS)
    limit: int | None  # rows kept after the statement (formula sorts), else None
    python_sort: list[tuple[str, bool]] = field(default_factory=list)
    max_rows: int = PIVOT_CELLS
    periods: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)
    steady: Steady | None = None  # SQLite: the statement without the date buckets' guards


@dataclass
class Steady:
    """SQLite's date buckets over instants without their guard (`bucket_sql`'s `unguarded`):
    `statement` answers as `Compiled.statement` does when no instant of the bucketed columns
    lies before the moment their zone's offset became fixed — which `check` (one index seek
    per column: the first live value) tells before each run; `since` per column, epoch ms."""

    statement: Select[Any]
    check: Select[Any]
    since: list[int]


def forbidden(path: str, reached: str) -> ServiceError:
    """403 ``field_forbidden`` (无权限): the report reads `reached`, hidden from its viewer."""
    return ServiceError(
        403,
        "field_forbidden",
        [
            Issue(
                path,
                "field_forbidden",
                f"无权限：本报表读取了您无权查看的字段 {reached}",
                f"No permission: this report reads {reached}, which you may not see",
            )
        ],
        message_zh="无权限：本报表读取了您无权查看的字段",
        message_en="No permission: this report reads fields you may not see",
    )


def derived_paths(container: Container, spec: Any) -> list[tuple[str, ...]]:
    """The field paths a derived field reads (a formula's references, a lookup's or rollup's
    relation and field); none for a stored field."""
    if isinstance(spec, FormulaField):
        try:
            return sorted(ref_paths(expr.checked(spec.expr, container.schema)))
        except (expr.ExprError, ValueError):
            return []
    if isinstance(spec, LookupField | RollupField):
        return [(spec.relation, spec.field)]
    return []


def hidden_reach(
    sql: FormSql,
    container: Container,
    hidden: frozenset[str],
    access: Any,
    path: tuple[str, ...],
    seen: set[tuple[int, tuple[str, ...]]] | None = None,
) -> str | None:
    """The first field hidden from the viewer that reading `path` of `container` reaches —
    through relations (with the viewer's rights on each target) and through what derived fields
    read — as a dotted path; None when everything on the way is readable."""
    seen = set() if seen is None else seen
    found = hidden_prefix(sql.app, container, hidden, access, path)
    if found is not None:
        return found
    for depth, key in enumerate(path):
        layout = container.fields.get(key)
        if layout is None:
            if isinstance(container, RowsLayout) and container.parent is not None:
                parent = container.parent
                deeper = hidden_reach(
                    sql,
                    parent,
                    access.hidden() if access is not None else frozenset(),
                    access,
                    path[depth:],
                    seen,
                )
                return None if deeper is None else ".".join([*path[:depth], deeper])
            return None
        for dependency in derived_paths(container, layout.spec):
            marker = (id(container), dependency)
            if marker in seen:
                continue
            seen.add(marker)
            deeper = hidden_reach(sql, container, hidden, access, dependency, seen)
            if deeper is not None:
                return ".".join([*path[: depth + 1]]) + f" → {deeper}"
        if isinstance(layout.spec, RelationField):
            container = sql.app.forms[layout.spec.target]
            access, hidden = target_access(access, container)
        elif layout.rows is not None:
            container, hidden = layout.rows, frozenset()
        else:
            return None
    return None


def refuse_hidden(
    sql: FormSql, reads: Sequence[tuple[str, str, bool]], container: Container | None = None
) -> None:
    """403 for the first read (`path`, source, whether the source is a formula) that reaches a
    field hidden from the viewer; `container`: a subform's rows when the report reads them."""
    if sql.access is None:
        return
    container = container if container is not None else sql.form
    hidden = sql.hidden if container is sql.form else frozenset()
    for path, source, formula in reads:
        if formula:
            try:
                paths = sorted(ref_paths(expr.checked(source, container.schema)))
            except (expr.ExprError, ValueError):
                continue  # the formula's own error is reported when it is compiled
        else:
            paths = [tuple(source.split("."))]
        for one in paths:
            reached = hidden_reach(sql, container, hidden, sql.access, one)
            if reached is not None:
                raise forbidden(path, reached)


RANGES = {">=", ">", "<", "<="}


def _range_term(element: Any, leading: set[str], table: Any) -> tuple[Any, str, Any] | None:
    """(column, symbol, bound) when `element` is a formula comparison of a column of `table`
    that leads an index with a bound parameter (``signed_at >= :moment``)."""
    if not isinstance(element, Op) or element.jop != "compare" or not element.jparams:
        return None
    symbol = element.jparams[0]
    args = _clauses(element)
    if symbol not in RANGES or len(args) != 2:
        return None
    column, bound = (_inner(a) for a in args)
    if (
        getattr(column, "table", None) is not table
        or getattr(column, "name", None) not in leading
        or not isinstance(bound, BindParameter)
    ):
        return None
    if not isinstance(bound.value, dt.date):  # dates and instants only
        return None
    return column, symbol, bound.value


def _clauses(element: Op) -> list[Any]:
    inner: Any = element.clause_expr.element
    return list(inner.clauses)


def _inner(element: Any) -> Any:
    if isinstance(element, Op) and element.jop == "col":
        clauses = _clauses(element)
        return clauses[0] if len(clauses) == 1 else element
    return element


def _position(value: Any) -> float:
    """A date or instant as a number of seconds, for comparing spans."""
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value.toordinal() * 86_400)


def wide_ranges_scan(where: ColumnElement[Any], form: Any, spans: Spans) -> ColumnElement[Any]:
    """SQLite's date-index rule: each indexed date or instant column that `where` bounds (a
    formula comparison with a fixed value, e.g. ``DATEVALUE(signed_at) >= DATE(2025, 1, 1)``)
    to a range over more than `DATE_INDEX_SHARE` of its span (`spans`: its first and last
    value) is compared as ``+column``, which keeps SQLite from reading it through that index;
    narrower ranges keep the index. The answer is the same either way."""
    leading = {index.columns[0][0] for index in form.indexes}
    table = form.table
    bounds: dict[str, list[tuple[str, Any]]] = {}
    columns: dict[str, Any] = {}
    for element in visitors.iterate(where):
        term = _range_term(element, leading, table)
        if term is not None:
            column, symbol, value = term
            columns[column.name] = column
            bounds.setdefault(column.name, []).append((symbol, value))
    wide: set[str] = set()
    for name, terms in bounds.items():
        span = spans(columns[name])
        if span is None or span[0] is None or span[1] is None:
            continue
        first, last = _position(span[0]), _position(span[1])
        if last <= first:
            continue
        low = max([_position(v) for s, v in terms if s in (">=", ">")], default=first)
        high = min([_position(v) for s, v in terms if s in ("<=", "<")], default=last)
        share = max(0.0, min(high, last) - max(low, first)) / (last - first)
        if share > DATE_INDEX_SHARE:
            wide.add(name)
    if not wide:
        return where

    def replace(element: Any, **_: Any) -> Any:
        term = _range_term(element, wide, table)
        if term is None:
            return None
        column = term[0]
        args = _clauses(element)
        plus = UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)
        return Op("compare", Op("col", plus), args[1], params=element.jparams)

    opts: dict[str, Any] = {}
    scanned: ColumnElement[Any] = visitors.replacement_traverse(where, opts, replace)
    return scanned


def bucket_formula(path: str, kind: str, bucket: str) -> str:
    """The formula of the date a `bucket` of `path`'s date (or instant, in the organisation's
    time zone) starts on."""
    day = f"DATE(YEAR({path}), MONTH({path}), DAY({path}))" if kind == "datetime" else path
    return {
        "year": f"DATE(YEAR({day}), 1, 1)",
        "quarter": f"DATE(YEAR({day}), INT((MONTH({day}) - 1) / 3) * 3 + 1, 1)",
        "month": f"DATE(YEAR({day}), MONTH({day}), 1)",
        "week": f"{day} - (WEEKDAY({day}, 2) - 1)",
        "day": day,
    }[bucket]


def bucket_start(day: dt.date, bucket: str) -> dt.date:
    """The date the `bucket` holding `day` starts on (Python's side of `bucket_formula`)."""
    if bucket == "year":
        return day.replace(month=1, day=1)
    if bucket == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if bucket == "month":
        return day.replace(day=1)
    if bucket == "week":
        return day - dt.timedelta(days=day.weekday())
    return day


def previous_start(start: dt.date, bucket: str) -> dt.date:
    """The start of the bucket before the one starting on `start`."""
    if bucket == "year":
        return start.replace(year=start.year - 1)
    if bucket in ("quarter", "month"):
        months = 3 if bucket == "quarter" else 1
        index = start.year * 12 + start.month - 1 - months
        return dt.date(index // 12, index % 12 + 1, 1)
    return start - dt.timedelta(days=7 if bucket == "week" else 1)


class RowsScoped:
    """A subform's rows as a report's source (`Scoped`'s shape): rows of the records the viewer
    may read (their row scope on the joined record), values read by the row resolver — a row
    field, or a field of its record (with the viewer's field access) —, conditions and formulas
    over the row's schema."""

    def __init__(self, sql: FormSql, rows: RowsLayout) -> None:
        self.sql = sql
        self.rows = rows
        self.resolver = Resolver(
            sql.app, rows, rows.table, ctx=sql.ctx, who=sql.who, access=sql.access
        )
        self.where: ColumnElement[Any] = sql.visible(sql.resolver())

    def value(self, key: str, where: str = "field") -> ColumnElement[Any]:
        field = self.rows.fields.get(key)
        if field is None:
            return self.formula(key, where)
        if field.source in ("rows", "links", "none"):
            raise ServiceError(
                422,
                "validation_failed",
                [
                    Issue(
                        where,
                        "not_a_value",
                        f"字段 {key} 不是每行一个值",
                        f"Field {key} does not hold one value per row",
                    )
                ],
            )
        found: ColumnElement[Any] = self.resolver.value(key)
        return found

    def formula(self, source: str, where: str = "expr") -> ColumnElement[Any]:
        try:
            expr.checked(source, self.rows.schema)
            return self.resolver.formula(source)
        except expr.ExprError as exc:
            raise ServiceError(
                422,
                "validation_failed",
                [Issue(where, exc.code, exc.message_zh, exc.message_en, exc.line, exc.column)],
            ) from None

    def condition(self, source: str, where: str) -> ColumnElement[Any]:
        try:
            found = expr.check(source, self.rows.schema)
        except expr.ExprError as exc:
            raise ServiceError(
                422,
                "validation_failed",
                [Issue(where, exc.code, exc.message_zh, exc.message_en, exc.line, exc.column)],
            ) from None
        if found.kind != "boolean" or found.is_list:
            raise ServiceError(
                422,
                "validation_failed",
                [
                    Issue(
                        where,
                        "filter_not_boolean",
                        "筛选条件必须是条件（真/假）",
                        "The filter must be a condition (true/false)",
                    )
                ],
            )
        return self.formula(source, where)


class ReportCompiler:
    """Compiles one report for one viewer (`sql`: the forms engine's SQL half opened with the
    viewer's rights). `filters`: runtime conditions (a dashboard's) ANDed to the report's."""

    def __init__(
        self, sql: FormSql, report: Any, *, filters: Sequence[str] = (), steady: bool = False
    ) -> None:
        self.sql = sql
        self.steady = steady  # build the buckets without their guards (`Steady`)
        self.guards: list[tuple[Any, int]] = []  # (column, since) of each guarded bucket
        self.report = report
        self.filters = list(filters)
        self.dialect = ""
        self._joins: dict[str, tuple[Any, Resolver, ColumnElement[Any] | None]] = {}
        self.rows: RowsLayout | None = None
        if getattr(report, "subform", None):
            self.rows = sql.form.fields[report.subform].rows
        self.container: Container = self.rows if self.rows is not None else sql.form
        self._from: Any = sql.form.table
        if self.rows is not None:  # subform rows of the records the viewer may read
            child = self.rows.table
            self._from = child.join(sql.form.table, sql.form.table.c._id == child.c._parent_id)
        self._people = 0

    # --- entry ----------------------------------------------------------------------------
    def compile(self, dialect: str, spans: Spans | None = None) -> Compiled:
        """The statement for `dialect` ("sqlite" or "postgresql"); `spans` reads a column's
        first and last value for the SQLite date-index rule (`DATE_INDEX_SHARE`)."""
        self.dialect = dialect
        report = self.report
        self.refuse()
        scoped = self._scoped()
        first = scoped.where
        if dialect == "sqlite" and spans is not None and self.rows is None:
            first = wide_ranges_scan(first, self.sql.form, spans)
        where = [first]
        for index, condition in enumerate(self.filters):
            where.append(self._condition(scoped, condition, f"filters[{index}]"))
        dims = [
            self._dimension(scoped, dim, f"{part}[{i}]")
            for part in ("rows", "columns")
            for i, dim in enumerate(getattr(report, part))
        ]
        measures = [
            self._measure(scoped, m, f"measures[{i}]") for i, m in enumerate(report.measures)
        ]
        variants, periods = [""], {}
        settings = (report.chart.settings or {}) if report.chart is not None else {}
        if report.chart is not None and report.chart.type == "kpi" and settings.get("date"):
            variants, periods = ["", "prev"], self._periods(settings["date"], settings["period"])
        inner: list[ColumnElement[Any]] = []
        for d in dims:
            inner.append(d.value.label(f"{d.key}#v"))
            if d.label is not None and d.late is None:
                inner.append(d.label.label(f"{d.key}#l"))
            if d.sort is not None:
                inner.append(d.sort.label(f"{d.key}#k"))
        period_sql = {
            name: self._period_condition(scoped, settings["date"], settings["period"], start)
            for name, (start, _) in periods.items()
        }
        for m in measures:
            if m.agg == "expr":
                continue
            for variant in variants:
                if _records_count(m, period_sql.get(variant)):
                    continue  # count(*) over the rows: no column to carry
                value = m.value if m.value is not None else literal(1)
                conditions = [c for c in (m.condition, period_sql.get(variant)) if c is not None]
                if conditions:
                    value = type_coerce(case((and_(*conditions), value)), value.type)
                inner.append(value.label(_name(m.key, variant)))
        if not inner:
            inner.append(self.container.table.c._id.label("#id"))
        rows = select(*inner).select_from(self._from).where(and_(*where)).subquery("jimu_rows")
        totals = self._totals()
        distinct = self._distinct_pairs(dims, measures, variants, totals)
        source = (
            select(*[rows.c[c.name] for c in rows.c]).distinct().subquery("jimu_pairs")
            if distinct
            else rows
        )
        groups: list[ColumnElement[Any]] = []
        columns: list[ColumnElement[Any]] = []
        for d in dims:
            column = source.c[f"{d.key}#v"]
            groups.append(column)
            columns.append(column)
            if d.label is not None and d.late is None:
                groups.append(source.c[f"{d.key}#l"])
                columns.append(source.c[f"{d.key}#l"])
            if d.sort is not None:  # the value's key: one per group
                columns.append(func.min(source.c[f"{d.key}#k"]).label(f"{d.key}#k"))
        for m in measures:
            if m.agg == "expr":
                continue
            for variant in variants:
                name = _name(m.key, variant)
                if _records_count(m, period_sql.get(variant)):
                    columns.append(func.count().label(name))
                    continue
                columns += self._aggregates(m, source.c[name], name, distinct)
        statement = select(*columns).select_from(source)
        grouping = False
        if totals and self.dialect == "postgresql" and dims:
            grouping = True
            dim_columns = [source.c[f"{d.key}#v"] for d in dims]
            statement = statement.add_columns(func.grouping(*dim_columns).label("#grouping"))
            statement = statement.group_by(
                func.grouping_sets(*[tuple_(*self._set(source, dims, kept)) for kept in totals])
            )
        elif groups:
            statement = statement.group_by(*groups)
        source, statement = self._named(statement, source, dims)
        limit, python_sort = self._order(measures)
        statement, keep = self._ordered(statement, dims, measures, source, python_sort, limit)
        return Compiled(
            statement=statement,
            dims=dims,
            measures=measures,
            variants=variants,
            grouping=grouping,
            limit=keep,
            python_sort=python_sort,
            max_rows=max(1, PIVOT_CELLS // max(1, len(measures))),
            periods=periods,
        )

    # --- reads and refusals --------------------------------------------------------------
    def refuse(self) -> None:
        """403 ``field_forbidden`` when the report reads a field hidden from its viewer (here,
        through relations or under derived fields); nothing is built."""
        if self.rows is not None:
            refuse_hidden(self.sql, [("subform", self.report.subform, False)])
        refuse_hidden(self.sql, self._reads(), self.container)

    def _reads(self) -> list[tuple[str, str, bool]]:
        """Every (path, source, is formula) the report reads, for the hidden-field check."""
        report = self.report
        reads: list[tuple[str, str, bool]] = []
        if report.filter:
            reads.append(("filter", report.filter, True))
        for index, source in enumerate(self.filters):
            reads.append((f"filters[{index}]", source, True))
        for part in ("rows", "columns"):
            for i, dim in enumerate(getattr(report, part)):
                reads.append((f"{part}[{i}].field", dim.field, False))
        for i, m in enumerate(report.measures):
            if m.field is not None:
                reads.append((f"measures[{i}].field", m.field, False))
            if m.filter:
                reads.append((f"measures[{i}].filter", m.filter, True))
        chart = report.chart
        date = (chart.settings or {}).get("date") if chart is not None else None
        if isinstance(date, str):
            reads.append(("chart.settings.date", date, False))
        return reads

    def _scoped(self) -> Source:
        if self.rows is not None:
            rows = RowsScoped(self.sql, self.rows)
            if self.report.filter:
                rows.where = and_(rows.where, rows.condition(self.report.filter, "filter"))
            found: Source = rows
            return found
        try:
            return self.sql.scoped(filter=self.report.filter)
        except ServiceError as exc:
            raise _repath(exc, "filter", "filter") from None

    def _condition(self, scoped: Source, source: str, path: str) -> ColumnElement[Any]:
        if isinstance(scoped, RowsScoped):
            return scoped.condition(source, path)
        try:
            return self.sql.filter_sql(source, scoped.resolver)
        except ServiceError as exc:
            raise _repath(exc, "filter", path) from None

    def _formula(self, scoped: Source, source: str, path: str) -> ColumnElement[Any]:
        return scoped.formula(source, path)

    # --- values --------------------------------------------------------------------------
    def _value(self, scoped: Source, path: str, where: str) -> tuple[ColumnElement[Any], Any]:
        """The SQL value of a field path, and (for a path ending on a relation) its joined
        target's resolver. A path through to-one relations (``customer``,
        ``customer.region``, ``opportunity.customer``: the language reaches one relation
        deep, and a relation's own relation as its id) reads each hop's target through a LEFT
        JOIN (`_join`); any other path is the forms engine's read."""
        parts = path.split(".")
        hops = self._hops(parts)
        if hops:
            joined = None
            for index in range(len(hops)):
                joined = self._join(".".join(parts[: index + 1]), hops[index])
            assert joined is not None
            alias, resolver, _ = joined
            if len(hops) == len(parts):
                return alias.c._id, resolver
            if len(hops) == len(parts) - 1:
                return resolver.value(parts[-1]), None
        if len(parts) == 1:
            return scoped.value(path, where), None
        return scoped.formula(path, where), None

    def _hops(self, parts: list[str]) -> list[FieldLayout]:
        """The to-one relations (a column holding the target's id) that `parts` starts with,
        each in the form the one before reaches, and visible to the viewer there."""
        hops: list[FieldLayout] = []
        container: Any = self.container
        hidden: frozenset[str] = self.sql.hidden if self.rows is None else frozenset()
        for key in parts:
            field = container.fields.get(key)
            if (
                field is None
                or not isinstance(field.spec, RelationField)
                or field.source != "column"
                or key in hidden
            ):
                break
            hops.append(field)
            container = self.sql.app.forms[field.spec.target]
            hidden = target_access(self.sql.access, container)[1]
        return hops

    def _join(
        self, path: str, relation: FieldLayout
    ) -> tuple[Any, Resolver, ColumnElement[Any] | None]:
        """The LEFT JOIN of the target of the to-one relation `path` (its last hop
        `relation`): live rows the viewer may read only, so a record pointing to one they may
        not read — at any hop — falls in the blank group."""
        found = self._joins.get(path)
        if found is not None:
            return found
        assert isinstance(relation.spec, RelationField)
        sql = self.sql
        holder = self._joins[path.rsplit(".", 1)[0]][0] if "." in path else self.container.table
        target = sql.app.forms[relation.spec.target]
        access, hidden = target_access(sql.access, target)
        # numbered: no field key (letters, digits, _) can make two joins' names meet
        alias = target.table.alias(f"jimu_{len(self._joins)}_{relation.key}")
        on = [alias.c._id == holder.c[relation.column], alias.c._deleted_at.is_(None)]
        if access is not None:
            scope = Resolver(sql.app, target, alias, ctx=sql.ctx, who=sql.who)
            on.append(access.where("view", alias, scope))
        resolver = Resolver(
            sql.app, target, alias, ctx=sql.ctx, who=sql.who, access=access, guarded=hidden
        )
        title: ColumnElement[Any] | None
        if target.title_field is None or target.title_field in hidden:
            title = None
        else:
            title = resolver.value(target.title_field)
        self._from = self._from.outerjoin(alias, and_(*on))
        self._joins[path] = (alias, resolver, title)
        return self._joins[path]

    def _final(self, path: str) -> tuple[Container, FieldLayout | None]:
        """The container and field a path ends on (the owner of its values)."""
        container: Container = self.container
        layout: FieldLayout | None = None
        for key in path.split("."):
            layout = container.fields.get(key)
            if layout is None and isinstance(container, RowsLayout) and container.parent:
                container = container.parent  # a row's path may name its record's fields
                layout = container.fields.get(key)
            if layout is None:
                return container, None
            if isinstance(layout.spec, RelationField) and key != path.split(".")[-1]:
                container = self.sql.app.forms[layout.spec.target]
        assert layout is not None
        owner = self.sql.value_owner(container, layout)
        return container, owner if owner is not None else layout

    def _kind(self, path: str) -> str:
        return str(expr.check(path, self.container.schema).kind)

    def _dimension(self, scoped: Source, dim: Any, where: str) -> Dim:
        kind = self._kind(dim.field)
        _, owner = self._final(dim.field)
        key = dim.field if dim.bucket is None else f"{dim.field}:{dim.bucket}"
        if dim.bucket is not None:
            value = self._bucket(scoped, dim.field, kind, dim.bucket, where)
            return Dim(key, dim.field, dim.bucket, "date", owner, value)
        value, relation = self._value(scoped, dim.field, f"{where}.field")
        found = Dim(key, dim.field, None, kind, owner, value)
        if kind == "record":
            if relation is not None:
                title = self._joins[dim.field][2]
                found.label = title if title is not None else func.cast(value, expr_text_type())
            else:
                found.label = self._title(dim.field, value)
        elif kind in PEOPLE:  # named after grouping: one lookup per group, not per record
            table = (User if kind == "user" else Department).__table__
            self._people += 1
            found.late = table.alias(f"jimu_{kind}_{self._people}")
            found.label = found.late.c.display_name if kind == "user" else found.late.c.name
        if kind == "text" and owner is not None and owner.sort_column is not None:
            # the text column itself (maybe through a join) has its key beside it
            holder: Any = getattr(value, "table", None)
            if holder is not None and getattr(value, "name", None) == owner.column:
                found.sort = holder.c[owner.sort_column]
            elif isinstance(scoped, Scoped):  # a lookup: its target's key, in its own subquery
                found.sort = scoped.sort_value(dim.field)
        options = getattr(owner.spec, "options", None) if owner is not None else None
        if options and kind == "text":
            found.order = case(
                {option.value: index for index, option in enumerate(options)},
                value=value,
                else_=len(options),
            )
        return found

    def _bucket(
        self, scoped: Source, path: str, kind: str, bucket: str, where: str
    ) -> ColumnElement[Any]:
        """The first day of `bucket` holding `path`'s date (`engine.reports.buckets`); the
        expression language's ``DATEVALUE`` gives an instant's local date where SQLite cannot
        shift it by a fixed offset (a small formula: the whole bucket as a formula compiled
        ``DATEVALUE`` six times and cost ~10 ms per compile)."""
        value, _ = self._value(scoped, path, f"{where}.field")
        return bucket_sql(
            value,
            kind,
            bucket,
            self.dialect,
            self.sql.tz,
            lambda: self._formula(scoped, f"DATEVALUE({path})", where),
            self._unguarded,
        )

    def _unguarded(self, value: Any, since: int) -> bool:
        """Whether a bucket of instant column `value` is built without its guard: only in the
        `steady` build, and only for a column of the report's form that leads one of its
        indexes (its first value is then an index seek away); each such column is noted in
        `guards` either way."""
        form = self.sql.form
        if (
            self.rows is not None
            or not isinstance(value, Column)
            or value.table is not form.table
            or not any(index.columns[0][0] == value.name for index in form.indexes)
        ):
            return False
        self.guards.append((value, since))
        return self.steady

    def steady_variant(self, compiled: Compiled, spans: Spans | None) -> Steady | None:
        """`compiled`'s statement without its date buckets' guards (`Steady`), when it has
        guards to drop (SQLite, instants of an indexed column); None otherwise."""
        if not self.guards:
            return None
        again = ReportCompiler(self.sql, self.report, filters=self.filters, steady=True)
        statement = again.compile(self.dialect, spans).statement
        firsts = [
            select(func.min(type_coerce(column, BigInteger())))
            .where(column.table.c._deleted_at.is_(None))
            .scalar_subquery()
            for column, _ in self.guards
        ]
        return Steady(statement, select(*firsts), [since for _, since in self.guards])

    def _title(self, path: str, value: ColumnElement[Any]) -> ColumnElement[Any]:
        _container, owner = self._final(path)
        if owner is not None and isinstance(owner.spec, RelationField):
            return self.sql.title_sql(owner.spec.target, value)
        return func.cast(value, expr_text_type())

    def _measure(self, scoped: Source, measure: Any, where: str) -> Measure:
        if measure.agg == "expr":
            return Measure(measure.key, "expr", "number", None, expr=measure.expr)
        condition = None
        if measure.filter:
            condition = self._condition(scoped, measure.filter, f"{where}.filter")
        if measure.field is None:
            return Measure(measure.key, measure.agg, "count", None, condition=condition)
        value, _ = self._value(scoped, measure.field, f"{where}.field")
        kind = self._kind(measure.field)
        _, owner = self._final(measure.field)
        scale = getattr(value.type, "scale", None)
        if scale is None and owner is not None:
            scale = getattr(owner.spec, "precision", None)
        if owner is not None and owner.spec.type in ("integer", "rating", "serial"):
            kind = "integer"
        if measure.agg in ("count", "count_distinct"):
            kind = "count"
        return Measure(measure.key, measure.agg, kind, scale, value=value, condition=condition)

    def _aggregates(
        self, m: Measure, column: Any, name: str, distinct: bool
    ) -> list[ColumnElement[Any]]:
        """The aggregate columns of one measure variant (avg: its sum and count)."""
        sqlite = self.dialect == "sqlite"
        text_number = sqlite and isinstance(column.type, NumberValue)
        if m.agg == "count":
            return [func.count(column).label(name)]
        if m.agg == "count_distinct":
            if distinct:
                return [func.count(column).label(name)]
            return [func.count(column.distinct()).label(name)]
        if m.agg in ("sum", "avg"):
            total = (
                type_coerce(func.jimu_sumagg(column), NumberValue())
                if text_number
                else type_coerce(func.sum(column), column.type)
            )
            if m.agg == "sum":
                return [total.label(name)]
            return [total.label(f"{name}#sum"), func.count(column).label(f"{name}#n")]
        if text_number:
            extreme: Any = func.jimu_minagg(column) if m.agg == "min" else func.jimu_maxagg(column)
        else:
            extreme = func.min(column) if m.agg == "min" else func.max(column)
        return [type_coerce(extreme, column.type).label(name)]

    # --- totals, order, periods -------------------------------------------------------------
    def _totals(self) -> list[int]:
        """The grouping sets of a pivot's totals, as how many leading row dimensions each keeps
        (the column dimensions always kept, then the same without them); [] for none."""
        chart = self.report.chart
        if chart is None or chart.type != "pivot":
            return []
        settings = chart.settings or {}
        if not (settings.get("subtotals") or settings.get("totals")):
            return []
        rows, columns = len(self.report.rows), len(self.report.columns)
        kept = [rows + columns]
        if settings.get("subtotals"):
            kept += [rows - i + columns for i in range(1, rows)]
        if settings.get("totals") or settings.get("subtotals"):
            kept.append(columns)  # the grand total row per column
            if columns:
                kept.append(-1)  # the rows without the column dimensions (the total column)
                kept.append(-2)  # everything
        return kept

    def _set(self, source: Any, dims: list[Dim], kept: int) -> list[ColumnElement[Any]]:
        rows = len(self.report.rows)
        if kept == -1:
            chosen = dims[:rows]
        elif kept == -2:
            chosen = []
        else:
            columns = dims[rows:]
            chosen = dims[: kept - len(columns)] + columns
        found: list[ColumnElement[Any]] = []
        for d in chosen:
            found.append(source.c[f"{d.key}#v"])
            if d.label is not None and d.late is None:
                found.append(source.c[f"{d.key}#l"])
        return found

    def _named(self, statement: Any, source: Any, dims: list[Dim]) -> tuple[Any, Any]:
        """People's names joined to the grouped rows (an outer SELECT over them), so each
        group's member or department is looked up once rather than each record's; the
        columns the order reads (`#v`, `#l`) come from there. On PostgreSQL the groups are
        always a MATERIALIZED CTE ordered outside: an ORDER BY over the grouping (even from
        an outer SELECT) made the planner sort every record to aggregate in order (an
        external merge sort at 200,000 rows, 2× the hash aggregate). Unchanged on SQLite
        without people."""
        late = [d for d in dims if d.late is not None]
        if not late and (self.dialect != "postgresql" or not dims):
            return source, statement
        grouped: Any = (
            statement.cte("jimu_groups").prefix_with("MATERIALIZED")  # planned on its own
            if self.dialect == "postgresql"
            else statement.subquery("jimu_groups")
        )
        joined: Any = grouped
        columns: list[Any] = [grouped.c[c.name] for c in grouped.c]
        names: dict[str, Any] = {c.name: grouped.c[c.name] for c in grouped.c}
        for d in late:
            value = grouped.c[f"{d.key}#v"]
            joined = joined.outerjoin(d.late, d.late.c.id == value)
            assert d.label is not None
            label = d.label.label(f"{d.key}#l")
            columns.append(label)
            names[f"{d.key}#l"] = d.label
        return _Columns(names), select(*columns).select_from(joined)

    def _distinct_pairs(
        self, dims: list[Dim], measures: list[Measure], variants: list[str], totals: list[int]
    ) -> bool:
        """Whether COUNT DISTINCT runs as GROUP BY over SELECT DISTINCT pairs: on PostgreSQL,
        when every aggregate is one count distinct (the rewrite keeps nothing else exact)."""
        aggregates = [m for m in measures if m.agg != "expr"]
        return (
            self.dialect == "postgresql"
            and bool(dims)
            and not totals
            and len(variants) == 1
            and len(aggregates) == 1
            and aggregates[0].agg == "count_distinct"
        )

    def _order(self, measures: list[Measure]) -> tuple[int | None, list[tuple[str, bool]]]:
        """The report's limit, and its sort when it needs the formula measures (Python)."""
        formulas = {m.key for m in measures if m.agg == "expr"}
        sort = [(s.key, s.desc) for s in self.report.sort]
        if any(key in formulas for key, _ in sort):
            return self.report.limit, sort
        return self.report.limit, []

    def _ordered(
        self,
        statement: Any,
        dims: list[Dim],
        measures: list[Measure],
        source: Any,
        python_sort: list[tuple[str, bool]],
        limit: int | None,
    ) -> tuple[Any, int | None]:
        """ORDER BY and LIMIT: the sort keys, then the dimensions (option order for options,
        blanks last); LIMIT in SQL unless a formula measure sorts (then after the statement)."""
        by_measure = {m.key: m for m in measures}
        by_field = {d.field: d for d in dims}
        keys: list[Any] = []
        if not python_sort:
            for s in self.report.sort:
                if s.key in by_measure:
                    m = by_measure[s.key]
                    keys.append(self._measure_order(m, statement, s.desc))
                elif s.key in by_field:
                    keys += self._dim_order(by_field[s.key], source, s.desc)
        for d in dims:
            keys += self._dim_order(d, source, False)
        statement = statement.order_by(*keys)
        cap = PIVOT_CELLS // max(1, len(measures)) + 1
        totals = self._totals()
        if totals:  # the totals' rows come on top of the cells (PostgreSQL's GROUPING SETS)
            return statement.limit(cap * (len(totals) + 1)), limit
        if python_sort or self.report.limit is None:
            return statement.limit(cap), limit
        return statement.limit(min(limit or cap, cap)), None

    def _measure_order(self, m: Measure, statement: Any, desc: bool) -> Any:
        columns = {c.name: c for c in statement.selected_columns}
        if m.agg == "avg":
            total, count = columns[f"{m.key}#sum"], columns[f"{m.key}#n"]
            key: Any = total * literal(1.0) / func.nullif(count, 0)
        else:
            key = columns[m.key]
            if self.dialect == "sqlite" and isinstance(key.type, NumberValue):
                # a read-time number (formula, rollup) is decimal text on SQLite: order by its
                # value, not its text ("338600.00" is less than "1633400.00")
                key = func.cast(key, Float())
        return key.desc().nulls_last() if desc else key.asc().nulls_last()

    def _dim_order(self, d: Dim, source: Any, desc: bool) -> list[Any]:
        column = source.c[f"{d.key}#v"]
        found: list[Any] = []
        if d.order is not None:
            # the ranks are written into the statement, only the option values are bound: a
            # parameter per rank would double the count, and psycopg re-parses a statement of
            # more than 50 parameters on every execution (it caches only smaller ones)
            order = case(
                {
                    option.value: literal_column(str(index))
                    for index, option in enumerate(
                        getattr(d.owner.spec, "options", []) if d.owner is not None else []
                    )
                },
                value=column,
                else_=literal_column("10000"),
            )
            found.append(order.desc() if desc else order.asc())
        elif d.label is not None and d.kind in PEOPLE:
            label = source.c[f"{d.key}#l"]
            found.append(label.desc().nulls_last() if desc else label.asc().nulls_last())
        elif d.sort is not None:  # text by pinyin (`engine.forms.sortkey`), then the value
            key = source.c[f"{d.key}#k"]
            found.append(key.desc().nulls_last() if desc else key.asc().nulls_last())
        found.append(column.desc().nulls_last() if desc else column.asc().nulls_last())
        return found

    def _periods(self, date: str, bucket: str) -> dict[str, tuple[dt.date, dt.date]]:
        today = self.sql.ctx.now.astimezone(self.sql.ctx.zone).date()
        start = bucket_start(today, bucket)
        before = previous_start(start, bucket)
        return {"": (start, today), "prev": (before, start - dt.timedelta(days=1))}

    def _period_condition(
        self, scoped: Source, date: str, bucket: str, start: dt.date
    ) -> ColumnElement[Any]:
        kind = self._kind(date)
        first: ColumnElement[Any] = self._bucket(scoped, date, kind, bucket, "chart.settings.date")
        return first == start


class _Columns:
    """Named columns with a `.c` like a subquery's (the grouped rows and their people)."""

    def __init__(self, columns: dict[str, Any]) -> None:
        self.c = columns


def _records_count(m: Measure, period: ColumnElement[Any] | None) -> bool:
    """Whether measure `m` counts every row of its group (no field, no filter of its own or of
    a period): then it is ``count(*)``, as a person writes it, not a count of a constant column
    carried through the rows' subquery."""
    return m.agg == "count" and m.value is None and m.condition is None and period is None


def _name(key: str, variant: str) -> str:
    return key if not variant else f"{key}#{variant}"


def _repath(exc: ServiceError, old: str, new: str) -> ServiceError:
    """The same refusal with issues at `old` moved to `new` (a filter's path in the report)."""
    issues = [
        Issue(new, i.code, i.message_zh, i.message_en, i.line, i.column) if i.path == old else i
        for i in exc.issues
    ]
    if exc.status == 422 and any(i.code == "hidden_field" for i in issues):
        first = next(i for i in issues if i.code == "hidden_field")
        reached = first.message_en.removeprefix("Cannot read ").removeprefix("Cannot filter by ")
        return forbidden(first.path, reached.split(",", 1)[0])
    return ServiceError(
        exc.status, exc.code, issues, message_zh=exc.message_zh, message_en=exc.message_en
    )


__all__ = [
    "DATE_INDEX_SHARE",
    "PIVOT_CELLS",
    "Compiled",
    "Dim",
    "Measure",
    "ReportCompiler",
    "RowsScoped",
    "Spans",
    "Steady",
    "bucket_formula",
    "bucket_start",
    "derived_paths",
    "forbidden",
    "hidden_reach",
    "previous_start",
    "refuse_hidden",
    "wide_ranges_scan",
]
