"""PostgreSQL helper functions (``jimu_*``): what must not be inlined twice or needs a loop.

:func:`install_postgres_functions` creates them idempotently (``CREATE OR REPLACE``); every one
is ``IMMUTABLE`` and ``PARALLEL SAFE``, takes blank (NULL) the way the Python backend does and
never raises for a value a formula can produce. Numbers are NUMERIC; ``jimu_num`` is
``numbers.norm`` (round to 10 places half away from zero, blank beyond 10^18); ``jimu_div`` is
exact (PostgreSQL's ``/`` rounds at ~16 digits first, which double-rounds). Text formats and
date helpers are line-by-line ports of :mod:`engine.expr.functions`.
"""

from __future__ import annotations

from typing import Any

from engine.expr.functions.texts import MAX_TEXT, WHITESPACE

VERSION = 2  # bump when a function's parameters or result type change


def _unicode_literal(chars: str) -> str:
    return "U&'" + "".join(f"\\{ord(ch):04X}" for ch in chars) + "'"


WS = _unicode_literal(WHITESPACE)
ICU = '"und-x-icu"'
FN = "LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE"
SQLFN = "LANGUAGE sql IMMUTABLE PARALLEL SAFE"

NUMBERS = [
    f"""
CREATE OR REPLACE FUNCTION jimu_num(x numeric) RETURNS numeric {FN} STRICT AS $$
DECLARE r numeric := round(x, 10);
BEGIN
  IF abs(r) >= 1e18 THEN RETURN NULL; END IF;
  RETURN r;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_int(x numeric) RETURNS integer {SQLFN} AS $$
SELECT CAST(GREATEST(-2147483648, LEAST(2147483647, trunc(COALESCE(x, 0)))) AS integer) $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_div(a numeric, b numeric) RETURNS numeric {FN} AS $$
DECLARE x numeric := abs(COALESCE(a, 0)) * 10000000000; y numeric := abs(COALESCE(b, 0)); q numeric;
BEGIN
  IF y = 0 THEN RETURN NULL; END IF;
  q := div(x, y);
  IF 2 * (x - q * y) >= y THEN q := q + 1; END IF;
  IF (COALESCE(a, 0) < 0) <> (b < 0) THEN q := -q; END IF;
  RETURN jimu_num(q * 0.0000000001);
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_round(x0 numeric, d0 numeric, mode text) RETURNS numeric {FN} AS $$
DECLARE x numeric := COALESCE(x0, 0);
  d integer := CAST(GREATEST(-18, LEAST(10, trunc(COALESCE(d0, 0)))) AS integer);
  up numeric := CAST('1e' || d AS numeric); down numeric := CAST('1e' || (-d) AS numeric); r numeric;
BEGIN
  IF mode = 'half_up' THEN r := round(x, d);
  ELSIF mode = 'down' THEN r := trunc(x, d);
  ELSIF mode = 'floor' THEN r := floor(x * up) * down;
  ELSIF mode = 'ceiling' THEN r := ceil(x * up) * down;
  ELSE r := sign(x) * ceil(abs(x) * up) * down;
  END IF;
  IF abs(r) >= 1e18 THEN RETURN NULL; END IF;
  RETURN r;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_mod(a0 numeric, b0 numeric) RETURNS numeric {FN} AS $$
DECLARE a numeric := COALESCE(a0, 0); b numeric := COALESCE(b0, 0); r numeric;
BEGIN
  IF b = 0 THEN RETURN NULL; END IF;
  r := mod(a, b);
  IF r <> 0 AND (r < 0) <> (b < 0) THEN r := r + b; END IF;
  RETURN jimu_num(r);
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_multiple(x0 numeric, s0 numeric, ceiling boolean) RETURNS numeric {FN} AS $$
-- CEILING / FLOOR as Excel: x / |step| rounded up (ceiling) or down, by step's sign; see maths.py
DECLARE x numeric := COALESCE(x0, 0); step numeric := COALESCE(s0, 1); a numeric := abs(COALESCE(s0, 1));
  q numeric; r numeric; up boolean;
BEGIN
  IF step = 0 THEN RETURN CASE WHEN ceiling THEN 0 END; END IF;
  IF step < 0 AND x > 0 THEN RETURN NULL; END IF;
  -- toward +infinity: CEILING with a positive step, FLOOR with a negative one (toward zero)
  up := ceiling = (step > 0);
  q := div(x, a);
  r := x - q * a;
  IF up AND r > 0 THEN q := q + 1; END IF;
  IF NOT up AND r < 0 THEN q := q - 1; END IF;
  RETURN jimu_num(q * a);
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_power(a0 numeric, b0 numeric) RETURNS numeric {FN} AS $$
DECLARE a numeric := COALESCE(a0, 0); b numeric := COALESCE(b0, 0); m numeric; r numeric := 1; i integer;
BEGIN
  IF a = 0 THEN
    IF b < 0 THEN RETURN NULL; END IF;
    RETURN CASE WHEN b = 0 THEN 1 ELSE 0 END;
  END IF;
  IF a < 0 AND b <> trunc(b) THEN RETURN NULL; END IF;
  m := log(round(abs(a), 60)) * b;
  IF m >= 18 THEN RETURN NULL; END IF;
  IF m < -12 THEN RETURN 0; END IF;
  IF b = trunc(b) AND abs(b) <= 200 THEN
    FOR i IN 1..CAST(abs(b) AS integer) LOOP r := r * a; END LOOP;
    IF b < 0 THEN RETURN jimu_div(1, r); END IF;
    RETURN jimu_num(r);
  END IF;
  IF a < 0 THEN
    r := power(round(abs(a), 60), b);
    RETURN jimu_num(CASE WHEN mod(b, 2) = 0 THEN r ELSE -r END);
  END IF;
  RETURN jimu_num(power(round(a, 60), b));
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_sqrt(a numeric) RETURNS numeric {FN} AS $$
BEGIN
  IF COALESCE(a, 0) < 0 THEN RETURN NULL; END IF;
  RETURN jimu_num(sqrt(round(COALESCE(a, 0), 60)));
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_sum(xs numeric[]) RETURNS numeric {SQLFN} AS $$
SELECT jimu_num(COALESCE(sum(x), 0)) FROM unnest(xs) AS x $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_average(xs numeric[]) RETURNS numeric {SQLFN} AS $$
SELECT jimu_div(jimu_num(sum(x)), count(x)) FROM unnest(xs) AS x $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_count(xs anyarray) RETURNS numeric {SQLFN} AS $$
SELECT CAST(count(x) AS numeric) FROM unnest(xs) AS x $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_min(xs anyarray) RETURNS anyelement {SQLFN} AS $$
SELECT min(x) FROM unnest(xs) AS x $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_max(xs anyarray) RETURNS anyelement {SQLFN} AS $$
SELECT max(x) FROM unnest(xs) AS x $$""",
]

