"""How each kind of value is represented inside SQL, and its conversion to and from Python.

=========== ===================== ==============================================
kind        PostgreSQL            SQLite
=========== ===================== ==============================================
number      NUMERIC               canonical decimal TEXT (``numbers.to_text``)
text        TEXT                  TEXT
boolean     BOOLEAN               INTEGER 0/1
date        DATE                  TEXT ``'YYYY-MM-DD'``
datetime    TIMESTAMPTZ           INTEGER milliseconds since the epoch (UTC)
time        TIME                  TEXT ``'HH:MM:SS'``
record,     BIGINT                INTEGER (the id of a record, user or department)
user, dept.
=========== ===================== ==============================================

Blank is NULL everywhere. On SQLite a number is always canonical text (shortest exact
decimal, "0" for zero), so ``IS`` compares numbers exactly; arithmetic goes through the
deterministic functions of :mod:`.sqlite_functions`. :data:`KIND_TYPES` are the
``TypeDecorator`` s that bind literals and turn a selected value back into the Python value
of :mod:`engine.expr.runtime`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import types as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from engine.core.sqltypes import from_epoch_ms, to_epoch_ms
from engine.expr import numbers
from engine.expr.runtime import UTC


def _pg(dialect: Dialect) -> bool:
    return dialect.name == "postgresql"


class NumberValue(TypeDecorator[Decimal]):
    """A number: NUMERIC on PostgreSQL, canonical decimal text on SQLite."""

    impl = sa.String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(sa.Numeric(asdecimal=True) if _pg(dialect) else sa.String())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return value if _pg(dialect) else numbers.to_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(value)


class TextValue(TypeDecorator[str]):
    """Text; "" reads as blank."""

    impl = sa.Text
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return value or None


class BooleanValue(TypeDecorator[bool]):
    """A boolean: BOOLEAN, or 0/1 on SQLite."""

    impl = sa.Boolean
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(sa.Boolean() if _pg(dialect) else sa.Integer())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return bool(value) if _pg(dialect) else int(bool(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> bool | None:
        return None if value is None else bool(value)


class DateValue(TypeDecorator[dt.date]):
    """A date: DATE, or 'YYYY-MM-DD' on SQLite."""

    impl = sa.String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(sa.Date() if _pg(dialect) else sa.String())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return value if _pg(dialect) else value.isoformat()

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.date | None:
        if value is None:
            return None
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


class DateTimeValue(TypeDecorator[dt.datetime]):
    """An instant: TIMESTAMPTZ, or epoch milliseconds on SQLite; read as aware UTC (ms)."""

    impl = sa.BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if _pg(dialect):
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(sa.BigInteger())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return value if _pg(dialect) else to_epoch_ms(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            moment = value.astimezone(UTC)
            return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        return from_epoch_ms(int(value))


class TimeValue(TypeDecorator[dt.time]):
    """A time of day: TIME, or 'HH:MM:SS' on SQLite."""

    impl = sa.String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(sa.Time() if _pg(dialect) else sa.String())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return value if _pg(dialect) else value.isoformat()

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.time | None:
        if value is None:
            return None
        if isinstance(value, dt.time):
            return value.replace(microsecond=0, tzinfo=None)
        return dt.time.fromisoformat(value)


class BlankValue(TypeDecorator[None]):
    """The blank kind: always None."""

    impl = sa.String
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> None:
        return None


class IdValue(TypeDecorator[int]):
    """An id (of a record, a user or a department): an integer in both databases."""

    impl = sa.BigInteger
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


KIND_TYPES: dict[str, type[TypeDecorator[Any]]] = {
    "number": NumberValue,
    "text": TextValue,
    "boolean": BooleanValue,
    "date": DateValue,
    "datetime": DateTimeValue,
    "time": TimeValue,
    "blank": BlankValue,
    "record": IdValue,
    "user": IdValue,
    "department": IdValue,
}
