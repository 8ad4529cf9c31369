/**
 * Automation rules inside the app definition, for the builder's 自动化规则 pages (pure helpers,
 * no React): the rule JSON of the contract (DESIGN §9, issue 14) as types, a rule's trigger in
 * words ("商机 的 阶段 改变时"), which actions may run in a sync rule, the field mapping of an
 * action as editable rows and back (formula / copy / fixed value / aggregate), the schedule
 * presets as cron and back, the fields a copy may take, and where a server issue about a rule
 * belongs in the designer (`rules[i].…` → a control).
 */
import type { AppDef, FieldDef, FormDef, Issue, Label } from "../api/types";
import { traitsOf } from "../forms/fieldTypes";
import { fieldLabel, labelText } from "../forms/labels";
import type { FlowDef } from "../flows/tree";

/** A trigger (`on`): its type and the settings of that type. */
export interface RuleTrigger {
  type: string;
  fields?: string[];
  flow?: string;
  node?: string;
  action?: string;
  outcome?: string;
  cron?: string;
  filter?: string;
  field?: string;
  offset_days?: number;
  at?: string;
  label?: { zh?: string; en?: string };
  [key: string]: unknown;
}

/** An action's target for update/delete: the triggering record, a relation's records, or a form's. */
export type RuleTarget = "self" | { relation: string; include_old?: boolean } | { form: string; match?: Record<string, unknown>; filter?: string };

/** One action (`actions[i]`): its type and settings. */
export interface RuleActionDef {
  type: string;
  form?: string;
  values?: Record<string, unknown>;
  match?: Record<string, unknown>;
  target?: RuleTarget;
  [key: string]: unknown;
}

/** A rule of the app definition's `rules`. */
export interface RuleDef {
  key: string;
  name: Label;
  form?: string;
  description?: Label;
  on: RuleTrigger;
  when?: string;
  mode?: "sync" | "async";
  enabled?: boolean;
  actions: RuleActionDef[];
  [key: string]: unknown;
}

type RuleApp = AppDef & { rules?: RuleDef[]; flows?: FlowDef[]; roles?: { key: string; name?: Label }[] };

export const rulesOf = (app: AppDef): RuleDef[] => (app as RuleApp).rules ?? [];
export const flowsFor = (app: AppDef, form: string | undefined): FlowDef[] => ((app as RuleApp).flows ?? []).filter((f) => !form || f.form === form);

/** The trigger types of the contract, in the order the designer offers them. */
export const TRIGGER_TYPES = [
  "record_created",
  "record_updated",
  "field_changed",
  "record_deleted",
  "flow_started",
  "flow_node_entered",
  "flow_task_done",
  "flow_finished",
  "schedule",
  "date_reached",
  "button",
] as const;
export const FLOW_TRIGGERS = new Set(["flow_started", "flow_node_entered", "flow_task_done", "flow_finished"]);
export const FLOW_OUTCOMES = ["approved", "rejected", "withdrawn", "cancelled"] as const;
export const TASK_ACTIONS = ["approve", "reject", "handle"] as const;

/** The action types of the contract, and those that write records (the only ones a sync rule may have). */
export const ACTION_TYPES = ["create_record", "update_records", "upsert_record", "delete_records", "assign_owner", "notify", "start_flow"] as const;
export const WRITING_ACTIONS = new Set<string>(["create_record", "update_records", "upsert_record", "delete_records", "assign_owner", "start_flow"]);

/** Whether every action of `actions` writes records, so the rule may be `sync`. */
export const canRunSync = (actions: RuleActionDef[]): boolean => actions.every((a) => WRITING_ACTIONS.has(a.type));

/** Whether a condition of this trigger sees a value before the change (`OLD(field)`). */
export const offersOld = (on: RuleTrigger): boolean => on.type === "record_updated" || on.type === "field_changed";

export type Translate = (key: string, options?: Record<string, unknown>) => string;

const joiner = (lang: string) => (lang === "en" ? ", " : "、");

