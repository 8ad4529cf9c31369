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
import type { TraitsSource } from "../forms/fieldTypes";
import type { AppMenu } from "../forms/appMenu";
import type { paths } from "./schema";

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

type Unprefixed<P> = P extends `/api/v1${infer Rest}` ? Rest : never;
/** The server's path templates (`/apps/{app}/forms/{form}/records`), from `src/api/schema.d.ts`,
 * generated from builder_ui/openapi.json (the server's OpenAPI document, `jimu openapi`). */
type Template = Unprefixed<keyof paths>;
/** Whether the concrete path `S` fits template `T`: each `{param}` is one non-empty segment. */
type Fits<S extends string, T extends string> = T extends `${infer Head}{${string}}${infer Tail}`
  ? S extends `${Head}${infer Rest}`
    ? Rest extends `${infer Segment}/${infer After}`
      ? Segment extends `${string}/${string}` | ""
        ? false
        : Fits<`/${After}`, Tail>
      : Tail extends ""
        ? (Rest extends "" ? false : true)
        : false
    : false
  : S extends T
    ? true
    : false;
type Served<S extends string> = true extends (Template extends infer T extends string ? (T extends string ? Fits<S, T> : never) : never) ? S : never;
/** A path checked against the OpenAPI document (made by `apiPath`). */
export type ApiPath = string & { readonly served: unique symbol };

/** `path` as an API path, if the server serves it: a path the OpenAPI document does not have
 * (a renamed or removed endpoint, a typo) does not compile. */
export function apiPath<S extends string>(path: Served<S>): ApiPath {
  return path as unknown as ApiPath;
}

/** The JSON an operation answers with (its 200 or 201), as the OpenAPI document describes it:
 * the server's response models (engine/api/schemas/). */
export type AnswerOf<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: infer R;
}
  ? R extends { 200: { content: { "application/json": infer A } } }
    ? A
    : R extends { 201: { content: { "application/json": infer A } } }
      ? A
      : never
  : never;

/** The JSON body an operation takes, as the OpenAPI document describes it. */
export type BodyOf<P extends keyof paths, M extends "post" | "put" | "patch"> = paths[P][M] extends {
  requestBody: { content: { "application/json": infer B } };
}
  ? B
  : never;

export async function request<T>(method: string, path: ApiPath, body?: unknown, query?: Query): Promise<T> {
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

/** A form's API path (`/apps/{app}/forms/{form}`). */
export const formPath = (app: string, form: string) => `/apps/${encodeURIComponent(app)}/forms/${encodeURIComponent(form)}` as const;

export interface ListParams {
  filter?: string;
  sort?: string;
  q?: string;
  limit?: number;
  offset?: number;
}

export const api = {
  login: (username: string, password: string) => request<LoginResult>("POST", apiPath("/auth/login"), { username, password }),
  logout: () => request<void>("POST", apiPath("/auth/logout")),
  changePassword: (current_password: string, new_password: string, revoke_tokens = true) =>
    request<void>("POST", apiPath("/auth/password"), { current_password, new_password, revoke_tokens }),
  me: () => request<User>("GET", apiPath("/me")),
  users: (q: string) => request<AnswerOf<"/api/v1/users", "get">>("GET", apiPath("/users"), undefined, { q, limit: 20 }),
  pickUsers: (q: string) => request<PickedUser[]>("GET", apiPath("/directory/users"), undefined, { q, limit: 20 }),
  apps: () => request<AppSummary[]>("GET", apiPath("/apps")),
  app: (app: string) => request<AppDef>("GET", apiPath(`/apps/${encodeURIComponent(app)}`)),
  menu: (app: string) => request<AppMenu>("GET", apiPath(`/apps/${encodeURIComponent(app)}/menu`)),
  catalog: () => request<Pack[]>("GET", apiPath("/catalog")),
  install: (pack: string, sample_data: boolean) =>
    request<AnswerOf<"/api/v1/catalog/{pack}/install", "post">>("POST", apiPath(`/catalog/${encodeURIComponent(pack)}/install`), { sample_data }),
  records: (app: string, form: string, params: ListParams) =>
    request<Page>("GET", apiPath(`${formPath(app, form)}/records`), undefined, { ...params }),
  record: (app: string, form: string, id: number) => request<RecordJson>("GET", apiPath(`${formPath(app, form)}/records/${id}`)),
  history: (app: string, form: string, id: number) =>
    request<HistoryEntry[]>("GET", apiPath(`${formPath(app, form)}/records/${id}/history`)),
  create: (app: string, form: string, values: Record<string, unknown>) =>
    request<RecordJson>("POST", apiPath(`${formPath(app, form)}/records`), values),
  update: (app: string, form: string, id: number, values: Record<string, unknown>) =>
    request<RecordJson>("PATCH", apiPath(`${formPath(app, form)}/records/${id}`), values),
  remove: (app: string, form: string, id: number) => request<void>("DELETE", apiPath(`${formPath(app, form)}/records/${id}`)),
  recycleBin: (app: string, form: string, limit = 50, offset = 0) =>
    request<Page>("GET", apiPath(`${formPath(app, form)}/recycle-bin`), undefined, { limit, offset }),
  restore: (app: string, form: string, id: number) => request<RecordJson>("POST", apiPath(`${formPath(app, form)}/records/${id}/restore`)),
  permissions: (app: string, form: string) => request<Permissions>("GET", apiPath(`${formPath(app, form)}/permissions/me`)),
  live: (app: string, form: string) => request<LiveScripts>("GET", apiPath(`${formPath(app, form)}/live`)),
  fieldTypes: () => request<(PaletteGroup & TraitsSource)[]>("GET", apiPath("/schema/field-types")),
  createApp: (definition: Record<string, unknown>) => request<AppDef>("POST", apiPath("/apps"), definition),
  plan: (app: string, definition: AppDef) => request<MigrationPlan>("POST", apiPath(`/apps/${encodeURIComponent(app)}/plan`), definition),
  publish: (app: string, definition: AppDef, plan_hash: string) =>
    request<AppDef>("PUT", apiPath(`/apps/${encodeURIComponent(app)}`), { ...definition, plan_hash }),
};
