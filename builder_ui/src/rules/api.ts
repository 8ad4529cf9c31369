/**
 * The rule pages' calls (issue 14's HTTP contract): publish the app's rules (`PUT
 * /apps/{app}/rules`, the whole list, based on the `_revision` read), and the runtime's
 * endpoints — each live rule's state, enable/disable at once, the run log with retry, a test
 * run of an unsaved rule against a record, and firing a button rule. Answers are read
 * leniently (`runOf`, `stateOf`), so a field the server adds or leaves out never breaks a page.
 */
import { apiPath, request, type ApiPath } from "../api/client";
import type { AppDef } from "../api/types";
import type { RuleDef } from "./definition";

const seg = encodeURIComponent;

/** A path of the rule runtime's endpoints. They are served once the rule runtime is merged;
 * until then `openapi.json` does not list them, so they are not checked by `apiPath`. */
const runtimePath = (path: string): ApiPath => path as unknown as ApiPath;

export const rulePaths = {
  state: (app: string) => `/apps/${seg(app)}/rules/state`,
  enabled: (app: string, rule: string) => `/apps/${seg(app)}/rules/${seg(rule)}/enabled`,
  runs: (app: string, rule: string) => `/apps/${seg(app)}/rules/${seg(rule)}/runs`,
  retry: (app: string, rule: string, run: number) => `/apps/${seg(app)}/rules/${seg(rule)}/runs/${run}/retry`,
  test: (app: string, rule: string) => `/apps/${seg(app)}/rules/${seg(rule)}/test`,
  fire: (app: string, rule: string) => `/apps/${seg(app)}/rules/${seg(rule)}/fire`,
};

export type RunState = "queued" | "running" | "succeeded" | "failed" | "skipped";

/** One action's outcome in a run (or a test run). */
export interface ActionOutcome {
  type: string;
  state: string;
  outcome: unknown;
  error: string | null;
  ms: number | null;
}

/** One run of a rule (`rule_runs`). */
export interface RuleRun {
  id: number;
  state: RunState | string;
  event: { kind: string; form: string | null; record_id: number | null; actor: number | null; at: string | null; data: Record<string, unknown> };
  record_id: number | null;
  condition: boolean | null;
  actions: ActionOutcome[];
  error: string | null;
  duration_ms: number | null;
  at: string | null;
  attempt: number | null;
}

export interface RunsPage {
  items: RuleRun[];
  total: number;
}

/** A live rule's switch and last run (`GET /apps/{app}/rules/state`). */
export interface RuleState {
  key: string;
  enabled: boolean;
  last_run: RuleRun | null;
}

/** What a test run answers: the condition's result and each action's outcome or error. */
export interface TestResult {
  condition: boolean | null;
  actions: ActionOutcome[];
  error: string | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : typeof v === "string" && v !== "" && !Number.isNaN(Number(v)) ? Number(v) : null);
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
/** An error as text: a string, an error object's `message`, or its issues' messages. */
export function errorText(v: unknown): string | null {
  if (v === null || v === undefined || v === "") return null;
  if (typeof v === "string") return v;
  if (isObject(v)) {
    if (Array.isArray(v.issues) && v.issues.length) return v.issues.map((i) => (isObject(i) ? String(i.message ?? "") : String(i))).join("；");
    if (typeof v.message === "string") return v.message;
  }
  return JSON.stringify(v);
}

export function outcomeOf(raw: unknown): ActionOutcome {
  const a = isObject(raw) ? raw : {};
  const error = errorText(a.error);
  return {
    type: str(a.type) ?? "",
    state: str(a.state) ?? (error ? "failed" : "succeeded"),
    outcome: a.outcome ?? a.result ?? null,
    error,
    ms: num(a.ms ?? a.duration_ms),
  };
}

