// Unit tests of the formula runtime (src/formula/runtime.js). Agreement with the Python
// reference on whole formulas is tested from Python: tests/expr/test_js_backend.py.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as rt from "../../src/formula/runtime.js";

const { F, Num, encode, makeContext } = rt;
const n = (text) => new Num(text);
const json = (value) => encode(value);
const ctx = makeContext({ now: "2024-06-15T17:30:05.123Z", tz: "Asia/Shanghai" });

describe("numbers", () => {
  test("addition is exact decimal, not binary floating point", () => {
    assert.equal(json(rt.add(n("0.1"), n("0.2"))), "0.3");
    assert.equal(json(F.SUM(n("0.1"), n("0.2"), [n("0.3"), null])), "0.6");
  });

  test("results round to 10 places half away from zero", () => {
    assert.equal(json(rt.norm(n("0.00000000005"))), "0.0000000001");
    assert.equal(json(rt.norm(n("-0.00000000005"))), "-0.0000000001");
    assert.equal(json(rt.norm(n("0.000000000049999"))), "0");
    assert.equal(json(rt.mul(n("1.00000000005"), n("1"))), "1.0000000001");
  });

  test("blank beyond 18 digits", () => {
    assert.equal(rt.add(n("999999999999999999"), n("1")), null);
    assert.equal(json(rt.add(n("999999999999999998"), n("1"))), "999999999999999999");
    assert.equal(rt.mul(n("-1e9"), n("1e9")), null);
  });

  test("division is exact to 10 places, with one rounding", () => {
    assert.equal(json(rt.div(n("1"), n("3"))), "0.3333333333");
    assert.equal(json(rt.div(n("2"), n("3"))), "0.6666666667");
    assert.equal(json(rt.div(n("-2"), n("3"))), "-0.6666666667");
    assert.equal(json(rt.div(n("1"), n("0.00000000016"))), "6250000000");
    // 0.00000000015 / 3 = 0.00000000005 exactly: half, rounds away from zero.
    assert.equal(json(rt.div(n("0.00000000015"), n("3"))), "0.0000000001");
    assert.equal(rt.div(n("1"), n("0")), null);
    assert.equal(rt.div(n("1"), null), null);
    assert.equal(json(rt.div(null, n("4"))), "0");
  });

  test("ROUND is half away from zero; negative digits round to tens", () => {
    assert.equal(json(F.ROUND(n("2.5"))), "3");
    assert.equal(json(F.ROUND(n("-2.5"))), "-3");
    assert.equal(json(F.ROUND(n("1.005"), n("2"))), "1.01");
    assert.equal(json(F.ROUND(n("1250"), n("-2"))), "1300");
    assert.equal(json(F.ROUNDUP(n("-3.141"), n("2"))), "-3.15");
    assert.equal(json(F.ROUNDDOWN(n("3.149"), n("2"))), "3.14");
    assert.equal(json(F.INT(n("-4.3"))), "-5");
  });

  test("MOD takes the sign of the divisor", () => {
    assert.equal(json(F.MOD(n("-7"), n("3"))), "2");
    assert.equal(json(F.MOD(n("7"), n("-3"))), "-2");
    assert.equal(json(F.MOD(n("-6"), n("3"))), "0");
    assert.equal(F.MOD(n("1"), n("0")), null);
  });

  test("POWER refuses huge results and handles roots", () => {
    assert.equal(rt.power(n("9"), n("387420489")), null);
    assert.equal(rt.power(n("10"), n("18")), null);
    assert.equal(json(rt.power(n("10"), n("17"))), "100000000000000000");
    assert.equal(json(rt.power(n("4"), n("0.5"))), "2");
    assert.equal(json(rt.power(n("2"), n("-2"))), "0.25");
    assert.equal(rt.power(n("-8"), n("0.5")), null);
    assert.equal(rt.power(n("0"), n("-1")), null);
    assert.equal(json(rt.power(n("0.1"), n("13"))), "0");
  });

  test("number text is the shortest exact decimal", () => {
    assert.equal(rt.numberText(n("1.50")), "1.5");
    assert.equal(rt.numberText(n("100")), "100");
    assert.equal(rt.numberText(n("-0.25")), "-0.25");
    assert.equal(rt.numberText(n("1e-10")), "0.0000000001");
    assert.equal(rt.numberText(n("123456789012345678")), "123456789012345678");
    assert.equal(rt.numberText(n("-0")), "0");
  });

  test("record numbers: text, JSON numbers, Python's Decimal syntax", () => {
    assert.equal(json(rt.coerceNumber(" 2.50 ")), "2.5");
    assert.equal(json(rt.coerceNumber(1.5)), "1.5");
    assert.equal(json(rt.coerceNumber("1_000")), "1000");
    assert.equal(json(rt.coerceNumber("١٢٣")), "123");
    assert.equal(rt.coerceNumber("abc"), null);
    assert.equal(rt.coerceNumber("NaN"), null);
    assert.equal(rt.coerceNumber(true), null);
    assert.equal(rt.coerceNumber(""), null);
  });

  test("VALUE reads signs, commas and percent", () => {
    assert.equal(json(F.VALUE("1,234.5")), "1234.5");
    assert.equal(json(F.VALUE("12%")), "0.12");
    assert.equal(F.VALUE("1e5"), null);
  });
});

