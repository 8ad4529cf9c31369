"""PostgreSQL ports of TEXT's format mini-language (``texts.format_number`` and
``texts.format_datetime``) and of the default text of dates, times and datetimes."""

from __future__ import annotations

from engine.expr.functions.texts import MAX_FORMAT

FN = "LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE"
SQLFN = "LANGUAGE sql IMMUTABLE PARALLEL SAFE"
NUMBER_PATTERN = r"[0#][0#,]*(?:\.[0#]*)?|\.[0#]+"
DATE_TOKENS = [
    "YYYY",
    "yyyy",
    "YY",
    "yy",
    "MM",
    "M",
    "DD",
    "dd",
    "D",
    "d",
    "HH",
    "hh",
    "H",
    "h",
    "mm",
    "m",
    "ss",
    "s",
]
_TOKEN_ARRAY = "ARRAY[" + ", ".join(f"'{t}'" for t in DATE_TOKENS) + "]"

FORMATS = [
    f"""
CREATE OR REPLACE FUNCTION jimu_group_thousands(digits text) RETURNS text {FN} AS $$
DECLARE result text := ''; rest text := ltrim(digits, '0');
BEGIN
  IF rest = '' THEN RETURN '0'; END IF;
  WHILE length(rest) > 3 LOOP
    result := ',' || right(rest, 3) || result;
    rest := left(rest, -3);
  END LOOP;
  RETURN rest || result;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_format_number(value numeric, fmt text) RETURNS text {FN} AS $$
DECLARE start integer; pattern text; prefix text; suffix text; whole_p text; frac_p text;
  places integer; required integer; rounded numeric; digits text; whole text; frac text;
  min_int integer; body text; dot integer;
BEGIN
  IF value IS NULL THEN RETURN NULL; END IF;
  IF fmt IS NULL THEN RETURN jimu_ntext(value); END IF;
  IF length(fmt) > {MAX_FORMAT} THEN RETURN NULL; END IF;
  start := regexp_instr(fmt, '{NUMBER_PATTERN}');
  IF start = 0 THEN RETURN fmt; END IF;
  pattern := regexp_substr(fmt, '{NUMBER_PATTERN}');
  prefix := left(fmt, start - 1);
  suffix := substr(fmt, start + length(pattern));
  IF strpos(prefix || suffix, '%') > 0 THEN value := value * 100; END IF;
  dot := strpos(pattern, '.');
  whole_p := CASE WHEN dot > 0 THEN left(pattern, dot - 1) ELSE pattern END;
  frac_p := CASE WHEN dot > 0 THEN substr(pattern, dot + 1) ELSE '' END;
  places := length(frac_p);
  required := places - length(replace(frac_p, '0', ''));
  rounded := round(value, places);
  digits := CAST(abs(rounded) AS text);
  dot := strpos(digits, '.');
  whole := CASE WHEN dot > 0 THEN left(digits, dot - 1) ELSE digits END;
  frac := CASE WHEN dot > 0 THEN substr(digits, dot + 1) ELSE '' END;
  WHILE length(frac) > required AND right(frac, 1) = '0' LOOP frac := left(frac, -1); END LOOP;
  min_int := length(replace(whole_p, ',', '')) - length(replace(replace(whole_p, ',', ''), '0', ''));
  whole := ltrim(whole, '0');
  IF length(whole) < min_int THEN whole := repeat('0', min_int - length(whole)) || whole; END IF;
  IF strpos(whole_p, ',') > 0 AND whole <> '' THEN whole := jimu_group_thousands(whole); END IF;
  body := whole || CASE WHEN frac <> '' THEN '.' || frac ELSE '' END;
  IF body = '' THEN body := '0'; END IF;
  RETURN jimu_cap(CASE WHEN rounded < 0 AND btrim(body, '0.,') <> '' THEN '-' ELSE '' END
    || prefix || body || suffix);
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_format_parts(fmt text, y integer, mo integer, d integer,
    h integer, mi integer, s integer) RETURNS text {FN} AS $$
DECLARE tokens text[] := {_TOKEN_ARRAY}; result text := ''; i integer := 1; n integer := length(fmt);
  token text; matched boolean; key text; number integer;
BEGIN
  IF n > {MAX_FORMAT} THEN RETURN NULL; END IF;
  WHILE i <= n LOOP
    matched := FALSE;
    FOREACH token IN ARRAY tokens LOOP
      IF substr(fmt, i, length(token)) = token THEN
        key := left(token, 1);
        key := CASE key WHEN 'y' THEN 'Y' WHEN 'd' THEN 'D' WHEN 'h' THEN 'H' ELSE key END;
        number := CASE key WHEN 'Y' THEN y WHEN 'M' THEN mo WHEN 'D' THEN d WHEN 'H' THEN h
          WHEN 'm' THEN mi ELSE s END;
        IF number IS NULL THEN
          result := result || token;
        ELSIF key = 'Y' THEN
          result := result || CASE WHEN length(token) = 4 THEN lpad(CAST(number AS text), 4, '0')
            ELSE lpad(CAST(number % 100 AS text), 2, '0') END;
        ELSIF length(token) = 2 THEN
          result := result || lpad(CAST(number AS text), 2, '0');
        ELSE
          result := result || CAST(number AS text);
        END IF;
        i := i + length(token);
        matched := TRUE;
        EXIT;
      END IF;
    END LOOP;
    IF NOT matched THEN
      result := result || substr(fmt, i, 1);
      i := i + 1;
    END IF;
  END LOOP;
  RETURN jimu_cap(result);
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_format_date(v date, fmt text) RETURNS text {SQLFN} AS $$
SELECT CASE WHEN v IS NULL THEN NULL WHEN fmt IS NULL THEN to_char(v, 'YYYY-MM-DD') ELSE jimu_format_parts(fmt, CAST(EXTRACT(YEAR FROM v) AS integer), CAST(EXTRACT(MONTH FROM v) AS integer),
  CAST(EXTRACT(DAY FROM v) AS integer), 0, 0, 0) END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_format_time(v time, fmt text) RETURNS text {SQLFN} AS $$
SELECT CASE WHEN v IS NULL THEN NULL WHEN fmt IS NULL THEN to_char(v, 'HH24:MI:SS') ELSE jimu_format_parts(fmt, NULL, NULL, NULL, CAST(EXTRACT(HOUR FROM v) AS integer),
  CAST(EXTRACT(MINUTE FROM v) AS integer), CAST(floor(EXTRACT(SECOND FROM v)) AS integer)) END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_format_datetime(v timestamptz, fmt text, tz text) RETURNS text {FN} AS $$
DECLARE local timestamp := v AT TIME ZONE tz;
BEGIN
  IF v IS NULL THEN RETURN NULL; END IF;
  IF fmt IS NULL THEN RETURN to_char(local, 'YYYY-MM-DD HH24:MI:SS'); END IF;
  RETURN jimu_format_parts(fmt, CAST(EXTRACT(YEAR FROM local) AS integer),
    CAST(EXTRACT(MONTH FROM local) AS integer), CAST(EXTRACT(DAY FROM local) AS integer),
    CAST(EXTRACT(HOUR FROM local) AS integer), CAST(EXTRACT(MINUTE FROM local) AS integer),
    CAST(floor(EXTRACT(SECOND FROM local)) AS integer));
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_datetime_text(v timestamptz, tz text) RETURNS text {SQLFN} AS $$
SELECT to_char(v AT TIME ZONE tz, 'YYYY-MM-DD HH24:MI:SS') $$""",
]