/** A run from the server's JSON (field names of `rule_runs`, tolerant of absent ones). */
export function runOf(raw: unknown): RuleRun {
  const r = isObject(raw) ? raw : {};
  const event = isObject(r.event) ? r.event : {};
  const condition = r.condition;
  return {
    id: num(r.id) ?? 0,
    state: str(r.state) ?? "queued",
    event: {
      kind: str(event.kind) ?? "",
      form: str(event.form),
      record_id: num(event.record_id),
      actor: num(event.actor),
      at: str(event.at),
      data: isObject(event.data) ? event.data : {},
    },
    record_id: num(r.record_id ?? r.record) ?? num(event.record_id),
    condition: typeof condition === "boolean" ? condition : null,
    actions: Array.isArray(r.actions) ? r.actions.map(outcomeOf) : [],
    error: errorText(r.error),
    duration_ms: num(r.duration_ms),
    at: str(r.started_at) ?? str(r.created_at) ?? str(r.finished_at) ?? str(event.at),
    attempt: num(r.attempt),
  };
}

/** The states of the rules (an array, or `{items}` / `{rules}`), by rule key. */
export function stateOf(raw: unknown): Map<string, RuleState> {
  const list = Array.isArray(raw) ? raw : isObject(raw) ? (Array.isArray(raw.items) ? raw.items : Array.isArray(raw.rules) ? raw.rules : []) : [];
  const map = new Map<string, RuleState>();
  for (const item of list) {
    if (!isObject(item)) continue;
    const key = str(item.key) ?? str(item.rule);
    if (!key) continue;
    map.set(key, { key, enabled: item.enabled !== false, last_run: isObject(item.last_run) ? runOf(item.last_run) : null });
  }
  return map;
}

export function testResultOf(raw: unknown): TestResult {
  const r = isObject(raw) ? raw : {};
  return {
    condition: typeof r.condition === "boolean" ? r.condition : null,
    actions: Array.isArray(r.actions) ? r.actions.map(outcomeOf) : [],
    error: errorText(r.error),
  };
}

/** The query of a run log page (blank state: all). */
export function runsQuery(state: string | undefined, page: number, size: number): Record<string, string | number | undefined> {
  return { state: state || undefined, limit: size, offset: Math.max(0, (page - 1) * size) };
}

/** The body of a test run: the record, and the rule as drafted (unsaved) when given. */
export function testBody(recordId: number, rule?: RuleDef): { record_id: number; rule?: RuleDef } {
  return rule ? { record_id: recordId, rule } : { record_id: recordId };
}

export interface RulesPublished {
  rules: RuleDef[];
  _revision: number;
}

/** Publish `rules` as the app's rules; the answer merged into `app` (what the cache keeps). */
export async function publishRules(app: AppDef, rules: RuleDef[]): Promise<AppDef> {
  const saved = await request<RulesPublished>("PUT", apiPath(`/apps/${seg(app.key)}/rules`), { _revision: app._revision, rules });
  return { ...app, rules: saved.rules, _revision: saved._revision } as AppDef;
}

export const rulesApi = {
  state: async (app: string) => stateOf(await request<unknown>("GET", runtimePath(rulePaths.state(app)))),
  setEnabled: (app: string, rule: string, enabled: boolean) => request<unknown>("POST", runtimePath(rulePaths.enabled(app, rule)), { enabled }),
  runs: async (app: string, rule: string, state: string | undefined, page: number, size: number): Promise<RunsPage> => {
    const raw = await request<unknown>("GET", runtimePath(rulePaths.runs(app, rule)), undefined, runsQuery(state, page, size));
    const body = isObject(raw) ? raw : {};
    const items = Array.isArray(body.items) ? body.items.map(runOf) : [];
    return { items, total: num(body.total) ?? items.length };
  },
  retry: async (app: string, rule: string, run: number) => runOf(await request<unknown>("POST", runtimePath(rulePaths.retry(app, rule, run)))),
  test: async (app: string, rule: string, recordId: number, draft?: RuleDef) =>
    testResultOf(await request<unknown>("POST", runtimePath(rulePaths.test(app, rule)), testBody(recordId, draft))),
  fire: (app: string, rule: string, recordId: number) => request<unknown>("POST", runtimePath(rulePaths.fire(app, rule)), { record_id: recordId }),
};
