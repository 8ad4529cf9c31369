import { describe, expect, it } from "vitest";
import type { AppDef } from "../api/types";
import { freshFormKey, withNewForm } from "./newForm";

const app = (menu: AppDef["menu"]): AppDef => ({
  key: "crm",
  name: { zh: "客户管理" },
  version: "1.0.0",
  forms: [
    { key: "customer", name: "客户", fields: [] },
    { key: "form3", name: "表单3", fields: [] },
  ],
  menu,
  _revision: 4,
});

describe("new form", () => {
  it("picks the first free formN key", () => {
    expect(freshFormKey(app([]))).toBe("form4");
    expect(freshFormKey({ ...app([]), forms: [{ key: "form4", name: "x", fields: [] }] })).toBe("form2");
  });

  it("appends an empty form and its menu entry, keeping everything else", () => {
    const next = withNewForm(app([{ form: "customer", label: "客户" }]), "visit", { zh: "拜访", en: "" });
    expect(next.forms.map((f) => f.key)).toEqual(["customer", "form3", "visit"]);
    expect(next.forms[2]).toEqual({ key: "visit", name: { zh: "拜访" }, fields: [] });
    expect(next.menu).toEqual([
      { form: "customer", label: "客户" },
      { form: "visit", label: { zh: "拜访" } },
    ]);
    expect(next._revision).toBe(4);
  });

  it("leaves an empty menu empty (the app then lists every form)", () => {
    expect(withNewForm(app([]), "visit", { zh: "拜访", en: "Visit" }).menu).toEqual([]);
  });
});
