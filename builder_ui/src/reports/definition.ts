/**
 * The report designer's model and the report pages' pure helpers (issue 15, DESIGN §10): the
 * report spec's types, the field list a form offers (its fields, system fields, to-one relations'
 * fields), designer edits (drop a field on rows / columns / measures, remove, move), the shape
 * sent for a preview or a save, result formatting (money as ¥ with thousands separators, blanks
 * as (空)), the ECharts option per chart type, and the records filter behind a cell
 * (click-through). Nothing here touches React or the network, so all of it is unit-tested.
 */
import type { AppDef, FieldDef, FormDef, Label } from "../api/types";
import { fieldRef, textLiteral } from "../forms/filter";
import { fieldLabel } from "../forms/labels";
import { reportsOf as headsOf } from "./menu";

export { isBuilder, reportName } from "./menu";

/** The app's reports. */
export const reportsOf = (app: AppDef): ReportDef[] => headsOf<ReportDef>(app);

export type Bucket = "year" | "quarter" | "month" | "week" | "day";
export type Agg = "sum" | "count" | "avg" | "min" | "max" | "count_distinct" | "expr";
export type Zone = "rows" | "columns" | "measures";

export const BUCKETS: Bucket[] = ["year", "quarter", "month", "week", "day"];
export const AGGS: Agg[] = ["sum", "count", "avg", "max", "min", "count_distinct"];
export const CHART_TYPES = ["table", "pivot", "bar", "stacked_bar", "line", "area", "pie", "funnel", "kpi", "ranking", "dual_axis"] as const;
export type ChartType = (typeof CHART_TYPES)[number];

export interface Dimension {
  field: string;
  bucket?: Bucket | null;
  label?: Label;
}

export interface Measure {
  key: string;
  agg: Agg;
  field?: string | null;
  expr?: string | null;
  filter?: string | null;
  label?: Label;
}

export interface SortKey {
  key: string;
  desc?: boolean;
}

export interface Chart {
  type: ChartType | string;
  settings?: Record<string, unknown> | null;
}

/** A report as the definition holds it (`reports[i]`). */
export interface ReportDef {
  key: string;
  name: Label;
  form: string;
  subform?: string | null;
  description?: Label;
  filter?: string | null;
  rows: Dimension[];
  columns: Dimension[];
  measures: Measure[];
  sort: SortKey[];
  limit?: number | null;
  chart?: Chart | null;
}

/** A result column (`ReportColumn`). */
export interface ResultColumn {
  key: string;
  kind: "dimension" | "measure";
  label: string;
  type: string;
  field?: string | null;
  bucket?: string | null;
}

export interface Cell {
  value: unknown;
  label: string;
  total?: boolean;
}

/** A report's answer (`ReportResult`). */
export interface ReportResult {
  columns: ResultColumn[];
  rows: unknown[][];
  totals?: unknown[][];
  previous?: Record<string, unknown> | null;
  periods?: Record<string, string[]> | null;
}

/** A field the designer offers: a path (`amount`, `_owner`, `customer.industry`). */
export interface FieldChoice {
  path: string;
  label: string;
  type: string;
  /** Dates and instants may take a bucket. */
  dated: boolean;
  /** Sum and average make sense. */
  numeric: boolean;
  /** Can be a dimension (not a list). */
  groupable: boolean;
}

export const NEW_REPORT = "_new";
const LAYOUT = new Set(["section", "tab", "divider", "description", "button"]);
const LISTS = new Set(["subform", "multi_select", "checkboxes", "users", "departments", "files", "images", "attachment"]);
const NUMERIC = new Set(["number", "integer", "money", "percent", "rollup", "formula", "rating", "decimal"]);
const DATED = new Set(["date", "datetime"]);
const SYSTEM: { path: string; type: string; zh: string; en: string; dated?: boolean }[] = [
  { path: "_created_by", type: "user", zh: "创建人", en: "Created by" },
  { path: "_owner", type: "user", zh: "负责人", en: "Owner" },
  { path: "_created_at", type: "datetime", zh: "创建时间", en: "Created at", dated: true },
  { path: "_updated_at", type: "datetime", zh: "修改时间", en: "Updated at", dated: true },
];


