"""Column types of record tables (DESIGN §5), exact on SQLite and PostgreSQL alike.

Physical representation, per dialect:

============== ================================ =============================================
type           PostgreSQL                       SQLite
============== ================================ =============================================
ExactDecimal   ``NUMERIC(28, scale)``           ``BIGINT`` holding ``value * 10**scale``
UtcDateTime    ``TIMESTAMP(3) WITH TIME ZONE``  ``BIGINT``: milliseconds since 1970-01-01 UTC
Date           ``DATE``                         ``TEXT`` ``'YYYY-MM-DD'``
Time           ``TIME(0)``                      ``TEXT`` ``'HH:MM:SS'``
Boolean        ``BOOLEAN``                      ``INTEGER`` 0/1
Text           ``TEXT``                         ``TEXT``; "" is stored as NULL (blank)
============== ================================ =============================================

SQLite has no exact decimal type (SQLAlchemy's ``Numeric`` goes through float there), so
decimals are scaled 64-bit integers; a value that does not fit raises ``ValueError`` when
bound rather than being stored inexactly. The expression backend (``engine.expr.backends.sql``)
reads these types to know how a column is represented.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

from sqlalchemy import types as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from engine.core.moments import EPOCH, epoch_ms_reader, utc_datetime_json

UTC = dt.UTC
_EXACT = Context(prec=120, rounding=ROUND_HALF_UP, traps=[])  # quantizing 28 digits is exact
INT64_MAX = 2**63 - 1
MAX_SCALE = 10


def to_epoch_ms(value: dt.datetime) -> int:
    """Milliseconds since the epoch of an aware (or naive = UTC) datetime, truncated to ms."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_epoch_ms(ms: int) -> dt.datetime:
    """The aware UTC datetime of a millisecond epoch value."""
    return EPOCH + _timedelta(0, 0, 0, int(ms))  # positional: twice as fast as milliseconds=


_timedelta = dt.timedelta


