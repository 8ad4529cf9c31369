import { describe, expect, it } from "vitest";
import type { FieldDef } from "../api/types";
import { conditionExpr, filterExpr, textLiteral } from "./filter";

const fields: FieldDef[] = [
  { key: "level", type: "select" },
  { key: "annual_purchase", type: "number" },
  { key: "name", type: "text" },
  { key: "signed", type: "date" },
  { key: "vip", type: "checkbox" },
  { key: "and", type: "integer" },
];

describe("filterExpr", () => {
  it("joins conditions with AND as the server's formula language", () => {
    const expr = filterExpr(
      {
        join: "AND",
        conditions: [
          { field: "level", op: "eq", value: "A" },
          { field: "annual_purchase", op: "ge", value: "1000000" },
        ],
      },
      fields,
    );
    expect(expr).toBe('level = "A" AND annual_purchase >= 1000000');
  });

  it("parenthesises OR terms and skips incomplete conditions", () => {
    const expr = filterExpr(
      {
        join: "OR",
        conditions: [
          { field: "level", op: "eq", value: "A" },
          { field: "annual_purchase", op: "gt", value: "" },
          { field: "name", op: "contains", value: "华" },
        ],
      },
      fields,
    );
    expect(expr).toBe('(level = "A") OR (NOT ISBLANK(SEARCH("华", name)))');
  });

  it("writes dates, booleans, blanks and escapes quotes and reserved keys", () => {
    expect(conditionExpr({ field: "signed", op: "lt", value: "2024-06-01" }, fields[3])).toBe("signed < DATE(2024, 6, 1)");
    expect(conditionExpr({ field: "vip", op: "eq", value: true }, fields[4])).toBe("vip = TRUE");
    expect(conditionExpr({ field: "name", op: "blank" }, fields[2])).toBe("ISBLANK(name)");
    expect(conditionExpr({ field: "and", op: "eq", value: "3" }, fields[5])).toBe("{and} = 3");
    expect(textLiteral('他说"好"')).toBe('"他说""好"""');
  });

  it("never lets a bad number or unknown field into the formula", () => {
    expect(conditionExpr({ field: "annual_purchase", op: "eq", value: "1 OR 1=1" }, fields[1])).toBeNull();
    expect(filterExpr({ join: "AND", conditions: [{ field: "nope", op: "eq", value: "x" }] }, fields)).toBe("");
  });
});
