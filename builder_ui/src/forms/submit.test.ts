import { describe, expect, it } from "vitest";
import { issuesByField, literalDefault, recordBody } from "./submit";

describe("recordBody", () => {
  const fields = [
    { key: "customer", type: "relation" },
    { key: "tags", type: "relation", many: true },
    { key: "name", type: "text" },
    { key: "total", type: "formula" },
  ];
  it("sends relations by id, blanks as null and only editable keys", () => {
    const body = recordBody(fields, { customer: { _id: 4, title: "华为" }, tags: [{ _id: 1 }, { _id: 2 }], name: "", total: "9" }, new Set(["customer", "tags", "name"]));
    expect(body).toEqual({ customer: 4, tags: [1, 2], name: null });
  });
});

describe("literalDefault and issuesByField", () => {
  it("keeps literal defaults and leaves formula defaults to the server", () => {
    expect(literalDefault({ key: "level", type: "select", default: "C" })).toBe("C");
    expect(literalDefault({ key: "n", type: "number", default: 5 })).toBe("5");
    expect(literalDefault({ key: "d", type: "date", default: { expr: "TODAY()" } })).toBeUndefined();
  });
  it("maps issue paths to fields", () => {
    const issues = [
      { path: "phone", code: "pattern", message: "手机号不正确" },
      { path: "items[0].qty", code: "min", message: "太小" },
      { path: "", code: "x", message: "整体错误" },
    ];
    expect(issuesByField(issues, new Set(["phone", "items"]))).toEqual({ phone: ["手机号不正确"], items: ["太小"], "": ["整体错误"] });
  });
});

describe("subform rows", () => {
  it("keeps row ids, drops computed cells and sends relations by id", () => {
    const items = {
      key: "items",
      type: "subform",
      fields: [
        { key: "product", type: "text" },
        { key: "qty", type: "integer" },
        { key: "subtotal", type: "formula" },
        { key: "sku", type: "relation" },
      ],
    };
    const rows = [
      { _id: 7, product: "笔记本", qty: 2, subtotal: "10" },
      { product: "服务器", sku: { _id: 3, title: "S-3" } },
    ];
    expect(recordBody([items], { items: rows }, new Set(["items"]))).toEqual({
      items: [{ _id: 7, product: "笔记本", qty: 2 }, { product: "服务器", sku: 3 }],
    });
  });
});

describe("people", () => {
  it("sends users by id", () => {
    const fields = [
      { key: "owner", type: "user" },
      { key: "team", type: "users" },
    ];
    const body = recordBody(fields, { owner: { id: 4, name: "郑浩" }, team: [{ id: 1 }, { id: 2, name: "x" }] }, new Set(["owner", "team"]));
    expect(body).toEqual({ owner: 4, team: [1, 2] });
  });
});
