/**
 * Live formulas and show/hide/read-only rules on the fill page: the server compiles them to
 * JavaScript (`GET …/forms/{form}/live`, from engine.expr.to_js) and the browser runs them with
 * the same runtime the server's JS backend is tested against (../formula/runtime.js), so what
 * the user sees while typing is what the server stores.
 */
import type { LiveScripts, RuleSet } from "../api/types";
import { compile, encode, makeContext, type Compiled } from "../formula/runtime.js";

type Values = Record<string, unknown>;

export interface RuleResult {
  /** Formula field key → value in the API's JSON form. */
  computed: Values;
  /** Field key → shown? (only fields with a compiled `visible_when`). */
  visible: Record<string, boolean>;
  /** Field key → read-only? (only fields with a compiled `readonly_when`). */
  readonly: Record<string, boolean>;
}

export interface LiveResult extends RuleResult {
  /** Subform key → one result per row, in row order. */
  rows: Record<string, RuleResult[]>;
}

export interface LiveEngine {
  evaluate(values: Values): LiveResult;
}

interface Rule {
  key: string;
  type: string;
  fn: Compiled | null;
}

interface CompiledSet {
  formulas: Rule[];
  visible: Rule[];
  readonly: Rule[];
}

function safeCompile(js: string): Compiled | null {
  try {
    return compile(js);
  } catch {
    return null;
  }
}

function compileSet(set: RuleSet): CompiledSet {
  const rules = (list: RuleSet["formulas"] | undefined) => (list ?? []).map((r) => ({ key: r.key, type: r.type, fn: safeCompile(r.js) }));
  return { formulas: rules(set.formulas), visible: rules(set.visible_when), readonly: rules(set.readonly_when) };
}

function flags(rules: Rule[], record: Values, ctx: unknown, fallback: boolean): Record<string, boolean> {
  const result: Record<string, boolean> = {};
  for (const rule of rules) {
    try {
      result[rule.key] = rule.fn ? rule.fn(record, ctx) === true : fallback;
    } catch {
      result[rule.key] = fallback;
    }
  }
  return result;
}

function run(set: CompiledSet, record: Values, ctx: unknown): RuleResult {
  const computed: Values = {};
  // The server sends formulas in dependency order, so one pass sees every input.
  for (const formula of set.formulas) {
    let value: unknown = null;
    try {
      value = formula.fn ? encode(formula.fn(record, ctx), formula.type) : null;
    } catch {
      value = null;
    }
    record[formula.key] = value;
    computed[formula.key] = value;
  }
  return { computed, visible: flags(set.visible, record, ctx, true), readonly: flags(set.readonly, record, ctx, false) };
}

export function makeLive(scripts: LiveScripts, now?: number | string): LiveEngine {
  const form = compileSet(scripts);
  const subforms = Object.entries(scripts.subforms ?? {}).map(([key, set]) => [key, compileSet(set)] as const);
  return {
    evaluate(values) {
      const ctx = makeContext({
        now: now ?? null,
        tz: scripts.tz,
        user: scripts.user ?? null,
        departments: scripts.departments ?? [],
      });
      const record: Values = { ...values };
      const result = run(form, record, ctx);
      const rows: Record<string, RuleResult[]> = {};
      for (const [key, set] of subforms) {
        const list = Array.isArray(values[key]) ? (values[key] as Values[]) : [];
        rows[key] = list.map((row) => run(set, { ...record, ...row }, ctx));
      }
      return { ...result, rows };
    },
  };
}