describe("text", () => {
  test("length and positions count code points", () => {
    assert.equal(json(F.LEN("a😀b")), "3");
    assert.equal(F.LEFT("😀𝒳z", n("2")), "😀𝒳");
    assert.equal(F.RIGHT("a😀", n("1")), "😀");
    assert.equal(F.MID("a😀b𝒳c", n("2"), n("3")), "😀b𝒳");
    assert.equal(json(F.FIND("b", "a😀b")), "3");
    assert.equal(F.REPLACE("a😀b", n("2"), n("1"), "-"), "a-b");
  });

  test("comparison is by code point, not UTF-16 unit", () => {
    assert.equal(rt.lt("\uffff", "😀"), true); // U+FFFF < U+1F600 although "\uffff" > "\ud83d"
    assert.equal(rt.gt("😀", "\ue000"), true);
    assert.equal(rt.lt("a", "b"), true);
    assert.equal(rt.lt("ab", "a"), false);
    assert.equal(rt.eq("a", "a"), true);
  });

  test("blank is equal only to blank; ordering with blank is FALSE", () => {
    assert.equal(rt.eq(null, null), true);
    assert.equal(rt.eq(null, n("0")), false);
    assert.equal(rt.ne("closed", null), true);
    assert.equal(rt.lt(null, n("1")), false);
    assert.equal(rt.ge(null, null), false);
    assert.equal(rt.eq(n("1.0"), n("1")), true);
  });

  test("UPPER and LOWER use full case mapping", () => {
    assert.equal(F.UPPER("straße"), "STRASSE");
    assert.equal(F.UPPER("ﬁ"), "FI");
    assert.equal(F.LOWER("ΟΔΟΣ"), "οδος");
    assert.equal(F.LOWER("İ"), "i\u0307");
  });

  test("TRIM strips Unicode whitespace and collapses inner spaces", () => {
    assert.equal(F.TRIM("\u3000 张  三 \u3000"), "张 三");
    assert.equal(F.TRIM("a\t\tb"), "a\t\tb");
    assert.equal(F.TRIM("   "), null);
  });

  test("texts over 100,000 code points are blank", () => {
    assert.equal(rt.MAX_TEXT, 100_000);
    assert.equal(F.REPT("ab", n("50001")), null);
    assert.equal(rt.concatAll(["a".repeat(100_000), "b"]), null);
    assert.equal(rt.cpLength(rt.concatAll(["😀".repeat(99_999), "b"])), 100_000);
  });

  test("SUBSTITUTE treats $ in the replacement literally", () => {
    assert.equal(F.SUBSTITUTE("a-b", "-", "$&"), "a$&b");
    assert.equal(F.SUBSTITUTE("a-b-c", "-", "/", n("2")), "a-b/c");
  });

  test("TEXT formats numbers like the Python mini-language", () => {
    assert.equal(F.TEXT(ctx, "number", n("1234.5"), "#,##0.00"), "1,234.50");
    assert.equal(F.TEXT(ctx, "number", n("-1234.5"), "¥#,##0"), "-¥1,235");
    assert.equal(F.TEXT(ctx, "number", n("0.256"), "0.0%"), "25.6%");
    assert.equal(F.TEXT(ctx, "number", n("-0.4"), "0"), "0");
    assert.equal(F.TEXT(ctx, "number", n("1.50")), "1.5");
    assert.equal(F.TEXT(ctx, "boolean", true), "TRUE");
  });
});