/** A rule's trigger in words, e.g. 商机 的 阶段 改变时 / When Stage of Opportunity changes. */
export function triggerText(rule: Pick<RuleDef, "form" | "on">, app: AppDef, lang: string, t: Translate): string {
  const form = app.forms.find((f) => f.key === rule.form);
  const formName = labelText(form?.name, lang, rule.form ?? "");
  const field = (key: string) => {
    const found = form?.fields.find((f) => f.key === key);
    return found ? fieldLabel(found, lang) : key;
  };
  const on = rule.on;
  const flow = on.flow ? ((app as RuleApp).flows ?? []).find((f) => f.key === on.flow) : undefined;
  const flowName = on.flow ? labelText(flow?.name, lang, on.flow) : t("rules.anyFlow");
  const node = on.node ? labelText(flow?.nodes.find((n) => n.id === on.node)?.name, lang, on.node) : "";
  switch (on.type) {
    case "field_changed":
      return t("rules.words.field_changed", { form: formName, fields: (on.fields ?? []).map(field).join(joiner(lang)) || "…" });
    case "flow_node_entered":
    case "flow_task_done":
      return t(`rules.words.${on.type}${node ? "" : "_any"}`, {
        form: formName,
        flow: flowName,
        node,
        action: on.action ? t(`rules.taskActions.${on.action}`) : "",
      });
    case "flow_started":
      return t("rules.words.flow_started", { form: formName, flow: flowName });
    case "flow_finished":
      return t(on.outcome ? "rules.words.flow_finished_outcome" : "rules.words.flow_finished", {
        form: formName,
        flow: flowName,
        outcome: on.outcome ? t(`rules.outcomes.${on.outcome}`) : "",
      });
    case "schedule":
      return t("rules.words.schedule", { form: formName, when: scheduleText(on.cron ?? "", t) });
    case "date_reached": {
      const days = Number(on.offset_days ?? 0);
      const offset = days < 0 ? t("rules.daysBefore", { count: -days }) : days > 0 ? t("rules.daysAfter", { count: days }) : t("rules.sameDay");
      return t("rules.words.date_reached", { form: formName, field: on.field ? field(on.field) : "…", offset, at: on.at || "09:00" });
    }
    case "button":
      return t("rules.words.button", { form: formName, label: labelText(on.label, lang, "…") });
    case "record_created":
    case "record_updated":
    case "record_deleted":
      return t(`rules.words.${on.type}`, { form: formName });
    default:
      return t("rules.words.other", { form: formName, type: on.type });
  }
}

// ---------------------------------------------------------------------------------------------
// Schedules: the designer's presets (每天/每周/每月 + a time) as cron, and back.

