import { describe, expect, it } from "vitest";
import type { FieldDef } from "../api/types";
import { fieldTypesLoaded, hasTrait, isComputed, traitsOf } from "./fieldTypes";
import { linkFieldChoices } from "../views/helpers";

describe("field type traits", () => {
  it("come from the server's palette (loaded for the tests from its copy)", () => {
    expect(fieldTypesLoaded()).toBe(true);
    expect(["attachment", "image", "signature"].every((type) => hasTrait(type, "is_file"))).toBe(true);
    expect(hasTrait("text", "is_file")).toBe(false);
    expect(hasTrait("users", "sortable")).toBe(false);
    expect(hasTrait("serial", "link_key")).toBe(true);
    expect(isComputed({ key: "n", type: "serial" } as FieldDef)).toBe(true);
    expect(traitsOf("relation")?.refers_to).toBe("record");
  });

  it("say nothing about a type the server did not publish", () => {
    expect(traitsOf("hologram")).toBeUndefined();
    expect(hasTrait("hologram", "sortable")).toBe(false);
    expect(isComputed({ key: "h", type: "hologram" } as FieldDef)).toBe(false);
  });

  it("decide what a fill link offers, subform rows included", () => {
    const fields: FieldDef[] = [
      { key: "rows", type: "subform", fields: [{ key: "who", type: "user" }] },
      { key: "lines", type: "subform", fields: [{ key: "qty", type: "integer" }, { key: "sum", type: "formula", expr: "qty" }] },
    ];
    expect(linkFieldChoices(fields, "fill").map((f) => f.key)).toEqual(["lines"]);
  });

});
