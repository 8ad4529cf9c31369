import { describe, expect, it } from "vitest";
import { pressOutcome } from "./RuleButtons";

describe("a rule button's press", () => {
  it("says what the server answered", () => {
    expect(pressOutcome({ condition: true, run: { id: 3, state: "succeeded" } })).toBe("done");
    expect(pressOutcome({ condition: true, run: { id: 4, state: "queued" } })).toBe("queued");
    expect(pressOutcome({ condition: false, run: null })).toBe("notMet");
    expect(pressOutcome({ condition: true, run: { id: 5, state: "failed" } })).toBe("failed");
    expect(pressOutcome(null)).toBe("notMet");
  });
});
