/** Pure helpers of the data views: layout spans, import issues, link choices and related forms. */
import type { AppDef, FieldDef, FormDef, Issue, Permissions } from "../api/types";
import { hasTrait, LAYOUT_TYPES, span } from "../forms/fieldTypes";
import { fieldRef, textLiteral } from "../forms/filter";
import { fieldLabel } from "../forms/labels";

/** Antd Col spans of a field: its `width` from 576 px up, the full row on phones. */
export function colSpans(field: FieldDef): { xs: number; sm: number } {
  return { xs: 24, sm: span(field) };
}

export interface ImportProblem {
  /** The spreadsheet's row number (as the spreadsheet shows it), or null for the whole file. */
  row: number | null;
  /** The field's label in the UI language, or "" when the issue names no field. */
  field: string;
  message: string;
}

/** Import issues (`rows[N].field…`) as rows of a table, by row then as the server listed them. */
export function importProblems(issues: Issue[], fields: FieldDef[], lang: string): ImportProblem[] {
  const byKey = new Map(fields.map((f) => [f.key, f]));
  const problems = issues.map((issue, index) => {
    const match = /^rows\[(\d+)\](?:\.([^.[]+))?/.exec(issue.path);
    const key = match ? match[2] : issue.path.split(/[.[]/)[0];
    const field = key ? byKey.get(key) : undefined;
    return { index, row: match ? Number(match[1]) : null, field: field ? fieldLabel(field, lang) : (key ?? ""), message: issue.message };
  });
  problems.sort((a, b) => (a.row ?? -1) - (b.row ?? -1) || a.index - b.index);
  return problems.map(({ row, field, message }) => ({ row, field, message }));
}

/** Whether the user manages the app's public links: administrators and builder roles (the
 * server decides again on every call). */
export function canManageLinks(permissions: Permissions | undefined, isAdmin: boolean): boolean {
  // engine/auth/links.py may_manage: administrators, or the `links` action on the form (a builder role alone is not enough).
  if (isAdmin || permissions?.admin) return true;
  return !!permissions?.actions.includes("links");
}

// Anonymous people pick no records, users (the field types' `publicly_fillable` trait) or files;
// computed fields are not filled in.
const fillable = (type: string): boolean => hasTrait(type, "publicly_fillable") && !hasTrait(type, "is_file");

type FieldRights = Permissions["fields"];

/** The fields a link of `kind` may show (fill: those anonymous people can fill in). With the
 * caller's field access (`permissions/me`), only what they may see (query) or edit (fill): a
 * link never shows more than its creator may (the server refuses the rest). */
export function linkFieldChoices(fields: FieldDef[], kind: "fill" | "query", rights: FieldRights = {}): FieldDef[] {
  return fields.filter((f) => {
    if (LAYOUT_TYPES.has(f.type)) return false;
    if (rights[f.key] === "hidden" || (kind === "fill" && rights[f.key] === "read_only")) return false;
    if (kind === "query") return true;
    if (!fillable(f.type)) return false;
    return !(f.fields ?? []).some((sub) => !hasTrait(sub.type, "computed") && !LAYOUT_TYPES.has(sub.type) && !fillable(sub.type));
  });
}

/** The fields a query link can match exactly (and the caller may see). */
export function linkKeyChoices(fields: FieldDef[], rights: FieldRights = {}): FieldDef[] {
  return fields.filter((f) => hasTrait(f.type, "link_key") && rights[f.key] !== "hidden");
}

/** Required fields a fill link must include (the server refuses the link otherwise). */
export function requiredForFill(fields: FieldDef[], rights: FieldRights = {}): string[] {
  return linkFieldChoices(fields, "fill", rights)
    .filter((f) => f.required && (f.default === undefined || f.default === null) && !f.visible_when)
    .map((f) => f.key);
}

export type LinkState = "active" | "disabled" | "expired";

export function linkState(link: { enabled: boolean; expires_at: string | null }, now: number = Date.now()): LinkState {
  if (!link.enabled) return "disabled";
  if (link.expires_at && Date.parse(link.expires_at) <= now) return "expired";
  return "active";
}

export interface RelatedSource {
  form: FormDef;
  field: FieldDef;
}

/** Every (form, relation field) of the app pointing to `target`, in definition order. */
export function relatedSources(app: AppDef, target: string): RelatedSource[] {
  return app.forms.flatMap((form) => form.fields.filter((f) => f.type === "relation" && f.target === target).map((field) => ({ form, field })));
}

/** The grid's filter with its title search folded in, for the export (which has no `q`). */
export function exportFilter(expr: string, q: string, titleField: string | null | undefined): string {
  const search = q.trim() && titleField ? `NOT ISBLANK(SEARCH(${textLiteral(q.trim())}, ${fieldRef(titleField)}))` : "";
  if (!search) return expr;
  return expr ? `(${expr}) AND ${search}` : search;
}
