import { describe, expect, it } from "vitest";
import type { FieldDef, Permissions, RecordJson } from "../api/types";
import { lastWorkedWith, viewScope } from "./phone";

const field = (key: string, type: string, extra: Partial<FieldDef> = {}) => ({ key, type, label: key, ...extra }) as FieldDef;
const perms = (view: unknown[] | undefined, admin = false) =>
  ({ roles: [], admin, actions: ["view"], scopes: view ? { view } : {}, fields: {} }) as unknown as Permissions;

describe("lastWorkedWith", () => {
  const fields = [
    field("customer", "relation", { target: "customer" }),
    field("tags", "relation", { target: "tag", many: true }),
    field("deal", "relation", { target: "opportunity" }),
    field("content", "textarea"),
  ];
  const latest = {
    _id: 9,
    customer: { _id: 3, title: "西安博元" },
    tags: [{ _id: 1, title: "x" }],
    deal: { _id: 4, title: null, restricted: true },
    content: "上次的内容",
  } as unknown as RecordJson;

  it("keeps the single relations of the latest record, not text or many-links or unreadable links", () => {
    expect(lastWorkedWith(fields, latest, {}, () => true)).toEqual({ customer: { _id: 3, title: "西安博元" } });
  });
  it("leaves filled and read-only fields alone, and has nothing without a latest record", () => {
    expect(lastWorkedWith(fields, latest, { customer: { _id: 5 } }, () => true)).toEqual({});
    expect(lastWorkedWith(fields, latest, {}, (f) => f.key !== "customer")).toEqual({});
    expect(lastWorkedWith(fields, null, {}, () => true)).toEqual({});
  });
});

describe("viewScope", () => {
  it("says own, scoped or nothing from the server's scopes", () => {
    expect(viewScope(perms(["own"]))).toBe("own");
    expect(viewScope(perms(["own", "department"]))).toBe("scoped");
    expect(viewScope(perms([{ expr: "region = 1" }]))).toBe("scoped");
    expect(viewScope(perms(["own", "all"]))).toBeNull();
    expect(viewScope(perms(["all"], true))).toBeNull();
    expect(viewScope(perms(undefined))).toBeNull();
    expect(viewScope(undefined)).toBeNull();
  });
});