const isList = (f: FieldDef) => LISTS.has(f.type) || (f.type === "relation" && !!f.many);
const choice = (path: string, label: string, f: FieldDef): FieldChoice => ({
  path,
  label,
  type: f.type,
  dated: DATED.has(f.type),
  numeric: NUMERIC.has(f.type),
  groupable: !isList(f),
});

/** The fields a report over `form` may use: the form's own, the system fields, and one step
 * through each to-one relation (`customer.industry`). */
export function fieldChoices(app: AppDef, form: FormDef | undefined, lang: string): FieldChoice[] {
  if (!form) return [];
  const en = lang === "en";
  const out: FieldChoice[] = [];
  const own = form.fields.filter((f) => !LAYOUT.has(f.type));
  for (const f of own) if (f.type !== "subform") out.push(choice(f.key, fieldLabel(f, lang), f));
  for (const s of SYSTEM) out.push({ path: s.path, label: en ? s.en : s.zh, type: s.type, dated: !!s.dated, numeric: false, groupable: true });
  for (const f of own) {
    if (f.type !== "relation" || f.many || !f.target) continue;
    const target = app.forms.find((g) => g.key === f.target);
    for (const g of target?.fields ?? []) {
      if (LAYOUT.has(g.type) || g.type === "subform" || g.type === "relation") continue;
      out.push(choice(`${f.key}.${g.key}`, `${fieldLabel(f, lang)}.${fieldLabel(g, lang)}`, g));
    }
  }
  return out;
}

/** A fresh report over `form` (a table of record counts until fields are dropped in). */
export function blankReport(key: string, form: string): ReportDef {
  return { key, name: { zh: "", en: "" }, form, rows: [], columns: [], measures: [], sort: [], chart: { type: "table" } };
}

/** A partial or older report read into the designer's complete state. */
export function designerState(raw: Partial<ReportDef> & { key: string; form: string }): ReportDef {
  return {
    ...raw,
    name: raw.name ?? { zh: "", en: "" },
    rows: [...(raw.rows ?? [])],
    columns: [...(raw.columns ?? [])],
    measures: [...(raw.measures ?? [])],
    sort: [...(raw.sort ?? [])],
    chart: raw.chart ?? { type: "table" },
  };
}

const blank = (v: unknown) => v === null || v === undefined || (typeof v === "string" && v.trim() === "");

/** The spec sent for a preview or a save: blanks dropped (no empty filter, no null bucket). */
export function shapeOf(report: ReportDef): ReportDef {
  const dim = (d: Dimension): Dimension => (d.bucket ? { field: d.field, bucket: d.bucket } : { field: d.field });
  const measure = (m: Measure): Measure => {
    const out: Measure = { key: m.key, agg: m.agg };
    if (m.agg === "expr") out.expr = m.expr ?? "";
    else if (!blank(m.field)) out.field = m.field;
    if (!blank(m.filter)) out.filter = m.filter!.trim();
    if (m.label) out.label = m.label;
    return out;
  };
  const shape: ReportDef = {
    key: report.key,
    name: report.name,
    form: report.form,
    rows: report.rows.map(dim),
    columns: report.columns.map(dim),
    measures: report.measures.map(measure),
    sort: report.sort.filter((s) => !blank(s.key)).map((s) => ({ key: s.key, desc: !!s.desc })),
    chart: report.chart ? (report.chart.settings ? { type: report.chart.type, settings: report.chart.settings } : { type: report.chart.type }) : { type: "table" },
  };
  if (report.subform) shape.subform = report.subform;
  if (report.description) shape.description = report.description;
  if (!blank(report.filter)) shape.filter = report.filter!.trim();
  if (report.limit) shape.limit = report.limit;
  return shape;
}

