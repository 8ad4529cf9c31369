/**
 * The browser runtime of Jimu's expression language (DESIGN §6).
 *
 * One ES module owning everything that formulas compiled by `engine/expr/backends/js.py`
 * call at run time: decimal arithmetic, blank semantics, the operators, the whole function
 * library, record coercion, the evaluation context and the JSON encoding of results. The
 * Python backend (`engine/expr`) is the reference: every function here mirrors its Python
 * twin and must give exactly the same result for every formula and record.
 *
 * Calling convention: the compiler emits the source of `(record, ctx) => value`; the code
 * reaches this module only through `ctx.rt` (operators `rt.add`, functions `rt.F.SUM`, ...),
 * so the browser can do `new Function("return " + src)()` and call the result with
 * `makeContext(...)`.
 *
 * Values inside JS, by kind:
 * - number: a `Num` (decimal.js clone, 81 significant digits, half away from zero),
 *   normalised: at most 10 decimal places and |x| < 10^18, never -0;
 * - text: a non-empty string ("" is blank);
 * - boolean: `true` / `false`;
 * - date: `"YYYY-MM-DD"` (years 0001–9999);
 * - datetime: epoch milliseconds (a JS number, whole ms, UTC);
 * - time: `"HH:MM:SS"`;
 * - blank: `null` (never `undefined`); lists: arrays of the above.
 */

import Decimal from "decimal.js";
import * as runtime from "./runtime.js";

/** The Decimal class every number of the language uses (precision 81, ROUND_HALF_UP). */
export const Num = Decimal.clone({
  precision: 81, // numbers.PREC
  rounding: Decimal.ROUND_HALF_UP,
  modulo: Decimal.ROUND_DOWN,
  toExpNeg: -100,
  toExpPos: 100,
  maxE: 9e15,
  minE: -9e15,
});

/** Decimal places every number is rounded to. */
export const PLACES = 10;
/** Numbers with an absolute value at or above this are blank. */
export const LIMIT = new Num("1e18");
/** Texts longer than this many code points are blank. */
export const MAX_TEXT = 100_000;
/** A TEXT format longer than this many code points gives blank (`texts.MAX_FORMAT`). */
export const MAX_FORMAT = 100;
/** The default organisation time zone. */
export const DEFAULT_TZ = "Asia/Shanghai";
/** Exactly the characters Python's `str.isspace()` accepts (`texts.WHITESPACE`). */
export const WHITESPACE =
  "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005" +
  "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";

