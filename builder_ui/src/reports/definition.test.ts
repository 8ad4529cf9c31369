import { describe, expect, it } from "vitest";
import type { AppDef } from "../api/types";
import {
  addFormula,
  axisText,
  blankReport,
  cellLabel,
  chartOption,
  crossTab,
  designerState,
  dropField,
  fieldChoices,
  groupDigits,
  isBuilder,
  issueMap,
  issuesAt,
  kpiOf,
  measureText,
  moneyColumns,
  newReportKey,
  removeAt,
  rowFilter,
  shapeOf,
  type FieldChoice,
  type ReportDef,
  type ReportResult,
  type ResultColumn,
} from "./definition";

const app = {
  key: "crm",
  name: "CRM",
  version: "1",
  menu: [],
  _revision: 3,
  roles: [
    { key: "crm_admin", builder: true },
    { key: "sales_rep" },
  ],
  reports: [{ key: "report_1", name: "x", form: "contract", rows: [], columns: [], measures: [], sort: [] }],
  forms: [
    {
      key: "customer",
      name: "客户",
      fields: [
        { key: "name", type: "text", label: "名称" },
        { key: "industry", type: "select", label: "行业" },
        { key: "owner_rel", type: "relation", target: "contract" },
      ],
    },
    {
      key: "contract",
      name: "合同",
      fields: [
        { key: "title", type: "text", label: { zh: "标题", en: "Title" } },
        { key: "customer", type: "relation", target: "customer", label: { zh: "客户", en: "Customer" } },
        { key: "tags", type: "relation", target: "customer", many: true },
        {
          key: "items",
          type: "subform",
          fields: [
            { key: "qty", type: "integer" },
            { key: "price", type: "money", currency: "CNY" },
            { key: "subtotal", type: "formula", expr: "qty * price" },
          ],
        },
        { key: "amount", type: "rollup", relation: "items", field: "subtotal", aggregate: "sum", label: { zh: "合同金额", en: "Amount" } },
        { key: "signed_date", type: "date", label: { zh: "签约日期", en: "Signed" } },
        { key: "status", type: "select", label: { zh: "状态", en: "Status" } },
        { key: "pages", type: "integer" },
        { key: "labels", type: "multi_select" },
      ],
    },
  ],
} as unknown as AppDef;

const contract = app.forms[1];
const choices = fieldChoices(app, contract, "zh");
const pick = (path: string): FieldChoice => choices.find((c) => c.path === path)!;

describe("field list", () => {
  it("offers the form's fields, the system fields and to-one relations' fields", () => {
    const paths = choices.map((c) => c.path);
    expect(paths).toContain("amount");
    expect(paths).toContain("_owner");
    expect(paths).toContain("_created_by");
    expect(paths).toContain("_created_at");
    expect(paths).toContain("customer.industry");
    expect(paths).not.toContain("items");
    expect(paths.some((p) => p.startsWith("tags."))).toBe(false);
    expect(paths.some((p) => p.startsWith("customer.owner_rel"))).toBe(false);
    expect(pick("customer.industry").label).toBe("客户.行业");
    expect(pick("_owner").label).toBe("负责人");
    expect(fieldChoices(app, contract, "en").find((c) => c.path === "_owner")!.label).toBe("Owner");
  });

  it("knows which fields group, bucket and sum", () => {
    expect(pick("signed_date").dated).toBe(true);
    expect(pick("_created_at").dated).toBe(true);
    expect(pick("amount").numeric).toBe(true);
    expect(pick("status").numeric).toBe(false);
    expect(pick("tags").groupable).toBe(false);
    expect(pick("labels").groupable).toBe(false);
  });
});

