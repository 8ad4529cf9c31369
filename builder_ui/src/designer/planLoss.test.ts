import { describe, expect, it } from "vitest";
import type { MigrationPlan } from "../api/types";
import { namedFailures, recordLink, valuesBackedUp } from "./planLoss";

const plan: MigrationPlan = {
  plan_hash: "h",
  warnings: [],
  steps: [
    { op: "add_field", form: "order", field: "note", detail: {}, message: { zh: "新增" } },
    {
      op: "convert_field",
      form: "order",
      field: "amount",
      detail: { not_converted: 12, not_converted_samples: [{ id: 7, title: "乙", value: "大约一百万" }] },
      message: { zh: "转换" },
    },
    { op: "convert_field", form: "order", field: "code", detail: { not_converted: 0, not_converted_samples: [] }, message: { zh: "转换" } },
  ],
};

describe("plan loss", () => {
  it("counts the values a publish backs up and names the records with a remainder", () => {
    expect(valuesBackedUp(plan)).toBe(12);
    expect(valuesBackedUp(null)).toBe(0);
    expect(namedFailures(plan.steps[1])).toEqual({ named: [{ id: 7, title: "乙", value: "大约一百万" }], more: 11 });
    expect(namedFailures(plan.steps[0])).toEqual({ named: [], more: 0 });
    expect(recordLink("shop", plan.steps[1], 7)).toBe("/apps/shop/order?open=7");
  });
});
