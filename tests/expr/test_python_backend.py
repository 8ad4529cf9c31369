"""The Python backend: closures over the checked tree, record values of any Python shape, the
evaluation context, laziness, and value types (DESIGN §6)."""

from __future__ import annotations

import datetime as dt
import decimal
import threading
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest

from engine.expr import EvalContext, compile_formula, decode, encode, evaluate
from engine.expr.types import ExprType

SCHEMA: dict[str, Any] = {
    "a": "number",
    "b": "number",
    "s": "text",
    "flag": "checkbox",
    "d": "date",
    "at": "datetime",
    "items": {"type": "subform", "fields": {"qty": "number", "price": "money"}},
    "customer": {"type": "relation", "fields": {"level": "text"}},
}
NOW = dt.datetime(2024, 6, 30, 17, 30, tzinfo=dt.UTC)


class SpyRecord(Mapping[str, Any]):
    """A record that remembers which fields were read."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.read: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.read.append(key)
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.read.append(key)
        return self.data.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def run(source: str, record: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
    return evaluate(source, record or {}, SCHEMA, now=NOW, **kwargs)


# --- value types --------------------------------------------------------------------------------


def test_result_types() -> None:
    assert isinstance(run("1 + 1"), Decimal)
    assert run("'a' & 'b'") == "ab"
    assert run("1 < 2") is True
    assert run("DATE(2024, 2, 29)") == dt.date(2024, 2, 29)
    now = run("NOW()")
    assert isinstance(now, dt.datetime) and now.utcoffset() == dt.timedelta(0) and now == NOW
    assert run("TIMEVALUE('9:05')") == dt.time(9, 5)
    assert run("NULL") is None
    assert run("''") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1.25"), Decimal("2.25")),
        (2, Decimal(3)),
        (0.1, Decimal("1.1")),
        ("2.5", Decimal("3.5")),
        (" 2.5 ", Decimal("3.5")),
        ("", Decimal(1)),
        (None, Decimal(1)),
        ("abc", Decimal(1)),
        (True, Decimal(1)),
    ],
)
def test_number_fields_accept_python_values(value: Any, expected: Decimal) -> None:
    assert run("a + 1", {"a": value}) == expected


def test_floats_are_read_by_their_shortest_repr() -> None:
    assert run("a + b = 0.3", {"a": 0.1, "b": 0.2}) is True


def test_missing_fields_are_blank() -> None:
    assert run("ISBLANK(a) AND ISBLANK(s) AND ISBLANK(customer.level)", {}) is True
    assert run("SUM(items.qty)", {}) == 0


def test_bad_record_shapes_are_blank_not_errors() -> None:
    assert run("SUM(items.qty)", {"items": "not rows"}) == 0
    assert run("customer.level", {"customer": ["not", "an", "object"]}) is None
    assert run("d + 1", {"d": "not a date"}) is None
    assert run("YEAR(at)", {"at": "garbage"}) is None


def test_datetimes_naive_are_utc_and_truncated_to_milliseconds() -> None:
    naive = dt.datetime(2024, 6, 30, 16, 0, 0, 123456)
    assert run("at", {"at": naive}) == dt.datetime(2024, 6, 30, 16, 0, 0, 123000, tzinfo=dt.UTC)
    assert run("DATEVALUE(at)", {"at": naive}) == dt.date(2024, 7, 1)
    assert run("DATEVALUE(at)", {"at": naive}, tz="UTC") == dt.date(2024, 6, 30)
    assert run("TEXT(at, 'HH:mm')", {"at": "2024-06-30T16:00:00Z"}) == "00:00"


def test_python_record_values_are_normalised() -> None:
    """A record's Python values go through the same normalisation as JSON ones: 10 places,
    blank for NaN/out of range, datetimes aware UTC with milliseconds; no run-time exception."""
    assert run("a", {"a": Decimal("1.123456789012345")}) == Decimal("1.1234567890")
    assert run("a", {"a": Decimal("NaN")}) is None
    assert run("a", {"a": Decimal("1E+30")}) is None
    shanghai = dt.timezone(dt.timedelta(hours=8))
    assert run("at", {"at": dt.datetime(2024, 7, 1, 0, 0, tzinfo=shanghai)}) == dt.datetime(
        2024, 6, 30, 16, 0, tzinfo=dt.UTC
    )
    assert run(
        "at", {"at": dt.datetime(2024, 7, 1, 0, 0, tzinfo=shanghai)}
    ).utcoffset() == dt.timedelta(0)
    assert run("at < NOW()", {"at": dt.datetime(2024, 6, 30, 16, 0, 0)}) is True
    assert run("at = NOW()", {"at": dt.datetime(2024, 6, 30, 17, 30, 0, 400)}) is True


def test_today_and_now_come_from_the_context() -> None:
    assert run("TODAY()") == dt.date(2024, 7, 1)
    assert run("TODAY()", tz="UTC") == dt.date(2024, 6, 30)
    assert run("TODAY()", tz="America/Los_Angeles") == dt.date(2024, 6, 30)
    naive_now = evaluate("NOW()", {}, SCHEMA, now=dt.datetime(2024, 1, 1, 0, 0, 0, 999999))
    assert naive_now == dt.datetime(2024, 1, 1, 0, 0, 0, 999000, tzinfo=dt.UTC)


def test_now_is_taken_once_per_evaluation() -> None:
    assert evaluate("NOW() = NOW()", {}, SCHEMA) is True


# --- laziness -----------------------------------------------------------------------------------


def test_if_reads_only_the_chosen_branch() -> None:
    record = SpyRecord({"flag": True, "a": 1, "b": 2})
    assert run("IF(flag, a, b)", record) == 1
    assert "b" not in record.read
    record = SpyRecord({"flag": False, "a": 1, "b": 2})
    assert run("IF(flag, a, b)", record) == 2
    assert "a" not in record.read


def test_ifs_and_switch_read_only_what_they_need() -> None:
    record = SpyRecord({"a": 1, "b": 2, "s": "x"})
    assert run("IFS(a = 1, s, b = 2, s & 'never')", record) == "x"
    assert record.read.count("b") == 0
    record = SpyRecord({"a": 1, "b": 2, "s": "x"})
    assert run("SWITCH(a, 1, 'one', b, 'two')", record) == "one"
    assert "b" not in record.read


def test_lazy_if_guards_division() -> None:
    assert run("IF(b = 0, 0, a / b)", {"a": 5, "b": 0}) == 0
    assert run("IF(b = 0, 0, a / b)", {"a": 5, "b": 2}) == Decimal("2.5")


# --- compilation and caching --------------------------------------------------------------------


def test_compiled_formula_is_reusable() -> None:
    formula = compile_formula("SUM(items.qty * items.price)", SCHEMA)
    assert formula.type == ExprType("number")
    ctx = EvalContext.create(NOW)
    assert formula({"items": [{"qty": 2, "price": "1.5"}]}, ctx) == 3
    assert formula(
        {"items": [{"qty": 1, "price": "0.1"}, {"qty": 2, "price": "0.1"}]}, ctx
    ) == Decimal("0.3")
    assert compile_formula("SUM(items.qty * items.price)", SCHEMA) is formula
    assert formula({}) == 0


def test_schema_inferred_from_the_record() -> None:
    assert evaluate("a * 2", {"a": Decimal("1.5")}) == 3
    assert evaluate("s & '!'", {"s": "hi"}) == "hi!"
    assert evaluate("SUM(rows.x)", {"rows": [{"x": 1}, {"x": 2}]}) == 3
    assert evaluate("d + 1", {"d": dt.date(2024, 2, 28)}) == dt.date(2024, 2, 29)


def test_evaluation_is_thread_safe() -> None:
    source = "ROUND(a / 3, 2) & '-' & a & '-' & TEXT(d + a, 'YYYYMMDD')"
    expected = {i: run(source, {"a": i, "d": "2024-02-20"}) for i in range(1, 5)}
    assert expected[1] == "0.33-1-20240221"
    results: list[Any] = []

    def work(i: int) -> None:
        for _ in range(200):
            results.append(run(source, {"a": i, "d": "2024-02-20"}) == expected[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results) and len(results) == 800


def test_evaluation_leaves_the_callers_decimal_context_alone() -> None:
    """The language's decimal context must not leak into other code running in the same thread
    (after it, Decimal(1) / 0 must still raise instead of giving Infinity)."""
    with decimal.localcontext() as ctx:
        ctx.prec = 28
        ctx.rounding = decimal.ROUND_HALF_EVEN
        ctx.traps[decimal.DivisionByZero] = True
        before = (ctx.prec, ctx.rounding, ctx.traps[decimal.DivisionByZero])
        evaluate("1 / 3 + ROUND(2.5)", {})
        after = decimal.getcontext()
        assert (after.prec, after.rounding, after.traps[decimal.DivisionByZero]) == before
        with pytest.raises(decimal.DivisionByZero):
            Decimal(1) / Decimal(0)


# --- encode / decode ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "json"),
    [
        (Decimal("1.50"), "number", "1.5"),
        (Decimal("-0.0000000001"), "number", "-0.0000000001"),
        (Decimal("100"), "number", "100"),
        (Decimal("1E+2"), "number", "100"),
        (True, "boolean", True),
        ("中文", "text", "中文"),
        (dt.date(2024, 2, 29), "date", "2024-02-29"),
        (
            dt.datetime(2024, 6, 30, 17, 30, 0, 123000, tzinfo=dt.UTC),
            "datetime",
            "2024-06-30T17:30:00.123Z",
        ),
        (dt.time(9, 5), "time", "09:05:00"),
        (None, "number", None),
    ],
)
def test_encode_and_decode_round_trip(value: Any, kind: str, json: Any) -> None:
    t = ExprType(kind)  # type: ignore[arg-type]
    assert encode(value, t) == json
    assert decode(json, t) == value


def test_encode_datetime_in_another_zone_is_utc() -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    assert encode(dt.datetime(2024, 7, 1, 1, 30, tzinfo=shanghai)) == "2024-06-30T17:30:00.000Z"