describe("designer edits and the shape", () => {
  it("drops dimensions and measures, with a month bucket for dates and sum for numbers", () => {
    let r = blankReport("r", "contract");
    r = dropField(r, "rows", pick("_owner"));
    r = dropField(r, "columns", pick("signed_date"));
    r = dropField(r, "measures", pick("amount"));
    r = dropField(r, "measures", pick("status"));
    r = dropField(r, "measures", pick("amount"));
    expect(r.rows).toEqual([{ field: "_owner" }]);
    expect(r.columns).toEqual([{ field: "signed_date", bucket: "month" }]);
    expect(r.measures.map((m) => [m.key, m.agg, m.field])).toEqual([
      ["amount_sum", "sum", "amount"],
      ["status_count", "count", "status"],
      ["amount_sum_2", "sum", "amount"],
    ]);
  });

  it("moves a dimension between rows and columns instead of doubling it, and refuses lists", () => {
    let r = dropField(blankReport("r", "contract"), "rows", pick("status"));
    r = dropField(r, "columns", pick("status"));
    expect(r.rows).toEqual([]);
    expect(r.columns).toEqual([{ field: "status" }]);
    expect(dropField(r, "rows", pick("labels"))).toBe(r);
  });

  it("removes an item and the sort on it", () => {
    let r = dropField(blankReport("r", "contract"), "measures", pick("amount"));
    r = { ...r, sort: [{ key: "amount_sum", desc: true }] };
    r = removeAt(r, "measures", 0);
    expect(r.measures).toEqual([]);
    expect(r.sort).toEqual([]);
  });

  it("makes the shape without blanks, and reads it back to the same state", () => {
    let r = blankReport("top", "contract");
    r = dropField(r, "rows", pick("_owner"));
    r = dropField(r, "measures", pick("amount"));
    r = addFormula(r, "amount_sum / 2");
    r = { ...r, name: { zh: "排行", en: "Top" }, filter: "  ", sort: [{ key: "amount_sum", desc: true }], limit: 10, chart: { type: "ranking" } };
    r.measures[0] = { ...r.measures[0], filter: "" };
    const shape = shapeOf(r);
    expect(shape).toEqual({
      key: "top",
      name: { zh: "排行", en: "Top" },
      form: "contract",
      rows: [{ field: "_owner" }],
      columns: [],
      measures: [
        { key: "amount_sum", agg: "sum", field: "amount" },
        { key: "formula", agg: "expr", expr: "amount_sum / 2" },
      ],
      sort: [{ key: "amount_sum", desc: true }],
      limit: 10,
      chart: { type: "ranking" },
    });
    expect(shapeOf(designerState(shape))).toEqual(shape);
    const partial = designerState({ key: "k", form: "contract" } as ReportDef);
    expect(partial.rows).toEqual([]);
    expect(partial.chart).toEqual({ type: "table" });
    expect(shapeOf({ ...r, filter: "status = \"signed\" " }).filter).toBe('status = "signed"');
  });

  it("places server issues at their controls", () => {
    const map = issueMap([
      { path: "reports[0].rows[0].bucket", message: "桶不对" },
      { path: "measures[1].expr", message: "公式错" },
      { path: "filter", message: "筛选错" },
    ]);
    expect(issuesAt(map, "rows[0]")).toEqual(["桶不对"]);
    expect(issuesAt(map, "measures[1]")).toEqual(["公式错"]);
    expect(issuesAt(map, "measures[0]")).toEqual([]);
    expect(issuesAt(map, "filter")).toEqual(["筛选错"]);
  });

  it("picks a free key and tells builders", () => {
    expect(newReportKey(app)).toBe("report_2");
    expect(isBuilder(app, false, ["crm_admin"])).toBe(true);
    expect(isBuilder(app, false, ["sales_rep"])).toBe(false);
    expect(isBuilder(app, true, [])).toBe(true);
  });
});

const owner = (id: number | null, label: string) => ({ value: id, label });
const columns: ResultColumn[] = [
  { key: "_owner", kind: "dimension", label: "负责人", type: "user", field: "_owner" },
  { key: "amount_sum", kind: "measure", label: "合同金额（合计）", type: "sum", field: "amount" },
  { key: "n", kind: "measure", label: "数量", type: "count" },
];
const result: ReportResult = {
  columns,
  rows: [
    [owner(4, "郑浩"), "1234567.5", 3],
    [owner(5, "王芳"), "9000000.00", 12],
    [owner(null, "(空)"), null, 1],
  ],
  totals: [],
};
const report: ReportDef = {
  ...blankReport("r", "contract"),
  rows: [{ field: "_owner" }],
  measures: [
    { key: "amount_sum", agg: "sum", field: "amount" },
    { key: "n", agg: "count" },
  ],
};