/** A measure key not used yet, from the field (`amount` → `amount_sum`). */
export function measureKey(report: ReportDef, base: string): string {
  const stem = base.replace(/[^a-z0-9_]/g, "_").replace(/^_+/, "").replace(/_+/g, "_").slice(0, 30) || "m";
  const start = /^[a-z]/.test(stem) ? stem : `m_${stem}`;
  const used = new Set(report.measures.map((m) => m.key));
  if (!used.has(start)) return start;
  for (let i = 2; ; i++) if (!used.has(`${start}_${i}`)) return `${start}_${i}`;
}

/** The report with `field` dropped on `zone`: a dimension (dates bucketed by month) or a
 * measure (sum of a number, count of anything else). A dimension already placed moves. */
export function dropField(report: ReportDef, zone: Zone, field: FieldChoice): ReportDef {
  if (zone === "measures") {
    const agg: Agg = field.numeric && field.type !== "rating" ? "sum" : "count";
    return { ...report, measures: [...report.measures, { key: measureKey(report, `${field.path}_${agg}`), agg, field: field.path }] };
  }
  if (!field.groupable) return report;
  const rows = report.rows.filter((d) => d.field !== field.path);
  const columns = report.columns.filter((d) => d.field !== field.path);
  const dim: Dimension = field.dated ? { field: field.path, bucket: "month" } : { field: field.path };
  return zone === "rows" ? { ...report, rows: [...rows, dim], columns } : { ...report, rows, columns: [...columns, dim] };
}

/** The report with a formula measure (`won / n`) added. */
export function addFormula(report: ReportDef, expr = ""): ReportDef {
  return { ...report, measures: [...report.measures, { key: measureKey(report, "formula"), agg: "expr", expr }] };
}

/** The report without the item at `index` of `zone` (and without a sort on a removed key). */
export function removeAt(report: ReportDef, zone: Zone, index: number): ReportDef {
  const list = report[zone] as (Dimension | Measure)[];
  const gone = list[index];
  const next = { ...report, [zone]: list.filter((_, i) => i !== index) } as ReportDef;
  const key = gone && ("key" in gone ? gone.key : gone.field);
  return { ...next, sort: next.sort.filter((s) => s.key !== key) };
}

/** `list` with `list[index]` replaced by `patch` applied. */
export function patchAt<T>(list: T[], index: number, patch: Partial<T>): T[] {
  return list.map((item, i) => (i === index ? { ...item, ...patch } : item));
}

/** What can be sorted on: the measures' keys and the dimensions' fields. */
export function sortChoices(report: ReportDef): string[] {
  return [...report.measures.map((m) => m.key), ...report.rows.map((d) => d.field), ...report.columns.map((d) => d.field)];
}

// ---- the result -------------------------------------------------------------------------

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
export const isCell = (v: unknown): v is Cell => isObject(v) && "label" in v && "value" in v;

/** A dimension cell's text: its label, blanks as (空) / (blank). */
export function cellLabel(cell: unknown, lang: string): string {
  if (isCell(cell)) {
    if (cell.value === null && !cell.total && (!cell.label || cell.label === "(空)" || cell.label === "(blank)")) return lang === "en" ? "(blank)" : "(空)";
    return cell.label;
  }
  if (cell === null || cell === undefined || cell === "") return lang === "en" ? "(blank)" : "(空)";
  return String(cell);
}

/** Thousands separators on a decimal text (`1234567.5` → `1,234,567.5`). */
export function groupDigits(text: string): string {
  const [whole, fraction] = text.split(".");
  const sign = whole.startsWith("-") ? "-" : "";
  const digits = sign ? whole.slice(1) : whole;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return sign + grouped + (fraction !== undefined ? `.${fraction}` : "");
}

/** A measure value's text: money as `¥1,234.50`, avg / formula values to 4 places (trailing
 * zeros dropped), counts as integers with separators, blanks as (空). */
