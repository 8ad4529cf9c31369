/**
 * The report pages' calls (issue 15's HTTP contract): an ad-hoc shape (`POST /apps/{app}/query`,
 * the designer's live preview), a saved report's run, saving one report (`PUT
 * …/reports/{report}` with the `_revision` read), and the export download (xlsx / csv, fetched
 * first so a refusal shows as a message). Refusals the pages show in place are told apart by
 * `previewProblem`.
 */
import i18n from "../i18n";
import { API, ApiError, apiPath, request } from "../api/client";
import type { AppDef } from "../api/types";
import { dispositionFilename } from "../api/views";
import type { ReportDef, ReportResult } from "./definition";

const seg = encodeURIComponent;

/** The report path (`/apps/{app}/reports/{report}`). */
export const reportPath = (app: string, report: string) => `/apps/${seg(app)}/reports/${seg(report)}` as const;

/** The export URL of a saved report. */
export const exportUrl = (app: string, report: string, format: "xlsx" | "csv") =>
  `${API}${apiPath(`${reportPath(app, report)}/export`)}?format=${format}`;

/** A preview or run that failed in a way the page shows in place of the chart: the result is
 * too large (422 `pivot_too_large`), a field is hidden from me (403 `field_forbidden`, 无权限),
 * or the shape has issues (422, each at its path). */
export type Problem = { kind: "too_large" | "forbidden" | "issues" | "other"; message: string; issues: ApiError["issues"] };

export function previewProblem(error: unknown): Problem {
  if (error instanceof ApiError) {
    if (error.code === "pivot_too_large") return { kind: "too_large", message: error.message, issues: error.issues };
    if (error.code === "field_forbidden" || error.status === 403) return { kind: "forbidden", message: error.message, issues: error.issues };
    if (error.status === 422) return { kind: "issues", message: error.message, issues: error.issues };
    return { kind: "other", message: error.message, issues: error.issues };
  }
  return { kind: "other", message: error instanceof Error ? error.message : String(error), issues: [] };
}

export const reportsApi = {
  query: (app: string, shape: ReportDef) => request<ReportResult>("POST", apiPath(`/apps/${seg(app)}/query`), shape),
  run: (app: string, report: string) => request<ReportResult>("POST", apiPath(`${reportPath(app, report)}/run`), {}),
  /** Save `report`; the answer is the app as saved (its new `_revision`, the reports). */
  save: async (app: AppDef, report: ReportDef): Promise<AppDef> => {
    const saved = await request<Record<string, unknown>>("PUT", apiPath(`${reportPath(app.key, report.key)}`), { ...report, _revision: app._revision });
    const revision = typeof saved._revision === "number" ? saved._revision : app._revision + 1;
    const others = ((app as unknown as { reports?: ReportDef[] }).reports ?? []).filter((r) => r.key !== report.key);
    const reports = Array.isArray(saved.reports) ? (saved.reports as ReportDef[]) : [...others, report];
    return { ...app, reports, _revision: revision } as AppDef;
  },
  /** Download the report's export; answers the file name. */
  download: async (app: string, report: string, format: "xlsx" | "csv"): Promise<string> => {
    const response = await fetch(exportUrl(app, report, format), {
      headers: { "Accept-Language": i18n.language === "en" ? "en" : "zh-CN" },
      credentials: "same-origin",
    });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      const error = body?.error ?? {};
      throw new ApiError(response.status, error.code ?? "error", error.message ?? response.statusText, error.issues ?? []);
    }
    const name = dispositionFilename(response.headers.get("Content-Disposition"), `${report}.${format}`);
    const url = URL.createObjectURL(await response.blob());
    const anchor = document.createElement("a");
    anchor.href = url;
    anchor.download = name;
    document.body.appendChild(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    return name;
  },
};
