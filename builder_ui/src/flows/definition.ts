/**
 * Flows inside the app definition, for the builder's 流程 pages: the app's flows and roles as
 * `GET /apps/{app}` returns them, a new flow bound to its form (`form.flow`) in the same
 * definition, a flow removed with its binding, and where a server issue about a flow belongs
 * in the designer (a node, a branch, the flow's settings, or the flow as a whole).
 */
import type { AppDef, FormDef, Issue, Label } from "../api/types";
import type { Compiled, FlowDef } from "./tree";

export interface RoleDef {
  key: string;
  name?: Label;
  [key: string]: unknown;
}

/** The app definition with the parts the flow pages read. */
export type FlowForm = FormDef & { flow?: string | null };
export type FlowApp = Omit<AppDef, "forms"> & {
  flows?: FlowDef[];
  roles?: RoleDef[];
  forms: FlowForm[];
};

export const flowsOf = (app: AppDef): FlowDef[] => (app as unknown as FlowApp).flows ?? [];
export const rolesOf = (app: AppDef): RoleDef[] => (app as unknown as FlowApp).roles ?? [];

/** The form a flow is bound to by `form.flow`, if any. */
export const boundForm = (app: AppDef, flow: string): string | undefined => (app as unknown as FlowApp).forms.find((f) => f.flow === flow)?.key;

/** The forms that have no flow yet (a form has one flow). */
export function formsWithoutFlow(app: AppDef): FormDef[] {
  const taken = new Set(flowsOf(app).map((f) => f.form));
  return app.forms.filter((f) => !taken.has(f.key));
}

/** A free flow key for `form`: `<form>_approval`, then `<form>_approval_2`, … (keys are
 * `[a-z][a-z0-9_]{0,40}`). */
export function freshFlowKey(app: AppDef, form: string): string {
  const taken = new Set(flowsOf(app).map((f) => f.key));
  const base = `${form}_approval`.slice(0, 38).replace(/_+$/, "");
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}_${n}`)) return `${base}_${n}`;
}

/** The definition with `flow` added and bound to its form (`form.flow`), unless the form is
 * already bound to another flow. */
export function withNewFlow(app: AppDef, flow: FlowDef): FlowApp {
  const source = app as unknown as FlowApp;
  return {
    ...source,
    flows: [...flowsOf(app), flow],
    forms: source.forms.map((f) => (f.key === flow.form && !f.flow ? { ...f, flow: flow.key } : f)),
  };
}

/** The definition without flow `key`, and without the form binding that named it. */
export function withoutFlow(app: AppDef, key: string): FlowApp {
  const source = app as unknown as FlowApp;
  return {
    ...source,
    flows: flowsOf(app).filter((f) => f.key !== key),
    forms: source.forms.map((f) => {
      if (f.flow !== key) return f;
      const rest = { ...f };
      delete rest.flow;
      return rest;
    }),
  };
}

/** Where an issue shows in the designer of the flow at `flows[index]`, sent as `compiled`. */
export type IssueTarget =
  | { kind: "node"; id: string }
  | { kind: "branch"; gateway: string; branch: number }
  | { kind: "settings"; property: string }
  | { kind: "flow" };

/** The target of `issue` in the flow at `flows[index]` whose graph was sent as `compiled`;
 * null when the issue is about another flow. A form's `flow` binding and anything else about
 * the app show as the flow's own (listed, on no node). */
export function issueTarget(issue: Issue, index: number, compiled: Compiled): IssueTarget | null {
  const prefix = `flows[${index}]`;
  const flowMatch = /^flows\[(\d+)\]/.exec(issue.path);
  if (flowMatch && flowMatch[0] !== prefix) return null;
  if (!flowMatch) return { kind: "flow" };
  const rest = issue.path.slice(prefix.length);
  const node = /^\.nodes\[(\d+)\]/.exec(rest);
  if (node) {
    const found = compiled.nodes[Number(node[1])];
    return found ? { kind: "node", id: found.id } : { kind: "flow" };
  }
  const edge = /^\.edges\[(\d+)\]/.exec(rest);
  if (edge) {
    const at = Number(edge[1]);
    const owner = compiled.owners[at];
    if (owner) return { kind: "branch", ...owner };
    const found = compiled.edges[at];
    return found ? { kind: "node", id: found.from } : { kind: "flow" };
  }
  const property = /^\.(name|description|admin|key|form)\b/.exec(rest);
  if (property) return { kind: "settings", property: property[1] };
  return { kind: "flow" };
}

/** The key a target is listed under: a node id, `gateway#branch`, `settings` or `flow`. */
export function targetKey(target: IssueTarget): string {
  if (target.kind === "node") return target.id;
  if (target.kind === "branch") return `${target.gateway}#${target.branch}`;
  return target.kind;
}
