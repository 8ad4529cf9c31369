import i18next from "i18next";
import { describe, expect, it } from "vitest";
import type { AppDef } from "../api/types";
import { en, zh } from "../i18n/messages";
import {
  actionForm,
  canonical,
  canRunSync,
  cleanRule,
  copySources,
  cronOf,
  freshRuleKey,
  fromTestPath,
  issueControl,
  issuesByControl,
  messagesAt,
  newRule,
  offersOld,
  outcomeText,
  rowOf,
  sameRelation,
  rowsOf,
  scheduleOf,
  scheduleText,
  specOf,
  triggerText,
  valuesOf,
  writableFields,
  type MappingRow,
  type RuleDef,
  type Translate,
} from "./definition";

function translator(lang: "zh-CN" | "en"): Translate {
  const instance = i18next.createInstance();
  void instance.init({ resources: { "zh-CN": { translation: zh }, en: { translation: en } }, lng: lang, initAsync: false, interpolation: { escapeValue: false } });
  return (key, options) => instance.t(key, options ?? {}) as string;
}
const tZh = translator("zh-CN");
const tEn = translator("en");

const app = {
  key: "crm",
  name: "CRM",
  version: "1",
  menu: [],
  _revision: 4,
  forms: [
    {
      key: "opportunity",
      name: { zh: "商机", en: "Opportunity" },
      fields: [
        { key: "title", type: "text", label: { zh: "名称", en: "Title" } },
        { key: "customer", type: "relation", target: "customer", label: { zh: "客户", en: "Customer" } },
        { key: "stage", type: "select", label: { zh: "阶段", en: "Stage" } },
        { key: "amount", type: "money", label: { zh: "金额", en: "Amount" } },
        { key: "win_rate", type: "percent", label: { zh: "赢率", en: "Win rate" } },
        { key: "close", type: "date", label: { zh: "预计成交", en: "Expected close" } },
        { key: "owner", type: "user", label: { zh: "负责人", en: "Owner" } },
        { key: "weighted", type: "formula", expr: "amount * win_rate", label: { zh: "加权金额", en: "Weighted" } },
      ],
    },
    {
      key: "project",
      name: { zh: "项目", en: "Project" },
      fields: [
        { key: "name", type: "text", label: { zh: "项目名称", en: "Name" } },
        { key: "customer", type: "relation", target: "customer", label: { zh: "客户", en: "Customer" } },
        { key: "amount", type: "money", label: { zh: "合同金额", en: "Amount" } },
        { key: "created", type: "created_at", label: { zh: "创建时间", en: "Created" } },
      ],
    },
    { key: "customer", name: { zh: "客户", en: "Customer" }, fields: [{ key: "name", type: "text" }] },
  ],
  flows: [
    {
      key: "opp_approval",
      name: { zh: "商机审批", en: "Deal approval" },
      form: "opportunity",
      nodes: [
        { id: "start", type: "start" },
        { id: "boss", type: "approve", name: { zh: "总经理审批", en: "GM approval" } },
        { id: "end", type: "end" },
      ],
      edges: [],
    },
  ],
} as unknown as AppDef;

const rule = (on: RuleDef["on"], form = "opportunity"): RuleDef => ({ key: "r", name: "r", form, on, actions: [] });

describe("a trigger in words", () => {
  it("names the form and the watched fields (商机 的 阶段 改变时)", () => {
    expect(triggerText(rule({ type: "field_changed", fields: ["stage"] }), app, "zh", tZh)).toBe("商机 的 阶段 改变时");
    expect(triggerText(rule({ type: "field_changed", fields: ["stage", "amount"] }), app, "zh", tZh)).toBe("商机 的 阶段、金额 改变时");
    expect(triggerText(rule({ type: "field_changed", fields: ["stage"] }), app, "en", tEn)).toBe("When Stage of Opportunity changes");
  });
  it("says what happens to records", () => {
    expect(triggerText(rule({ type: "record_created" }), app, "zh", tZh)).toBe("商机 新增记录时");
    expect(triggerText(rule({ type: "record_deleted" }), app, "en", tEn)).toBe("When a record is deleted in Opportunity");
  });
  it("names flows, steps and outcomes by their names", () => {
    expect(triggerText(rule({ type: "flow_finished", flow: "opp_approval", outcome: "approved" }), app, "zh", tZh)).toBe("商机 的「商机审批」审批通过时");
    expect(triggerText(rule({ type: "flow_node_entered", flow: "opp_approval", node: "boss" }), app, "zh", tZh)).toBe("商机 的「商机审批」进入「总经理审批」时");
    expect(triggerText(rule({ type: "flow_started" }), app, "zh", tZh)).toBe("商机 发起「任一流程」时");
  });
  it("reads schedules and date offsets", () => {
    expect(triggerText(rule({ type: "schedule", cron: "30 8 * * 1" }), app, "zh", tZh)).toBe("每周一 08:30，对 商机 中符合条件的每条记录");
    expect(triggerText(rule({ type: "date_reached", field: "close", offset_days: -3 }), app, "zh", tZh)).toBe("商机 的 预计成交 前 3 天 09:00");
    expect(triggerText(rule({ type: "date_reached", field: "close", offset_days: 2, at: "18:00" }), app, "en", tEn)).toBe("2 days after Expected close of a record of Opportunity, at 18:00");
    expect(triggerText(rule({ type: "button", label: { zh: "推送", en: "Push" } }), app, "zh", tZh)).toBe("在 商机 记录页点击「推送」时");
  });
});