TEXTS = [
    f"""
CREATE OR REPLACE FUNCTION jimu_cap(t text) RETURNS text {SQLFN} AS $$
SELECT CASE WHEN length(t) > {MAX_TEXT} THEN NULL ELSE NULLIF(t, '') END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_ntext(x numeric) RETURNS text {SQLFN} AS $$
SELECT CAST(trim_scale(x) AS text) $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_btext(x boolean) RETURNS text {SQLFN} AS $$
SELECT CASE x WHEN TRUE THEN 'TRUE' WHEN FALSE THEN 'FALSE' END $$""",
    # ICU's full case mapping (ß -> SS) inside a function, so that the ICU collation does not
    # leak into the caller's expression (it would clash with COLLATE "C" comparisons).
    f"""
CREATE OR REPLACE FUNCTION jimu_upper(t text) RETURNS text {SQLFN} AS $$
SELECT jimu_cap(upper(t COLLATE {ICU})) $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_lower(t text) RETURNS text {SQLFN} AS $$
SELECT jimu_cap(lower(t COLLATE {ICU})) $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_left(t text, n numeric) RETURNS text {SQLFN} AS $$
SELECT CASE WHEN jimu_int(n) < 0 THEN NULL ELSE jimu_cap(left(COALESCE(t, ''), jimu_int(n))) END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_right(t text, n numeric) RETURNS text {SQLFN} AS $$
SELECT CASE WHEN jimu_int(n) < 0 THEN NULL ELSE jimu_cap(right(COALESCE(t, ''), jimu_int(n))) END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_mid(t text, s0 numeric, n0 numeric) RETURNS text {FN} AS $$
DECLARE s integer := jimu_int(s0); n integer := jimu_int(n0);
BEGIN
  IF s < 1 OR n < 0 THEN RETURN NULL; END IF;
  RETURN jimu_cap(substr(COALESCE(t, ''), s, n));
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_trim(t text) RETURNS text {SQLFN} AS $$
SELECT jimu_cap(regexp_replace(btrim(t, {WS}), ' {{2,}}', ' ', 'g')) $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_replace(t0 text, s0 numeric, n0 numeric, new text) RETURNS text {FN} AS $$
DECLARE t text := COALESCE(t0, ''); s integer := jimu_int(s0); n integer := jimu_int(n0);
BEGIN
  IF s < 1 OR n < 0 THEN RETURN NULL; END IF;
  RETURN jimu_cap(left(t, s - 1) || COALESCE(new, '')
    || substr(t, CAST(LEAST(CAST(s AS bigint) + n, 2147483647) AS integer)));
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_substitute(t0 text, old text, new0 text, instance numeric) RETURNS text {FN} AS $$
DECLARE base text := COALESCE(t0, ''); new text := COALESCE(new0, ''); nth integer; pos integer := 0; found integer; i integer;
BEGIN
  IF old IS NULL OR old = '' THEN RETURN jimu_cap(base); END IF;
  IF instance IS NULL THEN
    IF (length(base) - length(replace(base, old, ''))) / length(old) * GREATEST(length(new) - length(old), 0)
        + length(base) > {MAX_TEXT} THEN
      RETURN NULL;
    END IF;
    RETURN jimu_cap(replace(base, old, new));
  END IF;
  nth := jimu_int(instance);
  IF nth < 1 THEN RETURN NULL; END IF;
  FOR i IN 1..nth LOOP
    found := strpos(substr(base, pos + 1), old);
    IF found = 0 THEN RETURN jimu_cap(base); END IF;
    pos := pos + found;
  END LOOP;
  RETURN jimu_cap(left(base, pos - 1) || new || substr(base, pos + length(old)));
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_find(needle0 text, hay0 text, start numeric, insensitive boolean) RETURNS numeric {FN} AS $$
DECLARE hay text := COALESCE(hay0, ''); needle text := COALESCE(needle0, ''); s integer := jimu_int(start); found integer;
BEGIN
  IF s < 1 OR s > length(hay) + 1 THEN RETURN NULL; END IF;
  IF insensitive THEN
    hay := lower(hay COLLATE {ICU});
    needle := lower(needle COLLATE {ICU});
  END IF;
  IF s > length(hay) + 1 THEN RETURN NULL; END IF;
  found := strpos(substr(hay, s), needle);
  IF found = 0 THEN RETURN NULL; END IF;
  RETURN s + found - 1;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_rept(t text, n numeric) RETURNS text {FN} AS $$
DECLARE k integer := jimu_int(n);
BEGIN
  IF k < 0 OR CAST(length(COALESCE(t, '')) AS bigint) * k > {MAX_TEXT} THEN RETURN NULL; END IF;
  RETURN jimu_cap(repeat(COALESCE(t, ''), k));
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_value(t text) RETURNS numeric {FN} AS $$
DECLARE m text[]; v numeric;
BEGIN
  IF t IS NULL OR t = '' THEN RETURN NULL; END IF;
  m := regexp_match(replace(btrim(t, {WS}), ',', ''), '^([+-]?)([0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(%?)$');
  IF m IS NULL OR length(m[2]) > 60 THEN RETURN NULL; END IF;
  v := CAST(m[1] || m[2] AS numeric);
  IF m[3] = '%' THEN v := v * 0.01; END IF;
  RETURN jimu_num(v);
END $$""",
    f"""
CREATE OR REPLACE FUNCTION jimu_textjoin(delimiter text, ignore_empty boolean, xs text[]) RETURNS text {SQLFN} AS $$
SELECT jimu_cap(string_agg(COALESCE(x, ''), COALESCE(delimiter, '') ORDER BY n))
FROM unnest(xs) WITH ORDINALITY AS u(x, n)
WHERE x IS NOT NULL OR ignore_empty IS NOT TRUE $$""",
]