describe("formatting", () => {
  it("writes money as ¥ with thousands separators and blanks as (空)", () => {
    expect(groupDigits("1234567.5")).toBe("1,234,567.5");
    expect(groupDigits("-1000")).toBe("-1,000");
    expect(measureText("1234567.5", columns[1], true, "zh")).toBe("¥1,234,567.50");
    expect(measureText("-20", columns[1], true, "zh")).toBe("-¥20.00");
    expect(measureText(12345, columns[2], false, "zh")).toBe("12,345");
    expect(measureText("0.4166666667", { ...columns[1], type: "avg" }, false, "zh")).toBe("0.4167");
    expect(measureText(null, columns[1], true, "zh")).toBe("(空)");
    expect(measureText(null, columns[1], true, "en")).toBe("(blank)");
    expect(cellLabel(owner(null, "(空)"), "en")).toBe("(blank)");
    expect(cellLabel(owner(4, "郑浩"), "zh")).toBe("郑浩");
    expect(cellLabel({ value: null, label: "合计", total: true }, "zh")).toBe("合计");
  });

  it("shortens axis ticks", () => {
    expect(axisText(12000, true, "zh")).toBe("¥1.2万");
    expect(axisText(250000000, false, "zh")).toBe("2.5亿");
    expect(axisText(500, true, "zh")).toBe("¥500");
    expect(axisText(12000, false, "en")).toBe("12k");
    expect(axisText(-3400000, true, "en")).toBe("-¥3.4M");
  });

  it("finds money measures through a rollup of a formula over a money field", () => {
    expect([...moneyColumns(app, report)]).toEqual(["amount_sum"]);
    const pages = { ...report, measures: [{ key: "p", agg: "sum" as const, field: "pages" }] };
    expect([...moneyColumns(app, pages)]).toEqual([]);
  });
});

describe("ECharts options", () => {
  const money = new Set(["amount_sum"]);
  it("draws a bar per measure over the first dimension's labels", () => {
    const option = chartOption(result, { type: "bar" }, money, "zh") as { xAxis: { data: string[] }; series: { type: string; data: unknown[] }[] };
    expect(option.xAxis.data).toEqual(["郑浩", "王芳", "(空)"]);
    expect(option.series.map((s) => s.type)).toEqual(["bar", "bar"]);
    expect(option.series[0].data).toEqual([1234567.5, 9000000, null]);
  });

  it("ranks largest first as horizontal bars with money labels", () => {
    const option = chartOption(result, { type: "ranking" }, money, "zh") as {
      yAxis: { data: string[]; inverse: boolean };
      series: { data: unknown[]; label: { formatter(p: { value: unknown }): string } }[];
    };
    expect(option.yAxis.data).toEqual(["王芳", "郑浩", "(空)"]);
    expect(option.yAxis.inverse).toBe(true);
    expect(option.series).toHaveLength(1);
    expect(option.series[0].data).toEqual([9000000, 1234567.5, null]);
    expect(option.series[0].label.formatter({ value: 9000000 })).toBe("¥9,000,000.00");
  });

  it("stacks one series per value of a second dimension", () => {
    const stacked: ReportResult = {
      columns: [columns[0], { key: "status", kind: "dimension", label: "状态", type: "option" }, columns[1]],
      rows: [
        [owner(4, "郑浩"), { value: "a", label: "执行中" }, "10"],
        [owner(4, "郑浩"), { value: "b", label: "已完成" }, "20"],
        [owner(5, "王芳"), { value: "b", label: "已完成" }, "5"],
      ],
    };
    const option = chartOption(stacked, { type: "stacked_bar" }, money, "zh") as { xAxis: { data: string[] }; series: { name: string; stack: string; data: unknown[] }[] };
    expect(option.xAxis.data).toEqual(["郑浩", "王芳"]);
    expect(option.series.map((s) => [s.name, s.stack, s.data])).toEqual([
      ["执行中", "total", [10, null]],
      ["已完成", "total", [20, 5]],
    ]);
    const area = chartOption(stacked, { type: "area" }, money, "zh") as { series: { type: string; areaStyle: unknown }[] };
    expect(area.series[0].type).toBe("line");
    expect(area.series[0].areaStyle).toEqual({});
  });

  it("draws pie and funnel from the first measure, the funnel widest first", () => {
    const pie = chartOption(result, { type: "pie" }, money, "zh") as { series: { type: string; data: { name: string; value: unknown }[] }[] };
    expect(pie.series[0].type).toBe("pie");
    expect(pie.series[0].data[0]).toEqual({ name: "郑浩", value: 1234567.5 });
    const funnel = chartOption(result, { type: "funnel" }, money, "zh") as { series: { data: { name: string }[] }[] };
    expect(funnel.series[0].data.map((d) => d.name)).toEqual(["王芳", "郑浩", "(空)"]);
  });

  it("puts the dual axis's right measure on a second axis as a line", () => {
    const option = chartOption(result, { type: "dual_axis", settings: { right: "n" } }, money, "zh") as { yAxis: unknown[]; series: { type: string; yAxisIndex?: number }[] };
    expect(option.yAxis).toHaveLength(2);
    expect(option.series.map((s) => [s.type, s.yAxisIndex])).toEqual([
      ["bar", undefined],
      ["line", 1],
    ]);
    const line = chartOption(result, { type: "line" }, money, "zh") as { series: { type: string }[] };
    expect(line.series.map((s) => s.type)).toEqual(["line", "line"]);
  });

  it("reads a KPI with its previous period", () => {
    const kpi = kpiOf({ columns: [columns[1]], rows: [["150.00"]], previous: { amount_sum: "100.00" } });
    expect(kpi.value).toBe("150.00");
    expect(kpi.previous).toBe("100.00");
    expect(kpi.change).toBeCloseTo(0.5);
    expect(kpiOf({ columns: [columns[1]], rows: [["1"]], previous: null }).change).toBeNull();
  });
});

