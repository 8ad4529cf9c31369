import { describe, expect, it } from "vitest";
import { errorText, rulePaths, runOf, runsQuery, stateOf, testBody, testResultOf } from "./api";
import type { RuleDef } from "./definition";

describe("the rule runtime's endpoints", () => {
  it("are the contract's paths, with keys escaped", () => {
    expect(rulePaths.state("crm")).toBe("/apps/crm/rules/state");
    expect(rulePaths.enabled("crm", "won_project")).toBe("/apps/crm/rules/won_project/enabled");
    expect(rulePaths.runs("crm", "won_project")).toBe("/apps/crm/rules/won_project/runs");
    expect(rulePaths.retry("crm", "won_project", 12)).toBe("/apps/crm/rules/won_project/runs/12/retry");
    expect(rulePaths.test("crm", "won_project")).toBe("/apps/crm/rules/won_project/test");
    expect(rulePaths.fire("crm", "a/b")).toBe("/apps/crm/rules/a%2Fb/fire");
  });
  it("page the run log with state, limit and offset", () => {
    expect(runsQuery(undefined, 1, 20)).toEqual({ state: undefined, limit: 20, offset: 0 });
    expect(runsQuery("failed", 3, 20)).toEqual({ state: "failed", limit: 20, offset: 40 });
    expect(runsQuery("", 0, 20)).toEqual({ state: undefined, limit: 20, offset: 0 });
  });
  it("send the unsaved rule with a test run only when there is one", () => {
    const rule: RuleDef = { key: "r", name: "r", form: "opportunity", on: { type: "record_created" }, actions: [] };
    expect(testBody(7)).toEqual({ record_id: 7 });
    expect(testBody(7, rule)).toEqual({ record_id: 7, rule });
  });
});

describe("reading the runtime's answers", () => {
  it("reads a run row with its event, condition and actions", () => {
    const run = runOf({
      id: 5,
      rule: "won_project",
      state: "failed",
      event: { kind: "updated", app: "crm", form: "opportunity", record_id: 9, actor: 1, at: "2026-12-06T01:00:00+00:00", changes: {}, data: {} },
      record_id: 9,
      condition: true,
      actions: [
        { type: "create_record", state: "succeeded", outcome: { created: [3] }, error: null, ms: 4 },
        { type: "notify", state: "failed", outcome: null, error: { message: "没有接收人", issues: [{ path: "to", message: "没有接收人" }] }, ms: 1 },
      ],
      error: "动作 2 失败",
      duration_ms: 6,
      started_at: "2026-12-06T01:00:01+00:00",
      attempt: 1,
    });
    expect(run).toMatchObject({ id: 5, state: "failed", record_id: 9, condition: true, error: "动作 2 失败", duration_ms: 6, at: "2026-12-06T01:00:01+00:00", attempt: 1 });
    expect(run.event.kind).toBe("updated");
    expect(run.actions.map((a) => [a.type, a.state, a.error])).toEqual([
      ["create_record", "succeeded", null],
      ["notify", "failed", "没有接收人"],
    ]);
    expect(run.actions[0].outcome).toEqual({ created: [3] });
  });
  it("tolerates absent fields (a queued run, no condition yet)", () => {
    const run = runOf({ id: "8", state: "queued", event: { kind: "created", record_id: 2 } });
    expect(run).toMatchObject({ id: 8, state: "queued", record_id: 2, condition: null, actions: [], error: null, duration_ms: null });
  });
  it("reads the rules' state as a list or wrapped, by key", () => {
    const list = stateOf([{ key: "a", enabled: false, last_run: { id: 1, state: "succeeded" } }, { key: "b", enabled: true, last_run: null }]);
    expect(list.get("a")?.enabled).toBe(false);
    expect(list.get("a")?.last_run?.state).toBe("succeeded");
    expect(list.get("b")?.last_run).toBeNull();
    expect(stateOf({ items: [{ key: "c" }] }).get("c")?.enabled).toBe(true);
    expect(stateOf({ rules: [{ rule: "d", enabled: false }] }).get("d")?.enabled).toBe(false);
    expect(stateOf(null).size).toBe(0);
  });
  it("reads a test run's condition and each action's outcome or error", () => {
    const result = testResultOf({ condition: true, actions: [{ type: "create_record", outcome: { created: [1] } }, { type: "update_records", error: "字段「金额」必须是数字" }] });
    expect(result.condition).toBe(true);
    expect(result.actions.map((a) => a.state)).toEqual(["succeeded", "failed"]);
    expect(result.actions[1].error).toBe("字段「金额」必须是数字");
    expect(testResultOf({ condition: false, actions: [] })).toEqual({ condition: false, actions: [], error: null });
  });
  it("turns any error shape into text", () => {
    expect(errorText(null)).toBeNull();
    expect(errorText("x")).toBe("x");
    expect(errorText({ message: "m" })).toBe("m");
    expect(errorText({ code: "c" })).toBe('{"code":"c"}');
  });
});
