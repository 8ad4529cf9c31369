"""Evaluate a formula in a real database, the way the record store will lay records out.

:func:`evaluate_sql` creates (once per schema and engine) a table for the record with one
typed column per field (``engine.core.sqltypes``), a child table per subform or to-many
relation (``_parent_id``, ``_seq``), a table per to-one relation (the record holds the
target's ``_id``), a JSON array column per multiselect; it then empties the tables, inserts
the record (values coerced as the Python backend does) and selects ``to_sql(...)``.

On SQLite, decimals are scaled 64-bit integers: each number column gets the scale of the
most precise value the record puts in it (PostgreSQL uses scale 10 everywhere), so every
value is stored exactly; a column whose values cannot fit 64 bits at that scale (say
999999999999999999.9999999999) holds exact decimal text instead, which the backend reads too.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, delete, insert, select
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.types import TypeDecorator, TypeEngine

from engine.core import sqltypes
from engine.expr import numbers, to_sql
from engine.expr.backends.sql import SqlRows
from engine.expr.runtime import COERCE, DEFAULT_TZ
from engine.expr.types import FieldInfo, infer_schema, normalize_schema

Path = tuple[str, ...]
_KIND_TYPES: dict[str, Any] = {
    "text": sqltypes.Text,
    "boolean": sqltypes.Boolean,
    "date": sqltypes.Date,
    "datetime": sqltypes.UtcDateTime,
    "time": sqltypes.Time,
    "blank": sqltypes.Text,
    "record": Integer,
    "user": Integer,
    "department": Integer,
}
TEXT_SCALE = -1  # a number column whose values do not fit 64-bit scaled integers (SQLite)
_counter = itertools.count(1)


class DecimalText(TypeDecorator[Decimal]):
    """Numbers as exact decimal text: only for SQLite values beyond 64-bit scaled integers."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else numbers.to_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


_RUN = uuid.uuid4().hex[
    :6
]  # table names unique to this process (an existing database may be shared)


@dataclass
class _Layout:
    """The tables of one schema: one per container path (the record's own is ``()``)."""

    tables: dict[Path, Table] = field(default_factory=dict)
    columns: dict[Path, dict[str, str]] = field(default_factory=dict)  # path -> key -> column
    fields: dict[Path, Mapping[str, FieldInfo]] = field(default_factory=dict)


_layouts: weakref.WeakKeyDictionary[Engine, dict[str, _Layout]] = weakref.WeakKeyDictionary()


def _column_type(info: FieldInfo, scale: int) -> TypeEngine[Any]:
    if info.is_list:
        return sqltypes.Text()
    if info.kind == "number":
        return DecimalText() if scale == TEXT_SCALE else sqltypes.ExactDecimal(scale)
    kind_type: TypeEngine[Any] = _KIND_TYPES.get(info.kind or "text", sqltypes.Text)()
    return kind_type


def _build(
    engine: Engine, fields: Mapping[str, FieldInfo], scales: dict[tuple[Path, str], int]
) -> _Layout:
    layout = _Layout()
    metadata = MetaData()
    prefix = f"xh{_RUN}_{next(_counter)}"

    def make(path: Path, sub: Mapping[str, FieldInfo]) -> None:
        name = prefix + "".join(f"_{i}" for i in _indices(path))
        cols: list[Column[Any]] = [Column("_id", Integer, primary_key=True, autoincrement=False)]
        if path:
            cols += [Column("_parent_id", Integer, index=True), Column("_seq", Integer)]
        mapping: dict[str, str] = {}
        for index, (key, info) in enumerate(sub.items()):
            column = f"f{index}"
            mapping[key] = column
            if info.is_container:
                cols.append(Column(column, Integer))
                make((*path, key), info.fields)
            else:
                cols.append(Column(column, _column_type(info, scales.get((path, key), 0))))
        layout.tables[path] = Table(name, metadata, *cols)
        layout.columns[path] = mapping
        layout.fields[path] = sub

    def _indices(path: Path) -> list[int]:
        out, sub = [], fields
        for key in path:
            out.append(list(sub).index(key))
            sub = sub[key].fields
        return out

    make((), fields)
    metadata.create_all(engine)
    return layout


