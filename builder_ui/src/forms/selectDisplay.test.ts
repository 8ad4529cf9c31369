import { describe, expect, it } from "vitest";
import type { FieldDef } from "../api/types";
import { selectShowsButtons } from "./selectDisplay";

const options = (n: number) => Array.from({ length: n }, (_, i) => ({ value: `v${i}` }));

describe("select display", () => {
  it("is the builder's choice, and by option count only when auto", () => {
    const field = (n: number, display?: string): FieldDef => ({ key: "s", type: "select", options: options(n), ...(display ? { display } : {}) });
    expect(selectShowsButtons(field(3))).toBe(true);
    expect(selectShowsButtons(field(6))).toBe(false);
    expect(selectShowsButtons(field(3, "auto"))).toBe(true);
    expect(selectShowsButtons(field(3, "dropdown"))).toBe(false);
    expect(selectShowsButtons(field(12, "buttons"))).toBe(true);
  });
});
