import { describe, expect, it } from "vitest";
import { motionTheme } from "./reducedMotion";

describe("motionTheme", () => {
  it("turns antd's motion off only when reduced motion is asked for", () => {
    expect(motionTheme(true)).toEqual({ token: { motion: false } });
    expect(motionTheme(false)).toBeUndefined();
  });
});
