import { describe, expect, it } from "vitest";
import type { RoleDef } from "../api/admin";
import { addRole, changeRole, issueRole, permissionOf, removeRole, setActions, setFieldAccess, setScope } from "./roles";

const rep: RoleDef = {
  key: "sales_rep",
  name: { zh: "销售代表", en: "Sales rep" },
  forms: { customer: { actions: ["view", "create", "edit"], scope: "own", fields: { phone: "hidden" } } },
};

describe("roles", () => {
  it("adds view with any other action and keeps the engine's order", () => {
    const roles = setActions([rep], "sales_rep", "visit", ["export", "create"]);
    expect(permissionOf(roles[0], "visit")).toEqual({ actions: ["view", "create", "export"], scope: "all", fields: {} });
    expect(roles[0].forms.customer).toBe(rep.forms.customer);
  });

  it("keeps the public links action (外链) last, with view", () => {
    const roles = setActions([rep], "sales_rep", "lead", ["links", "import"]);
    expect(permissionOf(roles[0], "lead").actions).toEqual(["view", "import", "links"]);
  });

  it("drops a form the role may do nothing with", () => {
    const roles = setActions([rep], "sales_rep", "customer", []);
    expect(roles[0].forms).toEqual({});
    expect(permissionOf(roles[0], "customer").actions).toEqual([]);
  });

  it("sets the scope, including a condition", () => {
    const roles = setScope([rep], "sales_rep", "customer", { expr: 'level = "A"' });
    expect(roles[0].forms.customer.scope).toEqual({ expr: 'level = "A"' });
    expect(roles[0].forms.customer.actions).toEqual(["view", "create", "edit"]);
  });

  it("stores only fields that are not editable", () => {
    let roles = setFieldAccess([rep], "sales_rep", "customer", "level", "read_only");
    expect(roles[0].forms.customer.fields).toEqual({ phone: "hidden", level: "read_only" });
    roles = setFieldAccess(roles, "sales_rep", "customer", "phone", "editable");
    expect(roles[0].forms.customer.fields).toEqual({ level: "read_only" });
  });

  it("adds, renames and removes roles", () => {
    let roles = addRole([rep], "visitor", { zh: "拜访专员", en: "" });
    expect(roles[1]).toEqual({ key: "visitor", name: { zh: "拜访专员", en: "拜访专员" }, forms: {} });
    expect(addRole(roles, "visitor", { zh: "x", en: "y" })).toBe(roles);
    roles = changeRole(roles, "visitor", { builder: true });
    expect(roles[1].builder).toBe(true);
    expect(removeRole(roles, "sales_rep").map((r) => r.key)).toEqual(["visitor"]);
  });

  it("finds the role a definition error is about", () => {
    expect(issueRole("roles[1].forms.customer.scope.expr", [rep, { ...rep, key: "b" }])).toBe("b");
    expect(issueRole("forms[0].key", [rep])).toBeNull();
  });
});
