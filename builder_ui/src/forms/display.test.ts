import { describe, expect, it } from "vitest";
import { displayText } from "./display";

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
      "广东省 深圳市 南山",
    );
    expect(displayText({ key: "x", type: "text" }, null, "zh-CN")).toBe("");
  });
});
