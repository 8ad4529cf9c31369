"""Deterministic SQLite functions that give SQLite the language's exact semantics.

SQLite has no decimal type, no Unicode case mapping and no time zones, so numbers inside a
formula are canonical decimal text (:mod:`.types`) and everything SQLite cannot do exactly runs
here, by calling the very code of the Python backend (:mod:`engine.expr.numbers` and each
function's ``python``): the two backends agree by construction.

``jimu_call(signature, *args)`` calls a function of the language: the signature
``"NAME|kinds|ctx"`` names the function, each argument's kind (a leading ``L`` marks a list,
passed as a JSON array) and whether the evaluation context (time zone, passed last) is needed.
Register everything on a raw connection with :func:`register_sqlite_functions`, typically from
an SQLAlchemy ``connect`` event (see ``create_engine``).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

from engine.core.sqltypes import from_epoch_ms, to_epoch_ms
from engine.expr import numbers
from engine.expr.backends.python import _date_shift
from engine.expr.functions import FUNCTIONS
from engine.expr.functions.texts import cap_text
from engine.expr.runtime import EvalContext, coerce_text

from .sqlite_calc import jimu_calc

Num = Decimal | None

# --- value conversions --------------------------------------------------------------------


def dec(value: Any) -> Num:
    """A number from its SQLite form (canonical text, or an integer from COUNT)."""
    if value is None:
        return None
    if isinstance(value, float):
        return numbers.coerce(value)
    return Decimal(value)


def num_out(value: Num) -> str | None:
    return None if value is None else numbers.to_text(value)


def _date_in(value: Any) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def _time_in(value: Any) -> dt.time | None:
    return None if value is None else dt.time.fromisoformat(value)


def _datetime_in(value: Any) -> dt.datetime | None:
    return None if value is None else from_epoch_ms(int(value))


DECODE: dict[str, Callable[[Any], Any]] = {
    "n": dec,
    "t": lambda v: v or None if isinstance(v, str) or v is None else coerce_text(v),
    "b": lambda v: None if v is None else bool(v),
    "d": _date_in,
    "D": _datetime_in,
    "T": _time_in,
    "x": lambda v: None,
}
ENCODE: dict[str, Callable[[Any], Any]] = {
    "number": num_out,
    "text": lambda v: v or None,
    "boolean": lambda v: None if v is None else int(bool(v)),
    "date": lambda v: None if v is None else v.isoformat(),
    "datetime": lambda v: None if v is None else to_epoch_ms(v),
    "time": lambda v: None if v is None else v.isoformat(),
    "blank": lambda v: None,
}
KIND_CODES = {
    "number": "n",
    "text": "t",
    "boolean": "b",
    "date": "d",
    "datetime": "D",
    "time": "T",
    "blank": "x",
}


@lru_cache(maxsize=64)
def _context(tz: str) -> EvalContext:
    return EvalContext.create(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), tz)


def _list_decoder(element: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    def decode(value: Any) -> list[Any]:
        return [] if value is None else [element(x) for x in json.loads(value)]

    return decode


@lru_cache(maxsize=4096)
def _plan(signature: str) -> Callable[..., Any]:
    name, kinds, ctx_flag, result = signature.split("|")
    fn = FUNCTIONS[name]
    decoders: list[Callable[[Any], Any]] = []
    for code in kinds.split(",") if kinds else []:
        if code.startswith("L"):
            decoders.append(_list_decoder(DECODE[code[1:]]))
        else:
            decoders.append(DECODE[code])
    encode = ENCODE[result]
    impl = fn.python

    if ctx_flag:

        def call_ctx(*args: Any) -> Any:
            ctx = _context(args[-1])
            values = [d(a) for d, a in zip(decoders, args[:-1], strict=True)]
            return encode(impl(ctx, *values))

        return call_ctx

    def call(*args: Any) -> Any:
        return encode(impl(*[d(a) for d, a in zip(decoders, args, strict=True)]))

    return call


def jimu_call(signature: str, *args: Any) -> Any:
    """Call a function of the language (see the module docstring)."""
    return _plan(signature)(*args)


# --- operators ----------------------------------------------------------------------------


def jimu_unscale(value: Any, scale: int) -> str | None:
    if value is None:
        return None
    return numbers.to_text(Decimal(int(value)).scaleb(-scale))


def jimu_to_number(value: Any) -> str | None:
    return num_out(numbers.coerce(value))


def jimu_concat(a: Any, b: Any) -> str | None:
    return cap_text((a or "") + (b or ""))


def jimu_cap(a: Any) -> str | None:
    return None if a is None else cap_text(a)


def jimu_date_shift(d: Any, n: Any, sign: int) -> str | None:
    shifted = _date_shift(_date_in(d), dec(n), sign)
    return None if shifted is None else shifted.isoformat()


def jimu_json_count(value: Any) -> int:
    if value is None:
        return 0
    return sum(1 for v in json.loads(value) if v is not None and v != "")


# --- aggregates over one list -------------------------------------------------------------


class _Sum:
    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: Any) -> None:
        if value is not None:
            self.total += Decimal(value)

    def finalize(self) -> str | None:
        return num_out(numbers.norm(self.total))


class _Average(_Sum):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def step(self, value: Any) -> None:
        if value is not None:
            self.total += Decimal(value)
            self.count += 1

    def finalize(self) -> str | None:
        if not self.count:
            return None
        return num_out(numbers.div(numbers.norm(self.total), Decimal(self.count)))


class _Min:
    better = staticmethod(lambda new, old: new < old)

    def __init__(self) -> None:
        self.best: Decimal | None = None

    def step(self, value: Any) -> None:
        if value is not None:
            number = Decimal(value)
            if self.best is None or self.better(number, self.best):
                self.best = number

    def finalize(self) -> str | None:
        return num_out(self.best)


class _Max(_Min):
    better = staticmethod(lambda new, old: new > old)


SCALARS: dict[str, tuple[int, Callable[..., Any]]] = {
    "jimu_call": (-1, jimu_call),
    "jimu_calc": (-1, jimu_calc),
    "jimu_unscale": (2, jimu_unscale),
    "jimu_to_number": (1, jimu_to_number),
    "jimu_concat": (2, jimu_concat),
    "jimu_cap": (1, jimu_cap),
    "jimu_date_shift": (3, jimu_date_shift),
    "jimu_json_count": (1, jimu_json_count),
}
AGGREGATES: dict[str, type[Any]] = {
    "jimu_sumagg": _Sum,
    "jimu_avgagg": _Average,
    "jimu_minagg": _Min,
    "jimu_maxagg": _Max,
}


def register_sqlite_functions(dbapi_connection: sqlite3.Connection) -> None:
    """Register every ``jimu_*`` function on a sqlite3 connection (idempotent)."""
    for name, (arity, fn) in SCALARS.items():
        dbapi_connection.create_function(name, arity, fn, deterministic=True)
    for name, cls in AGGREGATES.items():
        dbapi_connection.create_aggregate(name, 1, cls)