export interface Schedule {
  every: "day" | "week" | "month";
  /** 0 = Sunday … 6 = Saturday (cron's day of week), for `week`. */
  weekday: number;
  /** 1–31, for `month`. */
  day: number;
  /** HH:MM */
  time: string;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** The cron expression of a preset (`minute hour day-of-month month day-of-week`). */
export function cronOf(s: Schedule): string {
  const [h, m] = (/^\d{1,2}:\d{2}$/.test(s.time) ? s.time : "09:00").split(":").map(Number);
  if (s.every === "week") return `${m} ${h} * * ${s.weekday}`;
  if (s.every === "month") return `${m} ${h} ${s.day} * *`;
  return `${m} ${h} * * *`;
}

/** The preset a cron expression was made from, or null for any other expression (shown as cron). */
export function scheduleOf(cron: string): Schedule | null {
  const parts = cron.trim().split(/\s+/);
  if (parts.length !== 5 || !parts.slice(0, 2).every((p) => /^\d{1,2}$/.test(p)) || parts[3] !== "*") return null;
  const [m, h, dom, , dow] = parts;
  if (Number(m) > 59 || Number(h) > 23) return null;
  const time = `${pad(Number(h))}:${pad(Number(m))}`;
  if (dom === "*" && dow === "*") return { every: "day", weekday: 1, day: 1, time };
  if (dom === "*" && /^[0-6]$/.test(dow)) return { every: "week", weekday: Number(dow), day: 1, time };
  if (dow === "*" && /^\d{1,2}$/.test(dom) && Number(dom) >= 1 && Number(dom) <= 31) return { every: "month", weekday: 1, day: Number(dom), time };
  return null;
}

/** A cron expression in words: 每天 09:00, 每周一 08:30, 每月 1 日 09:00, else the expression. */
export function scheduleText(cron: string, t: Translate): string {
  const s = scheduleOf(cron);
  if (!s) return cron ? t("rules.cronRaw", { cron }) : "…";
  if (s.every === "week") return t("rules.everyWeekAt", { weekday: t(`rules.weekdays.${s.weekday}`), time: s.time });
  if (s.every === "month") return t("rules.everyMonthAt", { day: s.day, time: s.time });
  return t("rules.everyDayAt", { time: s.time });
}

// ---------------------------------------------------------------------------------------------
// Field mapping: an action's `values` (and `match`) as rows of the four value kinds.

export type ValueKind = "formula" | "copy" | "value" | "aggregate";
export const AGGREGATES = ["sum", "count", "avg", "min", "max"] as const;

export interface AggregateSpec {
  form: string;
  agg: (typeof AGGREGATES)[number];
  field?: string;
  match?: Record<string, unknown>;
  filter?: string;
}

/** One row of a mapping: the target field and how its value is made. */
export type MappingRow =
  | { field: string; kind: "formula"; formula: string }
  | { field: string; kind: "copy"; copy: string }
  | { field: string; kind: "value"; value: unknown }
  | { field: string; kind: "aggregate"; aggregate: AggregateSpec };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The row of one stored value: a bare string is a formula, numbers/booleans/null literals,
 * `{"value": x}` a literal, `{"copy": f}` a copy, `{"aggregate": …}` an aggregate. */
export function rowOf(field: string, spec: unknown): MappingRow {
  if (typeof spec === "string") return { field, kind: "formula", formula: spec };
  if (isObject(spec)) {
    const keys = Object.keys(spec);
    if (keys.length === 1 && keys[0] === "copy" && typeof spec.copy === "string") return { field, kind: "copy", copy: spec.copy };
    if (keys.length === 1 && keys[0] === "value") return { field, kind: "value", value: spec.value };
    if (keys.length === 1 && keys[0] === "aggregate" && isObject(spec.aggregate)) return { field, kind: "aggregate", aggregate: spec.aggregate as unknown as AggregateSpec };
  }
  return { field, kind: "value", value: spec };
}

/** The stored value of one row (a literal string goes as `{"value": …}`, so it is not read as a formula). */
export function specOf(row: MappingRow): unknown {
  switch (row.kind) {
    case "formula":
      return row.formula;
    case "copy":
      return { copy: row.copy };
    case "aggregate": {
      const a = row.aggregate;
      const spec: Record<string, unknown> = { form: a.form, agg: a.agg };
      if (a.field && a.agg !== "count") spec.field = a.field;
      if (a.match && Object.keys(a.match).length) spec.match = a.match;
      if (a.filter && a.filter.trim()) spec.filter = a.filter;
      return { aggregate: spec };
    }
    case "value":
      return row.value === undefined || row.value === null || typeof row.value === "number" || typeof row.value === "boolean" ? (row.value ?? null) : { value: row.value };
  }
}

export const rowsOf = (values: Record<string, unknown> | undefined): MappingRow[] => Object.entries(values ?? {}).map(([k, v]) => rowOf(k, v));

/** The `values` object of rows, in row order (a row without a field is left out). */
export function valuesOf(rows: MappingRow[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const row of rows) if (row.field) out[row.field] = specOf(row);
  return out;
}

/** A fresh row of `kind` for `field` (its previous content dropped). */
export function emptyRow(field: string, kind: ValueKind, aggregateForm = ""): MappingRow {
  if (kind === "formula") return { field, kind, formula: "" };
  if (kind === "copy") return { field, kind, copy: "" };
  if (kind === "aggregate") return { field, kind, aggregate: { form: aggregateForm, agg: "sum" } };
  return { field, kind, value: null };
}

/** The fields of the rule's form a copy into `target` may take: the same type, a type the
 * target's data linkage accepts (`traits.linkage_from`), or a relation to the same form. */
export function copySources(target: FieldDef, source: FieldDef[]): FieldDef[] {
  const from = new Set(traitsOf(target.type)?.linkage_from ?? []);
  return source.filter((f) => {
    if (f.type === "section" || f.type === "subform") return false;
    if (target.type === "relation") return f.type === "relation" && f.target === target.target && (!f.many || !!target.many);
    return f.type === target.type || from.has(f.type);
  });
}

/** The fields an action may set on `form`: stored by the user (not computed, not layout). */
export function writableFields(form: FormDef | undefined): FieldDef[] {
  return (form?.fields ?? []).filter((f) => f.type !== "section" && !traitsOf(f.type)?.computed && traitsOf(f.type)?.source !== "system");
}

// ---------------------------------------------------------------------------------------------
// New rules and keys.

/** The designer's route segment of a rule not published yet (no rule key starts with "_"). */
export const NEW_RULE = "_new";

/** A free rule key: `rule_1`, `rule_2`, … (keys are `[a-z][a-z0-9_]{0,40}`). */
export function freshRuleKey(rules: RuleDef[], form?: string): string {
  const taken = new Set(rules.map((r) => r.key));
  const base = `${form ?? "rule"}_rule`.slice(0, 36).replace(/_+$/, "");
  for (let n = 1; ; n++) if (!taken.has(`${base}_${n}`)) return `${base}_${n}`;
}

/** A new rule on `form`: when a record is created, nothing yet to do, async. */
export function newRule(rules: RuleDef[], form: string | undefined): RuleDef {
  return { key: freshRuleKey(rules, form), name: { zh: "", en: "" }, form, on: { type: "record_created" }, mode: "async", actions: [] };
}

/** A fresh action of `type` (its settings empty, to be filled in the designer). */
export function newAction(type: string, form?: string): RuleActionDef {
  switch (type) {
    case "create_record":
      return { type, form: "", values: {} };
    case "update_records":
      return { type, target: "self", values: {} };
    case "upsert_record":
      return { type, form: "", match: {}, values: {} };
    case "delete_records":
      return { type, target: { relation: "" } };
    case "assign_owner":
      return { type, strategy: "round_robin", users: [], notify: true };
    case "notify":
      return { type, to: [{ owner: true }], title: "", body: "" };
    case "start_flow":
      return { type, flow: "" };
    default:
      return { type, ...(form ? { form } : {}) };
  }
}

/** The form whose records an action writes (for its field mapping): a create/upsert's form,
 * the rule's form for `self`, a relation's target form, or a target form. */
export function actionForm(action: RuleActionDef, rule: Pick<RuleDef, "form">, app: AppDef): string | undefined {
  if (action.type === "create_record" || action.type === "upsert_record") return action.form || undefined;
  const target = action.target;
  if (target === "self") return rule.form;
  if (isObject(target) && "relation" in target && typeof target.relation === "string") {
    const key = target.relation;
    return app.forms.find((f) => f.key === rule.form)?.fields.find((f) => f.key === key)?.target;
  }
  if (isObject(target) && "form" in target && typeof target.form === "string") return target.form || undefined;
  return undefined;
}

/** The target's kind for the designer's switch. */
/** Whether two targets name the same relation (switching `include_old` keeps the values). */
export const sameRelation = (a: RuleTarget | undefined, b: RuleTarget): boolean =>
  typeof a === "object" && typeof b === "object" && "relation" in a && "relation" in b && a.relation === b.relation;

export const targetKind = (target: RuleTarget | undefined): "self" | "relation" | "form" =>
  target === "self" || target === undefined ? "self" : "relation" in target ? "relation" : "form";

/** The rule as published: empty optional settings left out (no blank `when`, no empty name). */
export function cleanRule(rule: RuleDef): RuleDef {
  const next: RuleDef = { ...rule };
  if (!next.when || !next.when.trim()) delete next.when;
  if (!next.description || (isObject(next.description) && !next.description.zh && !next.description.en)) delete next.description;
  if (isObject(next.name)) {
    const name = next.name as { zh?: string | null; en?: string | null };
    next.name = { zh: name.zh ?? "", en: name.en || name.zh || "" };
  }
  return next;
}

/** A stable text of a rule, to tell whether the designer has unsaved changes. */
export const canonical = (rule: RuleDef): string => JSON.stringify(cleanRule(rule), Object.keys(flatKeys(rule)).sort());

function flatKeys(value: unknown, out: Record<string, true> = {}): Record<string, true> {
  if (Array.isArray(value)) value.forEach((v) => flatKeys(v, out));
  else if (isObject(value))
    for (const [k, v] of Object.entries(value)) {
      out[k] = true;
      flatKeys(v, out);
    }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Server issues → the designer's controls.

/**
 * The control an issue at `rules[index].…` shows at: `name`, `form`, `on` (the trigger panel),
 * `when`, `mode`, `actions.<j>` (an action's panel) or a finer one inside it —
 * `actions.<j>.form`, `actions.<j>.target`, `actions.<j>.match`, `actions.<j>.values.<field>`,
 * `actions.<j>.<setting>` —, `rule` for the rule as a whole, and null for another rule's issue.
 * Issues outside `rules` (the app as a whole) are the rule's own (`rule`).
 */
export function issueControl(path: string, index: number): string | null {
  const head = /^rules\[(\d+)\]/.exec(path);
  if (!head) return "rule";
  if (Number(head[1]) !== index) return null;
  const rest = path.slice(head[0].length);
  if (!rest || /^\.(key|enabled)\b/.test(rest)) return "rule";
  const top = /^\.(name|description|form|on|when|mode)\b/.exec(rest);
  if (top) return top[1] === "description" ? "name" : top[1];
  const action = /^\.actions\[(\d+)\](.*)$/.exec(rest);
  if (action) {
    const at = `actions.${action[1]}`;
    const inner = action[2];
    const value = /^\.values\.([A-Za-z0-9_]+)/.exec(inner);
    if (value) return `${at}.values.${value[1]}`;
    const setting = /^\.([A-Za-z_]+)/.exec(inner);
    if (setting) return `${at}.${setting[1]}`;
    return at;
  }
  if (/^\.actions\b/.test(rest)) return "actions";
  return "rule";
}

/** Issues grouped by control for the rule at `rules[index]`; other rules' issues under `other`. */
export function issuesByControl(issues: Issue[], index: number): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const issue of issues) {
    const at = issueControl(issue.path, index) ?? "other";
    map.set(at, [...(map.get(at) ?? []), issue.message]);
  }
  return map;
}