class ExactDecimal(TypeDecorator[Decimal]):
    """A decimal with a fixed number of places: NUMERIC(28, scale) / scaled BIGINT on SQLite."""

    impl = sa.BigInteger
    cache_ok = True

    def __init__(self, scale: int = 0) -> None:
        if not 0 <= scale <= MAX_SCALE:
            raise ValueError(f"scale must be between 0 and {MAX_SCALE}")
        super().__init__()
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric(28, self.scale, asdecimal=True))
        return dialect.type_descriptor(sa.BigInteger())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or value == "":
            return None
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        quantum = Decimal(1).scaleb(-self.scale)
        rounded = number.quantize(quantum, ROUND_HALF_UP)
        if dialect.name == "postgresql":
            return rounded
        scaled = int(rounded.scaleb(self.scale))
        if abs(scaled) > INT64_MAX:
            raise ValueError(f"{value} does not fit a 64-bit decimal with {self.scale} places")
        return scaled

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return Decimal(value)
        return Decimal(int(value)).scaleb(-self.scale)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """On SQLite one plain function per column (the same values as `process_result_value`
        without the generic decorator's per-value dispatch: a page reads many)."""
        if dialect.name == "postgresql":
            return super().result_processor(dialect, coltype)
        exponent = -self.scale

        def process(value: Any) -> Decimal | None:
            return None if value is None else Decimal(int(value)).scaleb(exponent)

        return process

    def json_reader(self, dialect: Dialect, fallback: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """The value as text with exactly `scale` places ("12.50", "-0.05"), straight from the
        driver's value (not NULL): the text ``format(value.quantize(10**-scale), "f")`` of the
        Decimal this type would return. SQLite's scaled integer is split by integer division,
        PostgreSQL's Decimal (already of this scale) is formatted without the type's copy;
        a value in any other form goes to `fallback` (the general path)."""
        scale = self.scale
        if dialect.name == "postgresql":
            quantum = Decimal(1).scaleb(-scale)

            def from_decimal(value: Any) -> Any:
                if type(value) is not Decimal:
                    return fallback(value)
                return format(value.quantize(quantum, ROUND_HALF_UP, _EXACT), "f")

            if scale > 6:
                return from_decimal

            def from_decimal_str(value: Any) -> Any:
                # quantized, its exponent is -scale ≥ -6: `str` writes it without an exponent,
                # as `format(…, "f")` does, at a third of the cost
                if type(value) is not Decimal:
                    return fallback(value)
                return str(value.quantize(quantum, ROUND_HALF_UP, _EXACT))

            return from_decimal_str
        if scale == 0:
            return lambda value: str(value) if type(value) is int else fallback(value)
        unit = 10**scale
        if scale <= 3:
            fractions = tuple(f".{part:0{scale}d}" for part in range(unit))

            def from_scaled(value: Any) -> Any:
                if type(value) is not int:
                    return fallback(value)
                if value < 0:
                    whole, part = divmod(-value, unit)
                    return f"-{whole}{fractions[part]}"
                whole, part = divmod(value, unit)
                return f"{whole}{fractions[part]}"

            return from_scaled

        def from_long_scaled(value: Any) -> Any:
            if type(value) is not int:
                return fallback(value)
            whole, part = divmod(abs(value), unit)
            return f"{'-' if value < 0 else ''}{whole}.{part:0{scale}d}"

        return from_long_scaled


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An instant in UTC with millisecond precision; naive values are taken as UTC."""

    impl = sa.BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True, precision=3))
        return dialect.type_descriptor(sa.BigInteger())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        value = value.replace(microsecond=value.microsecond // 1000 * 1000)
        return value if dialect.name == "postgresql" else to_epoch_ms(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            moment: dt.datetime = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
            return moment.astimezone(UTC)
        return from_epoch_ms(int(value))

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """On SQLite one plain function per column (see `ExactDecimal.result_processor`)."""
        if dialect.name == "postgresql":
            return super().result_processor(dialect, coltype)
        delta = _timedelta

        def process(value: Any) -> dt.datetime | None:
            if value is None:
                return None
            if isinstance(value, int):
                return EPOCH + delta(0, 0, 0, value)
            return self.process_result_value(value, dialect)

        return process

    def json_reader(self, dialect: Dialect, fallback: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """The moment as `datetime_json` text, straight from the driver's value (not NULL):
        SQLite's epoch milliseconds are written without building a datetime
        (`epoch_ms_reader`), PostgreSQL's aware datetime without the type's conversion to UTC
        (`utc_datetime_json`, which converts any other zone); a value in any other form goes
        to `fallback`."""
        if dialect.name == "postgresql":
            return lambda value: (
                utc_datetime_json(value) if type(value) is dt.datetime else fallback(value)
            )
        return epoch_ms_reader(fallback)


class Date(TypeDecorator[dt.date]):
    """A calendar date: DATE, or ISO text 'YYYY-MM-DD' on SQLite."""

    impl = sa.String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Date())
        return dialect.type_descriptor(sa.String(10))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            value = value.date()
        return value if dialect.name == "postgresql" else value.isoformat()

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.date | None:
        if value is None:
            return None
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(value)


class Time(TypeDecorator[dt.time]):
    """A time of day to the second: TIME(0), or text 'HH:MM:SS' on SQLite."""

    impl = sa.String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIME(precision=0))
        return dialect.type_descriptor(sa.String(8))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.replace(microsecond=0, tzinfo=None)
        return value if dialect.name == "postgresql" else value.isoformat()

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.time | None:
        if value is None:
            return None
        if isinstance(value, dt.time):
            return value.replace(microsecond=0)
        return dt.time.fromisoformat(value)


class Text(TypeDecorator[str]):
    """Unbounded text; "" is blank, so it is stored and read as NULL."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return value or None

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return value or None

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """On SQLite one plain function per column (see `ExactDecimal.result_processor`)."""
        if dialect.name == "postgresql":
            return super().result_processor(dialect, coltype)
        return _blank_as_none


def _blank_as_none(value: Any) -> Any:
    return value or None


blank_as_none = _blank_as_none
"""What `Text` reads for a driver's value on either database: "" and NULL are blank."""


class Boolean(TypeDecorator[bool]):
    """TRUE/FALSE: BOOLEAN, or INTEGER 0/1 on SQLite (no CHECK constraint)."""

    impl = sa.Boolean
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(sa.Boolean(create_constraint=False))


__all__ = [
    "Boolean",
    "Date",
    "ExactDecimal",
    "Text",
    "Time",
    "UtcDateTime",
    "blank_as_none",
    "from_epoch_ms",
    "to_epoch_ms",
]
