import { describe, expect, it } from "vitest";
import type { AppDef } from "../api/types";
import { boundForm, formsWithoutFlow, freshFlowKey, issueTarget, targetKey, withNewFlow, withoutFlow } from "./definition";
import { compile, parse, type FlowDef } from "./tree";

const flow = (key: string, form: string): FlowDef => ({ key, name: key, form, nodes: [], edges: [] });

const app = (flows: FlowDef[], bound: Record<string, string> = {}): AppDef =>
  ({
    key: "crm",
    name: "CRM",
    version: "1",
    menu: [],
    _revision: 3,
    forms: [
      { key: "contract", name: "合同", fields: [], ...(bound.contract ? { flow: bound.contract } : {}) },
      { key: "lead", name: "线索", fields: [] },
    ],
    flows,
    roles: [{ key: "finance" }],
  }) as AppDef;

describe("flows in the definition", () => {
  it("binds a new flow to its form in the same definition and unbinds it on removal", () => {
    const added = withNewFlow(app([]), flow("contract_approval", "contract"));
    expect(added.flows?.map((f) => f.key)).toEqual(["contract_approval"]);
    expect(boundForm(added, "contract_approval")).toBe("contract");
    expect(added._revision).toBe(3);
    const removed = withoutFlow(added, "contract_approval");
    expect(removed.flows).toEqual([]);
    expect(removed.forms[0]).toEqual({ key: "contract", name: "合同", fields: [] });
  });

  it("never rebinds a form bound to another flow", () => {
    const added = withNewFlow(app([flow("old", "contract")], { contract: "old" }), flow("contract_approval", "contract"));
    expect(boundForm(added, "old")).toBe("contract");
    expect(boundForm(added, "contract_approval")).toBeUndefined();
  });

  it("offers the forms without a flow and free keys", () => {
    const current = app([flow("contract_approval", "contract")]);
    expect(formsWithoutFlow(current).map((f) => f.key)).toEqual(["lead"]);
    expect(freshFlowKey(current, "lead")).toBe("lead_approval");
    expect(freshFlowKey(current, "contract")).toBe("contract_approval_2");
    expect(freshFlowKey(current, "a".repeat(41))).toMatch(/^[a-z][a-z0-9_]{0,40}$/);
  });
});

describe("issues on the designer", () => {
  const compiled = compile(
    parse({
      nodes: [
        { id: "start", type: "start" },
        { id: "route", type: "exclusive" },
        { id: "boss", type: "approve", assignees: [{ role: "boss" }] },
        { id: "end", type: "end" },
      ],
      edges: [
        { from: "start", to: "route" },
        { from: "route", to: "boss" },
        { from: "route", to: "end", default: true },
        { from: "boss", to: "end" },
      ],
    }),
  );
  const target = (path: string, index = 1) => issueTarget({ path, code: "x", message: "m" }, index, compiled);

  it("puts node, branch and settings issues where they belong", () => {
    expect(compiled.nodes[2].id).toBe("boss");
    expect(target("flows[1].nodes[2].assignees[0].role")).toEqual({ kind: "node", id: "boss" });
    expect(target("flows[1].nodes[1]")).toEqual({ kind: "node", id: "route" });
    const missing = compiled.edges.findIndex((e) => e.from === "route" && e.to === "boss");
    expect(target(`flows[1].edges[${missing}].when`)).toEqual({ kind: "branch", gateway: "route", branch: 0 });
    expect(target("flows[1].edges[0]")).toEqual({ kind: "node", id: "start" });
    expect(target("flows[1].admin.role")).toEqual({ kind: "settings", property: "admin" });
    expect(target("flows[1].nodes")).toEqual({ kind: "flow" });
    expect(target("forms[0].flow")).toEqual({ kind: "flow" });
    expect(target("flows[0].nodes[2]")).toBeNull();
    expect(targetKey({ kind: "branch", gateway: "route", branch: 0 })).toBe("route#0");
  });
});
