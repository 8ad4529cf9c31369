import { describe, expect, it } from "vitest";
import { en, zh } from "./messages";

function keys(table: object, prefix = ""): string[] {
  return Object.entries(table).flatMap(([k, v]) => (typeof v === "object" ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

describe("messages", () => {
  it("has every text in Chinese and English", () => {
    expect(keys(en).sort()).toEqual(keys(zh).sort());
    for (const key of keys(zh)) {
      const value = key.split(".").reduce<unknown>((t, k) => (t as Record<string, unknown>)[k], en);
      expect(value, key).not.toBe("");
    }
  });
});