export function measureText(value: unknown, column: ResultColumn, money: boolean, lang: string): string {
  if (value === null || value === undefined || value === "") return lang === "en" ? "(blank)" : "(空)";
  const raw = typeof value === "number" ? String(value) : String(value);
  if (!/^-?\d+(\.\d+)?$/.test(raw)) return raw;
  let text = raw;
  if (money) text = Number(raw).toFixed(2);
  else if (column.type === "avg" || column.type === "expr") text = String(Number(Number(raw).toFixed(4)));
  const grouped = groupDigits(text);
  return money ? (grouped.startsWith("-") ? `-¥${grouped.slice(1)}` : `¥${grouped}`) : grouped;
}

/** An axis tick, short: 12000 → `1.2万` (en `12k`), money with ¥; ticks never overlap. */
export function axisText(value: number, money: boolean, lang: string): string {
  const abs = Math.abs(value);
  const short = (n: number) => String(Number(n.toFixed(1)));
  let text: string;
  if (lang === "en") text = abs >= 1e9 ? `${short(value / 1e9)}B` : abs >= 1e6 ? `${short(value / 1e6)}M` : abs >= 1e3 ? `${short(value / 1e3)}k` : short(value);
  else text = abs >= 1e8 ? `${short(value / 1e8)}亿` : abs >= 1e4 ? `${short(value / 1e4)}万` : short(value);
  return money ? (text.startsWith("-") ? `-¥${text.slice(1)}` : `¥${text}`) : text;
}

/** The number of a measure value (decimal strings too), or null. */
export function measureNumber(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) return Number(value);
  return null;
}

function fieldAt(app: AppDef, form: FormDef | undefined, path: string | null | undefined): { field: FieldDef; fields: FieldDef[] } | undefined {
  if (!form || !path) return undefined;
  const [head, rest] = [path.split(".")[0], path.split(".").slice(1).join(".")];
  const field = form.fields.find((f) => f.key === head);
  if (!field) return undefined;
  if (rest && field.type === "relation" && field.target) return fieldAt(app, app.forms.find((f) => f.key === field.target), rest);
  return { field, fields: form.fields };
}

function isMoneyField(app: AppDef, fields: FieldDef[], field: FieldDef, depth = 0): boolean {
  if (depth > 3) return false;
  if (field.type === "money" || typeof field.currency === "string") return true;
  if (field.type === "formula" && typeof field.expr === "string") {
    const expr = field.expr;
    return fields.some((f) => f.key !== field.key && f.type === "money" && new RegExp(`\\b${f.key}\\b`).test(expr));
  }
  if ((field.type === "rollup" || field.type === "lookup") && typeof field.relation === "string" && typeof field.field === "string") {
    const via = fields.find((f) => f.key === field.relation);
    const inner = via?.type === "subform" ? via.fields ?? [] : app.forms.find((f) => f.key === via?.target)?.fields ?? [];
    const target = inner.find((f) => f.key === field.field);
    return !!target && isMoneyField(app, inner, target, depth + 1);
  }
  return false;
}

/** The measure columns that read money (sum / avg / min / max of a money field), by key. */
export function moneyColumns(app: AppDef, report: ReportDef): Set<string> {
  const form = app.forms.find((f) => f.key === report.form);
  const out = new Set<string>();
  for (const m of report.measures) {
    if (!["sum", "avg", "min", "max"].includes(m.agg)) continue;
    const found = fieldAt(app, form, m.field);
    if (found && isMoneyField(app, found.fields, found.field)) out.add(m.key);
  }
  return out;
}

/** A cell's text for any column. */
export function anyText(value: unknown, column: ResultColumn, money: Set<string>, lang: string): string {
  return column.kind === "dimension" ? cellLabel(value, lang) : measureText(value, column, money.has(column.key), lang);
}

// ---- charts -------------------------------------------------------------------------------

export type ChartOption = Record<string, unknown>;

interface Split {
  dims: number[];
  measures: number[];
}

const split = (result: ReportResult): Split => ({
  dims: result.columns.flatMap((c, i) => (c.kind === "dimension" ? [i] : [])),
  measures: result.columns.flatMap((c, i) => (c.kind === "measure" ? [i] : [])),
});

/** Whether a chart type draws with ECharts (table and pivot are tables; KPI a number). */
export const drawsChart = (type: string) => !["table", "pivot", "kpi"].includes(type);

