"""Running a compiled report: one statement, its rows turned into the result shape.

`run_report` compiles the report for the viewer (`engine.reports.compile`), executes its one
statement and writes the cells (`engine.reports.result`): dimension cells with record-JSON
values and labels, measures at their scale, averages from their exact sums and counts, formula
measures from the group's other measures, and a pivot's totals — read from the GROUPING SETS
rows on PostgreSQL, summed from the cells on SQLite (sums and counts add up exactly; an
average's subtotal is Σsum / Σcount of its cells, not an average of averages; min and max take
the extreme of the cells; a count distinct cannot be summed and stays blank there). More than
`PIVOT_CELLS` cells is a 422 ``pivot_too_large``. Python here touches groups, never records.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from itertools import repeat
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from engine import expr
from engine.core.errors import ServiceError
from engine.core.issues import Issue
from engine.core.sqltypes import ExactDecimal
from engine.expr.runtime import EvalContext
from engine.forms.cache import calls_clock, lru_on_layout, on_layout
from engine.forms.common import LocalizedText
from engine.forms.field_types.computed import FormulaField
from engine.forms.sql import FormSql
from engine.reports.compile import PIVOT_CELLS, Compiled, Dim, Measure, ReportCompiler
from engine.reports.result import ReportColumn, ReportResult
from engine.store.driver_exec import driver_rows

TEN_PLACES = Decimal(1).scaleb(-10)
BLANK = {"zh": "(空)", "en": "(blank)"}
TOTAL = {"zh": "合计", "en": "Total"}
YES_NO = {"zh": ("是", "否"), "en": ("Yes", "No")}
SYSTEM_LABELS = {
    "_id": ("编号", "ID"),
    "_owner": ("负责人", "Owner"),
    "_created_by": ("创建人", "Created by"),
    "_updated_by": ("修改人", "Updated by"),
    "_created_at": ("创建时间", "Created at"),
    "_updated_at": ("修改时间", "Updated at"),
}
AGG_LABELS = {
    "sum": ("合计", "sum"),
    "avg": ("平均", "average"),
    "min": ("最小", "min"),
    "max": ("最大", "max"),
    "count": ("计数", "count"),
    "count_distinct": ("去重计数", "distinct count"),
}

Raw = dict[str, Any]  # a group's aggregates by column name
NONE = type(None)


def run_report(
    conn: Connection, sql: FormSql, report: Any, *, filters: Sequence[str] = (), lang: str = "zh"
) -> ReportResult:
    """Run `report` as the viewer `sql` was opened for: one statement, then the cells."""
    compiled = compiled_report(conn, sql, report, filters)
    statement = _statement(conn, compiled)
    # straight to the driver from its third run (the kept statement is the same object), its
    # values written in on PostgreSQL: one plan per connection, as a hand-written statement
    found = driver_rows(conn, statement, {}, literal=True)
    names = list(found.keys)
    where = {name: index for index, name in enumerate(names)}
    picks = [
        (where[f"{d.key}#v"], where[f"{d.key}#l"] if d.label is not None else None)
        for d in compiled.dims
    ]
    raws = [(name, index) for index, name in enumerate(names) if not name.endswith("#v")]
    grouping = where["#grouping"] if compiled.grouping else None
    writer = CellWriter(compiled, lang, sql)
    columns = list(statement.selected_columns)
    if (
        _plain_cells(compiled, report)
        and len(columns) == len(names)
        and writer.plain(where, columns, conn.dialect, found.description)
    ):
        # the driver's values: `plain_rows` converts a dimension's once per distinct value and
        # writes a money sum's text straight from it, instead of a conversion per value
        rows = found.rows
        if len(rows) > compiled.max_rows:
            raise too_large(len(compiled.measures))
        return ReportResult.model_construct(
            columns=on_layout(compiled, f"columns:{writer.lang}", lambda: writer.columns(report)),
            rows=writer.plain_rows(rows, picks),
            totals=[],
            previous=None,
            periods=None,
        )
    details: list[tuple[list[tuple[Any, Any]], Raw, int]] = []
    rolled: list[tuple[list[tuple[Any, Any]], Raw, int]] = []
    for row in found.named():
        dims = [(row[v], row[lab] if lab is not None else None) for v, lab in picks]
        raw = {name: row[index] for name, index in raws}
        mask = int(row[grouping]) if grouping is not None else 0
        (rolled if mask else details).append((dims, raw, mask))
    if len(details) > compiled.max_rows:
        raise too_large(len(compiled.measures))
    if compiled.python_sort:
        details.sort(key=lambda item: writer.sort_key(item[1]))
    if not compiled.grouping and report.chart is not None and report.chart.type == "pivot":
        rolled = summed_totals(compiled, report, details)  # over every group, before `limit`
    if compiled.limit is not None:
        details = details[: compiled.limit]
    result = ReportResult.model_construct(  # built here, to its types: nothing to check
        columns=on_layout(compiled, f"columns:{writer.lang}", lambda: writer.columns(report)),
        rows=[writer.row(dims, raw, 0) for dims, raw, _ in details],
        totals=[writer.row(dims, raw, mask) for dims, raw, mask in rolled],
        previous=None,
        periods=None,
    )
    if compiled.periods:
        raw = details[0][1] if details else {}
        result.previous = writer.measures(raw, "prev")
        result.periods = {
            "current" if name == "" else "previous": [start.isoformat(), end.isoformat()]
            for name, (start, end) in compiled.periods.items()
        }
    return result


def _plain_cells(compiled: Compiled, report: Any) -> bool:
    """Whether each row of the statement is one row of the answer as it comes (no totals, no
    formula measures or sort by them, no periods, `limit` in SQL): its cells are then
    written straight from the rows (`CellWriter.plain_rows`)."""
    pivot = report.chart is not None and report.chart.type == "pivot"
    return not (
        compiled.grouping
        or compiled.python_sort
        or compiled.periods
        or compiled.limit is not None
        or pivot
        or any(m.agg in ("expr", "avg") for m in compiled.measures)
    )


def _statement(conn: Connection, compiled: Compiled) -> Any:
    """The statement to run: on SQLite, the one without the date buckets' per-record guard
    (`Compiled.steady`) when no bucketed instant lies before its zone's fixed offset — an
    index seek per column says so before each run, so a record written a moment ago counts."""
    steady = compiled.steady
    if steady is None:
        return compiled.statement
    firsts = conn.execute(steady.check).one()
    if all(
        first is None or first >= since for first, since in zip(firsts, steady.since, strict=True)
    ):
        return steady.statement
    return compiled.statement


NOW_ONLY = frozenset({"NOW"})


KEPT: Counter[str] = Counter()
"""How often `compiled_report` reused a kept statement (``reused``) and compiled one
(``compiled``) in this process: for tests and profiling, never read by the engine."""


@dataclass(frozen=True)
class _Kept:
    """A compiled report kept on its form's layout: until when (monotonic seconds; None for as
    long as the revision lives) it may be reused."""

    compiled: Compiled
    until: float | None


def compiled_report(
    conn: Connection, sql: FormSql, report: Any, filters: Sequence[str] = ()
) -> Compiled:
    """`report` compiled for the viewer `sql` was opened for, reused while nothing it depends
    on has changed (docs/decisions.md "Compiled reports kept").

    Kept on the form's layout (one published revision: a publish builds new layouts, so a
    saved or changed report, role or field starts afresh) per report (its JSON), runtime
    filters, database, time zone, viewer — their rights' fingerprint, which holds the member,
    their departments and roles, and who ``CURRENT_USER()`` is — and the organisation's date:
    ``TODAY()`` and what it computes (``EOMONTH(TODAY(), -1)``, a KPI's periods) are folded
    into the statement, so the statement of yesterday is never reused today. Not kept: a
    report whose formulas (or the app's formula fields) read ``NOW()``, and rights without a
    fingerprint (a role scope reading the clock). On SQLite a statement shaped by the
    date-index rule (`column_spans`) is rebuilt after `SPAN_SECONDS`, as the spans are."""
    dialect = conn.dialect.name
    key = _cache_key(sql, report, filters, dialect)
    cache = lru_on_layout(sql.form, "reports")
    if key is not None:
        kept: _Kept | None = cache.get(key)
        if kept is not None and (kept.until is None or kept.until > time.monotonic()):
            KEPT["reused"] += 1
            return kept.compiled
    KEPT["compiled"] += 1
    consulted: list[bool] = []
    spans: Callable[[Any], Any] | None = None
    if dialect == "sqlite":
        read_span = column_spans(conn)

        def spans(column: Any) -> Any:
            consulted.append(True)
            return read_span(column)

    compiler = ReportCompiler(sql, report, filters=filters)
    compiled = compiler.compile(dialect, spans)
    compiled.steady = compiler.steady_variant(compiled, spans)
    if key is not None and not _reads_now(sql, report, filters):
        until = time.monotonic() + SPAN_SECONDS if consulted else None
        cache.put(key, _Kept(compiled, until))
    return compiled


def _cache_key(sql: FormSql, report: Any, filters: Sequence[str], dialect: str) -> Any:
    """The kept statement's key (see `compiled_report`); None: not kept for this viewer."""
    if sql.access is None:
        rights: Any = ("engine",)
    else:
        rights = getattr(sql.access, "fingerprint", None)
        if rights is None:
            return None
    spec = report.model_dump_json() if hasattr(report, "model_dump_json") else None
    if spec is None:
        return None
    today = sql.ctx.now.astimezone(sql.ctx.zone).date()
    who = (sql.who.user, sql.who.departments)
    return (spec, tuple(filters), dialect, sql.tz, today, rights, who)


def _reads_now(sql: FormSql, report: Any, filters: Sequence[str]) -> bool:
    """Whether the report's formulas or the app's formula fields call ``NOW()`` (its SQL then
    holds the moment itself)."""
    sources = [report.filter, *filters, *(m.filter for m in report.measures)]
    for source in sources:
        if not source:
            continue
        try:
            if calls_clock(expr.parse(source), NOW_ONLY):
                return True
        except expr.ExprError:
            return True
    return _app_reads_now(sql.app)


def _app_reads_now(app: Any) -> bool:
    def build() -> bool:
        for form in app.forms.values():
            containers = [form, *(f.rows for f in form.fields.values() if f.rows is not None)]
            for container in containers:
                for layout in container.fields.values():
                    if isinstance(layout.spec, FormulaField):
                        try:
                            if calls_clock(expr.parse(layout.spec.expr), NOW_ONLY):
                                return True
                        except expr.ExprError:
                            return True
        return False

    found: bool = on_layout(app, "reports_read_now", build)
    return found


SPAN_SECONDS = 300.0
"""How long a column's first and last value (SQLite's date-index rule) are reused."""
_spans: dict[tuple[str, str, str], tuple[float, Any]] = {}


def column_spans(conn: Connection) -> Callable[[Any], Any]:
    """The first and last value of an indexed column (`ReportCompiler`'s `spans`): two index
    seeks (``SELECT min(c)``, ``SELECT max(c)``), kept `SPAN_SECONDS` per database, table and
    column — the rule only needs the rough share a range covers, so a report over a wide date
    range adds this statement once per few minutes, not per run."""

    def span(column: Any) -> Any:
        key = (str(conn.engine.url), column.table.name, column.name)
        now = time.monotonic()
        kept = _spans.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        row = conn.execute(
            select(
                select(func.min(column)).scalar_subquery(),
                select(func.max(column)).scalar_subquery(),
            )
        ).one()
        found = (row[0], row[1])
        _spans[key] = (now + SPAN_SECONDS, found)
        return found

    return span


def too_large(measures: int) -> ServiceError:
    """422 ``pivot_too_large``: more than `PIVOT_CELLS` cells."""
    return ServiceError(
        422,
        "pivot_too_large",
        [
            Issue(
                "",
                "pivot_too_large",
                f"结果超过 {PIVOT_CELLS} 个单元格：请加筛选、减少维度或设置前 N 名",
                f"The result has more than {PIVOT_CELLS} cells: add a filter, use fewer "
                "dimensions or keep the top N",
            )
        ],
        message_zh=f"结果超过 {PIVOT_CELLS} 个单元格",
        message_en=f"The result has more than {PIVOT_CELLS} cells",
    )


def summed_totals(
    compiled: Compiled, report: Any, details: list[tuple[list[tuple[Any, Any]], Raw, int]]
) -> list[tuple[list[tuple[Any, Any]], Raw, int]]:
    """A pivot's subtotal and total rows summed from its cells (SQLite): for each grouping the
    compiler would ask PostgreSQL for, the cells grouped by the dimensions it keeps."""
    settings = report.chart.settings or {}
    if not (settings.get("subtotals") or settings.get("totals")):
        return []
    rows, count = len(report.rows), len(compiled.dims)
    columns = count - rows
    keeps: list[list[int]] = []
    if settings.get("subtotals"):
        keeps += [list(range(rows - i)) + list(range(rows, count)) for i in range(1, rows)]
    keeps.append(list(range(rows, count)))
    if columns:
        keeps += [list(range(rows)), []]
    found: list[tuple[list[tuple[Any, Any]], Raw, int]] = []
    for kept in keeps:
        mask = sum(1 << (count - 1 - i) for i in range(count) if i not in kept)
        groups: dict[tuple[Any, ...], Raw] = {}
        for dims, raw, _ in details:
            key = tuple(_hashable(dims[i][0]) for i in kept)
            total = groups.get(key)
            if total is None:
                groups[key] = total = {
                    "#dims": [dims[i] if i in kept else (None, None) for i in range(count)]
                }
            _add(compiled.measures, compiled.variants, total, raw)
        for total in groups.values():
            found.append((total.pop("#dims"), total, mask))
    return found


def _hashable(value: Any) -> Any:
    return value if not isinstance(value, list | dict) else repr(value)


def _add(measures: list[Measure], variants: list[str], total: Raw, raw: Raw) -> None:
    for m in measures:
        if m.agg == "expr":
            continue
        for variant in variants:
            name = m.key if not variant else f"{m.key}#{variant}"
            if m.agg == "avg":
                for part in (f"{name}#sum", f"{name}#n"):
                    total[part] = _plus(total.get(part), raw.get(part))
            elif m.agg in ("sum", "count"):
                total[name] = _plus(total.get(name), raw.get(name))
            elif m.agg in ("min", "max"):
                old, new = total.get(name), raw.get(name)
                pick = min if m.agg == "min" else max
                total[name] = new if old is None else old if new is None else pick(old, new)
            else:  # count distinct: not additive
                total[name] = None


def _plus(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


class CellWriter:
    """Writes one report's cells in the viewer's language (see `engine.reports.result`)."""

    def __init__(self, compiled: Compiled, lang: str, sql: FormSql) -> None:
        self.compiled = compiled
        self.lang = "en" if lang.startswith("en") else "zh"
        self.sql = sql
        self.formulas: dict[str, Any] = on_layout(compiled, "formulas", self._formulas)
        self.eval_ctx = EvalContext.create(sql.ctx.now, sql.ctx.tz)
        self._cells: dict[tuple[int, Any, Any], dict[str, Any]] = {}
        count = len(compiled.dims)
        self._bits = [(i, d, 1 << (count - 1 - i)) for i, d in enumerate(compiled.dims)]
        self._plans: dict[str, list[tuple[Measure, str, Any]]] = {}
        self._converts: list[Callable[[Any], Any] | None] = []
        self._steps: list[tuple[int, Callable[[Any], Any]]] = []

    def _formulas(self) -> dict[str, Any]:
        """The formula measures compiled (once per kept report: `compiled_report`)."""
        numbers = {m.key: {"type": "number"} for m in self.compiled.measures if m.agg != "expr"}
        return {
            m.key: expr.compile_formula(m.expr, numbers)
            for m in self.compiled.measures
            if m.agg == "expr" and m.expr is not None
        }

    # --- columns -----------------------------------------------------------------------
    def columns(self, report: Any) -> list[ReportColumn]:
        found: list[ReportColumn] = []
        specs = [*report.rows, *report.columns]
        for d, spec in zip(self.compiled.dims, specs, strict=True):
            label = self._text(spec.label) if spec.label is not None else self._path_label(d.field)
            if d.bucket is not None:
                label = (
                    f"{label}（{_bucket_label(d.bucket, self.lang)}）"
                    if self.lang == "zh"
                    else f"{label} ({d.bucket})"
                )
            found.append(
                ReportColumn(
                    key=d.key,
                    kind="dimension",
                    label=label,
                    type=d.kind,
                    field=d.field,
                    bucket=d.bucket,
                )
            )
        for m, spec in zip(self.compiled.measures, report.measures, strict=True):
            found.append(
                ReportColumn(
                    key=m.key,
                    kind="measure",
                    label=self._measure_label(spec),
                    type=m.agg,
                    field=spec.field,
                )
            )
        return found

    def _text(self, label: Any, fallback: str = "") -> str:
        if label is None:
            return fallback
        if isinstance(label, str):
            return label
        if isinstance(label, LocalizedText):
            label = label.model_dump(exclude_none=True)
        if isinstance(label, dict):
            return str(label.get(self.lang) or label.get("zh") or label.get("en") or fallback)
        return fallback

    def _path_label(self, path: str) -> str:
        names: list[str] = []
        container: Any = self.sql.form
        for key in path.split("."):
            if key in SYSTEM_LABELS:
                names.append(SYSTEM_LABELS[key][0 if self.lang == "zh" else 1])
                break
            layout = container.fields.get(key) if container is not None else None
            if layout is None:
                names.append(key)
                break
            names.append(self._text(layout.spec.label, key))
            target = getattr(layout.spec, "target", None)
            container = self.sql.app.forms.get(target) if isinstance(target, str) else None
        return ".".join(names)

    def _measure_label(self, spec: Any) -> str:
        if spec.label is not None:
            return self._text(spec.label, spec.key)
        if spec.agg == "expr":
            return str(spec.key)
        if spec.field is None:
            return "记录数" if self.lang == "zh" else "Count"
        agg = AGG_LABELS[spec.agg][0 if self.lang == "zh" else 1]
        field = self._path_label(spec.field)
        return f"{field}（{agg}）" if self.lang == "zh" else f"{field} ({agg})"

    # --- rows --------------------------------------------------------------------------
    def row(self, dims: list[tuple[Any, Any]], raw: Raw, mask: int) -> list[Any]:
        cells: list[Any] = []
        written = self._cells
        for (i, d, bit), (value, label) in zip(self._bits, dims, strict=True):
            if mask & bit:
                cells.append({"value": None, "label": TOTAL[self.lang], "total": True})
                continue
            try:  # a value recurs in many groups (a month per region): written once
                key = (i, value, label)
                found = written.get(key)
            except TypeError:  # not hashable
                cells.append(self.dimension(d, value, label))
                continue
            if found is None:
                found = written[key] = self.dimension(d, value, label)
            cells.append(found)
        values = self.measures(raw, "")
        cells += [values[m.key] for m in self.compiled.measures]
        return cells

    def dimension(self, d: Dim, value: Any, label: Any) -> dict[str, Any]:
        if value is None:
            return {"value": None, "label": BLANK[self.lang]}
        if d.bucket is not None:
            day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
            return {"value": day.isoformat(), "label": bucket_label(day, d.bucket)}
        if d.kind in ("user", "department"):
            name = label if label is not None else f"#{value}"
            if d.owner is None:  # a system field (`_owner`): record JSON holds the bare id
                return {"value": int(value), "label": name}
            return {"value": {"id": int(value), "name": label}, "label": name}
        if d.kind == "record":
            title = label if label not in (None, "") else f"#{value}"
            return {"value": {"_id": int(value), "title": label}, "label": str(title)}
        if d.kind == "boolean":
            yes, no = YES_NO[self.lang]
            return {"value": bool(value), "label": yes if value else no}
        owner = d.owner
        options = getattr(owner.spec, "options", None) if owner is not None else None
        if options:
            for option in options:
                if option.value == value:
                    return {"value": value, "label": self._text(option.label, option.value)}
            return {"value": value, "label": str(value)}
        written = owner.write_json(value) if owner is not None else expr.encode(value)
        if isinstance(written, Decimal):
            written = expr.encode(written)
        return {"value": written, "label": str(written)}

    def plain(
        self, where: dict[str, int], columns: Sequence[Any], dialect: Any, description: Any
    ) -> bool:
        """Ready `plain_rows` for a statement whose columns (`columns`, as the driver describes
        them in `description`) are at `where` (by name): each column's conversion of the
        driver's value, and each measure's cell writer; False when a measure has no column of
        its own."""
        converts: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, description[index][1])
            for index, column in enumerate(columns)
        ]
        steps: list[tuple[int, Callable[[Any], Any]]] = []
        for m, name, quantum in self._plan(""):
            if name not in where:
                return False
            at = where[name]
            write = self._measure_writer(m, quantum, converts[at])
            column_type = columns[at].type
            if (
                quantum is not None
                and isinstance(column_type, ExactDecimal)
                and column_type.scale == m.scale
            ):  # a money sum: its text straight from the driver's value, as `write` writes it
                write = column_type.json_reader(dialect, write)  # NULL: to `write`
            steps.append((at, write))
        self._converts = converts
        self._steps = steps
        return True

    def _measure_writer(
        self, m: Measure, quantum: Any, convert: Callable[[Any], Any] | None
    ) -> Callable[[Any], Any]:
        """A measure's cell from the driver's value: its column's conversion, then the cell as
        `measures` writes it (a decimal at a fixed scale quantized to it)."""

        def write(raw: Any) -> Any:
            value = convert(raw) if convert is not None else raw
            if quantum is not None and type(value) is Decimal:
                return format(value.quantize(quantum, ROUND_HALF_UP), "f")
            if m.agg == "count":
                return int(value) if value is not None else 0
            if m.agg == "count_distinct":
                return int(value) if value is not None else None
            return self._number(m, value)

        return write

    def plain_rows(self, rows: Sequence[Any], picks: list[tuple[int, int | None]]) -> list[Any]:
        """The answer's rows written straight from the driver's rows (`_plain_cells`, after
        `plain`): each dimension cell converted and written once per distinct value, each
        measure by its writer — the same cells as `row`, without a dict of aggregates per group
        nor a conversion per value. Rows of one dimension value share its cell (one dict): a
        result is read, never changed in place. Written a column at a time (the rows
        transposed, each column's cells by one comprehension or `map`, transposed back): the
        same work without the interpreter's per-cell loop."""
        if not rows:
            return []
        columns = list(zip(*rows, strict=True))
        written: list[Sequence[Any]] = []
        for (at, label_at), (_, d, _) in zip(picks, self._bits, strict=True):
            values = columns[at]
            labels = columns[label_at] if label_at is not None else repeat(None)
            cells: dict[Any, dict[str, Any]] = {}
            get = cells.get
            try:
                if label_at is None and len(set(map(type, values)) - {NONE}) <= 1:
                    # values of one type (or NULL): each value is its own key
                    written.append([get(v) or self._kept_value(cells, v, d, at) for v in values])
                    continue
                # keyed by the value's type too: 1, 1.0 and True are equal keys, not one value
                keys = list(zip(map(type, values), values, labels, strict=False))
                written.append([get(k) or self._kept(cells, k, d, at, label_at) for k in keys])
            except TypeError:  # a value that is not hashable: each written on its own
                pairs = zip(values, labels, strict=False)
                written.append([self._dimension_of(d, v, b, at, label_at) for v, b in pairs])
        for at, write in self._steps:
            written.append(list(map(write, columns[at])))
        return list(map(list, zip(*written, strict=True)))

    def _kept_value(
        self, cells: dict[Any, dict[str, Any]], value: Any, d: Dim, at: int
    ) -> dict[str, Any]:
        """The cell of a dimension `value` without a label column, written and kept."""
        found = cells[value] = self._dimension_of(d, value, None, at, None)
        return found

    def _kept(
        self,
        cells: dict[Any, dict[str, Any]],
        key: tuple[Any, Any, Any],
        d: Dim,
        at: int,
        label_at: int | None,
    ) -> dict[str, Any]:
        """A dimension value's cell (`key`: its type, value and label), written and kept."""
        found = cells[key] = self._dimension_of(d, key[1], key[2], at, label_at)
        return found

    def _dimension_of(
        self, d: Dim, value: Any, label: Any, at: int, label_at: int | None
    ) -> dict[str, Any]:
        """A dimension's cell from the driver's value and label (converted first)."""
        convert = self._converts[at]
        if convert is not None:
            value = convert(value)
        if label_at is not None:
            convert = self._converts[label_at]
            if convert is not None:
                label = convert(label)
        return self.dimension(d, value, label)

    def _plan(self, variant: str) -> list[tuple[Measure, str, Any]]:
        """Each aggregate measure of `variant` with its column name and, for a decimal at a
        fixed scale (a money sum), the quantum it is written at (worked out once per
        report run, not per cell)."""
        plan = self._plans.get(variant)
        if plan is None:
            plan = []
            for m in self.compiled.measures:
                if m.agg == "expr":
                    continue
                name = m.key if not variant else f"{m.key}#{variant}"
                fixed = m.agg in ("sum", "min", "max") and m.kind != "integer"
                plan.append((m, name, _quantum(m.scale) if fixed and m.scale is not None else None))
            self._plans[variant] = plan
        return plan

    def measures(self, raw: Raw, variant: str) -> dict[str, Any]:
        numbers: dict[str, Any] = {}
        values: dict[str, Any] = {}
        for m, name, quantum in self._plan(variant):
            if quantum is not None:  # the common case (a sum of money): no detour
                found = raw.get(name)
                if type(found) is Decimal:
                    numbers[m.key] = found
                    values[m.key] = format(found.quantize(quantum, ROUND_HALF_UP), "f")
                    continue
            if m.agg == "avg":
                total, count = raw.get(f"{name}#sum"), raw.get(f"{name}#n")
                number = None if not count or total is None else Decimal(total) / Decimal(count)
                numbers[m.key] = number
                values[m.key] = None if number is None else _places(number, 10)
                continue
            found = raw.get(name)
            if m.agg in ("count", "count_distinct"):
                count_value = int(found) if found is not None else None
                if m.agg == "count" and count_value is None:
                    count_value = 0
                numbers[m.key] = None if count_value is None else Decimal(count_value)
                values[m.key] = count_value
                continue
            numbers[m.key] = found if isinstance(found, Decimal | int) else None
            values[m.key] = self._number(m, found)
        for key, formula in self.formulas.items():
            try:
                result = formula.run(numbers, self.eval_ctx)
            except (ArithmeticError, InvalidOperation, TypeError, ValueError):
                result = None
            numbers[key] = result
            values[key] = (
                None if not isinstance(result, Decimal | int) else _places(Decimal(result), 10)
            )
        return values

    def _number(self, m: Measure, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if m.kind == "integer" and isinstance(value, int | Decimal):
            return int(value)
        if isinstance(value, int) and m.kind != "number":
            return value
        if isinstance(value, Decimal | int | float):
            number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
            if m.scale is not None:
                return _places(number, m.scale)
            return expr.encode(number)
        return expr.encode(value)

    def sort_key(self, raw: Raw) -> tuple[Any, ...]:
        """Sort a group by the report's keys when a formula measure is among them."""
        values = self.measures(raw, "")
        key: list[Any] = []
        for name, desc in self.compiled.python_sort:
            value = values.get(name)
            number = Decimal(str(value)) if value is not None else None
            if number is None:
                key.append((1, Decimal(0)))
            else:
                key.append((0, -number if desc else number))
        return tuple(key)


def _places(value: Decimal, places: int) -> str:
    return format(value.quantize(_quantum(places), ROUND_HALF_UP), "f")


@lru_cache(maxsize=64)
def _quantum(places: int) -> Decimal:
    """The Decimal a value is quantized to for `places` decimal places (1E-2 for 2)."""
    return Decimal(1).scaleb(-places)


def _bucket_label(bucket: str, lang: str) -> str:
    names: dict[str, str] = {
        "year": "年",
        "quarter": "季度",
        "month": "月",
        "week": "周",
        "day": "日",
    }
    return names[bucket]


def bucket_label(day: dt.date, bucket: str) -> str:
    """How a bucket starting on `day` is labelled: 2024 · 2024 Q2 · 2024-06 · 2024-W23 ·
    2024-06-01."""
    if bucket == "year":
        return str(day.year)
    if bucket == "quarter":
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    if bucket == "month":
        return f"{day.year}-{day.month:02d}"
    if bucket == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


__all__ = [
    "KEPT",
    "CellWriter",
    "bucket_label",
    "compiled_report",
    "run_report",
    "summed_totals",
    "too_large",
]
