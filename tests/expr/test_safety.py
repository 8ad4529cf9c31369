"""Adversarial formulas (DESIGN §6: a closed language; safety from the grammar, not a sandbox).

Every Python sandbox-escape payload is a parse or type error — through ``check``, ``evaluate``,
``to_sql`` and ``to_js`` alike — and nothing is ever evaluated as Python. Resource attacks (huge
powers, deep nesting, long formulas, megabyte texts) end in a clear ExprError or, at run time,
in blank, within a generous time limit (a safety net, not a speed assertion).
"""

from __future__ import annotations

import builtins
import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.expr import MAX_DEPTH, MAX_LENGTH, ExprError, check, evaluate, to_js, to_sql

TIME_LIMIT = 5.0  # seconds per case; generous on purpose

SCHEMA: dict[str, Any] = {
    "x": "number",
    "s": "text",
    "amount": "money",
    "customer": {"type": "relation", "fields": {"name": "text"}},
    "items": {"type": "subform", "fields": {"qty": "number"}},
}

MARKER = Path("/tmp/jimu-expr-safety-marker")

PAYLOADS = [
    "__import__('os').system('id')",
    f"__import__('os').system('touch {MARKER}')",
    "().__class__.__bases__[0].__subclasses__()",
    "''.__class__.__mro__[1].__subclasses__()",
    "x.__class__",
    "x.__class__.__init__.__globals__",
    "s.__len__()",
    "customer.__dict__",
    "customer.name.__class__",
    "__builtins__",
    "{__class__}",
    "{__import__('os')}",
    "lambda: 1",
    "(lambda: 1)()",
    "[x for x in items]",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "{k: 1 for k in s}",
    "(y for y in s)",
    "f'{x}'",
    "f\"{__import__('os').system('id')}\"",
    "import os",
    "from os import system",
    "exec('print(1)')",
    "eval('1+1')",
    "compile('1', 'f', 'eval')",
    "globals()",
    "locals()['x']",
    'getattr(getattr(x, "__class__"), "__mro__")',
    "open('/etc/passwd').read()",
    "OPEN('/etc/passwd')",
    "(y := 1)",
    "x if True else 0",
    "os.system('id')",
    "SUBSTITUTE.__globals__",
    "IF(TRUE, 1, __import__('os'))",
    "SUM(*[1, 2])",
    "'a' * 10**8",
    "x[0]",
    "`id`",
    "$(id)",
    "1; import os",
    "1 # comment",
    '"a\\" & 1"',
    "'a\\'b'",
    "x\nimport os",
    "__import__",
    "type(x)",
    "x.real",
    "LEN.__call__('a')",
    "SUM(1)(2)",
]

ALLOWED_CODES = {
    "unexpected_char",
    "unexpected_token",
    "unexpected_end",
    "unterminated_text",
    "unterminated_brace",
    "unknown_field",
    "unknown_function",
    "not_a_relation",
    "needs_subfield",
    "arg_count",
    "arg_type",
    "operand_type",
    "condition_type",
    "list_not_allowed",
    "chained_comparison",
    "modulo_operator",
}


