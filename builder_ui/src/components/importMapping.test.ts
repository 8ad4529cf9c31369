import { describe, expect, it } from "vitest";
import { duplicateFields, mappableFields, mappingReady } from "./importMapping";

describe("import mapping", () => {
  it("is ready when some column feeds a field and none feeds one twice", () => {
    expect(mappingReady(["title", null, "qty"])).toBe(true);
    expect(mappingReady([null, null])).toBe(false);
    expect(mappingReady(["title", "title"])).toBe(false);
    expect(duplicateFields(["a", "b", "a", null, "b", "c"])).toEqual(["a", "b"]);
  });

  it("offers the fields a cell can fill", () => {
    const keys = mappableFields([
      { key: "title", type: "text" },
      { key: "sec", type: "section" },
      { key: "rows", type: "subform" },
      { key: "file", type: "attachment" },
      { key: "qty", type: "integer" },
    ]).map((f) => f.key);
    expect(keys).toEqual(["title", "qty"]);
  });
});
