import { describe, expect, it } from "vitest";
import { makeLive } from "./live";

// Sources exactly as engine.expr.to_js writes them (see tests/api/test_live_scripts.py).
const scripts = {
  tz: "Asia/Shanghai",
  formulas: [
    {
      key: "total",
      type: "number",
      reads: ["price", "qty"],
      js: '(record, ctx) => { const rt = ctx.rt; return rt.mul(rt.ref(record, ["qty"], "number"), rt.ref(record, ["price"], "number")); }',
    },
  ],
  visible_when: [
    {
      key: "reason",
      type: "boolean",
      reads: ["total"],
      js: '(record, ctx) => { const rt = ctx.rt; return rt.ge(rt.ref(record, ["total"], "number"), rt.k("1000")); }',
    },
  ],
  readonly_when: [],
  defaults: [],
  subforms: {},
};

describe("makeLive", () => {
  it("computes formulas in decimal and feeds them to show/hide rules", () => {
    const live = makeLive(scripts);
    expect(live.evaluate({ qty: 3, price: "400.50" })).toEqual({ computed: { total: "1201.5" }, visible: { reason: true }, readonly: {}, rows: {} });
    expect(live.evaluate({ qty: 3, price: "0.10" })).toMatchObject({ computed: { total: "0.3" }, visible: { reason: false } });
  });

  it("treats blanks as the server does and survives a broken script", () => {
    const live = makeLive({ ...scripts, formulas: [...scripts.formulas, { key: "bad", type: "number", reads: [], js: "not js (" }] });
    expect(live.evaluate({})).toMatchObject({ computed: { total: "0", bad: null }, visible: { reason: false } });
  });

  it("evaluates each subform row with the form's values and its read-only rules", () => {
    const live = makeLive({
      ...scripts,
      readonly_when: [{ key: "qty", type: "boolean", reads: ["locked"], js: '(record, ctx) => { const rt = ctx.rt; return rt.ref(record, ["locked"], "boolean"); }' }],
      subforms: {
        lines: {
          formulas: [{ ...scripts.formulas[0], key: "line" }],
          visible_when: [],
          readonly_when: [],
        },
      },
    });
    const result = live.evaluate({ locked: true, qty: 2, lines: [{ price: "1.25" }, { price: "3", qty: 10 }] });
    expect(result.readonly).toEqual({ qty: true });
    expect(result.rows.lines.map((r) => r.computed.line)).toEqual(["2.5", "30"]);
  });
});
