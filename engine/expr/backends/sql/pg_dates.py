"""PostgreSQL ports of the date functions (``engine.expr.functions.dates``): DATE, date
shifts, EDATE/EOMONTH month arithmetic clamped to the month end, WEEKDAY, WEEKNUM, DATEDIF,
NETWORKDAYS, DATEVALUE and TIMEVALUE of text. Dates outside years 1–9999 are blank."""

from __future__ import annotations

from engine.expr.functions.dates import WEEKDAY_START, WEEKNUM_START

FN = "LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE"
# Full-width digits and the ideographic space, translated to '0123456789 ' before matching
# (the same digits and spaces as engine/expr/functions/dates.py reads).
FULLWIDTH = "U&'" + "".join(f"\\{0xFF10 + i:04X}" for i in range(10)) + "\\3000'"
SQLFN = "LANGUAGE sql IMMUTABLE PARALLEL SAFE"


def _case(variable: str, table: dict[int, int]) -> str:
    arms = " ".join(f"WHEN {code} THEN {start}" for code, start in sorted(table.items()))
    return f"CASE {variable} {arms} END"


DATES = [
    f"""
CREATE OR REPLACE FUNCTION jimu_make_date(y numeric, m numeric, d numeric) RETURNS date {FN} AS $$
BEGIN
  IF y IS NULL OR m IS NULL OR d IS NULL OR y < 1 OR y > 9999 OR m < 1 OR m > 12 OR d < 1 THEN
    RETURN NULL;
  END IF;
  IF d > EXTRACT(DAY FROM make_date(CAST(y AS integer), CAST(m AS integer), 1) + interval '1 month' - interval '1 day') THEN
    RETURN NULL;
  END IF;
  RETURN make_date(CAST(y AS integer), CAST(m AS integer), CAST(d AS integer));
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_date(y numeric, m numeric, d numeric) RETURNS date {SQLFN} AS $$
SELECT jimu_make_date(trunc(COALESCE(y, 0)), trunc(COALESCE(m, 0)), trunc(COALESCE(d, 0))) $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_date_shift(d date, n numeric, sign integer) RETURNS date {FN} AS $$
DECLARE whole numeric := floor(COALESCE(n, 0)) * sign; r date;
BEGIN
  IF d IS NULL OR abs(whole) > 4000000 THEN RETURN NULL; END IF;
  r := d + CAST(whole AS integer);
  IF r < DATE '0001-01-01' OR r > DATE '9999-12-31' THEN RETURN NULL; END IF;
  RETURN r;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_add_months(d date, months numeric) RETURNS date {FN} AS $$
DECLARE total numeric; y numeric; m integer; last integer; first date;
BEGIN
  IF d IS NULL THEN RETURN NULL; END IF;
  total := EXTRACT(YEAR FROM d) * 12 + EXTRACT(MONTH FROM d) - 1 + trunc(COALESCE(months, 0));
  y := floor(total / 12);
  IF y < 1 OR y > 9999 THEN RETURN NULL; END IF;
  m := CAST(total - y * 12 AS integer) + 1;
  first := make_date(CAST(y AS integer), m, 1);
  last := CAST(EXTRACT(DAY FROM first + interval '1 month' - interval '1 day') AS integer);
  RETURN first + (LEAST(CAST(EXTRACT(DAY FROM d) AS integer), last) - 1);
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_eomonth(d date, months numeric) RETURNS date {SQLFN} AS $$
SELECT CAST(date_trunc('month', jimu_add_months(CAST(date_trunc('month', d) AS date), months))
  + interval '1 month' - interval '1 day' AS date) $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_weekday(d date, kind numeric) RETURNS numeric {FN} AS $$
DECLARE code numeric := CASE WHEN kind IS NULL THEN 1 ELSE trunc(kind) END; start integer; offs integer;
BEGIN
  start := {_case("code", WEEKDAY_START)};
  IF d IS NULL OR start IS NULL THEN RETURN NULL; END IF;
  offs := ((CAST(EXTRACT(ISODOW FROM d) AS integer) - 1 - start) % 7 + 7) % 7;
  RETURN CASE WHEN code = 3 THEN offs ELSE offs + 1 END;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_weeknum(d date, kind numeric) RETURNS numeric {FN} AS $$
DECLARE code numeric := CASE WHEN kind IS NULL THEN 1 ELSE trunc(kind) END; start integer; shift integer;
BEGIN
  IF d IS NULL THEN RETURN NULL; END IF;
  IF code = 21 THEN RETURN EXTRACT(WEEK FROM d); END IF;
  start := {_case("code", WEEKNUM_START)};
  IF start IS NULL THEN RETURN NULL; END IF;
  shift := ((CAST(EXTRACT(ISODOW FROM date_trunc('year', d)) AS integer) - 1 - start) % 7 + 7) % 7;
  RETURN (CAST(EXTRACT(DOY FROM d) AS integer) - 1 + shift) / 7 + 1;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_days_in_month(d date) RETURNS integer {SQLFN} AS $$
SELECT CAST(EXTRACT(DAY FROM date_trunc('month', d) + interval '1 month' - interval '1 day') AS integer) $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_datedif(s date, e date, unit text) RETURNS numeric {FN} AS $$
DECLARE code text; months integer; days integer; anchor date;
BEGIN
  IF s IS NULL OR e IS NULL OR unit IS NULL OR s > e THEN RETURN NULL; END IF;
  code := upper(unit COLLATE "und-x-icu");
  IF code = 'D' THEN RETURN e - s; END IF;
  months := (CAST(EXTRACT(YEAR FROM e) AS integer) - CAST(EXTRACT(YEAR FROM s) AS integer)) * 12
    + CAST(EXTRACT(MONTH FROM e) AS integer) - CAST(EXTRACT(MONTH FROM s) AS integer);
  IF EXTRACT(DAY FROM e) < EXTRACT(DAY FROM s) THEN months := months - 1; END IF;
  IF code = 'M' THEN RETURN months; END IF;
  IF code = 'Y' THEN RETURN floor(months / 12.0); END IF;
  IF code = 'YM' THEN RETURN ((months % 12) + 12) % 12; END IF;
  IF code = 'MD' THEN
    days := CAST(EXTRACT(DAY FROM e) - EXTRACT(DAY FROM s) AS integer);
    IF days < 0 THEN
      days := days + jimu_days_in_month(CAST(date_trunc('month', e) AS date) - 1);
    END IF;
    RETURN days;
  END IF;
  IF code = 'YD' THEN
    anchor := jimu_add_months(s, (EXTRACT(YEAR FROM e) - EXTRACT(YEAR FROM s)) * 12);
    IF anchor IS NULL THEN RETURN NULL; END IF;
    IF anchor > e THEN
      anchor := jimu_add_months(s, (EXTRACT(YEAR FROM e) - EXTRACT(YEAR FROM s) - 1) * 12);
      IF anchor IS NULL THEN RETURN NULL; END IF;
    END IF;
    RETURN e - anchor;
  END IF;
  RETURN NULL;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_workdays_until(d date, shift integer) RETURNS bigint {SQLFN} AS $$
SELECT floor((d - DATE '0001-01-01' + shift) / 7.0)::bigint * 5
  + LEAST((d - DATE '0001-01-01' + shift) - floor((d - DATE '0001-01-01' + shift) / 7.0)::bigint * 7 + 1, 5) $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_networkdays(s date, e date) RETURNS numeric {SQLFN} AS $$
SELECT CASE WHEN s IS NULL OR e IS NULL THEN NULL
  WHEN s > e THEN -(jimu_workdays_until(s, 0) - jimu_workdays_until(e, -1))
  ELSE jimu_workdays_until(e, 0) - jimu_workdays_until(s, -1) END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_datevalue(t text) RETURNS date {FN} AS $$
DECLARE m text[];
BEGIN
  m := regexp_match(translate(t, {FULLWIDTH}, '0123456789 '), '^[ \\t\\n\\r\\f\\v]*([0-9]{{4}})[ \\t\\n\\r\\f\\v]*[-/.年][ \\t\\n\\r\\f\\v]*([0-9]{{1,2}})[ \\t\\n\\r\\f\\v]*[-/.月][ \\t\\n\\r\\f\\v]*([0-9]{{1,2}})[ \\t\\n\\r\\f\\v]*日?(?:[T \\t\\n\\r\\f\\v][^\\n]*)?$');
  IF m IS NULL THEN RETURN NULL; END IF;
  RETURN jimu_make_date(CAST(m[1] AS numeric), CAST(m[2] AS numeric), CAST(m[3] AS numeric));
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_timevalue(t text) RETURNS time {FN} AS $$
DECLARE m text[]; h integer; mi integer; s integer;
BEGIN
  m := regexp_match(translate(t, {FULLWIDTH}, '0123456789 '), '^[ \\t\\n\\r\\f\\v]*([0-9]{{1,2}}):([0-9]{{2}})(?::([0-9]{{2}}))?[ \\t\\n\\r\\f\\v]*$');
  IF m IS NULL THEN RETURN NULL; END IF;
  h := CAST(m[1] AS integer); mi := CAST(m[2] AS integer); s := COALESCE(CAST(m[3] AS integer), 0);
  IF h > 23 OR mi > 59 OR s > 59 THEN RETURN NULL; END IF;
  RETURN make_time(h, mi, s);
END $$""",
]
