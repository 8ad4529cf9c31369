"""Property tests of the expression language (DESIGN §6): random well-typed formulas over random
records must type-check to the intended type and give the same value on every backend.

Formulas are built by result type (number, text, boolean, date) from operators, IF, comparisons
and the common functions that run in SQL, over a fixed schema with a field of each kind and a
subform; records include blanks, "", negative numbers, decimals with up to 10 places, Chinese and
astral text. With the environment variable CI set, the examples are derandomized (a fixed seed).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from engine.expr import ExprError, check, evaluate
from tests.conformance.cases import same_value
from tests.expr.sql_harness import evaluate_sql

CI = bool(os.environ.get("CI"))
NOW = dt.datetime(2024, 6, 30, 17, 30, tzinfo=dt.UTC)  # already July 1st in Asia/Shanghai
TZ = "Asia/Shanghai"
AGREE_EXAMPLES = 1000  # each example runs on Python, SQLite, PostgreSQL and JS
TYPE_EXAMPLES = 500

SCHEMA: dict[str, Any] = {
    "n1": "number",
    "n2": "number",
    "m1": "money",
    "t1": "text",
    "t2": {"type": "textarea", "label": {"zh": "备注"}},
    "b1": "checkbox",
    "d1": "date",
    "d2": "date",
    "items": {"type": "subform", "fields": {"q": "number", "p": "money", "label": "text"}},
}


def _settings(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=CI,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
        ],
    )


# --- values -------------------------------------------------------------------------------------

TEXT_ALPHABET = st.sampled_from(
    [
        *list("abcXYZ019 -_,."),
        "中",
        "文",
        "积",
        "木",
        "\u3000",
        "😀",
        "𠮷",
        "ß",
        "é",
        "\xa0",
        "'",
        '"',
        "%",
        "&",
    ]
)


def decimals(max_int_digits: int = 8) -> st.SearchStrategy[Decimal]:
    return st.builds(
        lambda units, places: Decimal(units).scaleb(-places),
        st.integers(-(10 ** (max_int_digits + 4)), 10 ** (max_int_digits + 4)),
        st.integers(0, 10),
    ).filter(lambda d: abs(d) < Decimal(10) ** max_int_digits)


numbers_or_blank = st.one_of(
    st.none(),
    decimals(),
    st.sampled_from([Decimal(0), Decimal("0.5"), Decimal("-2.5"), Decimal("0.0000000001")]),
)
texts_or_blank = st.one_of(st.none(), st.just(""), st.text(TEXT_ALPHABET, min_size=1, max_size=8))
dates_or_blank = st.one_of(
    st.none(),
    st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31)),
    st.sampled_from([dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2023, 12, 31)]),
)
rows = st.fixed_dictionaries(
    {"q": numbers_or_blank, "p": numbers_or_blank, "label": texts_or_blank}
)
records = st.fixed_dictionaries(
    {
        "n1": numbers_or_blank,
        "n2": numbers_or_blank,
        "m1": st.one_of(st.none(), decimals(10).map(lambda d: d.quantize(Decimal("0.01")))),
        "t1": texts_or_blank,
        "t2": texts_or_blank,
        "b1": st.one_of(st.none(), st.booleans()),
        "d1": dates_or_blank,
        "d2": dates_or_blank,
        "items": st.one_of(st.just([]), st.lists(rows, min_size=1, max_size=4)),
    }
)


# --- formulas -----------------------------------------------------------------------------------


def text_literal(value: str) -> str:
    if "'" in value and '"' not in value:
        return '"' + value + '"'
    return "'" + value.replace("'", "''") + "'"


def number_literal(value: Decimal) -> str:
    text = format(value, "f")
    return f"({text})" if text.startswith("-") else text


NUM_LIT = decimals(6).map(number_literal)
SMALL_INT = st.integers(-3, 12).map(lambda i: f"({i})" if i < 0 else str(i))
TEXT_LIT = st.text(TEXT_ALPHABET, max_size=6).map(text_literal)
NUMBER_FORMATS = st.sampled_from(["0", "0.00", "#,##0.00", "0.0%", "000", "¥#,##0"]).map(
    text_literal
)
DATE_FORMATS = st.sampled_from(["YYYY-MM-DD", "YYYY年M月D日", "YYYYMM", "DD/MM/YY"]).map(
    text_literal
)
DATEDIF_UNITS = st.sampled_from(["Y", "M", "D", "YM", "MD", "YD", "d"]).map(text_literal)


def call(name: str, *parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map(lambda args: f"{name}({', '.join(args)})")


def infix(
    op: str, left: st.SearchStrategy[str], right: st.SearchStrategy[str]
) -> st.SearchStrategy[str]:
    return st.tuples(left, right).map(lambda p: f"({p[0]} {op} {p[1]})")


def comparison(pairs: st.SearchStrategy[tuple[str, str]], op: str) -> st.SearchStrategy[str]:
    return pairs.map(lambda p: f"({p[0]} {op} {p[1]})")


@cache
def formula(kind: str, depth: int) -> st.SearchStrategy[str]:
    """Formula text whose type is ``kind``; ``depth`` bounds the nesting."""
    leaves = {
        "number": st.one_of(
            NUM_LIT, st.sampled_from(["n1", "n2", "m1", "{n1}", "SUM(items.q)", "COUNT(items.p)"])
        ),
        "text": st.one_of(
            TEXT_LIT.filter(lambda t: len(t) > 2), st.sampled_from(["t1", "t2", "{备注}"])
        ),
        "boolean": st.sampled_from(["TRUE", "FALSE", "b1", "true"]),
        "date": st.sampled_from(["d1", "d2", "TODAY()", "DATE(2024, 2, 29)", "DATE(2023, 12, 31)"]),
    }[kind]
    if depth == 0:
        return leaves
    n, t, b, d = (formula(k, depth - 1) for k in ("number", "text", "boolean", "date"))
    any_ordered = st.one_of(st.tuples(n, n), st.tuples(t, t), st.tuples(d, d))
    if kind == "number":
        branches = [
            infix("+", n, n),
            infix("-", n, n),
            infix("*", n, n),
            infix("/", n, n),
            st.tuples(n, st.integers(0, 3)).map(lambda p: f"({p[0]} ^ {p[1]})"),
            n.map(lambda x: f"(-{x})"),
            n.map(lambda x: f"({x}%)"),
            call("ROUND", n, SMALL_INT),
            call("ROUNDUP", n, SMALL_INT),
            call("ROUNDDOWN", n, SMALL_INT),
            call("INT", n),
            call("ABS", n),
            call("SIGN", n),
            call("MOD", n, n),
            call("TRUNC", n),
            call("SQRT", call("ABS", n)),
            call("CEILING", n),
            call("FLOOR", n, NUM_LIT),
            call("MIN", n, n),
            call("MAX", n, n, n),
            call("AVERAGE", n, n),
            call("SUM", n, n, n),
            call("IF", b, n, n),
            call("LEN", t),
            call("VALUE", call("TEXT", n)),
            call("YEAR", d),
            call("MONTH", d),
            call("DAY", d),
            call("WEEKDAY", d, st.sampled_from(["1", "2", "3", "11", "17"])),
            call("WEEKNUM", d),
            call("ISOWEEKNUM", d),
            call("DAYS", d, d),
            call("DATEDIF", d, d, DATEDIF_UNITS),
            call("NETWORKDAYS", d, d),
            infix("-", d, d),
            call("FIND", TEXT_LIT, t),
            call("SEARCH", TEXT_LIT, t),
            st.sampled_from(
                [
                    "SUM(items.q * items.p)",
                    "AVERAGE(items.p)",
                    "MAX(items.q * 2)",
                    "COUNTA(items.label)",
                    "SUM(items.q + n1)",
                ]
            ),
        ]
    elif kind == "text":
        branches = [
            infix("&", t, t),
            infix("&", t, n),
            infix("&", n, b),
            call("LEFT", t, SMALL_INT),
            call("RIGHT", t, SMALL_INT),
            call("MID", t, SMALL_INT, SMALL_INT),
            call("UPPER", t),
            call("LOWER", t),
            call("TRIM", t),
            call("SUBSTITUTE", t, TEXT_LIT, TEXT_LIT),
            call("REPLACE", t, SMALL_INT, SMALL_INT, t),
            call("REPT", t, st.sampled_from(["0", "1", "2", "3"])),
            call("TEXT", n),
            call("TEXT", n, NUMBER_FORMATS),
            call("TEXT", d, DATE_FORMATS),
            call("CONCATENATE", t, n, t),
            call("IF", b, t, t),
            call("IFS", b, t, st.just("TRUE"), t),
            call("SWITCH", t, TEXT_LIT, t, t),
            st.sampled_from(
                [
                    "TEXTJOIN(',', TRUE, items.label)",
                    "TEXTJOIN('、', FALSE, items.q)",
                    "TEXTJOIN('-', TRUE, items.label & items.p)",
                ]
            ),
        ]
    elif kind == "boolean":
        branches = [
            *(comparison(any_ordered, op) for op in ("=", "<>", "<", "<=", ">", ">=")),
            infix("AND", b, b),
            infix("OR", b, b),
            b.map(lambda x: f"(NOT {x})"),
            call("NOT", b),
            call("AND", b, b, b),
            call("OR", b, b),
            call("XOR", b, b),
            call("ISBLANK", st.one_of(n, t, d)),
            call("EXACT", t, t),
            call("IF", b, b, b),
            infix("=", b, b),
        ]
    else:
        branches = [
            infix("+", d, st.integers(-400, 400).map(str)),
            infix("-", d, SMALL_INT),
            call("EDATE", d, SMALL_INT),
            call("EOMONTH", d, SMALL_INT),
            call("IF", b, d, d),
            call("MIN", d, d),
            call("MAX", d, d),
            st.tuples(st.integers(1990, 2100), st.integers(0, 13), st.integers(0, 32)).map(
                lambda p: f"DATE({p[0]}, {p[1]}, {p[2]})"
            ),
            st.sampled_from(
                ["DATEVALUE('2024年2月29日')", "DATEVALUE(t1)", "MAX(items.q * 0 + d1)"]
            ),
        ]
    return st.one_of(leaves, *branches)


def typed_formulas(max_depth: int = 3) -> st.SearchStrategy[tuple[str, str]]:
    """(intended kind, formula): shallow formulas too, so leaves such as SUM(items.q) are
    compared on their own and not only under arithmetic that would hide a blank."""
    return st.tuples(
        st.sampled_from(["number", "text", "boolean", "date"]), st.integers(0, max_depth)
    ).flatmap(lambda p: formula(p[0], p[1]).map(lambda text: (p[0], text)))


# --- the properties -----------------------------------------------------------------------------


@_settings(TYPE_EXAMPLES)
@given(typed_formulas())
def test_generated_formulas_type_check_to_the_intended_type(generated: tuple[str, str]) -> None:
    kind, source = generated
    try:
        result = check(source, SCHEMA)
    except ExprError as exc:  # pragma: no cover - a failure message
        pytest.fail(f"spurious {exc.code} for a well-typed {kind} formula: {source}\n{exc.snippet}")
    assert result.name == kind and not result.is_list, (
        f"{source}: checked as {result}, generated as {kind}"
    )


@pytest.fixture
def backends(
    formula_engine_sqlite: Engine,
    formula_engine_postgresql: Engine,
    node_evaluator: Any,
) -> dict[str, Callable[[str, dict[str, Any]], Any]]:
    """``run(source, record)`` on each non-Python backend, by name."""
    return {
        "sqlite": lambda source, record: evaluate_sql(
            formula_engine_sqlite, source, record, SCHEMA, now=NOW, tz=TZ
        ),
        "postgresql": lambda source, record: evaluate_sql(
            formula_engine_postgresql, source, record, SCHEMA, now=NOW, tz=TZ
        ),
        "js": lambda source, record: node_evaluator.evaluate(
            source, record, SCHEMA, now=NOW, tz=TZ
        ),
    }


@_settings(AGREE_EXAMPLES)
@given(generated=typed_formulas(), record=records)
def test_all_four_backends_agree(
    backends: dict[str, Callable[[str, dict[str, Any]], Any]],
    generated: tuple[str, str],
    record: dict[str, Any],
) -> None:
    """Every generated formula gives one value in Python, SQLite, PostgreSQL and JavaScript."""
    _, source = generated
    expected = evaluate(source, record, SCHEMA, now=NOW, tz=TZ)
    for name, run in backends.items():
        actual = run(source, record)
        assert same_value(actual, expected), (
            f"{name} disagrees on {source}\n  record {record!r}\n  python {expected!r}\n  {name} {actual!r}"
        )
