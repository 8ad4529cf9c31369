/** A new record's formula defaults on the fill page (issue 16): `TODAY()` shows today before the
 * record is sent. The server compiles them with the live scripts (`defaults`, engine/forms/live.py)
 * and applies every default again on save; here only values that read as plain JSON are filled
 * (a text, number, date, time or true/false — a member or department default is left to the
 * server, whose answer names it). */
import type { LiveScripts } from "../api/types";
import { compile, encode, makeContext } from "../formula/runtime.js";

const SHOWN_KINDS = new Set(["text", "number", "date", "datetime", "time", "boolean"]);

/** Field key → default value in the API's JSON form, evaluated over `values` at `now`. */
export function formulaDefaults(scripts: LiveScripts | undefined, values: Record<string, unknown> = {}, now?: number | string): Record<string, unknown> {
  const found: Record<string, unknown> = {};
  if (!scripts?.defaults?.length) return found;
  const ctx = makeContext({ now: now ?? null, tz: scripts.tz, user: scripts.user ?? null, departments: scripts.departments ?? [] });
  for (const rule of scripts.defaults) {
    if (!SHOWN_KINDS.has(rule.type)) continue;
    try {
      const value = encode(compile(rule.js)({ ...values }, ctx), rule.type);
      if (value !== null && value !== undefined) found[rule.key] = value;
    } catch {
      // the server computes it on save
    }
  }
  return found;
}