/** The ECharts option for a result drawn as `chart.type`: categories from the first dimension's
 * labels, one series per measure — or, with a second dimension (stacked bar, bar, line, area), one
 * series per value of it; pie and funnel from the first measure; ranking as horizontal bars,
 * largest first; dual axis with `settings.right` (or the second measure) on the right axis. */
export function chartOption(result: ReportResult, chart: Chart, money: Set<string>, lang: string): ChartOption {
  const type = chart.type;
  const { dims, measures } = split(result);
  const rows = result.rows;
  const label = (row: unknown[], i: number) => (i === undefined ? "" : cellLabel(row[i], lang));
  const numberAt = (row: unknown[], i: number) => measureNumber(row[i]);
  const first = measures[0];
  const firstColumn = result.columns[first];
  const format = (key: string | undefined) => (v: unknown) => (firstColumn && key ? measureText(v, result.columns.find((c) => c.key === key) ?? firstColumn, money.has(key), lang) : String(v));
  const tooltip = { trigger: type === "pie" || type === "funnel" ? "item" : "axis", confine: true };
  if (type === "pie" || type === "funnel") {
    const data = rows.map((row) => ({ name: label(row, dims[0]), value: numberAt(row, first) }));
    if (type === "funnel") data.sort((a, b) => (b.value ?? 0) - (a.value ?? 0));
    return {
      tooltip,
      legend: { type: "scroll", bottom: 0 },
      series: [{ type, name: firstColumn?.label, data, radius: type === "pie" ? ["0%", "65%"] : undefined, label: { show: true } }],
    };
  }
  const categories: string[] = [];
  const indexOf = new Map<string, number>();
  for (const row of rows) {
    const name = label(row, dims[0]);
    if (!indexOf.has(name)) {
      indexOf.set(name, categories.length);
      categories.push(name);
    }
  }
  let series: Record<string, unknown>[];
  const kind = type === "line" || type === "area" ? "line" : "bar";
  if (dims.length >= 2 && ["bar", "stacked_bar", "line", "area"].includes(type)) {
    const bySeries = new Map<string, (number | null)[]>();
    for (const row of rows) {
      const name = label(row, dims[1]);
      if (!bySeries.has(name)) bySeries.set(name, categories.map(() => null));
      bySeries.get(name)![indexOf.get(label(row, dims[0]))!] = numberAt(row, first);
    }
    series = [...bySeries].map(([name, data]) => ({
      type: kind,
      name,
      data,
      ...(type === "stacked_bar" || type === "area" ? { stack: "total" } : {}),
      ...(type === "area" ? { areaStyle: {} } : {}),
    }));
  } else {
    const used = type === "ranking" ? [first] : measures;
    const right = typeof chart.settings?.right === "string" ? (chart.settings.right as string) : result.columns[measures[1]]?.key;
    series = used.map((m) => {
      const column = result.columns[m];
      const onRight = type === "dual_axis" && column.key === right;
      return {
        type: type === "dual_axis" ? (onRight ? "line" : "bar") : kind,
        name: column.label,
        data: rows.map((row) => numberAt(row, m)),
        ...(type === "stacked_bar" || type === "area" ? { stack: "total" } : {}),
        ...(type === "area" ? { areaStyle: {} } : {}),
        ...(onRight ? { yAxisIndex: 1 } : {}),
      };
    });
  }
  const axisFormat = { formatter: (v: number) => axisText(v, !!firstColumn && money.has(firstColumn.key), lang), hideOverlap: true };
  if (type === "ranking") {
    // Largest at the top: ECharts draws a category axis bottom-up, so the order is reversed.
    const order = rows.map((row, i) => ({ name: label(row, dims[0]), value: numberAt(row, first), i })).sort((a, b) => (b.value ?? 0) - (a.value ?? 0));
    return {
      tooltip,
      grid: { left: 8, right: 96, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", splitNumber: 3, axisLabel: axisFormat },
      yAxis: { type: "category", inverse: true, data: order.map((o) => o.name) },
      series: [{ type: "bar", name: firstColumn?.label, data: order.map((o) => o.value), label: { show: true, position: "right", formatter: (p: { value: unknown }) => format(firstColumn?.key)(p.value) } }],
    };
  }
  const yAxis =
    type === "dual_axis"
      ? [{ type: "value", axisLabel: axisFormat }, { type: "value", splitLine: { show: false } }]
      : { type: "value", axisLabel: axisFormat };
  return {
    tooltip,
    legend: { type: "scroll", top: 0 },
    grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: categories, boundaryGap: kind === "bar" },
    yAxis,
    series,
  };
}

