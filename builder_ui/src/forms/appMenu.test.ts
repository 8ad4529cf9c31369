import { describe, expect, it } from "vitest";
import i18n from "../i18n";
import { displayField, formUse } from "./appMenu";
import { displayText } from "./display";

const LEVELS = [{ value: "A", label: { zh: "A 类（重点）", en: "Class A" } }];

describe("how computed values show", () => {
  it("shows a lookup like its source and a formula over money as money", () => {
    const display = {
      customer_level: { type: "select", options: LEVELS },
      weighted_amount: { type: "money", currency: "CNY", precision: 2 },
      "items.subtotal": { type: "money", currency: "CNY" },
    };
    const level = displayField({ key: "customer_level", type: "lookup" }, display);
    expect(displayText(level, "A", "zh-CN")).toBe("A 类（重点）");
    const weighted = displayField({ key: "weighted_amount", type: "formula" }, display);
    expect(displayText(weighted, "520800.00", "zh-CN")).toBe("¥520,800.00");
    const items = displayField({ key: "items", type: "subform", fields: [{ key: "subtotal", type: "formula" }] }, display);
    expect(items.fields?.[0].type).toBe("money");
    expect(displayField({ key: "name", type: "text" }, display)).toEqual({ key: "name", type: "text" });
  });

  it("offers only what the menu answer allows", () => {
    const menu = { forms: { lead: { read: false, create: false, display: {} }, pay: { read: false, create: true, display: {} } } };
    expect(formUse(menu, "lead")).toEqual({ read: false, create: false });
    expect(formUse(menu, "pay")).toEqual({ read: false, create: true });
    expect(formUse(menu, "unknown")).toEqual({ read: false, create: false });
    expect(formUse(undefined, "lead")).toEqual({ read: true, create: true });
  });

  it("says 1 record in English", async () => {
    await i18n.changeLanguage("en");
    expect(i18n.t("grid.total", { total: 1, count: 1 })).toBe("1 record");
    expect(i18n.t("grid.total", { total: 2, count: 2 })).toBe("2 records");
    expect(i18n.t("fill.rows", { count: 1 })).toBe("1 row");
    await i18n.changeLanguage("zh-CN");
    expect(i18n.t("grid.total", { total: 1, count: 1 })).toBe("共 1 条");
  });
});
