import { describe, expect, it } from "vitest";
import type { FieldDef } from "../api/types";
import { formulaPaths, keyUses } from "./keyUses";

const fields: FieldDef[] = [
  { key: "amount", type: "money" },
  { key: "rate", type: "percent", visible_when: "amount > 0" },
  { key: "weighted", type: "formula", expr: 'IF(amount >= 10, amount * rate, 0) & "amount"' },
  { key: "customer", type: "relation", target: "customer" },
  { key: "city", type: "lookup", relation: "customer", field: "name" },
  { key: "name", type: "text", default: { expr: "customer.name" } },
  { key: "contact", type: "text", default: { linkage: { form: "people", when: [{ field: "company", equals: "customer" }], take: "name" } } },
  {
    key: "items",
    type: "subform",
    fields: [
      { key: "qty", type: "integer" },
      { key: "line", type: "formula", expr: "qty * {amount}" },
    ],
  },
  { key: "total", type: "rollup", relation: "items", field: "qty", aggregate: "sum" },
  { key: "count", type: "formula", expr: "SUM(items.qty)", readonly_when: "ISBLANK(count)" },
];

describe("formula paths", () => {
  it("reads words and braced names, not strings, functions or numbers", () => {
    expect(formulaPaths('IF(amount >= 1.5e3, {not}.qty, "amount") + SUM ( items.qty )')).toEqual([["amount"], ["not", "qty"], ["items", "qty"]]);
    expect(formulaPaths("customer . name")).toEqual([["customer", "name"]]);
    expect(formulaPaths('"unfinished amount')).toEqual([]);
  });
});

describe("where a key is used", () => {
  it("lists formulas, conditions, row formulas, lookups and linkage that name a form field", () => {
    const uses = keyUses({ fields, validations: [{ expr: "amount < 100", message: { zh: "x" } }] }, "amount");
    expect(uses).toEqual([
      { field: "rate", property: "visible_when" },
      { field: "weighted", property: "expr" },
      { field: "line", subform: "items", property: "expr" },
      { field: null, property: "validation" },
    ]);
    expect(keyUses({ fields }, "customer")).toEqual([
      { field: "city", property: "relation" },
      { field: "name", property: "default" },
      { field: "contact", property: "linkage" },
    ]);
  });

  it("does not take another form's field after a relation for this form's own", () => {
    expect(keyUses({ fields }, "name")).toEqual([]); // `customer.name` is the customer's name
    expect(keyUses({ fields }, "rate")).toEqual([{ field: "weighted", property: "expr" }]);
    expect(keyUses({ fields }, "weighted")).toEqual([]);
  });

  it("finds a subform's row field by its path and in its own rows", () => {
    expect(keyUses({ fields }, "qty", "items")).toEqual([
      { field: "line", subform: "items", property: "expr" },
      { field: "total", property: "relation" },
      { field: "count", property: "expr" },
    ]);
    expect(keyUses({ fields }, "line", "items")).toEqual([]);
  });
});
