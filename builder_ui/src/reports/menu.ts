/** What the app's navigation needs of reports (kept apart from `definition.ts`, so the menu,
 * which is on the first load, does not pull the designer's helpers): the app's reports, a
 * report's name, and whether I may design them. */
import type { AppDef, Label } from "../api/types";
import { labelText } from "../forms/labels";

/** A saved report as the menu sees it. */
export interface ReportHead {
  key: string;
  name: Label;
  form: string;
}

export const reportsOf = <T extends ReportHead = ReportHead>(app: AppDef): T[] => ((app as unknown as { reports?: T[] }).reports ?? []);

/** The name shown for a report (its key when unnamed). */
export const reportName = (report: ReportHead, lang: string) => labelText(report.name, lang, report.key);

/** Whether I may design reports: an administrator, or holding one of the app's builder roles. */
export function isBuilder(app: AppDef, admin: boolean, myRoles: string[]): boolean {
  if (admin) return true;
  const roles = (app as unknown as { roles?: { key: string; builder?: boolean }[] }).roles ?? [];
  return roles.some((r) => r.builder && myRoles.includes(r.key));
}
