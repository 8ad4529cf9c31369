/**
 * The thin typed client of Jimu's API: cookie sessions with the CSRF header on unsafe methods,
 * the UI language as Accept-Language, and the one error shape (DESIGN §12) as `ApiError`.
 */
import i18n from "../i18n";
import type {
  AppDef,
  AppSummary,
  HistoryEntry,
  LiveScripts,
  LoginResult,
  Page,
  Pack,
  Permissions,
  RecordJson,
  PickedUser,
  User,
  Issue,
  MigrationPlan,
} from "./types";
import type { PaletteGroup } from "../designer/state";

export const API = "/api/v1";
const CSRF_KEY = "jimu.csrf";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: Issue[] = [],
  ) {
    super(message);
  }
}

export function setCsrf(token: string | null): void {
  if (token) localStorage.setItem(CSRF_KEY, token);
  else localStorage.removeItem(CSRF_KEY);
}

type Query = Record<string, string | number | undefined | null>;

export async function request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
  const url = new URL(API + path, window.location.origin);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  }
  const headers: Record<string, string> = { "Accept-Language": i18n.language === "en" ? "en" : "zh-CN" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!["GET", "HEAD"].includes(method)) {
    const csrf = localStorage.getItem(CSRF_KEY);
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = data?.error ?? {};
    throw new ApiError(response.status, error.code ?? "error", error.message ?? response.statusText, error.issues ?? []);
  }
  return data as T;
}

const formPath = (app: string, form: string) => `/apps/${encodeURIComponent(app)}/forms/${encodeURIComponent(form)}`;

export interface ListParams {
  filter?: string;
  sort?: string;
  q?: string;
  limit?: number;
  offset?: number;
}

export const api = {
  login: (username: string, password: string) => request<LoginResult>("POST", "/auth/login", { username, password }),
  logout: () => request<void>("POST", "/auth/logout"),
  changePassword: (current_password: string, new_password: string) =>
    request<void>("POST", "/auth/password", { current_password, new_password }),
  me: () => request<User>("GET", "/me"),
  users: (q: string) => request<User[]>("GET", "/users", undefined, { q, limit: 20 }),
  pickUsers: (q: string) => request<PickedUser[]>("GET", "/directory/users", undefined, { q, limit: 20 }),
  apps: () => request<AppSummary[]>("GET", "/apps"),
  app: (app: string) => request<AppDef>("GET", `/apps/${encodeURIComponent(app)}`),
  catalog: () => request<Pack[]>("GET", "/catalog"),
  install: (pack: string, sample_data: boolean) =>
    request<{ key: string }>("POST", `/catalog/${encodeURIComponent(pack)}/install`, { sample_data }),
  records: (app: string, form: string, params: ListParams) =>
    request<Page>("GET", `${formPath(app, form)}/records`, undefined, { ...params }),
  record: (app: string, form: string, id: number) => request<RecordJson>("GET", `${formPath(app, form)}/records/${id}`),
  history: (app: string, form: string, id: number) =>
    request<HistoryEntry[]>("GET", `${formPath(app, form)}/records/${id}/history`),
  create: (app: string, form: string, values: Record<string, unknown>) =>
    request<RecordJson>("POST", `${formPath(app, form)}/records`, values),
  update: (app: string, form: string, id: number, values: Record<string, unknown>) =>
    request<RecordJson>("PATCH", `${formPath(app, form)}/records/${id}`, values),
  remove: (app: string, form: string, id: number) => request<void>("DELETE", `${formPath(app, form)}/records/${id}`),
  recycleBin: (app: string, form: string, limit = 50, offset = 0) =>
    request<Page>("GET", `${formPath(app, form)}/recycle-bin`, undefined, { limit, offset }),
  restore: (app: string, form: string, id: number) => request<RecordJson>("POST", `${formPath(app, form)}/records/${id}/restore`),
  permissions: (app: string, form: string) => request<Permissions>("GET", `${formPath(app, form)}/permissions/me`),
  live: (app: string, form: string) => request<LiveScripts>("GET", `${formPath(app, form)}/live`),
  fieldTypes: () => request<PaletteGroup[]>("GET", "/schema/field-types"),
  createApp: (definition: Record<string, unknown>) => request<AppDef>("POST", "/apps", definition),
  plan: (app: string, definition: AppDef) => request<MigrationPlan>("POST", `/apps/${encodeURIComponent(app)}/plan`, definition),
  publish: (app: string, definition: AppDef, plan_hash: string) =>
    request<AppDef>("PUT", `/apps/${encodeURIComponent(app)}`, { ...definition, plan_hash }),
};
