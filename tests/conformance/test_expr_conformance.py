"""The expression conformance suite (DESIGN §6): every case of tests/conformance/expr/*.json runs
on Python, SQLite, PostgreSQL and the JavaScript backend, and all must give the expected value.

Test ids read ``<file>::<case id>[<backend>]``, e.g. ``math.json::round-half-away-negative[js]``;
error cases are checked once by ``check`` and again through ``to_sql`` and ``to_js``
(``errors.json::unknown-field[check]``, ``[sql]``, ``[js]``).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from engine.expr import ExprError, check, decode, evaluate, to_js, to_sql
from engine.expr.types import normalize_schema
from tests.conformance.cases import BACKENDS, Case, decode_record, load_cases, same_value
from tests.expr.sql_harness import evaluate_sql

CASES = load_cases()
MIN_CASES = 320
MIN_ERROR_CASES = 30


def _value_params() -> list[Any]:
    params = []
    for case in CASES:
        if case.error is not None:
            continue
        for backend in case.backends:
            marks = [pytest.mark.postgres] if backend == "postgresql" else []
            params.append(pytest.param(case, backend, id=f"{case.name}[{backend}]", marks=marks))
    return params


def _error_params() -> list[Any]:
    return [
        pytest.param(case, stage, id=f"{case.name}[{stage}]")
        for case in CASES
        if case.error is not None
        for stage in ("check", "sql", "js")
    ]


# --- comparing values ---------------------------------------------------------------------------


# --- backends -----------------------------------------------------------------------------------


def run_backend(
    request: pytest.FixtureRequest, case: Case, backend: str, record: dict[str, Any]
) -> Any:
    when: dict[str, Any] = {
        "now": case.now,
        "tz": case.tz,
        "user": case.user,
        "departments": case.departments,
    }
    if backend == "python":
        return evaluate(case.expr, record, case.schema, **when)
    if backend in ("sqlite", "postgresql"):
        engine = request.getfixturevalue(f"formula_engine_{backend}")
        return evaluate_sql(engine, case.expr, record, case.schema, **when)
    if backend == "js":
        node = request.getfixturevalue("node_evaluator")
        return node.evaluate(case.expr, record, case.schema, **when)
    raise AssertionError(f"unknown backend {backend}")  # pragma: no cover


@pytest.mark.parametrize(("case", "backend"), _value_params())
def test_expression_value(request: pytest.FixtureRequest, case: Case, backend: str) -> None:
    result_type = check(case.expr, case.schema)
    expected = decode(case.expected, result_type)
    if case.expected is not None:
        assert expected is not None, (
            f"{case.name}: expected {case.expected!r} is not a {result_type}"
        )
    record = decode_record(case.record, normalize_schema(case.schema))
    actual = run_backend(request, case, backend, record)
    assert same_value(actual, expected), (
        f"{case.name} on {backend}: {case.expr!r}\n"
        f"  expected {expected!r} ({type(expected).__name__})\n"
        f"  got      {actual!r} ({type(actual).__name__})"
    )


# --- errors -------------------------------------------------------------------------------------


def _compile(case: Case, stage: str) -> Any:
    if stage == "check":
        return check(case.expr, case.schema)
    if stage == "sql":
        return to_sql(case.expr, {}, case.schema, now=case.now, tz=case.tz)
    return to_js(case.expr, case.schema)


@pytest.mark.parametrize(("case", "stage"), _error_params())
def test_expression_error(case: Case, stage: str) -> None:
    with pytest.raises(ExprError) as info:
        _compile(case, stage)
    error = info.value
    assert error.code == case.error, f"{case.name}: got {error.code}: {error.message_en}"
    if case.line is not None:
        assert error.line == case.line, f"{case.name}: line {error.line}, expected {case.line}"
    if case.column is not None:
        assert error.column == case.column, (
            f"{case.name}: column {error.column}, expected {case.column}"
        )
    assert error.message_zh and error.message_en


# --- the suite itself ---------------------------------------------------------------------------


def test_suite_size_and_coverage() -> None:
    """Enough cases, every function exercised at least twice, enough error cases."""
    from engine.expr.functions import FUNCTIONS

    assert len(CASES) >= MIN_CASES
    assert sum(1 for c in CASES if c.error is not None) >= MIN_ERROR_CASES
    uses: dict[str, int] = dict.fromkeys(FUNCTIONS.names(), 0)
    for case in CASES:
        if case.error is None:
            for name in set(re.findall(r"\b([A-Za-z_]+)\s*\(", case.expr)):
                if name.upper() in uses:
                    uses[name.upper()] += 1
    rare = sorted(name for name, count in uses.items() if count < 2)
    assert not rare, f"functions with fewer than 2 value cases: {rare}"


def test_backends_are_restricted_only_for_python_js_functions() -> None:
    """`backends` may only leave out SQL, and only for functions that cannot run in SQL."""
    from engine.expr.functions import FUNCTIONS

    sql_less = {name for name in FUNCTIONS.names() if "sql" not in FUNCTIONS[name].backends}
    for case in CASES:
        if set(case.backends) == set(BACKENDS):
            continue
        assert set(case.backends) == {"python", "js"}, case.name
        assert any(re.search(rf"\b{name}\s*\(", case.expr, re.I) for name in sql_less), case.name
