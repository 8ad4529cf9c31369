"""Never-stale counts (issue 12): the total of a list is counted once and served again until a
row of a table it reads is written, in this process or any other.

On SQLite every record table (``r12``, ``r12_s34``, ``l56``) has three triggers (after insert,
update and delete) that replace the table's token in `table_versions` with a fresh random
number, in the writing transaction, for every row written. That is the database's own guarantee:
every door that writes record rows — the record pipeline, batches, imports, public links, the
CLI, jobs, publish-time recomputes and conversions, the recycle bin, pack loads, foreign-key
cascades, a hand-written SQL statement — changes the token, and the token commits or rolls back
with the write. (The orphan sweep removes `files` rows only, which no count reads; a field purge
drops columns or tables no published filter can name.) `watch` installs the triggers (the schema migrator calls it on every publish,
migration ``0013_countcache`` for installs made before).

`CountCache.count` keys a count statement by SQLAlchemy's cache key of the statement (what
decides its SQL) and every bound value (a filter's literals, the caller in a scope, TODAY()'s
date, NOW()'s moment — so a time-dependent filter is only served again for the same moment),
and keeps the count with the tokens of every table the statement reads, read *before* the count
in the same transaction (so a write committed in between can only make the entry look older,
never newer). A later count reads the tokens (one small statement) and is served from memory
when they are unchanged. A statement that reads any other table (users, departments) or SQL
text the engine cannot see into is not cached. Random tokens, not counters: a rolled-back write
can never leave a number that a later write reuses. At most `MAX_ENTRIES` counts are kept per
process, least recently used first out.

PostgreSQL has no triggers and no cache: a row every writer of a table updates would serialise
concurrent writers there (SQLite's writers are serialised anyway by the write queue), and its
counts are parallel scans; see docs/decisions.md "Never-stale count cache (issue 12)".
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.elements import ColumnClause, TextClause
from sqlalchemy.sql.selectable import TableClause
from sqlalchemy.sql.visitors import iterate

from engine.store.base import is_record_table
from engine.store.models import TableVersion

MAX_ENTRIES = 4096
"""Counts kept per process (least recently used first out)."""

_TOKENS = select(TableVersion.name, TableVersion.token).where(
    TableVersion.name.in_(bindparam("jimu_tables", expanding=True))
)


def trigger_names(table: str) -> list[str]:
    """The triggers that keep `table`'s token (after insert, update, delete)."""
    return [f"tv_{table}_{kind}" for kind in ("i", "u", "d")]


def watch(conn: Connection, tables: Iterable[str]) -> None:
    """Give each record table in `tables` a token and its triggers (those missing), and a fresh
    token, in the caller's transaction. A publish calls it for every table of the app: the new
    token also covers what changed without a row written (a table or column created). SQLite
    only; nothing on other databases."""
    if conn.dialect.name != "sqlite":
        return
    names = sorted({t for t in tables if is_record_table(t)})
    if not names:
        return
    existing = set(
        conn.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'tv_%'")
        ).scalars()
    )
    for table in names:
        conn.execute(
            text(
                "INSERT INTO table_versions (name, token) VALUES (:name, random()) "
                "ON CONFLICT (name) DO UPDATE SET token = random()"
            ),
            {"name": table},
        )
        for name, kind in zip(trigger_names(table), ("INSERT", "UPDATE", "DELETE"), strict=True):
            if name not in existing:
                conn.execute(text(trigger_sql(name, kind, table)))


def trigger_sql(name: str, kind: str, table: str) -> str:
    """The trigger `name` that renews `table`'s token after each row of an INSERT, UPDATE or
    DELETE (`kind`). Table names are the engine's own (``r12``), never user text."""
    assert is_record_table(table), table
    return (
        f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {kind} ON {table} FOR EACH ROW BEGIN "
        f"UPDATE table_versions SET token = random() WHERE name = '{table}'; END"
    )


@dataclass(frozen=True)
class _Shape:
    """What a statement reads: its record tables, or None when it may not be cached."""

    tables: tuple[str, ...] | None


def _shape(statement: ClauseElement) -> _Shape:
    tables: set[str] = set()
    for element in iterate(statement):
        if isinstance(element, TableClause):
            if not is_record_table(element.name):
                return _Shape(None)
            tables.add(element.name)
        elif isinstance(element, TextClause) or (
            isinstance(element, ColumnClause) and element.is_literal and element.name != "*"
        ):
            return _Shape(None)  # SQL text: which tables it reads is not known
    return _Shape(tuple(sorted(tables)) if tables else None)


def _frozen(value: Any) -> Hashable:
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    hash(value)  # TypeError: not cached
    return value  # type: ignore[no-any-return]


class CountCache:
    """Counts kept with the tokens of the tables they read (see the module docstring)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[tuple[Any, ...], int]] = OrderedDict()
        self._shapes: dict[Hashable, _Shape] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._shapes.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def count(
        self,
        conn: Connection,
        statement: Executable,
        params: Mapping[str, Any],
        *,
        cache: bool = True,
    ) -> int:
        """The result of `statement` (a ``SELECT count(*) …``) run with `params` on `conn`:
        from memory when every table it reads is unchanged since it was counted. `cache=False`
        counts straight away (a count over named records — a flow condition on one record —
        is cheap, and kept it would only push totals worth keeping out of the cache)."""
        if not cache:
            return int(conn.execute(statement, params).scalar_one())
        key, tables = self._key(conn, statement, params)
        if key is None or not tables:
            return int(conn.execute(statement, params).scalar_one())
        found = dict(conn.execute(_TOKENS, {"jimu_tables": list(tables)}).all())
        if len(found) != len(tables):  # a table without its triggers (not watched)
            return int(conn.execute(statement, params).scalar_one())
        tokens = tuple(found[t] for t in tables)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == tokens:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[1]
        total = int(conn.execute(statement, params).scalar_one())
        with self._lock:
            self.misses += 1
            self._entries[key] = (tokens, total)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return total

    def _key(
        self, conn: Connection, statement: Executable, params: Mapping[str, Any]
    ) -> tuple[Hashable | None, tuple[str, ...] | None]:
        if conn.dialect.name != "sqlite" or not isinstance(statement, ClauseElement):
            return None, None
        cache_key = statement._generate_cache_key()
        if cache_key is None:  # a statement SQLAlchemy itself does not cache
            return None, None
        with self._lock:
            shape = self._shapes.get(cache_key.key)
        if shape is None:
            shape = _shape(statement)
            with self._lock:
                if len(self._shapes) >= self.max_entries:
                    self._shapes.clear()
                self._shapes[cache_key.key] = shape
        if shape.tables is None:
            return None, None
        try:
            values = _frozen([bound.effective_value for bound in cache_key.bindparams])
            key = (conn.engine.url, cache_key.key, values, _frozen(dict(params)))
            hash(key)
        except TypeError:
            return None, None
        return key, shape.tables


COUNTS = CountCache()
"""The process's count cache (`Reader.list` counts through it)."""
