import { describe, expect, it } from "vitest";
import { formulaDefaults } from "./liveDefaults";

// What engine.expr.to_js writes for TODAY(), CURRENT_USER() and a text default.
const TODAY = "(record, ctx) => { const rt = ctx.rt; return rt.F.TODAY(ctx); }";
const ME = "(record, ctx) => { const rt = ctx.rt; return rt.F.CURRENT_USER(ctx); }";

describe("formula defaults on the fill page", () => {
  it("evaluates TODAY() in the organisation's time zone and leaves members to the server", () => {
    const scripts = {
      tz: "Asia/Shanghai",
      user: 4,
      formulas: [],
      visible_when: [],
      readonly_when: [],
      subforms: {},
      defaults: [
        { key: "day", js: TODAY, type: "date", reads: [] },
        { key: "who", js: ME, type: "user", reads: [] },
        { key: "broken", js: "(record, ctx) => { throw new Error('x'); }", type: "text", reads: [] },
      ],
    };
    // 2026-12-05 20:00 UTC is already 12-06 in Shanghai.
    expect(formulaDefaults(scripts, {}, "2026-12-05T20:00:00.000Z")).toEqual({ day: "2026-12-06" });
    expect(formulaDefaults(undefined)).toEqual({});
  });
});