// ---- click-through ------------------------------------------------------------------------

function addDays(iso: string, days: number): string {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}
function addMonths(iso: string, months: number): string {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.toISOString().slice(0, 10);
}
const dateCall = (iso: string) => {
  const [y, m, d] = iso.split("-").map(Number);
  return `DATE(${y}, ${m}, ${d})`;
};

/** The records filter for one dimension value, or null when it cannot be said as a condition
 * (relation paths, instants bucketed in the organisation's time zone, totals). */
export function dimensionCondition(app: AppDef, report: ReportDef, dim: Dimension, cell: unknown): string | null {
  if (!isCell(cell) || cell.total) return null;
  const form = app.forms.find((f) => f.key === report.form);
  if (dim.field.includes(".") || report.subform) return null;
  const ref = fieldRef(dim.field);
  if (cell.value === null) return dim.field.startsWith("_") ? null : `ISBLANK(${ref})`;
  if (dim.field === "_owner" || dim.field === "_created_by" || dim.field === "_updated_by") {
    return typeof cell.value === "number" ? `${ref} = ${cell.value}` : null;
  }
  if (dim.field.startsWith("_")) return null;
  const field = form?.fields.find((f) => f.key === dim.field);
  if (!field) return null;
  if (field.type === "date" && typeof cell.value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(cell.value)) {
    const start = cell.value;
    const end =
      dim.bucket === "year" ? addMonths(start, 12) : dim.bucket === "quarter" ? addMonths(start, 3) : dim.bucket === "month" ? addMonths(start, 1) : dim.bucket === "week" ? addDays(start, 7) : addDays(start, 1);
    return `${ref} >= ${dateCall(start)} AND ${ref} < ${dateCall(end)}`;
  }
  if (DATED.has(field.type)) return null;
  if (typeof cell.value === "string") return `${ref} = ${textLiteral(cell.value)}`;
  if (typeof cell.value === "number") return `${ref} = ${cell.value}`;
  if (typeof cell.value === "boolean") return cell.value ? `${ref} = TRUE` : `${ref} = FALSE`;
  return null;
}

/** The records filter behind a result row (the report's filter AND each dimension's value), or
 * null when some value cannot be expressed — then the cell links nowhere. A filter using
 * `CURRENT_USER()` is kept as it is: the records page evaluates it for the same viewer. */
export function rowFilter(app: AppDef, report: ReportDef, result: ReportResult, row: unknown[]): string | null {
  const dims = [...report.rows, ...report.columns];
  const parts: string[] = [];
  if (report.filter && report.filter.trim()) parts.push(`(${report.filter.trim()})`);
  let d = 0;
  for (let i = 0; i < result.columns.length; i++) {
    if (result.columns[i].kind !== "dimension") continue;
    const dim = dims[d++];
    if (!dim) return null;
    const condition = dimensionCondition(app, report, dim, row[i]);
    if (condition === null) return null;
    parts.push(condition);
  }
  if (report.subform) return null;
  return parts.length <= 1 ? (parts[0] ?? "") : parts.map((p) => (p.startsWith("(") ? p : `(${p})`)).join(" AND ");
}

// ---- pivot --------------------------------------------------------------------------------

/** A pivot laid out as a cross table: one line per combination of the row dimensions, one
 * column per combination of the column dimensions and measure; subtotal and total lines (the
 * result's `totals`, dimension cells marked `total`) follow the data lines. */
