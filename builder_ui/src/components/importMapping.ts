/**
 * The import dialog's mapping step: the server's preview of an uploaded file (its columns, the
 * field each matched by header, its first rows), the fields a column may feed, and the
 * template download. The mapping sent with the import is one field key or null per column.
 */
import { API, apiPath, formPath } from "../api/client";
import { failure, language } from "../api/views";
import type { FieldDef } from "../api/types";
import { isValueField } from "../designer/properties";

export interface ImportPreview {
  columns: string[];
  matched: (string | null)[];
  rows: string[][];
  total_rows: number;
}

/** Fields a spreadsheet column can fill: value fields (not computed, files or subforms). */
const NOT_FROM_CELLS = new Set(["attachment", "image", "signature", "location", "subform", "section"]);

export function mappableFields(fields: FieldDef[]): FieldDef[] {
  return fields.filter((f) => !NOT_FROM_CELLS.has(f.type) && isValueField(f.type));
}

/** Field keys chosen for more than one column (the import refuses them). */
export function duplicateFields(mapping: (string | null)[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const key of mapping) {
    if (!key) continue;
    if (seen.has(key)) twice.add(key);
    seen.add(key);
  }
  return [...twice];
}

/** The mapping can be imported: some column feeds a field, and no field is fed twice. */
export function mappingReady(mapping: (string | null)[]): boolean {
  return mapping.some(Boolean) && duplicateFields(mapping).length === 0;
}

function headers(): Record<string, string> {
  const out: Record<string, string> = { "Accept-Language": language() };
  const csrf = localStorage.getItem("jimu.csrf");
  if (csrf) out["X-CSRF-Token"] = csrf;
  return out;
}

/** The file's columns matched to fields, and its first rows (nothing is written). */
export async function previewImport(app: string, form: string, file: File): Promise<ImportPreview> {
  const body = new FormData();
  body.append("file", file, file.name);
  const url = `${API}${apiPath(`${formPath(app, form)}/records/import/preview`)}`;
  const response = await fetch(url, { method: "POST", body, headers: headers(), credentials: "same-origin" });
  if (!response.ok) throw await failure(response);
  return (await response.json()) as ImportPreview;
}

/** The template's URL (an xlsx of the form's importable fields). */
export function templateUrl(app: string, form: string): string {
  return `${API}${apiPath(`${formPath(app, form)}/records/import/template`)}`;
}
