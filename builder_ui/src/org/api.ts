/** The 通讯录 page's API calls (administrators only): departments, users with their names
 * resolved (`/org/users`), password resets, and the Excel import (template, dry run, import). */
import i18n from "../i18n";
import { API, ApiError, apiPath, request, type BodyOf } from "../api/client";
import type { Issue, Label } from "../api/types";
import type { OrgDepartment, RowError } from "./tree";

export interface OrgRole {
  id: number;
  app: string;
  key: string;
  name: Label;
}

export interface OrgUser {
  id: number;
  username: string;
  display_name: string;
  phone: string | null;
  email: string | null;
  department_id: number | null;
  department_ids: number[];
  department_name: string | null;
  manager_id: number | null;
  manager_name: string | null;
  is_admin: boolean;
  is_active: boolean;
  can_sign_in: boolean;
  must_change_password: boolean;
  roles: OrgRole[];
}

export interface ImportSummary {
  ok: boolean;
  errors: RowError[];
  departments: number;
  users: number;
  passwords?: { username: string; password: string }[];
}

export type NewUser = BodyOf<"/api/v1/users", "post">;
export type UserChange = BodyOf<"/api/v1/users/{user_id}", "patch">;
export type DepartmentChange = BodyOf<"/api/v1/departments/{department_id}", "patch">;

export const TEMPLATE_URL = `${API}/org/import/template`;

export const org = {
  departments: () => request<OrgDepartment[]>("GET", apiPath("/departments")),
  createDepartment: (body: BodyOf<"/api/v1/departments", "post">) => request<OrgDepartment>("POST", apiPath("/departments"), body),
  updateDepartment: (id: number, body: DepartmentChange) => request<OrgDepartment>("PATCH", apiPath(`/departments/${id}`), body),
  deleteDepartment: (id: number) => request<void>("DELETE", apiPath(`/departments/${id}`)),
  users: (params: { department?: number; children?: boolean; q?: string }) =>
    request<{ users: OrgUser[]; total: number }>("GET", apiPath("/org/users"), undefined, {
      department: params.department,
      children: params.children === undefined ? undefined : String(params.children),
      q: params.q,
      limit: 1000,
    }),
  createUser: (body: NewUser) => request<OrgUser>("POST", apiPath("/users"), body),
  updateUser: (id: number, body: UserChange) => request<OrgUser>("PATCH", apiPath(`/users/${id}`), body),
  resetPassword: (id: number, password: string | null) =>
    request<{ password: string | null }>("POST", apiPath(`/users/${id}/password`), password ? { password } : {}),
};

/** Upload the import workbook: a dry run (nothing written) or the import. */
export async function uploadOrg(file: File, dryRun: boolean): Promise<ImportSummary> {
  const body = new FormData();
  body.append("file", file, file.name);
  const headers: Record<string, string> = { "Accept-Language": i18n.language === "en" ? "en" : "zh-CN" };
  const csrf = localStorage.getItem("jimu.csrf");
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const url = `${API}${apiPath("/org/import")}?dry_run=${dryRun}`;
  const response = await fetch(url, { method: "POST", body, headers, credentials: "same-origin" });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data?.error ?? {}) as { code?: string; message?: string; issues?: Issue[] };
    throw new ApiError(response.status, error.code ?? "error", error.message ?? response.statusText, error.issues ?? []);
  }
  return data as ImportSummary;
}
