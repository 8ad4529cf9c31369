/** The administrators' part of the API the roles page uses: the directory and role members (`/users`, `/departments`, `/roles`). */
import type { Label } from "./types";
import { request, type AnswerOf, type BodyOf, apiPath } from "./client";

export type Action = "view" | "create" | "edit" | "delete" | "export" | "import" | "links";
export const ACTIONS: Action[] = ["view", "create", "edit", "delete", "export", "import", "links"];
export type ScopeName = "all" | "own" | "department" | "department_tree";
export type FieldAccess = "hidden" | "read_only" | "editable";

/** What a role may do with one form's records (engine/forms/roles.py `FormPermission`). */
export interface FormPermission {
  actions: Action[];
  scope?: ScopeName | { expr: string };
  fields?: Record<string, FieldAccess>;
}

/** A role of an app as its definition holds it (engine/forms/roles.py `RoleSpec`). */
export interface RoleDef {
  key: string;
  name: Label;
  builder?: boolean;
  forms: Record<string, FormPermission>;
}

/** One holder of a role (a user or a department), as `POST /roles/{id}/members` answers it. */
export type RoleMember = AnswerOf<"/api/v1/roles/{role_id}/members", "post">;

/** A role as stored (created when the app is published), with who holds it. */
export interface StoredRole {
  id: number;
  key: string;
  members: RoleMember[];
}

export interface DirectoryUser {
  id: number;
  username: string;
  display_name: string | null;
}

export interface Department {
  id: number;
  name: string;
  parent_id: number | null;
}

export const admin = {
  roles: (app: string) => request<StoredRole[]>("GET", apiPath("/roles"), undefined, { app }),
  users: () => request<DirectoryUser[]>("GET", apiPath("/users"), undefined, { limit: 1000 }),
  departments: () => request<Department[]>("GET", apiPath("/departments")),
  addMember: (roleId: number, member: BodyOf<"/api/v1/roles/{role_id}/members", "post">) =>
    request<RoleMember>("POST", apiPath(`/roles/${roleId}/members`), member),
  removeMember: (roleId: number, memberId: number) => request<void>("DELETE", apiPath(`/roles/${roleId}/members/${memberId}`)),
};