describe("schedules", () => {
  it("writes the presets as cron and reads them back", () => {
    expect(cronOf({ every: "day", weekday: 1, day: 1, time: "09:00" })).toBe("0 9 * * *");
    expect(cronOf({ every: "week", weekday: 5, day: 1, time: "17:45" })).toBe("45 17 * * 5");
    expect(cronOf({ every: "month", weekday: 1, day: 15, time: "08:05" })).toBe("5 8 15 * *");
    expect(scheduleOf("45 17 * * 5")).toEqual({ every: "week", weekday: 5, day: 1, time: "17:45" });
    expect(scheduleOf("5 8 15 * *")).toEqual({ every: "month", weekday: 1, day: 15, time: "08:05" });
    expect(scheduleOf("*/5 * * * *")).toBeNull();
    expect(scheduleOf("0 9 1 1 *")).toBeNull();
    expect(scheduleText("0 9 * * *", tZh)).toBe("每天 09:00");
    expect(scheduleText("5 8 15 * *", tZh)).toBe("每月 15 日 08:05");
    expect(scheduleText("*/5 * * * *", tEn)).toBe("On schedule */5 * * * *");
  });
});

describe("field mapping", () => {
  const rows: MappingRow[] = [
    { field: "name", kind: "formula", formula: 'title & " 项目"' },
    { field: "customer", kind: "copy", copy: "customer" },
    { field: "amount", kind: "value", value: "100.50" },
    { field: "total", kind: "aggregate", aggregate: { form: "contract", agg: "sum", field: "amount", match: { customer: "customer" }, filter: 'status = "signed"' } },
  ];
  it("stores the four value kinds as the contract spells them", () => {
    expect(valuesOf(rows)).toEqual({
      name: 'title & " 项目"',
      customer: { copy: "customer" },
      amount: { value: "100.50" },
      total: { aggregate: { form: "contract", agg: "sum", field: "amount", match: { customer: "customer" }, filter: 'status = "signed"' } },
    });
  });
  it("reads them back into the same rows", () => {
    expect(rowsOf(valuesOf(rows))).toEqual(rows);
  });
  it("keeps numbers, booleans and null bare and literal strings wrapped", () => {
    expect(specOf({ field: "a", kind: "value", value: 3 })).toBe(3);
    expect(specOf({ field: "a", kind: "value", value: false })).toBe(false);
    expect(specOf({ field: "a", kind: "value", value: null })).toBeNull();
    expect(specOf({ field: "a", kind: "value", value: { _id: 4, title: "X" } })).toEqual({ value: { _id: 4, title: "X" } });
    expect(rowOf("a", 3)).toEqual({ field: "a", kind: "value", value: 3 });
    expect(rowOf("a", "amount * 2")).toEqual({ field: "a", kind: "formula", formula: "amount * 2" });
  });
  it("leaves an aggregate's unused parts out (no field for count, no blank filter)", () => {
    expect(specOf({ field: "n", kind: "aggregate", aggregate: { form: "contract", agg: "count", field: "amount", match: {}, filter: " " } })).toEqual({ aggregate: { form: "contract", agg: "count" } });
  });
  it("offers copies only from fields of a fitting type", () => {
    const opportunity = app.forms[0].fields;
    const project = app.forms[1].fields;
    const customer = project.find((f) => f.key === "customer")!;
    expect(copySources(customer, opportunity).map((f) => f.key)).toEqual(["customer"]);
    const amount = project.find((f) => f.key === "amount")!;
    expect(copySources(amount, opportunity).map((f) => f.key)).toContain("amount");
    expect(copySources(amount, opportunity).map((f) => f.key)).not.toContain("title");
    expect(writableFields(app.forms[1]).map((f) => f.key)).toEqual(["name", "customer", "amount"]);
    expect(writableFields(app.forms[0]).map((f) => f.key)).not.toContain("weighted");
  });
});