export interface CrossTab {
  rowHeads: string[];
  columns: { key: string; label: string; measure: number }[];
  lines: { heads: string[]; values: unknown[]; total: boolean; source: unknown[] | null }[];
}

export function crossTab(result: ReportResult, rowDims: number, lang: string): CrossTab {
  const { dims, measures } = split(result);
  const rowIdx = dims.slice(0, rowDims);
  const colIdx = dims.slice(rowDims);
  const columns: CrossTab["columns"] = [];
  const colPos = new Map<string, number>();
  const colName = (row: unknown[]) => colIdx.map((i) => cellLabel(row[i], lang)).join(" / ");
  const all = [...result.rows.map((r) => ({ r, total: false })), ...(result.totals ?? []).map((r) => ({ r, total: true }))];
  for (const { r } of all) {
    const name = colName(r);
    for (const m of measures) {
      const key = `${name}\u0000${m}`;
      if (colPos.has(key)) continue;
      colPos.set(key, columns.length);
      const measureLabel = result.columns[m].label;
      columns.push({ key, label: colIdx.length ? (measures.length > 1 ? `${name} · ${measureLabel}` : name) : measureLabel, measure: m });
    }
  }
  const lines: CrossTab["lines"] = [];
  const linePos = new Map<string, number>();
  for (const { r, total } of all) {
    const heads = rowIdx.map((i) => cellLabel(r[i], lang));
    const isTotal = total || rowIdx.some((i) => isCell(r[i]) && !!r[i].total);
    const key = `${isTotal ? "t" : "d"}\u0000${heads.join("\u0000")}`;
    if (!linePos.has(key)) {
      linePos.set(key, lines.length);
      lines.push({ heads, values: columns.map(() => null), total: isTotal, source: colIdx.length ? null : r });
    }
    const line = lines[linePos.get(key)!];
    line.values.length = columns.length;
    const name = colName(r);
    for (const m of measures) line.values[colPos.get(`${name}\u0000${m}`)!] = r[m];
  }
  return { rowHeads: rowIdx.map((i) => result.columns[i].label), columns, lines };
}

/** The KPI's value, its previous period's value and the change (a fraction), when known. */
export function kpiOf(result: ReportResult): { column: ResultColumn | undefined; value: unknown; previous: unknown; change: number | null } {
  const { measures } = split(result);
  const column = result.columns[measures[0]];
  const value = result.rows[0]?.[measures[0]] ?? null;
  const previous = column && result.previous ? (result.previous[column.key] ?? null) : null;
  const now = measureNumber(value);
  const before = measureNumber(previous);
  const change = now !== null && before !== null && before !== 0 ? (now - before) / Math.abs(before) : null;
  return { column, value, previous, change };
}

/** A server issue's path relative to the report (`reports[2].rows[0].bucket` → `rows[0].bucket`). */
export const localPath = (path: string) => path.replace(/^(body\.)?reports\[\d+\]\.?/, "").replace(/^body\.?/, "");

/** Messages by report-relative path; `issuesAt(map, "rows[0]")` also collects those below it. */
export function issueMap(issues: { path: string; message: string }[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const issue of issues) {
    const path = localPath(issue.path);
    map.set(path, [...(map.get(path) ?? []), issue.message]);
  }
  return map;
}

export function issuesAt(map: Map<string, string[]>, path: string): string[] {
  const out: string[] = [];
  for (const [p, messages] of map) if (p === path || p.startsWith(`${path}.`) || (path === "" && p === "")) out.push(...messages);
  return out;
}

/** A new report's key, not used by the app's reports yet. */
export function newReportKey(app: AppDef): string {
  const used = new Set(reportsOf(app).map((r) => r.key));
  for (let i = 1; ; i++) if (!used.has(`report_${i}`)) return `report_${i}`;
}

/** A name in both languages (a plain string name is the Chinese one). */
export function namesOf(label: Label): { zh: string; en: string } {
  if (typeof label === "string") return { zh: label, en: "" };
  return { zh: label?.zh ?? "", en: label?.en ?? "" };
}
