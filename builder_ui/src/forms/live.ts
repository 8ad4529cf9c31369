/**
 * Live formulas and show/hide rules on the fill page: the server compiles them to JavaScript
 * (`GET …/forms/{form}/live`, from engine.expr.to_js) and the browser runs them with the same
 * runtime the server's JS backend is tested against (../formula/runtime.js), so what the user
 * sees while typing is what the server stores.
 */
import type { LiveScripts } from "../api/types";
import { compile, encode, makeContext, type Compiled } from "../formula/runtime.js";

export interface LiveResult {
  /** Formula field key → value in the API's JSON form. */
  computed: Record<string, unknown>;
  /** Field key → shown? (only fields with a compiled `visible_when`). */
  visible: Record<string, boolean>;
}

export interface LiveEngine {
  evaluate(values: Record<string, unknown>): LiveResult;
}

interface Rule {
  key: string;
  type: string;
  fn: Compiled | null;
}

function safeCompile(js: string): Compiled | null {
  try {
    return compile(js);
  } catch {
    return null;
  }
}

export function makeLive(scripts: LiveScripts, now?: number | string): LiveEngine {
  const formulas: Rule[] = scripts.formulas.map((f) => ({ key: f.key, type: f.type, fn: safeCompile(f.js) }));
  const rules: Rule[] = scripts.visible_when.map((r) => ({ key: r.key, type: r.type, fn: safeCompile(r.js) }));
  return {
    evaluate(values) {
      const ctx = makeContext({ now: now ?? null, tz: scripts.tz });
      const record: Record<string, unknown> = { ...values };
      const computed: Record<string, unknown> = {};
      // The server sends formulas in dependency order, so one pass sees every input.
      for (const formula of formulas) {
        let value: unknown = null;
        try {
          value = formula.fn ? encode(formula.fn(record, ctx), formula.type) : null;
        } catch {
          value = null;
        }
        record[formula.key] = value;
        computed[formula.key] = value;
      }
      const visible: Record<string, boolean> = {};
      for (const rule of rules) {
        try {
          visible[rule.key] = rule.fn ? rule.fn(record, ctx) === true : true;
        } catch {
          visible[rule.key] = true;
        }
      }
      return { computed, visible };
    },
  };
}