/** The messages of a control and, with `deep`, of every control inside it (`actions.0` holds
 * `actions.0.values.amount`). */
export function messagesAt(map: Map<string, string[]>, control: string, deep = false): string[] {
  if (!deep) return map.get(control) ?? [];
  return [...map].filter(([k]) => k === control || k.startsWith(`${control}.`)).flatMap(([, v]) => v);
}

/** A test run's issue about the unsaved rule (`rule.when`, `rule.actions[0].values.x`) at the
 * path publishing would give it (`rules[index].…`), so it shows at the same control. */
export function fromTestPath(path: string, index: number): string {
  return /^rule(?![a-z_])/.test(path) ? `rules[${index}]${path.slice(4)}` : path;
}

/** What an action did, in words: 新增 交接单 #2 / 修改 客户 #1、#3 / 删除 … for the record-writing
 * actions' outcomes (`{form, created|updated|deleted: [ids]}`); anything else as JSON. */
export function outcomeText(outcome: unknown, app: AppDef, lang: string, t: Translate): string {
  if (outcome === null || outcome === undefined) return "";
  if (typeof outcome === "string") return outcome;
  if (isObject(outcome) && typeof outcome.form === "string") {
    const form = labelText(app.forms.find((f) => f.key === outcome.form)?.name, lang, outcome.form);
    const parts = (["created", "updated", "deleted"] as const)
      .filter((k) => Array.isArray(outcome[k]))
      .map((k) => {
        const ids = (outcome[k] as unknown[]).map((id) => `#${String(id)}`);
        return ids.length ? t(`rules.did.${k}`, { form, ids: ids.join(joiner(lang)) }) : t("rules.did.none", { form });
      });
    if (parts.length) return parts.join(joiner(lang));
  }
  return JSON.stringify(outcome);
}
