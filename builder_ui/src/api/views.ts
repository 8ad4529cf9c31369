/**
 * The API calls of the data views beyond plain records: export/import files, public links
 * (builders manage them) and the anonymous public pages (`/public/{token}`), plus related
 * records. Kept apart from client.ts so each part of the UI grows in its own file.
 */
import i18n from "../i18n";
import { API, ApiError, formPath, request, apiPath } from "./client";
import type { FieldDef, Issue, Label, LiveScripts, Page } from "./types";

const CSRF_KEY = "jimu.csrf";
export const language = () => (i18n.language === "en" ? "en" : "zh-CN");

export async function failure(response: Response): Promise<ApiError> {
  let data: { error?: { code?: string; message?: string; issues?: Issue[] } } | null = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  const error = data?.error ?? {};
  return new ApiError(response.status, error.code ?? "error", error.message ?? response.statusText, error.issues ?? []);
}

/** The file name a `Content-Disposition` header gives (RFC 6266 `filename*` first). */
export function dispositionFilename(header: string | null, fallback: string): string {
  if (!header) return fallback;
  const star = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[2].trim());
    } catch {
      /* fall through to the plain name */
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(header);
  return plain ? plain[1].trim() : fallback;
}

export interface ExportParams {
  format: "xlsx" | "csv";
  filter?: string;
  sort?: string;
  fields?: string[];
}

/** The export URL of the grid's current view (filter, sort, visible columns). */
export function exportUrl(app: string, form: string, params: ExportParams): string {
  const query = new URLSearchParams({ format: params.format });
  if (params.filter) query.set("filter", params.filter);
  if (params.sort) query.set("sort", params.sort);
  if (params.fields?.length) query.set("fields", params.fields.join(","));
  return `${API}${apiPath(`${formPath(app, form)}/records/export`)}?${query}`;
}

/** Download the export as a file (fetched first, so an error shows as a message, not a page). */
export async function downloadExport(app: string, form: string, params: ExportParams): Promise<string> {
  const response = await fetch(exportUrl(app, form, params), { headers: { "Accept-Language": language() }, credentials: "same-origin" });
  if (!response.ok) throw await failure(response);
  const name = dispositionFilename(response.headers.get("Content-Disposition"), `${form}.${params.format}`);
  const url = URL.createObjectURL(await response.blob());
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.download = name;
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}

export interface ImportOutcome {
  row: number;
  ok: boolean;
  _id?: number;
  error?: { code: string; issues: Issue[] };
}

export interface ImportResult {
  created: number;
  failed: number;
  ignored_columns: string[];
  results: ImportOutcome[];
}

/**
 * Upload an xlsx/CSV file: all or nothing unless `partial` (then bad rows are reported); with
 * `mapping` (a field key or null per column) the columns feed those fields.
 */
export async function importFile(
  app: string,
  form: string,
  file: File,
  partial: boolean,
  startFlows = false,
  mapping?: (string | null)[],
): Promise<ImportResult> {
  const body = new FormData();
  body.append("file", file, file.name);
  if (mapping) body.append("mapping", JSON.stringify(mapping));
  const headers: Record<string, string> = { "Accept-Language": language() };
  const csrf = localStorage.getItem(CSRF_KEY);
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const query = new URLSearchParams();
  if (partial) query.set("partial", "true");
  if (startFlows) query.set("start_flows", "true");
  const suffix = query.size ? `?${query.toString()}` : "";
  const url = `${API}${apiPath(`${formPath(app, form)}/records/import`)}${suffix}`;
  const response = await fetch(url, { method: "POST", body, headers, credentials: "same-origin" });
  if (!response.ok) throw await failure(response);
  return (await response.json()) as ImportResult;
}

/** Records of `form` whose relation `field` points to record `id` (the caller's scope applies). */
export const relatedRecords = (app: string, form: string, field: string, id: number, limit = 10) =>
  request<Page>("GET", apiPath(`${formPath(app, form)}/records`), undefined, { related: `${field}:${id}`, limit, sort: "-_id" });

export type LinkKind = "fill" | "query";

export interface PublicLink {
  id: number;
  kind: LinkKind;
  name: string;
  token: string;
  url: string;
  fields: string[];
  key_fields: string[];
  has_password: boolean;
  expires_at: string | null;
  enabled: boolean;
  rate_limit: number;
  owner: { id: number; name: string | null } | null;
  created_at: string;
}

export interface LinkInput {
  kind?: LinkKind;
  name?: string;
  fields?: string[];
  key_fields?: string[];
  password?: string | null;
  expires_at?: string | null;
  enabled?: boolean;
}

export const links = {
  list: (app: string, form: string) => request<PublicLink[]>("GET", apiPath(`${formPath(app, form)}/links`)),
  create: (app: string, form: string, body: LinkInput) => request<PublicLink>("POST", apiPath(`${formPath(app, form)}/links`), body),
  update: (app: string, form: string, id: number, body: LinkInput) => request<PublicLink>("PATCH", apiPath(`${formPath(app, form)}/links/${id}`), body),
  remove: (app: string, form: string, id: number) => request<void>("DELETE", apiPath(`${formPath(app, form)}/links/${id}`)),
};

/** The address people open: the UI's public page, not the API URL. */
export const publicPageUrl = (token: string, origin = window.location.origin) => `${origin}/public/${encodeURIComponent(token)}`;

export interface PublicForm {
  kind: LinkKind;
  name: string;
  app: { key: string; name: Label };
  form: { key: string; name: Label };
  fields: FieldDef[];
  key_fields?: FieldDef[];
  expires_at: string | null;
}

async function publicCall<T>(method: "GET" | "POST", token: string, password: string | null, body?: unknown, suffix: "" | "/live" = ""): Promise<T> {
  const headers: Record<string, string> = { "Accept-Language": language() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // HTTP headers carry Latin-1: a UTF-8 password travels as its bytes (the server reads them back).
  if (password) headers["X-Link-Password"] = String.fromCharCode(...new TextEncoder().encode(password));
  const response = await fetch(`${API}${apiPath(`/public/${encodeURIComponent(token)}${suffix}`)}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store", // a link can be disabled, expire or be deleted at any moment
  });
  if (!response.ok) throw await failure(response);
  return (await response.json()) as T;
}

export const publicLink = {
  describe: (token: string, password: string | null) => publicCall<PublicForm>("GET", token, password),
  /** A fill link's show/hide and read-only rules over its own fields, compiled for the browser. */
  live: (token: string, password: string | null) => publicCall<LiveScripts>("GET", token, password, undefined, "/live"),
  fill: (token: string, password: string | null, values: Record<string, unknown>) =>
    publicCall<{ submitted: boolean }>("POST", token, password, values),
  query: (token: string, password: string | null, keys: Record<string, unknown>) =>
    publicCall<{ items: Record<string, unknown>[] }>("POST", token, password, keys),
};