const ZERO = new Num(0);
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const ONE = new Num(1);
const HUNDRED = new Num(100);
const SCALE = new Num("1e10");
const WS_CLASS = Array.from(WHITESPACE, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")).join("");
const WS_LEADING = new RegExp(`^[${WS_CLASS}]+`);
const WS_TRAILING = new RegExp(`[${WS_CLASS}]+$`);
const SURROGATE = /[\uD800-\uDFFF]/;

// ---------------------------------------------------------------------------------------
// Numbers (engine/expr/numbers.py)
// ---------------------------------------------------------------------------------------

const constants = new Map();

/**
 * A number literal of the compiled code (memoised).
 * @param {string} text decimal text, already normalised by the compiler
 * @returns {Decimal}
 */
export function k(text) {
  let value = constants.get(text);
  if (value === undefined) {
    value = new Num(text);
    constants.set(text, value);
  }
  return value;
}

/**
 * Round to 10 places half away from zero; blank if out of range or not finite.
 * @param {Decimal} x
 * @returns {Decimal|null}
 */
export function norm(x) {
  if (!x.isFinite()) return null;
  if (x.decimalPlaces() > PLACES) x = x.toDecimalPlaces(PLACES, Num.ROUND_HALF_UP);
  if (x.abs().gte(LIMIT)) return null;
  return x.isZero() ? ZERO : x;
}

const or0 = (a) => (a === null ? ZERO : a);

/** a + b (blank counts as 0). */
export const add = (a, b) => norm(or0(a).plus(or0(b)));
/** a - b. */
export const sub = (a, b) => norm(or0(a).minus(or0(b)));
/** a * b. */
export const mul = (a, b) => norm(or0(a).times(or0(b)));
/** -a. */
export const neg = (a) => (a === null || a.isZero() ? ZERO : a.neg());
/** +a: the number, or 0 for blank. */
export const pos = (a) => or0(a);
/** a% = a / 100. */
export const percent = (a) => norm(or0(a).div(HUNDRED));

/**
 * a / b exact to 10 places (one integer division decides the rounding); blank on b = 0.
 * @param {Decimal|null} a
 * @param {Decimal|null} b
 * @returns {Decimal|null}
 */
export function div(a, b) {
  a = or0(a);
  b = or0(b);
  if (b.isZero()) return null;
  const scale = new Num(10).pow(Math.max(a.decimalPlaces(), b.decimalPlaces(), 0));
  const ai = a.times(scale);
  const bi = b.times(scale);
  const num = ai.abs().times(SCALE);
  const den = bi.abs();
  let q = num.divToInt(den);
  const r = num.minus(q.times(den));
  if (r.times(2).gte(den)) q = q.plus(1);
  if (ai.lt(0) !== bi.lt(0)) q = q.neg();
  return norm(q.div(SCALE));
}

/**
 * Round to `digits` places (negative: tens, hundreds...) with a decimal.js rounding mode.
 * @param {Decimal|null} value
 * @param {number} digits
 * @param {number} mode
 */
export function roundTo(value, digits, mode = Num.ROUND_HALF_UP) {
  const x = or0(value);
  digits = Math.max(-18, Math.min(PLACES, digits));
  if (digits >= 0) return norm(x.toDecimalPlaces(digits, mode));
  const step = new Num(10).pow(-digits);
  return norm(x.div(step).toDecimalPlaces(0, mode).times(step));
}

/** A count argument: truncated toward zero; blank is 0 (`maths.integer`). */
export const integer = (value) => (value === null ? 0 : value.trunc().toNumber());

/** Remainder with the sign of the divisor (Excel); blank on b = 0. */
export function mod(a, b) {
  a = or0(a);
  b = or0(b);
  if (b.isZero()) return null;
  let r = a.mod(b);
  if (!r.isZero() && r.lt(0) !== b.lt(0)) r = r.plus(b);
  return norm(r);
}

/** a ^ b; blank when undefined or out of range; huge results are refused before computing. */
export function power(a, b) {
  a = or0(a);
  b = or0(b);
  if (a.isZero()) {
    if (b.lt(0)) return null;
    return b.isZero() ? ONE : ZERO;
  }
  if (a.lt(0) && !b.isInteger()) return null;
  const magnitude = a.abs().log(10).times(b);
  if (magnitude.gte(18)) return null;
  if (magnitude.lt(-(PLACES + 2))) return ZERO;
  return norm(a.pow(b));
}

/** Square root to 10 places; blank for negative numbers. */
export function sqrt(a) {
  a = or0(a);
  if (a.lt(0)) return null;
  return norm(a.sqrt());
}

/**
 * Shortest exact decimal text without trailing zeros or exponent ("1.5", "-0.25", "100").
 * @param {Decimal} value
 */
export function numberText(value) {
  return value.isZero() ? "0" : value.toFixed();
}

/** The value of one Unicode decimal digit (category Nd), as Python's int() reads it. */
function digitValue(ch) {
  const cp = ch.codePointAt(0);
  if (cp >= 48 && cp <= 57) return cp - 48;
  let run = 0;
  while (run < 60 && /\p{Nd}/u.test(String.fromCodePoint(cp - run - 1))) run++;
  return run % 10;
}

/** Unicode decimal digits replaced by ASCII ones. */
function asciiDigits(text) {
  return /[^\x00-\x7f]/.test(text) ? text.replace(/\p{Nd}/gu, (d) => String(digitValue(d))) : text;
}

const DECIMAL_TEXT = /^([+-]?)(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?$/;
const SPECIAL_TEXT = /^[+-]?(?:inf|infinity|s?nan\d*)$/i;

/**
 * Python's `Decimal(text)` followed by `numbers.norm`: blank when not a number.
 * @param {string} text
 */
function decimalFromText(text) {
  const cleaned = asciiDigits(text.replace(/_/g, ""));
  if (SPECIAL_TEXT.test(cleaned)) return null;
  const match = DECIMAL_TEXT.exec(cleaned);
  if (!match) return null;
  if (match[5] !== undefined) {
    // Python rejects exponents beyond its context limits; tiny values round to 0 below.
    const places = BigInt((match[3] ?? match[4] ?? "").length);
    const exponent = BigInt(match[5]) - places;
    if (exponent < -1999999999999999997n || exponent > 999999999999999999n) return null;
  }
  return norm(new Num(cleaned));
}

/** Strip Python whitespace from both ends. */
export function strip(text) {
  return text.replace(WS_LEADING, "").replace(WS_TRAILING, "");
}

// ---------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------

/** Length in code points. */
export function cpLength(text) {
  if (!SURROGATE.test(text)) return text.length;
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** `text[start:end]` in code points (non-negative indices; end may be undefined). */
function cpSlice(text, start, end) {
  if (!SURROGATE.test(text)) return text.slice(start, end);
  return Array.from(text).slice(start, end).join("");
}

/** UTF-16 index of the code point at index `n` (or the length if past the end). */
function cpToUnit(text, n) {
  if (!SURROGATE.test(text)) return Math.min(n, text.length);
  let unit = 0;
  for (let i = 0; i < n && unit < text.length; i++) unit += text.codePointAt(unit) > 0xffff ? 2 : 1;
  return unit;
}

/** Code point index of the UTF-16 index `unit`. */
function unitToCp(text, unit) {
  return cpLength(text.slice(0, unit));
}

/**
 * Compare two strings by code point (JS `<` compares UTF-16 units, which misorders
 * characters beyond U+FFFF against U+E000–U+FFFF).
 * @returns {number} -1, 0 or 1
 */
export function compareText(a, b) {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (D800–DFFF) encode code points above FFFF: move them above E000–FFFF.
      if (x >= 0xd800) x += x <= 0xdfff ? 0x2000 : -0x800;
      if (y >= 0xd800) y += y <= 0xdfff ? 0x2000 : -0x800;
      return x < y ? -1 : 1;
    }
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/**
 * Blank for "" and for texts longer than MAX_TEXT code points (`texts.cap_text`).
 * @param {string} text
 */
export function capText(text) {
  if (!text) return null;
  if (text.length > MAX_TEXT && cpLength(text) > MAX_TEXT) return null;
  return text;
}

const count = integer;

// Characters that Python 3.11 (Unicode 14) leaves alone in upper()/lower() but newer JS
// engines map (Unicode 15–17 additions such as Garay, and new pairs such as ƛ/ɤ): kept as
// they are, so UPPER/LOWER agree with the Python reference.
const NEWER_CASED_CLASS =
  "\\u{19b}\\u{264}\\u{1c89}-\\u{1c8a}\\u{a7cb}-\\u{a7cf}\\u{a7d2}-\\u{a7d5}\\u{a7da}-\\u{a7dc}" +
  "\\u{10d50}-\\u{10d65}\\u{10d70}-\\u{10d85}\\u{16ea0}-\\u{16eb8}\\u{16ebb}-\\u{16ed3}";
const NEWER_CASED = new RegExp(`[${NEWER_CASED_CLASS}]`, "u");
const OLDER_RUNS = new RegExp(`[^${NEWER_CASED_CLASS}]+`, "gu");

/** Python's `str.upper()`: full Unicode mapping (ß → SS) as of Python's Unicode version. */
export function upper(text) {
  return NEWER_CASED.test(text) ? text.replace(OLDER_RUNS, (run) => run.toUpperCase()) : text.toUpperCase();
}

/** Python's `str.lower()`: full mapping with final sigma, as of Python's Unicode version. */
export function lower(text) {
  return NEWER_CASED.test(text) ? text.replace(OLDER_RUNS, (run) => run.toLowerCase()) : text.toLowerCase();
}

// ---------------------------------------------------------------------------------------
// Dates and times
// ---------------------------------------------------------------------------------------

const MAX_ORDINAL = 3652059; // 9999-12-31
const EPOCH_ORDINAL = 719163; // 1970-01-01
const DAY_MS = 86_400_000;

const pad = (n, width = 2) => String(n).padStart(width, "0");
const isLeap = (y) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const daysInMonth = (y, m) => (m === 2 && isLeap(y) ? 29 : DAYS_IN_MONTH[m - 1]);

/** Python's `date.toordinal()` of a year, month, day (proleptic Gregorian; 0001-01-01 = 1). */
function ymdToOrdinal(y, m, d) {
  // Days from civil (H. Hinnant), shifted so that 1970-01-01 is EPOCH_ORDINAL.
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468 + EPOCH_ORDINAL;
}

/** [year, month, day] of an ordinal. */
function ordinalToYmd(ordinal) {
  const z = ordinal - EPOCH_ORDINAL + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

const dateText = (y, m, d) => `${pad(y, 4)}-${pad(m)}-${pad(d)}`;
const dateParts = (date) => [+date.slice(0, 4), +date.slice(5, 7), +date.slice(8, 10)];
const ordinal = (date) => ymdToOrdinal(...dateParts(date));

/** The date of an ordinal, or blank outside 0001-01-01..9999-12-31. */
function fromOrdinal(n) {
  if (!(n >= 1 && n <= MAX_ORDINAL)) return null;
  return dateText(...ordinalToYmd(n));
}

/** A valid date or blank (Python's `datetime.date(y, m, d)`). */
function makeDate(y, m, d) {
  if (!(y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m))) return null;
  return dateText(y, m, d);
}

/** Monday = 0 ... Sunday = 6 (Python's `date.weekday()`). */
const weekdayOf = (ord) => (((ord + 6) % 7) + 7) % 7;

/** Epoch milliseconds of a proleptic Gregorian UTC wall time (any year). */
function utcMs(y, m, d, hh = 0, mi = 0, ss = 0, ms = 0) {
  return (ymdToOrdinal(y, m, d) - EPOCH_ORDINAL) * DAY_MS + ((hh * 60 + mi) * 60 + ss) * 1000 + ms;
}

const zoneFormats = new Map();

function zoneFormat(tz) {
  let format = zoneFormats.get(tz);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      era: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    zoneFormats.set(tz, format);
  }
  return format;
}

/**
 * The wall-clock fields of an instant in a time zone (via Intl).
 * @param {number} ms epoch milliseconds
 * @param {string} tz IANA zone name
 * @returns {{year:number, month:number, day:number, hour:number, minute:number, second:number}}
 */
export function localParts(ms, tz) {
  const fields = {};
  for (const part of zoneFormat(tz).formatToParts(new Date(ms))) fields[part.type] = part.value;
  let year = Number(fields.year);
  if (fields.era === "BC" || fields.era === "B") year = 1 - year;
  return {
    year,
    month: Number(fields.month),
    day: Number(fields.day),
    hour: Number(fields.hour) % 24,
    minute: Number(fields.minute),
    second: Number(fields.second),
  };
}

/** The local date of a datetime in the organisation's zone. */
function localDate(ctx, ms) {
  const p = localParts(ms, ctx.tz);
  return makeDate(p.year, p.month, p.day);
}

/** The local time of a datetime in the organisation's zone. */
function localTime(ctx, ms) {
  const p = localParts(ms, ctx.tz);
  return `${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
}

const isAsciiDigits = (s) => /^[0-9]+$/.test(s);

/** `date.fromisoformat` core (`_parse_isoformat_date`): [y, m, d] or null. */
function parseIsoDateParts(text) {
  if (!isAsciiDigits(text.slice(0, 4))) return null;
  const year = +text.slice(0, 4);
  const hasSep = text[4] === "-";
  let pos = 4 + (hasSep ? 1 : 0);
  if (text[pos] === "W") {
    pos += 1;
    const weekText = text.slice(pos, pos + 2);
    if (weekText.length !== 2 || !isAsciiDigits(weekText)) return null;
    pos += 2;
    let day = 1;
    if (text.length > pos) {
      if ((text[pos] === "-") !== hasSep) return null;
      pos += hasSep ? 1 : 0;
      const dayText = text.slice(pos, pos + 1);
      if (!isAsciiDigits(dayText)) return null;
      day = +dayText;
    }
    return isoWeekToYmd(year, +weekText, day);
  }
  const monthText = text.slice(pos, pos + 2);
  if (monthText.length !== 2 || !isAsciiDigits(monthText)) return null;
  pos += 2;
  if ((text[pos] === "-") !== hasSep) return null;
  pos += hasSep ? 1 : 0;
  const dayText = text.slice(pos, pos + 2);
  if (dayText.length !== 2 || !isAsciiDigits(dayText)) return null;
  return [year, +monthText, +dayText];
}

function isoWeek1Monday(year) {
  const first = ymdToOrdinal(year, 1, 1);
  const firstWeekday = weekdayOf(first);
  return first - firstWeekday + (firstWeekday > 3 ? 7 : 0);
}

function isoWeekToYmd(year, week, day) {
  if (year < 1 || year > 9999) return null;
  if (!(week > 0 && week < 53)) {
    const firstWeekday = ymdToOrdinal(year, 1, 1) % 7;
    if (!(week === 53 && (firstWeekday === 4 || (firstWeekday === 3 && isLeap(year))))) return null;
  }
  if (!(day > 0 && day < 8)) return null;
  const ord = isoWeek1Monday(year) + (week - 1) * 7 + (day - 1);
  return ord >= 1 && ord <= MAX_ORDINAL ? ordinalToYmd(ord) : null;
}

/** [iso year, iso week, iso weekday] (Python's `date.isocalendar()`). */
function isoCalendar(ord) {
  let [year] = ordinalToYmd(ord);
  let monday = isoWeek1Monday(year);
  let week = Math.floor((ord - monday) / 7);
  if (week < 0) {
    year -= 1;
    monday = isoWeek1Monday(year);
    week = Math.floor((ord - monday) / 7);
  } else if (week >= 52 && ord >= isoWeek1Monday(year + 1)) {
    year += 1;
    week = 0;
  }
  return [year, week + 1, weekdayOf(ord) + 1];
}

const utf8Length = (s) => new TextEncoder().encode(s).length;

/** Python's `datetime.fromisoformat` separator rule. */
function isoSeparator(text) {
  const n = text.length;
  if (n === 7) return 7;
  if (text[4] === "-") {
    if (text[5] === "W") {
      if (n > 8 && text[8] === "-") {
        if (n === 9) return -1;
        if (n > 10 && /[0-9]/.test(text[10])) return 8;
        return 10;
      }
      return 8;
    }
    return 10;
  }
  if (text[4] === "W") {
    let idx = 7;
    while (idx < n && /[0-9]/.test(text[idx])) idx++;
    if (idx < 9) return idx;
    return idx % 2 === 0 ? 7 : 8;
  }
  return 8;
}

/** Python's `_parse_hh_mm_ss_ff`: [h, m, s, µs] or null. */
function parseHhMmSsFf(text) {
  const comps = [0, 0, 0, 0];
  let pos = 0;
  let hasSep = false;
  for (let comp = 0; comp < 3; comp++) {
    if (text.length - pos < 2) return null;
    const two = text.slice(pos, pos + 2);
    if (!isAsciiDigits(two)) return null;
    comps[comp] = +two;
    pos += 2;
    const next = text.slice(pos, pos + 1);
    if (comp === 0) hasSep = next === ":";
    if (!next || comp >= 2) break;
    if (hasSep && next !== ":") return null;
    pos += hasSep ? 1 : 0;
  }
  if (pos < text.length) {
    if (!".,".includes(text[pos])) return null;
    pos += 1;
    const remainder = text.length - pos;
    const take = Math.min(remainder, 6);
    const digits = text.slice(pos, pos + take);
    if (!isAsciiDigits(digits)) return null;
    comps[3] = +digits.padEnd(6, "0");
    if (remainder > take && !isAsciiDigits(text.slice(pos + take))) return null;
  }
  return comps;
}

/** Python's `_parse_isoformat_time`: [h, m, s, µs, offsetMs|null] or null. */
function parseIsoTime(text) {
  if (text.length < 2) return null;
  const tzPos = text.indexOf("-") + 1 || text.indexOf("+") + 1 || text.indexOf("Z") + 1;
  const comps = parseHhMmSsFf(tzPos > 0 ? text.slice(0, tzPos - 1) : text);
  if (!comps) return null;
  let offset = null;
  if (tzPos === text.length && text.endsWith("Z")) offset = 0;
  else if (tzPos > 0) {
    const tzText = text.slice(tzPos);
    if ([0, 1, 3].includes(tzText.length)) return null;
    const tzComps = parseHhMmSsFf(tzText);
    if (!tzComps) return null;
    const sign = text[tzPos - 1] === "-" ? -1 : 1;
    const us = ((tzComps[0] * 60 + tzComps[1]) * 60 + tzComps[2]) * 1e6 + tzComps[3];
    if (us >= 86_400e6) return null;
    offset = (sign * us) / 1000;
  }
  if (comps[0] > 23 || comps[1] > 59 || comps[2] > 59) return null;
  return [...comps, offset];
}

/**
 * A record value as a date: "YYYY-MM-DD..." (Python `date.fromisoformat(value[:10])`).
 * @returns {string|null}
 */
export function coerceDate(value) {
  if (typeof value !== "string") return null;
  const head = cpSlice(value, 0, 10);
  if (![7, 8, 10].includes(utf8Length(head))) return null;
  const parts = parseIsoDateParts(head);
  return parts ? makeDate(...parts) : null;
}

/**
 * A record value as a datetime (epoch ms, truncated to the millisecond); naive is UTC.
 * @returns {number|null}
 */
export function coerceDatetime(value) {
  if (typeof value !== "string") return null;
  const text = value.replaceAll("Z", "+00:00");
  if (text.length < 7) return null;
  const at = isoSeparator(text);
  if (at < 0) return null;
  const datePart = text.slice(0, at);
  if (![7, 8, 10].includes(datePart.length)) return null;
  const date = parseIsoDateParts(datePart);
  if (!date || !makeDate(...date)) return null;
  const timePart = text.slice(at + 1);
  let time = [0, 0, 0, 0, null];
  if (timePart) {
    time = parseIsoTime(timePart);
    if (!time) return null;
  }
  const [h, mi, s, us, offset] = time;
  const ms = utcMs(...date, h, mi, s, Math.floor(us / 1000)) - (offset ?? 0);
  const [year] = ordinalToYmd(Math.floor(ms / DAY_MS) + EPOCH_ORDINAL);
  return year >= 1 && year <= 9999 ? ms : null;
}

/**
 * A record value as a time "HH:MM:SS" (Python `time.fromisoformat`, seconds kept, zone dropped).
 * @returns {string|null}
 */
export function coerceTime(value) {
  if (typeof value !== "string") return null;
  const time = parseIsoTime(value.startsWith("T") ? value.slice(1) : value);
  return time ? `${pad(time[0])}:${pad(time[1])}:${pad(time[2])}` : null;
}

// ---------------------------------------------------------------------------------------
// Record values (engine/expr/runtime.py)
// ---------------------------------------------------------------------------------------

/**
 * A record value as a number: a decimal string, a JSON number or a Num; else blank.
 * @returns {Decimal|null}
 */
export function coerceNumber(value) {
  if (value === null || value === undefined || value === "" || typeof value === "boolean") return null;
  if (value instanceof Num) return norm(value);
  if (typeof value === "number") return Number.isFinite(value) ? norm(new Num(String(value))) : null;
  if (typeof value === "string") return decimalFromText(strip(value));
  return null;
}

/**
 * A record value as text ("" is blank; booleans TRUE/FALSE; numbers as the language writes
 * them, as `&` does; objects and arrays blank).
 */
export function coerceText(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  if (value instanceof Num) return numberText(value);
  if (typeof value === "number") {
    const number = coerceNumber(value);
    return number === null ? null : numberText(number);
  }
  return null;
}

/** A record value as a boolean: true/false or the texts "true"/"false" in any case. */
export function coerceBoolean(value) {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") {
    const folded = lower(value);
    if (folded === "true" || folded === "false") return folded === "true";
  }
  return null;
}

const ID_LIMIT = new Num("9223372036854775808");

/**
 * A record value as an id (of a record, user or department), a Num: a positive integer, its
 * decimal text, or an object carrying it as `_id` (a related record) or `id` (a person or
 * department as reads return them); else blank (`runtime.coerce_id`).
 * @returns {Decimal|null}
 */
export function coerceId(value) {
  if (isObject(value) && !(value instanceof Num)) value = value._id ?? value.id ?? null;
  let id = null;
  if (value instanceof Num) id = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) id = new Num(value);
  else if (typeof value === "string" && /^[0-9]{1,18}$/.test(value.trim())) id = new Num(value.trim());
  if (id === null || !id.isInteger() || !id.greaterThan(0) || !id.lessThan(ID_LIMIT)) return null;
  return id;
}

/** The kinds whose values are ids. */
export const ID_KINDS = Object.freeze(["record", "user", "department"]);

/** Coercion of record values by kind (`runtime.COERCE`). */
export const COERCE = Object.freeze({
  number: coerceNumber,
  text: coerceText,
  boolean: coerceBoolean,
  date: coerceDate,
  datetime: coerceDatetime,
  time: coerceTime,
  blank: () => null,
  record: coerceId,
  user: coerceId,
  department: coerceId,
});

/**
 * A record value (in the API's JSON form) as a value of a kind.
 * @param {unknown} value
 * @param {string} kind
 */
export function coerce(value, kind) {
  return COERCE[kind](value);
}

function walk(value, keys) {
  for (const key of keys) {
    if (!isObject(value) || !Object.hasOwn(value, key)) return null;
    value = value[key];
  }
  return value ?? null;
}

/**
 * A scalar field: follow `path` (relations are objects) and coerce to `kind`.
 * @param {object} record
 * @param {string[]} path
 * @param {string} kind
 */
export function ref(record, path, kind) {
  return COERCE[kind](walk(record, path));
}

/**
 * A list field: `head` leads to the rows (a subform or to-many relation: an array, or a
 * multiselect's array of values), `tail` to the field in each row.
 */
export function refList(record, head, tail, kind) {
  const items = walk(record, head);
  if (!Array.isArray(items)) return [];
  const convert = COERCE[kind];
  return tail.length ? items.map((row) => convert(walk(row, tail))) : items.map((v) => convert(v ?? null));
}

// ---------------------------------------------------------------------------------------
// Operators (engine/expr/backends/python.py)
// ---------------------------------------------------------------------------------------

/** `a = b`: blank equals only blank. */
export function eq(a, b) {
  if (a === null || b === null) return a === null && b === null;
  if (a instanceof Num) return a.eq(b);
  return a === b;
}

/** `a <> b`. */
export const ne = (a, b) => !eq(a, b);

/** Order of two non-blank values of one kind: -1, 0 or 1. */
export function cmp(a, b) {
  if (a instanceof Num) return a.cmp(b);
  if (typeof a === "string") return compareText(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `a < b` (FALSE if either side is blank). */
export const lt = (a, b) => a !== null && b !== null && cmp(a, b) < 0;
/** `a <= b`. */
export const le = (a, b) => a !== null && b !== null && cmp(a, b) <= 0;
/** `a > b`. */
export const gt = (a, b) => a !== null && b !== null && cmp(a, b) > 0;
/** `a >= b`. */
export const ge = (a, b) => a !== null && b !== null && cmp(a, b) >= 0;

/** `a & b`: blank counts as "". */
export const concat = (a, b) => capText((a ?? "") + (b ?? ""));

/**
 * A run of `&` (`a & b & c`), joined at once and capped once, as the Python backend does.
 * @param {Array<string|null>} parts
 */
export function concatAll(parts) {
  let text = "";
  for (const part of parts) if (part !== null) text += part;
  return capText(text);
}

/** date ± days (days floored); blank outside the date range. */
function dateShift(date, days, sign) {
  if (date === null) return null;
  const whole = roundTo(days, 0, Num.ROUND_FLOOR);
  if (whole === null) return null;
  return fromOrdinal(ordinal(date) + sign * whole.toNumber());
}

/** date + number. */
export const datePlus = (d, n) => dateShift(d, n, 1);
/** date - number. */
export const dateMinus = (d, n) => dateShift(d, n, -1);
/** number + date. */
export const numberPlusDate = (n, d) => dateShift(d, n, 1);
/** date - date: days. */
export const dateDiff = (a, b) => (a === null || b === null ? null : new Num(ordinal(a) - ordinal(b)));

/** Element-wise `op` of two lists of one source (shortest length). */
export function zip2(op, left, right) {
  const n = Math.min(left.length, right.length);
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = op(left[i], right[i]);
  return out;
}

/** `op(item, scalar)` for each item of a list. */
export const mapLeft = (op, list, scalar) => list.map((a) => op(a, scalar));
/** `op(scalar, item)` for each item of a list. */
export const mapRight = (op, scalar, list) => list.map((b) => op(scalar, b));
/** `op(item)` for each item of a list. */
export const map1 = (op, list) => list.map((a) => op(a));

/** Arguments flattened one level (lists spread), blanks dropped (`maths.values`). */
function values(args) {
  const out = [];
  for (const arg of args) {
    if (Array.isArray(arg)) {
      for (const v of arg) if (v !== null) out.push(v);
    } else if (arg !== null) out.push(arg);
  }
  return out;
}

function total(items) {
  let acc = ZERO;
  for (const item of items) acc = acc.plus(item);
  return norm(acc);
}

// ---------------------------------------------------------------------------------------
// TEXT and its format mini-language (engine/expr/functions/texts.py)
// ---------------------------------------------------------------------------------------

const NUMBER_PATTERN = /[0#][0#,]*(?:\.[0#]*)?|\.[0#]+/;
const DATE_TOKENS = /YYYY|yyyy|YY|yy|MM|M|DD|dd|D|d|HH|hh|H|h|mm|m|ss|s/g;

/**
 * Format a number with an Excel-like pattern: prefix, digits (0 # , .), suffix; a % in the
 * prefix or suffix scales by 100 (`texts.format_number`).
 * @param {Decimal} value
 * @param {string} fmt
 */
export function formatNumber(value, fmt) {
  const match = NUMBER_PATTERN.exec(fmt);
  if (!match) return fmt;
  const prefix = fmt.slice(0, match.index);
  const pattern = match[0];
  const suffix = fmt.slice(match.index + pattern.length);
  if ((prefix + suffix).includes("%")) value = value.times(HUNDRED);
  const dot = pattern.indexOf(".");
  const wholePattern = dot < 0 ? pattern : pattern.slice(0, dot);
  const fracPattern = dot < 0 ? "" : pattern.slice(dot + 1);
  const places = fracPattern.length;
  const required = fracPattern.split("0").length - 1;
  const rounded = value.toDecimalPlaces(places, Num.ROUND_HALF_UP);
  const negative = rounded.lt(0);
  const digits = rounded.abs().toFixed(places);
  let [whole, frac = ""] = digits.split(".");
  while (frac.length > required && frac.endsWith("0")) frac = frac.slice(0, -1);
  const minInt = wholePattern.replaceAll(",", "").split("0").length - 1;
  whole = whole.replace(/^0+/, "").padStart(minInt, "0");
  if (wholePattern.includes(",") && whole) whole = BigInt(whole).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  let body = whole + (frac ? "." + frac : "");
  if (!body) body = "0";
  return (negative && /[^0.,]/.test(body) ? "-" : "") + prefix + body + suffix;
}

/**
 * Format date/time fields with YYYY MM DD HH mm ss (and short forms); other text is literal
 * (`texts.format_datetime`). Missing fields (a time's date) leave their tokens as written.
 * @param {{Y:?number, M:?number, D:?number, H:?number, m:?number, s:?number}} parts
 * @param {string} fmt
 */
export function formatFields(parts, fmt) {
  return fmt.replace(DATE_TOKENS, (t) => {
    const key = { y: "Y", d: "D", h: "H" }[t[0]] ?? t[0];
    const n = parts[key];
    if (n === null || n === undefined) return t;
    if (key === "Y") return t.length === 4 ? pad(n, 4) : pad(n % 100);
    return t.length === 2 ? pad(n) : String(n);
  });
}

function fieldsOf(ctx, kind, value) {
  if (kind === "datetime") {
    const p = localParts(value, ctx.tz);
    return { Y: p.year, M: p.month, D: p.day, H: p.hour, m: p.minute, s: p.second };
  }
  if (kind === "date") {
    const [Y, M, D] = dateParts(value);
    return { Y, M, D, H: 0, m: 0, s: 0 };
  }
  const [H, m, s] = value.split(":").map(Number);
  return { Y: null, M: null, D: null, H, m, s };
}

/** Python's `strftime("%Y")` (glibc: years below 1000 are not padded). */
const strftimeYear = (y) => String(y).padStart(y < 1000 ? 0 : 4, "0");

/** The text of a value with no format: what `&` and CONCATENATE use (`texts.default_text`). */
function defaultText(ctx, kind, value) {
  if (value === null) return null;
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  if (value instanceof Num) return numberText(value);
  if (kind === "datetime") {
    const p = localParts(value, ctx.tz);
    return `${strftimeYear(p.year)}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
  }
  return capText(value);
}

// ---------------------------------------------------------------------------------------
// Date function helpers (engine/expr/functions/dates.py)
// ---------------------------------------------------------------------------------------

/** Month arithmetic clamped to the month end; blank outside years 1–9999. */
function addMonths(y, m, d, months) {
  const t = y * 12 + (m - 1) + months;
  const year = Math.floor(t / 12);
  const month = t - year * 12 + 1;
  if (!(year >= 1 && year <= 9999)) return null;
  return dateText(year, month, Math.min(d, daysInMonth(year, month)));
}

const WEEKDAY_START = new Map([[1, 6], [2, 0], [3, 0], [11, 0], [12, 1], [13, 2], [14, 3], [15, 4], [16, 5], [17, 6]]);
const WEEKNUM_START = new Map([[1, 6], [2, 0], [11, 0], [12, 1], [13, 2], [14, 3], [15, 4], [16, 5], [17, 6]]);
const posMod = (a, n) => ((a % n) + n) % n;

function monthsBetween(start, end) {
  const [sy, sm, sd] = dateParts(start);
  const [ey, em, ed] = dateParts(end);
  let months = (ey - sy) * 12 + em - sm;
  if (ed < sd) months -= 1;
  return months;
}

/** Monday–Friday days from a fixed Monday up to and including an ordinal. */
function workdaysUntil(ord) {
  const n = ord - 1;
  const weeks = Math.floor(n / 7);
  return weeks * 5 + Math.min(n - weeks * 7 + 1, 5);
}

// Digits: ASCII or full-width; spaces: ASCII whitespace or U+3000 (as engine/expr/functions/dates.py).
const DATE_SPACE = " \\t\\n\\r\\f\\v\\u3000";
const DATE_DIGIT = "[0-9\\uff10-\\uff19]";
const DATE_TEXT = new RegExp(
  `^[${DATE_SPACE}]*(${DATE_DIGIT}{4})[${DATE_SPACE}]*[-/.年][${DATE_SPACE}]*(${DATE_DIGIT}{1,2})[${DATE_SPACE}]*` +
    `[-/.月][${DATE_SPACE}]*(${DATE_DIGIT}{1,2})[${DATE_SPACE}]*日?(?:[T${DATE_SPACE}][^\\n]*)?$`,
  "u",
);
const TIME_TEXT = new RegExp(
  `^[${DATE_SPACE}]*(${DATE_DIGIT}{1,2}):(${DATE_DIGIT}{2})(?::(${DATE_DIGIT}{2}))?[${DATE_SPACE}]*$`,
  "u",
);
const digitsValue = (s) => Number(asciiDigits(s));

// ---------------------------------------------------------------------------------------
// The function library: one entry per registry function (engine/expr/functions)
// ---------------------------------------------------------------------------------------

/**
 * Every eager function of the language, by name. Arguments are already-evaluated values;
 * functions marked `needs_ctx` in Python take `ctx` first, and TEXT takes the kind of its
 * value after `ctx`. IF, IFS and SWITCH are compiled inline (lazy); see `SWITCH`.
 */
export const F = Object.freeze({
  // --- logic ---
  AND: (...args) => args.every((a) => a === true),
  OR: (...args) => args.some((a) => a === true),
  XOR: (...args) => args.filter((a) => a === true).length % 2 === 1,
  NOT: (a) => a !== true,
  ISBLANK: (a) => a === null,

  // --- people and records ---
  CURRENT_USER: (ctx) => ctx.user,
  CURRENT_DEPARTMENTS: (ctx) => [...ctx.departments],
  CONTAINS: (items, value) =>
    value !== null && Array.isArray(items) && items.some((v) => v !== null && eq(v, value)),

  // --- maths ---
  SUM: (...args) => total(values(args)),
  AVERAGE: (...args) => {
    const items = values(args);
    return items.length ? div(total(items), new Num(items.length)) : null;
  },
  MIN: (...args) => {
    const items = values(args);
    return items.length ? items.reduce((m, v) => (cmp(v, m) < 0 ? v : m)) : null;
  },
  MAX: (...args) => {
    const items = values(args);
    return items.length ? items.reduce((m, v) => (cmp(v, m) > 0 ? v : m)) : null;
  },
  COUNT: (...args) => new Num(values(args).length),
  COUNTA: (...args) => new Num(values(args).length),
  ROUND: (v, digits = null) => roundTo(v, integer(digits), Num.ROUND_HALF_UP),
  ROUNDUP: (v, digits = null) => roundTo(v, integer(digits), Num.ROUND_UP),
  ROUNDDOWN: (v, digits = null) => roundTo(v, integer(digits), Num.ROUND_DOWN),
  TRUNC: (v, digits = null) => roundTo(v, integer(digits), Num.ROUND_DOWN),
  INT: (v) => roundTo(v, 0, Num.ROUND_FLOOR),
  ABS: (v) => or0(v).abs(),
  SIGN: (v) => new Num(or0(v).isZero() ? 0 : or0(v).isNeg() ? -1 : 1),
  MOD: (a, b) => mod(a, b),
  POWER: (a, b) => power(a, b),
  SQRT: (a) => sqrt(a),
  CEILING: (v, significance = null) => multiple(v, significance, Num.ROUND_CEIL, Num.ROUND_UP, ZERO),
  FLOOR: (v, significance = null) => multiple(v, significance, Num.ROUND_FLOOR, Num.ROUND_DOWN, null),

  // --- text ---
  CONCATENATE: (...args) => capText(args.filter((a) => a).join("")),
  LEFT: (text, n = ONE) => {
    const k = count(n);
    return k < 0 ? null : capText(cpSlice(text ?? "", 0, k));
  },
  RIGHT: (text, n = ONE) => {
    const k = count(n);
    if (k < 0) return null;
    if (k === 0) return null;
    const t = text ?? "";
    const len = cpLength(t);
    return capText(cpSlice(t, Math.max(0, len - k)));
  },
  MID: (text, start, n) => {
    const s = count(start);
    const k = count(n);
    if (s < 1 || k < 0) return null;
    return capText(cpSlice(text ?? "", s - 1, s - 1 + k));
  },
  LEN: (text) => new Num(cpLength(text ?? "")),
  UPPER: (text) => capText(upper(text ?? "")),
  LOWER: (text) => capText(lower(text ?? "")),
  TRIM: (text) => capText(strip(text ?? "").replace(/ {2,}/g, " ")),
  REPLACE: (old, start, n, replacement) => {
    const s = count(start);
    const k = count(n);
    if (s < 1 || k < 0) return null;
    const t = old ?? "";
    return capText(cpSlice(t, 0, s - 1) + (replacement ?? "") + cpSlice(t, s - 1 + k));
  },
  SUBSTITUTE: (text, old, replacement, instance = null) => {
    const base = text ?? "";
    if (!old) return capText(base);
    const rep = replacement ?? "";
    if (instance === null) {
      const parts = base.split(old);
      const grow = Math.max(cpLength(rep) - cpLength(old), 0);
      if ((parts.length - 1) * grow + cpLength(base) > MAX_TEXT) return null;
      return capText(parts.join(rep));
    }
    const nth = count(instance);
    if (nth < 1) return null;
    let position = -1;
    for (let i = 0; i < nth; i++) {
      position = base.indexOf(old, position + 1);
      if (position < 0) return capText(base);
    }
    return capText(base.slice(0, position) + rep + base.slice(position + old.length));
  },
  SEARCH: (find, within, start = ONE) => findText(find, within, start, false),
  FIND: (find, within, start = ONE) => findText(find, within, start, true),
  EXACT: (a, b) => (a ?? "") === (b ?? ""),
  REPT: (text, times) => {
    const n = count(times);
    const t = text ?? "";
    if (n < 0 || cpLength(t) * n > MAX_TEXT) return null;
    return capText(t.repeat(n));
  },
  VALUE: (text) => (text ? parseNumberText(text) : null),
  TEXTJOIN: (delimiter, ignoreEmpty, ...args) => {
    const items = [];
    for (const arg of args) {
      for (const v of Array.isArray(arg) ? arg : [arg]) {
        if (v === null && ignoreEmpty === true) continue;
        items.push(v ?? "");
      }
    }
    return capText(items.join(delimiter ?? ""));
  },
  SPLIT: (text, separator) => {
    if (text === null) return [];
    const parts = separator ? text.split(separator) : [text];
    return parts.map((p) => p || null);
  },
  TEXT: (ctx, kind, value, fmt = null) => {
    if (value === null) return null;
    if (fmt === null || typeof value === "boolean" || kind === "text") return defaultText(ctx, kind, value);
    if (cpLength(fmt) > MAX_FORMAT) return null;
    if (value instanceof Num) return capText(formatNumber(value, fmt));
    return capText(formatFields(fieldsOf(ctx, kind, value), fmt));
  },

  // --- dates ---
  TODAY: (ctx) => ctx.today,
  NOW: (ctx) => ctx.now,
  DATE: (y, m, d) => makeDate(integer(y), integer(m), integer(d)),
  YEAR: (d) => (d === null ? null : new Num(dateParts(d)[0])),
  MONTH: (d) => (d === null ? null : new Num(dateParts(d)[1])),
  DAY: (d) => (d === null ? null : new Num(dateParts(d)[2])),
  HOUR: (t) => (t === null ? null : new Num(+t.slice(0, 2))),
  MINUTE: (t) => (t === null ? null : new Num(+t.slice(3, 5))),
  SECOND: (t) => (t === null ? null : new Num(+t.slice(6, 8))),
  WEEKDAY: (d, kind = null) => {
    const code = kind === null ? 1 : integer(kind);
    if (d === null || !WEEKDAY_START.has(code)) return null;
    const offset = posMod(weekdayOf(ordinal(d)) - WEEKDAY_START.get(code), 7);
    return new Num(code === 3 ? offset : offset + 1);
  },
  WEEKNUM: (d, kind = null) => {
    const code = kind === null ? 1 : integer(kind);
    if (d === null) return null;
    const ord = ordinal(d);
    if (code === 21) return new Num(isoCalendar(ord)[1]);
    if (!WEEKNUM_START.has(code)) return null;
    const jan1 = ymdToOrdinal(dateParts(d)[0], 1, 1);
    const shift = posMod(weekdayOf(jan1) - WEEKNUM_START.get(code), 7);
    return new Num(Math.floor((ord - jan1 + shift) / 7) + 1);
  },
  ISOWEEKNUM: (d) => (d === null ? null : new Num(isoCalendar(ordinal(d))[1])),
  DATEDIF: (start, end, unit) => {
    if (start === null || end === null || unit === null || start > end) return null;
    const code = upper(unit);
    if (code === "D") return new Num(ordinal(end) - ordinal(start));
    const months = monthsBetween(start, end);
    if (code === "M") return new Num(months);
    if (code === "Y") return new Num(Math.floor(months / 12));
    if (code === "YM") return new Num(posMod(months, 12));
    const [sy, sm, sd] = dateParts(start);
    const [ey, em, ed] = dateParts(end);
    if (code === "MD") {
      let days = ed - sd;
      if (days < 0) days += em === 1 ? 31 : daysInMonth(ey, em - 1);
      return new Num(days);
    }
    if (code === "YD") {
      let anchor = addMonths(sy, sm, sd, (ey - sy) * 12);
      if (anchor === null) return null;
      if (anchor > end) {
        anchor = addMonths(sy, sm, sd, (ey - sy - 1) * 12);
        if (anchor === null) return null;
      }
      return new Num(ordinal(end) - ordinal(anchor));
    }
    return null;
  },
  EDATE: (start, months) => (start === null ? null : addMonths(...dateParts(start), integer(months))),
  EOMONTH: (start, months) => {
    if (start === null) return null;
    const [y, m] = dateParts(start);
    const shifted = addMonths(y, m, 1, integer(months));
    if (shifted === null) return null;
    const [sy, sm] = dateParts(shifted);
    return dateText(sy, sm, daysInMonth(sy, sm));
  },
  DAYS: (end, start) => (end === null || start === null ? null : new Num(ordinal(end) - ordinal(start))),
  NETWORKDAYS: (start, end) => {
    if (start === null || end === null) return null;
    if (start > end) return neg(F.NETWORKDAYS(end, start));
    return new Num(workdaysUntil(ordinal(end)) - workdaysUntil(ordinal(start) - 1));
  },
  DATEVALUE: (ctx, value) => {
    if (value === null) return null;
    if (typeof value === "number") return localDate(ctx, value);
    const match = DATE_TEXT.exec(value);
    if (!match) return null;
    return makeDate(digitsValue(match[1]), digitsValue(match[2]), digitsValue(match[3]));
  },
  TIMEVALUE: (ctx, value) => {
    if (value === null) return null;
    if (typeof value === "number") return localTime(ctx, value);
    const match = TIME_TEXT.exec(value);
    if (!match) return null;
    const [h, m, s] = [match[1], match[2], match[3]].map((g) => (g ? digitsValue(g) : 0));
    if (h > 23 || m > 59 || s > 59) return null;
    return `${pad(h)}:${pad(m)}:${pad(s)}`;
  },
});

/** Functions that take the evaluation context as their first argument (Python `needs_ctx`). */
export const NEEDS_CTX = Object.freeze([
  "TEXT",
  "TODAY",
  "NOW",
  "DATEVALUE",
  "TIMEVALUE",
  "CURRENT_USER",
  "CURRENT_DEPARTMENTS",
]);

/**
 * SWITCH, lazily: compare the subject with each value (as `=`) and evaluate only the chosen
 * result. `pairs` alternates value and result thunks; an odd trailing thunk is the default.
 * @param {unknown} subject
 * @param {Array<() => unknown>} thunks
 */
export function SWITCH(subject, thunks) {
  const pairs = thunks.length - (thunks.length % 2);
  for (let i = 0; i < pairs; i += 2) {
    if (eq(subject, thunks[i]())) return thunks[i + 1]();
  }
  return thunks.length % 2 ? thunks[thunks.length - 1]() : null;
}

/**
 * CEILING/FLOOR as Excel: a positive significance rounds with `positive`, a negative one (with
 * a number that is not positive) with `negative`; a positive number with a negative
 * significance is blank, a zero significance gives `atZero`.
 */
function multiple(value, significance, positive, negative, atZero) {
  const step = significance === null ? ONE : significance;
  const x = or0(value);
  if (step.isZero()) return atZero;
  if (step.isNegative() && x.greaterThan(0)) return null;
  const size = step.abs();
  const quotient = x.div(size).toDecimalPlaces(0, step.isNegative() ? negative : positive);
  return mul(quotient, size);
}

function findText(find, within, start, caseSensitive) {
  const s = count(start);
  let haystack = within ?? "";
  let needle = find ?? "";
  if (s < 1 || s > cpLength(haystack) + 1) return null;
  if (!caseSensitive) {
    haystack = lower(haystack);
    needle = lower(needle);
  }
  if (s - 1 > cpLength(haystack)) return null;
  const index = haystack.indexOf(needle, cpToUnit(haystack, s - 1));
  return index < 0 ? null : new Num(unitToCp(haystack, index) + 1);
}

/** VALUE(): a decimal with optional sign, thousands commas and trailing %; else blank. */
export function parseNumberText(text) {
  const cleaned = strip(text).replaceAll(",", "");
  const match = /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(%?)$/.exec(cleaned);
  if (!match) return null;
  if (match[2].length > 60) return null;
  let value = new Num(match[1] + match[2]);
  if (match[3]) value = value.div(HUNDRED);
  return norm(value);
}

// ---------------------------------------------------------------------------------------
// Context and encoding
// ---------------------------------------------------------------------------------------

/**
 * The evaluation context: the clock (taken once), the organisation's time zone and the acting
 * member (`CURRENT_USER()`, `CURRENT_DEPARTMENTS()`; the server sends them with the scripts).
 * @param {{now?: string|number, tz?: string, user?: number|string|null,
 *   departments?: Array<number|string>}} [options] `now` as an ISO UTC string or epoch ms
 *   (default: the current time); `tz` an IANA zone (default Asia/Shanghai); `user` the acting
 *   member's id (default: nobody); `departments` their departments' ids.
 * @returns {{rt: object, now: number, tz: string, today: string, user: object|null,
 *   departments: object[]}}
 */
export function makeContext({ now, tz = DEFAULT_TZ, user = null, departments = [] } = {}) {
  let moment;
  if (typeof now === "number") moment = Math.floor(now);
  else if (typeof now === "string") moment = coerceDatetime(now);
  else moment = Date.now();
  if (moment === null || !Number.isFinite(moment)) throw new RangeError(`invalid now: ${now}`);
  zoneFormat(tz); // throws a RangeError for an unknown zone
  const ids = new Map();
  for (const raw of departments ?? []) {
    const id = coerceId(raw);
    if (id !== null) ids.set(id.toString(), id);
  }
  const sorted = [...ids.values()].sort((a, b) => a.cmp(b));
  return Object.freeze({
    rt: runtime,
    now: moment,
    tz,
    today: localDate({ tz }, moment),
    user: coerceId(user),
    departments: Object.freeze(sorted),
  });
}

/** A datetime as Python encodes it: "YYYY-MM-DDTHH:MM:SS.sssZ" (UTC). */
function datetimeJson(ms) {
  const day = Math.floor(ms / DAY_MS);
  const [y, m, d] = ordinalToYmd(day + EPOCH_ORDINAL);
  let rest = ms - day * DAY_MS;
  const milli = rest % 1000;
  rest = (rest - milli) / 1000;
  const time = `${pad(Math.floor(rest / 3600))}:${pad(Math.floor(rest / 60) % 60)}:${pad(rest % 60)}`;
  return `${strftimeYear(y)}-${pad(m)}-${pad(d)}T${time}.${pad(milli, 3)}Z`;
}

/**
 * A value as JSON, exactly as Python's `engine.expr.runtime.encode`: numbers as shortest
 * decimal text, dates "YYYY-MM-DD", datetimes "YYYY-MM-DDTHH:MM:SS.sssZ", times "HH:MM:SS",
 * lists as arrays, blank as null.
 * @param {unknown} value
 * @param {string} [kind] the value's kind (element kind for lists)
 */
export function encode(value, kind) {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map((v) => encode(v, kind));
  if (value instanceof Num && ID_KINDS.includes(kind)) {
    return value.lessThanOrEqualTo(Number.MAX_SAFE_INTEGER) ? value.toNumber() : numberText(value);
  }
  if (value instanceof Num) return numberText(value);
  if (typeof value === "number") return datetimeJson(value);
  return value;
}

/**
 * Compile the source produced by `engine.expr.to_js` into a callable.
 * @param {string} source
 * @returns {(record: object, ctx: object) => unknown}
 */
export function compile(source) {
  return new Function(`"use strict"; return (${source});`)();
}
