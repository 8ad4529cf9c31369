import { describe, expect, it } from "vitest";
import { applyAnswer, dueFields, linkageOf, linkedFields, mayFill, signature, watchedKeys } from "./linkage";

const fields = [
  { key: "customer", type: "relation", target: "customer" },
  { key: "level", type: "select", default: { linkage: { form: "customer", when: [{ field: "_id", equals: "customer" }], take: "level" } } },
  { key: "name", type: "text" },
  { key: "city", type: "text" },
  {
    key: "by_name",
    type: "select",
    default: { linkage: { form: "customer", when: [{ field: "name", equals: "name" }, { field: "city", equals: "city" }], take: "level" } },
  },
  { key: "note", type: "text", default: "literal" },
  { key: "made", type: "date", default: { expr: "TODAY()" } },
];

describe("linkage definitions", () => {
  it("finds linkage defaults and ignores literal and formula defaults", () => {
    expect(linkageOf(fields[1])?.take).toBe("level");
    expect(linkageOf(fields[5])).toBeNull();
    expect(linkageOf(fields[6])).toBeNull();
    const linked = linkedFields(fields);
    expect(linked.map((l) => l.key)).toEqual(["level", "by_name"]);
    expect(watchedKeys(linked)).toEqual(["customer", "name", "city"]);
  });

  it("signs the condition values, a relation by its id, and gives null while one is empty", () => {
    const level = linkageOf(fields[1])!;
    expect(signature(level, { customer: { _id: 3, title: "甲" } })).toBe(signature(level, { customer: { _id: 3, title: "甲公司" } }));
    expect(signature(level, { customer: null })).toBeNull();
    expect(signature(linkageOf(fields[4])!, { name: "甲", city: "" })).toBeNull();
  });
});

describe("when to ask", () => {
  it("asks once per change of a field's conditions, and clears when a condition is emptied", () => {
    const linked = linkedFields(fields);
    const asked: Record<string, string | null> = {};
    expect(dueFields(linked, {}, asked)).toEqual({ ask: [], clear: [] });
    expect(dueFields(linked, { customer: { _id: 1 } }, asked)).toEqual({ ask: ["level"], clear: [] });
    expect(dueFields(linked, { customer: { _id: 1 }, name: "甲" }, asked)).toEqual({ ask: [], clear: [] });
    expect(dueFields(linked, { customer: { _id: 1 }, name: "甲", city: "杭州" }, asked)).toEqual({ ask: ["by_name"], clear: [] });
    expect(dueFields(linked, { customer: { _id: 2 }, name: "甲", city: "杭州" }, asked)).toEqual({ ask: ["level"], clear: [] });
    expect(dueFields(linked, { customer: null, name: "甲", city: "杭州" }, asked)).toEqual({ ask: [], clear: ["level"] });
  });
});

describe("filling", () => {
  it("fills empty fields and fields still holding the last linked value", () => {
    const filled: Record<string, unknown> = {};
    let values: Record<string, unknown> = { customer: { _id: 1 } };
    values = applyAnswer(values, { level: "A" }, filled);
    expect(values.level).toBe("A");
    values = applyAnswer(values, { level: "B" }, filled);
    expect(values.level).toBe("B");
    expect(filled.level).toBe("B");
  });

  it("leaves a field the user typed into alone", () => {
    const filled: Record<string, unknown> = { level: "A" };
    const values = applyAnswer({ level: "C" }, { level: "B" }, filled);
    expect(values.level).toBe("C");
    expect(filled.level).toBe("A");
    expect(mayFill("", "A")).toBe(true);
    expect(mayFill({ id: 4, name: "x" }, { id: 4, name: "x" })).toBe(true);
  });

  it("keeps the same object when nothing changes", () => {
    const values = { level: "A" };
    expect(applyAnswer(values, { level: "A" }, { level: "A" })).toBe(values);
  });
});
