import { describe, expect, it } from "vitest";
import type { AppDef, FieldDef, Permissions } from "../api/types";
import { dispositionFilename, exportUrl, publicPageUrl } from "../api/views";
import { canManageLinks, colSpans, exportFilter, importProblems, linkFieldChoices, linkKeyChoices, linkState, relatedSources, requiredForFill } from "./helpers";

const fields: FieldDef[] = [
  { key: "name", type: "text", label: { zh: "名称", en: "Name" }, required: true },
  { key: "amount", type: "money", label: { zh: "金额", en: "Amount" }, width: "half" },
  { key: "customer", type: "relation", target: "customer", width: "third" },
  { key: "total", type: "formula", expr: "amount * 2", width: "two_thirds" },
  { key: "part", type: "section" },
  { key: "items", type: "subform", fields: [{ key: "qty", type: "number" }], width: "quarter" },
  { key: "files", type: "subform", fields: [{ key: "doc", type: "attachment" }] },
  { key: "level", type: "select", required: true, default: "A" },
];

const app = (roles: { key: string; builder?: boolean }[]) => ({ key: "a", name: "A", version: "1", forms: [], menu: [], _revision: 1, roles }) as unknown as AppDef;
const perms = (roles: string[]): Permissions => ({ roles, admin: false, actions: ["view"], scopes: {}, fields: {} });

describe("colSpans", () => {
  it("uses the width from 576 px up and the full row on phones", () => {
    expect(fields.map((f) => colSpans(f).sm)).toEqual([24, 12, 8, 16, 24, 6, 24, 24]);
    expect(new Set(fields.map((f) => colSpans(f).xs))).toEqual(new Set([24]));
  });
});

describe("importProblems", () => {
  it("gives the row, the field's label and the message, ordered by row", () => {
    const issues = [
      { path: "rows[5].amount", code: "not_a_number", message: "不是数字" },
      { path: "rows[3].name", code: "required", message: "必填" },
      { path: "rows[3]", code: "x", message: "整行有误" },
      { path: "file", code: "bad_file", message: "文件无法读取" },
      { path: "rows[4].mystery", code: "unknown_field", message: "未知列" },
    ];
    expect(importProblems(issues, fields, "zh-CN")).toEqual([
      { row: null, field: "file", message: "文件无法读取" },
      { row: 3, field: "名称", message: "必填" },
      { row: 3, field: "", message: "整行有误" },
      { row: 4, field: "mystery", message: "未知列" },
      { row: 5, field: "金额", message: "不是数字" },
    ]);
    expect(importProblems(issues.slice(0, 1), fields, "en")[0].field).toBe("Amount");
  });
});

describe("links", () => {
  it("offers fill links only fields anonymous people can fill", () => {
    expect(linkFieldChoices(fields, "fill").map((f) => f.key)).toEqual(["name", "amount", "items", "level"]);
    expect(linkFieldChoices(fields, "query").map((f) => f.key)).toEqual(["name", "amount", "customer", "total", "items", "files", "level"]);
    expect(linkKeyChoices(fields).map((f) => f.key)).toEqual(["name", "amount", "level"]);
    expect(requiredForFill(fields)).toEqual(["name"]);
  });

  it("offers only the fields the creator may see (query) or edit (fill)", () => {
    const rights = { name: "editable", amount: "hidden", level: "read_only" } as const;
    expect(linkFieldChoices(fields, "fill", rights).map((f) => f.key)).toEqual(["name", "items"]);
    expect(linkFieldChoices(fields, "query", rights).map((f) => f.key)).toEqual(["name", "customer", "total", "items", "files", "level"]);
    expect(linkKeyChoices(fields, rights).map((f) => f.key)).toEqual(["name", "level"]);
    expect(requiredForFill(fields, rights)).toEqual(["name"]);
  });

  it("tells active, disabled and expired links apart", () => {
    const now = Date.parse("2026-06-01T00:00:00Z");
    expect(linkState({ enabled: true, expires_at: null }, now)).toBe("active");
    expect(linkState({ enabled: true, expires_at: "2026-07-01T00:00:00Z" }, now)).toBe("active");
    expect(linkState({ enabled: true, expires_at: "2026-05-01T00:00:00+08:00" }, now)).toBe("expired");
    expect(linkState({ enabled: false, expires_at: "2026-05-01T00:00:00Z" }, now)).toBe("disabled");
  });

  it("lets administrators and holders of the links action manage links, not builder roles alone", () => {
    expect(canManageLinks(perms(["rep"]), false)).toBe(false);
    expect(canManageLinks(perms(["builder"]), false)).toBe(false);
    expect(canManageLinks({ ...perms(["crm_admin"]), actions: ["view", "links"] }, false)).toBe(true);
    expect(canManageLinks({ ...perms([]), admin: true }, false)).toBe(true);
    expect(canManageLinks(undefined, true)).toBe(true);
    expect(canManageLinks(undefined, false)).toBe(false);
  });

  it("builds the public page's address from the token", () => {
    expect(publicPageUrl("ab-c_1", "https://jimu.example")).toBe("https://jimu.example/public/ab-c_1");
  });
});

describe("export", () => {
  it("sends the grid's filter, sort and columns", () => {
    const url = new URL(exportUrl("crm", "customer", { format: "csv", filter: 'level = "A"', sort: "-amount", fields: ["name", "level"] }), "http://x");
    expect(url.pathname).toBe("/api/v1/apps/crm/forms/customer/records/export");
    expect(Object.fromEntries(url.searchParams)).toEqual({ format: "csv", filter: 'level = "A"', sort: "-amount", fields: "name,level" });
    expect(new URL(exportUrl("crm", "customer", { format: "xlsx" }), "http://x").search).toBe("?format=xlsx");
  });

  it("reads the file name from Content-Disposition", () => {
    expect(dispositionFilename("attachment; filename*=utf-8''%E5%AE%A2%E6%88%B7-20260101.xlsx", "x")).toBe("客户-20260101.xlsx");
    expect(dispositionFilename('attachment; filename="a.csv"', "x")).toBe("a.csv");
    expect(dispositionFilename(null, "fallback.xlsx")).toBe("fallback.xlsx");
  });
});

describe("relatedSources", () => {
  it("lists every relation pointing to the form", () => {
    const crm = {
      ...app([]),
      forms: [
        { key: "customer", name: "C", fields: [{ key: "name", type: "text" }] },
        { key: "contact", name: "P", fields: [{ key: "customer", type: "relation", target: "customer" }] },
        { key: "deal", name: "D", fields: [{ key: "buyer", type: "relation", target: "customer" }, { key: "payer", type: "relation", target: "customer", many: true }] },
        { key: "note", name: "N", fields: [{ key: "deal", type: "relation", target: "deal" }] },
      ],
    } as AppDef;
    expect(relatedSources(crm, "customer").map((s) => `${s.form.key}.${s.field.key}`)).toEqual(["contact.customer", "deal.buyer", "deal.payer"]);
  });
});

describe("exportFilter", () => {
  it("folds the title search into the filter", () => {
    expect(exportFilter("", "", "name")).toBe("");
    expect(exportFilter('level = "A"', "  ", "name")).toBe('level = "A"');
    expect(exportFilter("", '华"东', "name")).toBe('NOT ISBLANK(SEARCH("华""东", name))');
    expect(exportFilter('level = "A"', "华东", "name")).toBe('(level = "A") AND NOT ISBLANK(SEARCH("华东", name))');
    expect(exportFilter('level = "A"', "华东", null)).toBe('level = "A"');
  });
});
