import { describe, expect, it } from "vitest";
import type { AppDef } from "../api/types";
import { menuEntries } from "./appContext";

const app: AppDef = {
  key: "crm",
  name: "CRM",
  version: "1",
  _revision: 1,
  forms: [
    { key: "customer", name: "客户", fields: [] },
    { key: "contact", name: "联系人", fields: [] },
  ],
  menu: [{ form: "contact", label: "人" }, { form: "gone" }, { report: "x" }],
};

describe("menuEntries", () => {
  it("follows the menu definition, dropping entries without a form", () => {
    expect(menuEntries(app)).toEqual([{ form: "contact", label: "人" }]);
  });
  it("lists every form when the menu has none", () => {
    expect(menuEntries({ ...app, menu: [] }).map((e) => e.form)).toEqual(["customer", "contact"]);
  });
});
