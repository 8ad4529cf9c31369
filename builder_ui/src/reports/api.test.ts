import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { exportUrl, previewProblem, reportPath } from "./api";

describe("report calls", () => {
  it("tells a too-large result, a hidden field and shape issues apart", () => {
    expect(previewProblem(new ApiError(422, "pivot_too_large", "超过 10,000 个单元格")).kind).toBe("too_large");
    expect(previewProblem(new ApiError(403, "field_forbidden", "无权限")).kind).toBe("forbidden");
    const issues = previewProblem(new ApiError(422, "invalid", "bad", [{ path: "rows[0].bucket", code: "x", message: "不能分组" }]));
    expect(issues.kind).toBe("issues");
    expect(issues.issues[0].path).toBe("rows[0].bucket");
    expect(previewProblem(new ApiError(500, "error", "boom")).kind).toBe("other");
    expect(previewProblem(new Error("offline"))).toEqual({ kind: "other", message: "offline", issues: [] });
  });

  it("builds the report's paths", () => {
    expect(reportPath("crm", "top 10")).toBe("/apps/crm/reports/top%2010");
    expect(exportUrl("crm", "signed", "xlsx")).toBe("/api/v1/apps/crm/reports/signed/export?format=xlsx");
  });
});
