/**
 * Editing an app's roles (pure functions over the `roles` of its definition): add and remove
 * roles, and per form the actions, the data scope and each field's access. A form a role may
 * do nothing with is left out of the role, as the engine reads it.
 */
import { ACTIONS, type Action, type FieldAccess, type FormPermission, type RoleDef, type ScopeName } from "../api/admin";

export const NO_PERMISSION: FormPermission = { actions: [], scope: "all", fields: {} };

export function permissionOf(role: RoleDef, form: string): FormPermission {
  return role.forms[form] ?? NO_PERMISSION;
}

function withPermission(roles: RoleDef[], roleKey: string, form: string, change: (p: FormPermission) => FormPermission): RoleDef[] {
  return roles.map((role) => {
    if (role.key !== roleKey) return role;
    const next = change(permissionOf(role, form));
    const forms = { ...role.forms };
    if (next.actions.length === 0) delete forms[form];
    else forms[form] = next;
    return { ...role, forms };
  });
}

/** The role's actions on `form`; "view" comes with any other action (a role edits what it sees). */
export function setActions(roles: RoleDef[], roleKey: string, form: string, actions: Action[]): RoleDef[] {
  const wanted = new Set(actions);
  if (wanted.size && !wanted.has("view")) wanted.add("view");
  const ordered = ACTIONS.filter((a) => wanted.has(a));
  return withPermission(roles, roleKey, form, (p) => ({ ...p, actions: ordered }));
}

export function setScope(roles: RoleDef[], roleKey: string, form: string, scope: ScopeName | { expr: string }): RoleDef[] {
  return withPermission(roles, roleKey, form, (p) => ({ ...p, scope }));
}

/** One field's access for the role on `form`; "editable" is the default and is not stored. */
export function setFieldAccess(roles: RoleDef[], roleKey: string, form: string, field: string, access: FieldAccess): RoleDef[] {
  return withPermission(roles, roleKey, form, (p) => {
    const fields = { ...(p.fields ?? {}) };
    if (access === "editable") delete fields[field];
    else fields[field] = access;
    return { ...p, fields };
  });
}

export function addRole(roles: RoleDef[], key: string, name: { zh: string; en: string }): RoleDef[] {
  if (roles.some((r) => r.key === key)) return roles;
  return [...roles, { key, name: { zh: name.zh, en: name.en || name.zh }, forms: {} }];
}

export function changeRole(roles: RoleDef[], roleKey: string, change: Partial<Pick<RoleDef, "name" | "builder">>): RoleDef[] {
  return roles.map((role) => (role.key === roleKey ? { ...role, ...change } : role));
}

export function removeRole(roles: RoleDef[], roleKey: string): RoleDef[] {
  return roles.filter((r) => r.key !== roleKey);
}

/** Which role a definition error (`roles[2].forms.customer.scope.expr`) is about. */
export function issueRole(path: string, roles: RoleDef[]): string | null {
  const match = /^roles\[(\d+)\]/.exec(path);
  return match ? (roles[Number(match[1])]?.key ?? null) : null;
}