describe("server issues at their controls", () => {
  it("maps rules[i] paths to the designer's controls", () => {
    expect(issueControl("rules[2].when", 2)).toBe("when");
    expect(issueControl("rules[2].name.zh", 2)).toBe("name");
    expect(issueControl("rules[2].on.fields[1]", 2)).toBe("on");
    expect(issueControl("rules[2].mode", 2)).toBe("mode");
    expect(issueControl("rules[2].form", 2)).toBe("form");
    expect(issueControl("rules[2].actions[0]", 2)).toBe("actions.0");
    expect(issueControl("rules[2].actions[1].values.amount", 2)).toBe("actions.1.values.amount");
    expect(issueControl("rules[2].actions[1].values.total.aggregate.field", 2)).toBe("actions.1.values.total");
    expect(issueControl("rules[2].actions[1].target.relation", 2)).toBe("actions.1.target");
    expect(issueControl("rules[2].actions[0].to[1].user", 2)).toBe("actions.0.to");
    expect(issueControl("rules[2].actions", 2)).toBe("actions");
    expect(issueControl("rules[2]", 2)).toBe("rule");
    expect(issueControl("rules[0].when", 2)).toBeNull();
    expect(issueControl("forms[0].fields[1]", 2)).toBe("rule");
  });
  it("places a test run's issues about the drafted rule where publishing would", () => {
    expect(fromTestPath("rule.when", 3)).toBe("rules[3].when");
    expect(fromTestPath("rule.actions[0].values.amount", 0)).toBe("rules[0].actions[0].values.amount");
    expect(fromTestPath("rule", 1)).toBe("rules[1]");
    expect(fromTestPath("record_id", 1)).toBe("record_id");
    expect(issueControl(fromTestPath("rule.on.fields[0]", 2), 2)).toBe("on");
  });
  it("groups messages and finds them under an action", () => {
    const map = issuesByControl(
      [
        { path: "rules[1].when", code: "syntax", message: "公式有误" },
        { path: "rules[1].actions[0].values.amount", code: "type", message: "类型不符" },
        { path: "rules[1].actions[0].form", code: "unknown", message: "没有表单" },
        { path: "rules[0].when", code: "syntax", message: "别的规则" },
      ],
      1,
    );
    expect(messagesAt(map, "when")).toEqual(["公式有误"]);
    expect(messagesAt(map, "actions.0")).toEqual([]);
    expect(messagesAt(map, "actions.0", true).sort()).toEqual(["没有表单", "类型不符"].sort());
    expect(messagesAt(map, "other")).toEqual(["别的规则"]);
  });
});

describe("what an action did", () => {
  it("names the form and the records written, else shows the outcome as it came", () => {
    expect(outcomeText({ form: "project", created: [2] }, app, "zh", tZh)).toBe("新增 项目 #2");
    expect(outcomeText({ form: "customer", updated: [1, 3] }, app, "zh", tZh)).toBe("修改 客户 #1、#3");
    expect(outcomeText({ form: "project", deleted: [] }, app, "en", tEn)).toBe("Project: no matching records");
    expect(outcomeText({ owner: "rep_a1" }, app, "zh", tZh)).toBe('{"owner":"rep_a1"}');
    expect(outcomeText("already_running", app, "zh", tZh)).toBe("already_running");
    expect(outcomeText(null, app, "zh", tZh)).toBe("");
  });
});

describe("rules", () => {
  it("allows sync only when every action writes records", () => {
    expect(canRunSync([{ type: "create_record" }, { type: "assign_owner" }, { type: "start_flow" }])).toBe(true);
    expect(canRunSync([{ type: "create_record" }, { type: "notify" }])).toBe(false);
    expect(canRunSync([])).toBe(true);
  });
  it("offers OLD() only to update triggers", () => {
    expect(offersOld({ type: "field_changed" })).toBe(true);
    expect(offersOld({ type: "record_updated" })).toBe(true);
    expect(offersOld({ type: "record_created" })).toBe(false);
  });
  it("finds the form an action writes", () => {
    const r = rule({ type: "record_created" });
    expect(actionForm({ type: "create_record", form: "project" }, r, app)).toBe("project");
    expect(actionForm({ type: "update_records", target: "self" }, r, app)).toBe("opportunity");
    expect(actionForm({ type: "update_records", target: { relation: "customer" } }, r, app)).toBe("customer");
    expect(actionForm({ type: "delete_records", target: { form: "project", match: {} } }, r, app)).toBe("project");
  });
  it("makes free keys and drops blank settings when published", () => {
    const first = newRule([], "opportunity");
    expect(first.key).toBe("opportunity_rule_1");
    expect(freshRuleKey([first], "opportunity")).toBe("opportunity_rule_2");
    const cleaned = cleanRule({ ...first, name: { zh: "赢单建项目", en: "" }, when: "  " });
    expect(cleaned.when).toBeUndefined();
    expect(cleaned.name).toEqual({ zh: "赢单建项目", en: "赢单建项目" });
    expect(canonical({ ...first, when: "" })).toBe(canonical(first));
    expect(canonical({ ...first, mode: "sync" })).not.toBe(canonical(first));
  });
});

describe("sameRelation", () => {
  it("keeps an update's values when only include_old changes", () => {
    expect(sameRelation({ relation: "customer" }, { relation: "customer", include_old: true })).toBe(true);
    expect(sameRelation({ relation: "customer" }, { relation: "opportunity" })).toBe(false);
    expect(sameRelation("self", { relation: "customer" })).toBe(false);
    expect(sameRelation(undefined, { form: "project" })).toBe(false);
  });
});