describe("pivot", () => {
  it("lays a pivot out as a cross table with total lines after the data", () => {
    const pivot: ReportResult = {
      columns: [columns[0], { key: "status", kind: "dimension", label: "状态", type: "option" }, columns[2]],
      rows: [
        [owner(4, "郑浩"), { value: "a", label: "执行中" }, 2],
        [owner(4, "郑浩"), { value: "b", label: "已完成" }, 1],
        [owner(5, "王芳"), { value: "b", label: "已完成" }, 4],
      ],
      totals: [[{ value: null, label: "合计", total: true }, { value: "b", label: "已完成" }, 5]],
    };
    const tab = crossTab(pivot, 1, "zh");
    expect(tab.rowHeads).toEqual(["负责人"]);
    expect(tab.columns.map((c) => c.label)).toEqual(["执行中", "已完成"]);
    expect(tab.lines.map((l) => [l.heads, l.values, l.total])).toEqual([
      [["郑浩"], [2, 1], false],
      [["王芳"], [null, 4], false],
      [["合计"], [null, 5], true],
    ]);
  });
});

describe("click-through", () => {
  it("filters the records behind a row by its dimension values and the report's filter", () => {
    const withFilter = { ...report, filter: "status = \"signed\"" };
    expect(rowFilter(app, withFilter, result, result.rows[0])).toBe('(status = "signed") AND (_owner = 4)');
    expect(rowFilter(app, report, result, result.rows[1])).toBe("_owner = 5");
  });

  it("covers a date bucket's days, options by value and blanks", () => {
    const dated: ReportDef = { ...report, rows: [{ field: "signed_date", bucket: "month" }, { field: "status" }] };
    const res: ReportResult = {
      columns: [
        { key: "signed_date:month", kind: "dimension", label: "签约日期", type: "date" },
        { key: "status", kind: "dimension", label: "状态", type: "option" },
        columns[2],
      ],
      rows: [
        [{ value: "2026-12-01", label: "2026-12" }, { value: "signed", label: "已签约" }, 3],
        [{ value: "2026-12-01", label: "2026-12" }, { value: null, label: "(空)" }, 1],
      ],
    };
    expect(rowFilter(app, dated, res, res.rows[0])).toBe(
      '(signed_date >= DATE(2026, 12, 1) AND signed_date < DATE(2027, 1, 1)) AND (status = "signed")',
    );
    expect(rowFilter(app, dated, res, res.rows[1])).toBe("(signed_date >= DATE(2026, 12, 1) AND signed_date < DATE(2027, 1, 1)) AND (ISBLANK(status))");
  });

  it("links nowhere when a value cannot be said as a filter", () => {
    const viaRelation: ReportDef = { ...report, rows: [{ field: "customer.industry" }] };
    const res: ReportResult = { columns: [{ key: "customer.industry", kind: "dimension", label: "行业", type: "option" }, columns[2]], rows: [[{ value: "it", label: "IT" }, 2]] };
    expect(rowFilter(app, viaRelation, res, res.rows[0])).toBeNull();
    const created: ReportDef = { ...report, rows: [{ field: "_created_at", bucket: "month" }] };
    const res2: ReportResult = { columns: [{ key: "_created_at:month", kind: "dimension", label: "创建时间", type: "date" }, columns[2]], rows: [[{ value: "2026-12-01", label: "2026-12" }, 2]] };
    expect(rowFilter(app, created, res2, res2.rows[0])).toBeNull();
    const total: ReportResult = { columns: [columns[0], columns[2]], rows: [[{ value: null, label: "合计", total: true }, 9]] };
    expect(rowFilter(app, report, total, total.rows[0])).toBeNull();
  });
});
