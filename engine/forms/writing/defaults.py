"""Defaults and computed values of the record pipeline: literal and formula defaults, stored
formulas (in dependency order) and serial numbers (a counter row per field and period).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from engine import expr
from engine.core.issues import Issue
from engine.core.sqltypes import INT64_MAX
from engine.forms.common import DefaultExpr, DefaultLinkage, ValueFieldSpec
from engine.forms.field_types.computed import (
    SERIAL_COUNTER,
    SERIAL_TOKEN,
    FormulaField,
    SerialField,
)
from engine.forms.field_types.links import RelationField
from engine.forms.layout import Container, FieldLayout
from engine.forms.writing.base import WriterBase, _layout_cache
from engine.store.models import Counter


def _fits(value: Any, layout: FieldLayout) -> Any:
    """A computed value as its column holds it (None when it does not fit the column)."""
    scale = getattr(layout.column_type, "scale", None)
    if isinstance(value, Decimal) and scale is not None:
        rounded = value.quantize(Decimal(1).scaleb(-scale))
        if abs(int(rounded.scaleb(scale))) > INT64_MAX:
            return None
        return rounded
    return value


class Defaults(WriterBase):
    """Defaults, stored formulas and serials of a record being written."""

    def _defaults(
        self,
        container: Container,
        given: Mapping[str, Any],
        values: dict[str, Any],
        issues: list[Issue],
        prefix: str = "",
    ) -> None:
        for layout in _with_defaults(container):
            spec = layout.spec
            assert isinstance(spec, ValueFieldSpec)
            if spec.key in given or isinstance(spec.default, DefaultLinkage):
                continue  # linkage defaults are filled for the whole batch (`fill_linkage`)
            if isinstance(spec.default, DefaultExpr):
                raw = expr.encode(self.evaluate(spec.default.expr, container, values))
            else:
                raw = spec.default
            if isinstance(spec, RelationField):
                continue  # relation defaults need data linkage, which is not modelled yet
            value, found = layout.coerce(raw)
            issues.extend(i.under(prefix + spec.key) for i in found)
            values[spec.key] = value

    def evaluate(self, source: str, container: Container, values: Mapping[str, Any]) -> Any:
        """A formula over a record's own stored values, in Python (trusted: values are typed)."""
        return _trusted_formula(container, source).run(values, self._ctx)

    def compute(self, container: Container, values: dict[str, Any]) -> None:
        """Stored formulas of one record (or subform row), in dependency order."""
        for layout in container.stored_formulas():
            assert isinstance(layout.spec, FormulaField)
            values[layout.key] = _fits(self.evaluate(layout.spec.expr, container, values), layout)

    def next_serial(self, conn: Connection, layout: FieldLayout) -> str:
        """The next serial number of `layout`, unique under concurrent inserts (a counter row)."""
        assert isinstance(layout.spec, SerialField)
        local = self.now.astimezone(ZoneInfo(self.tz))
        parts = {
            "YYYY": f"{local.year:04d}",
            "YY": f"{local.year % 100:02d}",
            "MM": f"{local.month:02d}",
            "DD": f"{local.day:02d}",
        }
        period = SERIAL_TOKEN.sub(lambda m: parts.get(m.group(1), "{n}"), layout.spec.pattern)
        key = f"serial:{layout.id}:{period}"
        value = _increment(conn, key)
        return SERIAL_TOKEN.sub(
            lambda m: (
                str(value).zfill(len(m.group(1)))
                if SERIAL_COUNTER.match(m.group(1))
                else parts[m.group(1)]
            ),
            layout.spec.pattern,
        )


def _with_defaults(container: Container) -> list[FieldLayout]:
    """Writable fields that declare a default."""
    return _layout_cache(
        container,
        "defaults",
        lambda: [
            f
            for f in container.fields.values()
            if isinstance(f.spec, ValueFieldSpec) and f.spec.default is not None and f.writable
        ],
    )


def _trusted_formula(container: Container, source: str) -> expr.CompiledFormula:
    """A formula of the container compiled for typed values (once per layout and source)."""
    compiled: dict[str, expr.CompiledFormula] = _layout_cache(container, "formulas", dict)
    found = compiled.get(source)
    if found is None:
        found = compiled[source] = expr.compile_formula(source, container.schema, trusted=True)
    return found


def _increment(conn: Connection, key: str) -> int:
    """Add one to counter `key` in this transaction and return the new value (one statement)."""
    table = Counter.__table__
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(key=key, value=1)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key], set_={"value": table.c.value + 1}
    )
    return int(conn.execute(statement.returning(table.c.value)).scalar_one())