def install_statements() -> list[str]:
    """Every DDL statement, in dependency order."""
    from .pg_dates import DATES
    from .pg_formats import FORMATS

    return [s.strip() for s in (*NUMBERS, *TEXTS, *FORMATS, *DATES)]


def install_postgres_functions(connection: Any) -> None:
    """Create or replace every ``jimu_*`` function (an SQLAlchemy ``Connection``; idempotent).

    ``jimu_version()`` records :data:`VERSION`; when an older set is installed, its functions
    are dropped first (``CREATE OR REPLACE`` cannot change parameter names or result types).
    Raises RuntimeError if the cluster lacks the ICU collation ``und-x-icu`` (UPPER, LOWER and
    SEARCH need Unicode case mapping).
    """
    from sqlalchemy import text

    found = connection.execute(
        text("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'")
    ).first()
    if found is None:
        raise RuntimeError("PostgreSQL lacks the ICU collation und-x-icu (build with ICU)")
    # Concurrent CREATE OR REPLACE of one function can fail ("tuple concurrently updated").
    connection.execute(text("SELECT pg_advisory_xact_lock(7406170001)"))
    installed = (
        connection.execute(
            text(
                "SELECT p.oid::regprocedure::text FROM pg_proc p"
                " WHERE p.proname LIKE 'jimu\\_%' AND p.pronamespace = current_schema()::regnamespace"
            )
        )
        .scalars()
        .all()
    )
    current = None
    if "jimu_version()" in installed:
        current = connection.execute(text("SELECT jimu_version()")).scalar()
    cursor = connection.connection.cursor()  # the driver's own: no placeholder parsing
    try:
        if current != VERSION:
            for signature in installed:
                cursor.execute(f"DROP FUNCTION IF EXISTS {signature}")
        for statement in install_statements():
            cursor.execute(statement)
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION jimu_version() RETURNS integer {SQLFN} AS $$ SELECT {VERSION} $$"
        )
    finally:
        cursor.close()