describe("dates", () => {
  test("month arithmetic clamps to the month end", () => {
    assert.equal(F.EDATE("2024-01-31", n("1")), "2024-02-29");
    assert.equal(F.EDATE("2023-01-31", n("1")), "2023-02-28");
    assert.equal(F.EDATE("2024-03-31", n("-1")), "2024-02-29");
    assert.equal(F.EOMONTH("2024-01-15", n("1")), "2024-02-29");
    assert.equal(F.EOMONTH("2024-12-15", n("2")), "2025-02-28");
    assert.equal(F.EDATE("9999-12-31", n("1")), null);
  });

  test("DATE rejects impossible dates", () => {
    assert.equal(F.DATE(n("2024"), n("2"), n("29")), "2024-02-29");
    assert.equal(F.DATE(n("2023"), n("2"), n("29")), null);
    assert.equal(F.DATE(n("2024"), n("13"), n("1")), null);
  });

  test("date arithmetic and the range of dates", () => {
    assert.equal(rt.datePlus("2024-02-28", n("1.9")), "2024-02-29");
    assert.equal(rt.dateMinus("2024-03-01", n("1")), "2024-02-29");
    assert.equal(json(rt.dateDiff("2024-03-01", "2024-02-01")), "29");
    assert.equal(rt.datePlus("9999-12-31", n("1")), null);
    assert.equal(rt.dateMinus("0001-01-01", n("1")), null);
  });

  test("WEEKDAY, WEEKNUM and ISO weeks", () => {
    assert.equal(json(F.WEEKDAY("2024-06-16")), "1");
    assert.equal(json(F.WEEKDAY("2024-06-16", n("2"))), "7");
    assert.equal(json(F.WEEKDAY("2024-06-16", n("3"))), "6");
    assert.equal(F.WEEKDAY("2024-06-16", n("4")), null);
    assert.equal(json(F.WEEKNUM("2024-01-07")), "2");
    assert.equal(json(F.WEEKNUM("2024-01-07", n("2"))), "1");
    assert.equal(json(F.ISOWEEKNUM("2024-12-30")), "1");
    assert.equal(json(F.ISOWEEKNUM("2021-01-03")), "53");
  });

  test("DATEDIF units and NETWORKDAYS", () => {
    assert.equal(json(F.DATEDIF("2023-01-31", "2024-03-01", "M")), "13");
    assert.equal(json(F.DATEDIF("2020-02-29", "2024-02-28", "Y")), "3");
    assert.equal(json(F.DATEDIF("2020-01-15", "2024-03-05", "MD")), "19");
    // As in Python: 1 - 31 + 29 days of February (Excel documents MD as unreliable too).
    assert.equal(json(F.DATEDIF("2020-05-31", "2024-03-01", "MD")), "-1");
    assert.equal(F.DATEDIF("2024-03-01", "2024-01-01", "D"), null);
    assert.equal(json(F.NETWORKDAYS("2024-06-01", "2024-06-30")), "20");
    assert.equal(json(F.NETWORKDAYS("2024-06-30", "2024-06-01")), "-20");
  });

  test("text dates and times", () => {
    assert.equal(F.DATEVALUE(ctx, "2024年6月1日"), "2024-06-01");
    assert.equal(F.DATEVALUE(ctx, "2024/6/1 10:00"), "2024-06-01");
    assert.equal(F.DATEVALUE(ctx, "2024-02-30"), null);
    assert.equal(F.TIMEVALUE(ctx, "9:05"), "09:05:00");
    assert.equal(F.TIMEVALUE(ctx, "24:00"), null);
  });
});

