import { describe, expect, it } from "vitest";
import { displayText, moneyText, relationTitle } from "./display";

describe("displayText", () => {
  const level = { key: "level", type: "select", options: [{ value: "A", label: { zh: "A 类", en: "Class A" } }] };
  it("shows option labels in the UI language", () => {
    expect(displayText(level, "A", "zh-CN")).toBe("A 类");
    expect(displayText(level, "A", "en")).toBe("Class A");
  });
  it("shows relations, users, percents and addresses as text", () => {
    expect(displayText({ key: "c", type: "relation" }, { _id: 3, title: "华为" }, "zh-CN")).toBe("华为");
    expect(displayText({ key: "o", type: "user" }, { id: 1, name: "张三" }, "zh-CN")).toBe("张三");
    expect(displayText({ key: "p", type: "percent" }, "0.125", "zh-CN")).toBe("12.5%");
    expect(displayText({ key: "r", type: "address" }, { province: "广东省", city: "深圳市", district: null, detail: "南山" }, "zh-CN")).toBe(
      "广东省深圳市 南山",
    );
    expect(
      displayText({ key: "r", type: "address" }, { province: "北京市", city: "北京市", district: "海淀区", detail: "知春路 604 号" }, "zh-CN"),
    ).toBe("北京市海淀区 知春路 604 号");
    expect(displayText({ key: "x", type: "text" }, null, "zh-CN")).toBe("");
  });
  it("shows a linked record the caller may not read as 无权限 / No access (issue 10)", () => {
    const customer = { key: "c", type: "relation" };
    const hidden = { _id: 12, title: null, restricted: true };
    expect(displayText(customer, hidden, "zh-CN")).toBe("无权限");
    expect(displayText(customer, hidden, "en")).toBe("No access");
    expect(displayText({ ...customer, many: true }, [{ _id: 3, title: "华为" }, hidden], "zh-CN")).toBe("华为, 无权限");
    expect(displayText(customer, { _id: 12, title: null }, "zh-CN")).toBe("#12"); // no title: its id
    expect(relationTitle(hidden, "zh-CN")).toBe("无权限"); // what the relation picker shows
    expect(relationTitle({ _id: 3, title: "华为", restricted: false }, "en")).toBe("华为");
  });
  it("writes amounts with thousands separators and money with its currency sign", () => {
    expect(displayText({ key: "n", type: "number" }, "7849500.00", "zh-CN")).toBe("7,849,500.00");
    expect(displayText({ key: "n", type: "number" }, "-1234.5", "zh-CN")).toBe("-1,234.5");
    expect(displayText({ key: "n", type: "number" }, "999", "zh-CN")).toBe("999");
    expect(displayText({ key: "m", type: "money" }, "1280000.00", "zh-CN")).toBe("¥1,280,000.00");
    expect(displayText({ key: "m", type: "money", currency: "USD" }, "-12.30", "en")).toBe("-$12.30");
    expect(displayText({ key: "m", type: "money", currency: "CHF" }, "5.00", "en")).toBe("CHF 5.00");
    expect(displayText({ key: "i", type: "integer" }, 2026, "zh-CN")).toBe("2026");
  });
});

describe("moneyText", () => {
  it("groups thousands and always shows the cents", () => {
    expect(moneyText("1201.5")).toBe("¥1,201.50");
    expect(moneyText("12015")).toBe("¥12,015.00");
    expect(moneyText("868000.00")).toBe("¥868,000.00");
    expect(moneyText("-3.456")).toBe("-¥3.456");
    expect(moneyText(7, "USD")).toBe("$7.00");
  });
});
