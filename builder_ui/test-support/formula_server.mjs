/**
 * Evaluation server for the Python test harness (tests/expr/js_harness.py).
 *
 * Reads one JSON request per line on stdin — {src, record, now, tz, kind, user, departments} —
 * and writes one
 * JSON line per request: {value} (the result encoded as engine.expr.runtime.encode does) or
 * {error}. Compiled sources are cached, so repeated formulas cost one `new Function` each.
 */
import { createInterface } from "node:readline";
import { compile, encode, makeContext } from "../src/formula/runtime.js";


const cache = new Map();

function evaluate({ src, record, now, tz, kind, user, departments }) {
  let fn = cache.get(src);
  if (!fn) {
    fn = compile(src);
    cache.set(src, fn);
  }
  return encode(fn(record ?? {}, makeContext({ now, tz, user, departments })), kind);
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let reply;
  try {
    reply = { value: evaluate(JSON.parse(line)) };
  } catch (error) {
    reply = { error: String(error && error.stack ? error.stack : error) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
}