def within_time_limit(run: Callable[[], Any], limit: float = TIME_LIMIT) -> Any:
    """Run ``run`` in a daemon thread; fail if it has not finished within ``limit`` seconds."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = run()
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        pytest.fail(f"did not finish within {limit} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@contextlib.contextmanager
def no_python_evaluation(payload: str) -> Iterator[list[str]]:
    """While a formula is handled, eval/exec/compile refuse (and record) any source text that
    contains it, and os.system refuses everything. Imports still work: they exec code objects,
    and dataclasses exec their own generated text."""
    import os

    calls: list[str] = []
    saved = {name: getattr(builtins, name) for name in ("eval", "exec", "compile")}

    def refuse(name: str) -> Callable[..., Any]:
        def guard(*args: Any, **kwargs: Any) -> Any:
            source = args[0] if args else kwargs.get("source")
            if name == "os.system" or (
                isinstance(source, (str, bytes)) and payload.strip() in str(source)
            ):
                calls.append(name)
                raise AssertionError(f"{name} called on the formula text")
            return saved[name](*args, **kwargs)

        return guard

    saved_system = os.system
    try:
        for name in saved:
            setattr(builtins, name, refuse(name))
        os.system = refuse("os.system")
        yield calls
    finally:
        for name, original in saved.items():
            setattr(builtins, name, original)
        os.system = saved_system


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_is_a_formula_error(payload: str) -> None:
    MARKER.unlink(missing_ok=True)
    errors: list[ExprError] = []
    with no_python_evaluation(payload) as calls:
        for run in (
            lambda: check(payload, SCHEMA),
            lambda: evaluate(payload, {"x": 1, "s": "a"}, SCHEMA),
        ):
            try:
                within_time_limit(run)
            except ExprError as exc:
                errors.append(exc)
    assert not calls, f"{payload!r} reached {calls}"
    assert not MARKER.exists()
    assert len(errors) == 2, f"{payload!r} was accepted"
    first, second = errors
    assert first.code in ALLOWED_CODES, f"{payload!r}: {first}"
    assert second.code == first.code
    assert first.message_zh and first.message_en


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("backend", ["sql", "js"])
def test_payload_is_an_error_in_every_backend(payload: str, backend: str) -> None:
    expected = None
    try:
        check(payload, SCHEMA)
    except ExprError as exc:
        expected = exc.code
    assert expected is not None
    with pytest.raises(ExprError) as info:
        within_time_limit(
            lambda: to_sql(payload, {}, SCHEMA) if backend == "sql" else to_js(payload, SCHEMA)
        )
    assert info.value.code == expected


def test_backslashes_are_not_escapes() -> None:
    assert evaluate("'\\u0041\\x41\\n'", {}, SCHEMA) == "\\u0041\\x41\\n"
    assert evaluate('"a\\" & "b"', {}, SCHEMA) == "a\\b"


# --- resource attacks ---------------------------------------------------------------------------


def error_or_blank(source: str, record: dict[str, Any] | None = None) -> str | None:
    """The error code of a formula, or None when it evaluates (its value must then be blank)."""
    try:
        value = within_time_limit(lambda: evaluate(source, record or {}, SCHEMA))
    except ExprError as exc:
        assert exc.message_zh and exc.message_en
        return exc.code
    assert value is None, f"{source[:60]!r} gave {value!r}"
    return None


def test_power_tower_is_an_error_or_blank() -> None:
    assert error_or_blank("9^9^9^9") in (None, "number_overflow")


def test_power_tower_of_fields_is_blank_at_run_time() -> None:
    assert error_or_blank("POWER(x, POWER(x, x))", {"x": 9}) is None
    # ((9^9)^9) overflows to blank, and blank counts as 0 in the last ^: no error, no hang.
    assert within_time_limit(lambda: evaluate("x ^ x ^ x ^ x", {"x": 9}, SCHEMA)) == 0


@pytest.mark.parametrize(
    "exponent", ["999999999999999999", "-999999999999999999", "0.5", "99999999.5"]
)
def test_huge_exponents_finish(exponent: str) -> None:
    within_time_limit(lambda: evaluate(f"POWER(x, {exponent})", {"x": "1.0000000001"}, SCHEMA))
    within_time_limit(lambda: evaluate(f"x ^ {exponent}", {"x": "-7"}, SCHEMA))


def test_ten_thousand_nested_parentheses() -> None:
    source = "(" * 10_000 + "1" + ")" * 10_000
    assert error_or_blank(source) in ("too_long", "too_deep")


def test_nesting_just_within_the_length_limit_is_too_deep() -> None:
    depth = (MAX_LENGTH - 1) // 2
    source = "(" * depth + "1" + ")" * depth
    assert len(source) <= MAX_LENGTH
    assert error_or_blank(source) == "too_deep"
    assert error_or_blank("SUM(" * 1000 + "1" + ")" * 1000) in ("too_long", "too_deep")


def test_hundred_thousand_unary_minus_signs() -> None:
    assert error_or_blank("-" * 100_000 + "1") == "too_long"
    assert error_or_blank("-" * (MAX_LENGTH - 1) + "1") == "too_deep"


def test_nesting_limit_is_exact() -> None:
    assert check("(" * (MAX_DEPTH - 1) + "1" + ")" * (MAX_DEPTH - 1), SCHEMA).kind == "number"
    assert error_or_blank("(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH) == "too_deep"


def test_megabyte_string_literal() -> None:
    assert error_or_blank("'" + "a" * 1_000_000 + "'") == "too_long"


def test_long_sum_formula() -> None:
    """A 4,000-character formula of 1+1+…: within the length limit, but nested too deeply."""
    source = "1" + "+1" * ((MAX_LENGTH - 1) // 2)
    assert len(source) <= MAX_LENGTH
    assert error_or_blank(source) in ("too_deep", None)
    assert error_or_blank(source + "+1+1") == "too_long"


BIG = "a" * 1_000_000


@pytest.mark.parametrize(
    "source",
    [
        "SUBSTITUTE(s, 'a', 'bb')",
        "SUBSTITUTE(s, 'a', s)",
        "SUBSTITUTE(SUBSTITUTE(s, 'a', s), 'a', s)",
        "REPT(s, 1000)",
        "REPT(s, 999999999999999999)",
        "REPT(REPT(s, 100), 100)",
        "REPT('ab', 999999999999999999)",
        "s & s",
        "s & 'x'",
        "CONCATENATE(s, s, s)",
        "TEXTJOIN(',', TRUE, s, s)",
        "REPLACE(s, 1, 0, s)",
        "UPPER(s & s)",
    ],
)
def test_megabyte_record_value_gives_blank(source: str) -> None:
    assert error_or_blank(source, {"s": BIG}) is None


def test_megabyte_record_value_still_measurable() -> None:
    assert within_time_limit(lambda: evaluate("LEN(s)", {"s": BIG}, SCHEMA)) == 1_000_000
    assert (
        within_time_limit(lambda: evaluate("LEN(SUBSTITUTE(s, 'a', ''))", {"s": BIG}, SCHEMA)) == 0
    )
    assert (
        within_time_limit(lambda: evaluate("FIND('b', s & 'b')", {"s": "a" * 99_999}, SCHEMA))
        == 100_000
    )


def test_record_values_are_data_not_code() -> None:
    payload = "__import__('os').system('id')"
    assert evaluate("s & ''", {"s": payload}, SCHEMA) == payload
    assert evaluate("VALUE(s)", {"s": "1+1"}, SCHEMA) is None
    assert evaluate("x + 1", {"x": "__import__('os')"}, SCHEMA) == 1
