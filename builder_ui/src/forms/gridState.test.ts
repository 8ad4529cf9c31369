import { describe, expect, it } from "vitest";
import { readGridView, sortAfterClick, withGridView, withParam } from "./gridState";

describe("the grid's view in the URL", () => {
  it("round-trips filter, sort, search and page and keeps the other entries", () => {
    const start = new URLSearchParams("filter=level%20%3D%20%22A%22&open=3");
    const where = { join: "OR" as const, conditions: [{ field: "level", op: "eq" as const, value: "A" }] };
    const next = withGridView(start, { where, sort: "-amount", q: "华", page: 3 });
    expect(next.get("filter")).toBe('level = "A"');
    expect(next.get("open")).toBe("3");
    expect(readGridView(next)).toEqual({ where, sort: "-amount", q: "华", page: 3 });
  });

  it("leaves defaults out and reads junk as the defaults", () => {
    const cleared = withGridView(new URLSearchParams("sort=x&page=2&q=a&where=%7B%7D"), { where: { join: "AND", conditions: [] }, sort: undefined, q: "", page: 1 });
    expect(cleared.toString()).toBe("");
    expect(readGridView(new URLSearchParams("where=%7Bnope&sort=a%20b&page=-4"))).toEqual({ where: { join: "AND", conditions: [] }, sort: undefined, q: "", page: 1 });
  });

  it("sets and removes one entry", () => {
    const params = new URLSearchParams("sort=-n&page=2");
    expect(withParam(params, "open", "7").toString()).toBe("sort=-n&page=2&open=7");
    expect(withParam(new URLSearchParams("sort=-n&open=7"), "open", null).toString()).toBe("sort=-n");
  });

  it("steps a column's sort none, ascending, descending, none and replaces another column's", () => {
    expect(sortAfterClick(undefined, "amount")).toBe("amount");
    expect(sortAfterClick("amount", "amount")).toBe("-amount");
    expect(sortAfterClick("-amount", "amount")).toBeUndefined();
    expect(sortAfterClick("-name", "amount")).toBe("amount");
    // Two quick clicks: each builds on the one before, not on what the table last rendered.
    expect(sortAfterClick(sortAfterClick(undefined, "amount"), "amount")).toBe("-amount");
  });
});