class _Rows:
    """Rows to insert per container path, with the number values seen per column."""

    def __init__(self, fields: Mapping[str, FieldInfo]) -> None:
        self.fields = fields
        self.rows: dict[Path, list[dict[str, Any]]] = {}
        self.numbers: dict[tuple[Path, str], list[Decimal]] = {}
        self.ids = itertools.count(1)

    def add(
        self, path: Path, sub: Mapping[str, FieldInfo], data: Any, parent: int | None, seq: int
    ) -> int:
        given = data.get("_id") if isinstance(data, Mapping) else None
        # A related record's own `_id`, when the case gives one, is its row's id.
        row_id = given if isinstance(given, int) and not isinstance(given, bool) else next(self.ids)
        values: dict[str, Any] = {"_id": row_id}
        if path:
            values.update(_parent_id=parent, _seq=seq)
        record = data if isinstance(data, Mapping) else {}
        for index, (key, info) in enumerate(sub.items()):
            raw = record.get(key)
            column = f"f{index}"
            if info.is_container:
                target = (*path, key)
                if info.many:
                    for index, item in enumerate(raw if isinstance(raw, list) else []):
                        self.add(target, info.fields, item, row_id, index)
                    values[column] = None
                else:
                    values[column] = (
                        self.add(target, info.fields, raw, None, 0)
                        if isinstance(raw, Mapping)
                        else None
                    )
            elif info.is_list:
                items = raw if isinstance(raw, list) else []
                element = COERCE[info.kind or "text"] if info.kind != "text" else COERCE["text"]
                values[column] = json.dumps([element(v) for v in items], ensure_ascii=False)
            else:
                value = COERCE[info.kind or "text"](raw)
                values[column] = value
                if info.kind == "number" and value is not None:
                    self.numbers.setdefault((path, key), []).append(value)
        self.rows.setdefault(path, []).append(values)
        return row_id

    def scales(self, postgres: bool) -> dict[tuple[Path, str], int]:
        if postgres:
            return {k: 10 for k in self.numbers}
        result = {}
        for k, values in self.numbers.items():
            places = min(max(max(-int(v.normalize().as_tuple().exponent), 0) for v in values), 10)
            fits = all(abs(v.scaleb(places)) <= sqltypes.INT64_MAX for v in values)
            result[k] = places if fits else TEXT_SCALE
        return result


def _resolver(layout: _Layout) -> Any:
    root = layout.tables[()]

    def info_at(path: Path) -> FieldInfo:
        sub = layout.fields[()]
        info = None
        for key in path:
            info = sub[key]
            sub = info.fields
        assert info is not None
        return info

    def value_of(holder: Path, table: Any, rest: Path) -> Any:
        """A field reached from a row of ``table`` (container ``holder``) through to-one hops."""
        column = table.c[layout.columns[holder][rest[0]]]
        if len(rest) == 1:
            return column
        target_path = (*holder, rest[0])
        target = layout.tables[target_path].alias()
        inner = value_of(target_path, target, rest[1:])
        return select(inner).where(target.c._id == column).scalar_subquery()

    def id_of(holder: Path, table: Any, rest: Path) -> Any:
        if not rest:
            return table.c._id
        return value_of(holder, table, rest) if len(rest) == 1 else _hop(holder, table, rest)

    def _hop(holder: Path, table: Any, rest: Path) -> Any:
        target_path = (*holder, rest[0])
        target = layout.tables[target_path].alias()
        inner = id_of(target_path, target, rest[1:])
        column = table.c[layout.columns[holder][rest[0]]]
        return select(inner).where(target.c._id == column).scalar_subquery()

    def resolve(path: Path) -> Any:
        for i in range(len(path)):
            info = info_at(path[: i + 1])
            if info.is_container and info.many:
                list_path = path[: i + 1]
                rows = layout.tables[list_path]
                if len(path) == i + 1:
                    owner = id_of((), root, path[:i])
                    return SqlRows(rows, rows.c._parent_id == owner, (rows.c._seq,), ids=rows.c._id)
                return value_of(list_path, rows, path[i + 1 :])
        return value_of((), root, path)

    return resolve


def evaluate_sql(
    engine: Engine,
    source: str,
    record: Mapping[str, Any],
    schema: Mapping[str, Any] | None,
    *,
    now: dt.datetime | None = None,
    tz: str = DEFAULT_TZ,
    user: int | None = None,
    departments: tuple[int, ...] = (),
) -> Any:
    """The value of ``source`` for ``record`` computed by the database behind ``engine``."""
    schema = schema if schema is not None else infer_schema(record)
    fields = normalize_schema(schema)
    rows = _Rows(fields)
    rows.add((), fields, record, None, 0)
    postgres = engine.dialect.name == "postgresql"
    scales = rows.scales(postgres)
    key = json.dumps(
        [schema, sorted((list(k[0]), k[1], v) for k, v in scales.items())],
        sort_keys=True,
        default=str,
    )
    cache = _layouts.setdefault(engine, {})
    layout = cache.get(key)
    if layout is None:
        layout = cache[key] = _build(engine, fields, scales)
    expression = to_sql(
        source, _resolver(layout), schema, now=now, tz=tz, user=user, departments=departments
    )
    root = layout.tables[()]
    with engine.begin() as conn:
        for table in layout.tables.values():
            conn.execute(delete(table))
        for path, data in rows.rows.items():
            conn.execute(insert(layout.tables[path]), data)
        return conn.execute(select(expression).select_from(root)).scalar()