describe("time zones and the context", () => {
  test("TODAY comes from the context in the organisation's zone", () => {
    assert.equal(ctx.today, "2024-06-16"); // 01:30 in Shanghai
    assert.equal(makeContext({ now: "2024-06-15T17:30:05Z", tz: "UTC" }).today, "2024-06-15");
    assert.equal(makeContext({ now: Date.UTC(2024, 0, 1, 4, 59), tz: "America/New_York" }).today, "2023-12-31");
    assert.equal(F.TODAY(ctx), "2024-06-16");
    assert.equal(json(F.NOW(ctx)), "2024-06-15T17:30:05.123Z");
  });

  test("datetimes convert to the zone, across daylight saving changes", () => {
    const ny = makeContext({ now: 0, tz: "America/New_York" });
    const before = rt.coerceDatetime("2024-03-10T06:59:59Z");
    const after = rt.coerceDatetime("2024-03-10T07:00:00Z");
    assert.equal(F.TEXT(ny, "datetime", before), "2024-03-10 01:59:59");
    assert.equal(F.TEXT(ny, "datetime", after), "2024-03-10 03:00:00");
    assert.equal(F.DATEVALUE(ctx, rt.coerceDatetime("2024-12-31T16:00:00Z")), "2025-01-01");
    assert.equal(F.TIMEVALUE(ctx, rt.coerceDatetime("2024-12-31T16:00:00Z")), "00:00:00");
  });

  test("ISO datetimes with offsets are read to the millisecond", () => {
    assert.equal(json(rt.coerceDatetime("2024-06-01T10:00:00.1239+08:00")), "2024-06-01T02:00:00.123Z");
    assert.equal(json(rt.coerceDatetime("2024-06-01 10:00")), "2024-06-01T10:00:00.000Z");
    assert.equal(rt.coerceDatetime("2024-06-01T24:00:00"), null);
    assert.equal(rt.coerceDate("2024-06-01T23:00:00Z"), "2024-06-01");
    assert.equal(rt.coerceTime("10:00:00.5"), "10:00:00");
  });
});

describe("compiled formulas", () => {
  test("generated code reaches the runtime through ctx.rt", () => {
    const src =
      '(record, ctx) => { const rt = ctx.rt; return rt.F.SUM(rt.zip2(rt.mul, ' +
      'rt.refList(record, ["items"], ["qty"], "number"), rt.refList(record, ["items"], ["price"], "number"))); }';
    const fn = rt.compile(src);
    const record = { items: [{ qty: "2", price: "19.99" }, { qty: 3, price: "0.1" }, { price: "5" }] };
    assert.equal(json(fn(record, ctx)), "40.28");
  });

  test("field lookups ignore inherited properties", () => {
    assert.equal(rt.ref({}, ["__proto__"], "text"), null);
    assert.equal(rt.ref({}, ["constructor"], "text"), null);
    assert.equal(rt.ref({ a: { b: "x" } }, ["a", "b"], "text"), "x");
    assert.equal(rt.ref({ a: "x" }, ["a", "b"], "text"), null);
    assert.deepEqual(rt.refList({ a: "x" }, ["a"], ["b"], "text"), []);
  });
});

describe("records and people", () => {
  test("ids read from numbers, digit text and objects; anything else is blank", () => {
    assert.equal(json(rt.coerceId(12)), "12");
    assert.equal(json(rt.coerceId(" 12 ")), "12");
    assert.equal(json(rt.coerceId({ id: 7 })), "7");
    assert.equal(json(rt.coerceId({ _id: 41, name: "x" })), "41");
    assert.equal(rt.coerceId(0), null);
    assert.equal(rt.coerceId(1.5), null);
    assert.equal(rt.coerceId("1.5"), null);
    assert.equal(rt.coerceId(true), null);
    assert.equal(rt.coerceId({}), null);
  });

  test("the context carries the acting member; nobody acts by default", () => {
    const nobody = makeContext({ now: "2024-06-15T00:00:00.000Z" });
    assert.equal(F.CURRENT_USER(nobody), null);
    assert.deepEqual(F.CURRENT_DEPARTMENTS(nobody), []);
    const member = makeContext({ now: "2024-06-15T00:00:00.000Z", user: 7, departments: [5, 3, 5] });
    assert.equal(encode(F.CURRENT_USER(member), "user"), 7);
    assert.deepEqual(encode(F.CURRENT_DEPARTMENTS(member), "department"), [3, 5]);
  });

  test("CONTAINS compares by value and is FALSE for a blank value", () => {
    assert.equal(F.CONTAINS([n("3"), n("5")], n("5")), true);
    assert.equal(F.CONTAINS([n("3"), null], null), false);
    assert.equal(F.CONTAINS(["a", "b"], "B"), false);
    assert.equal(F.CONTAINS(null, n("3")), false);
  });
});
