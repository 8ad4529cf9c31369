"""Hot read statements sent straight to the driver (issue 12, "Reads sent straight to the
driver").

A records read sends two statements (the opening statement and the page or record). Through
SQLAlchemy's `Connection.execute` each paid well over 100 µs of Python beyond the driver's own
execute (the compiled cache lookup, the execution context, parameter processing, a result whose
metadata asks psycopg for `cursor.description` — built anew, a `Column` per column, on every
access — and `Row` objects): together about a third of a get by id's CPU in the server.
`driver_rows` runs a statement through SQLAlchemy the first two times, then keeps what it needs
(its own compiled SQL, checked against SQLAlchemy's, and the result's keys and conversions) for
that statement object and sends later runs with the same processed parameters to a DB-API
cursor of the same connection itself, returning the driver's rows as they come. Statements built
per request (a scoped caller's page) are never run twice, so they are never compiled again.

What SQLAlchemy does around a statement is kept where the application relies on it:
``before_cursor_execute`` and ``after_cursor_execute`` listeners are called as SQLAlchemy calls
them (without an execution context) (the SQLite time
limit restarts its deadline there; tests count statements there), the read pool's revision
guard is applied (`engine.store.read_pool.guard_for`), and a driver error is raised wrapped as
SQLAlchemy wraps it (`DBAPIError` and its subclasses, a lost connection invalidated). Only
plain SELECTs on a connection that is already in a transaction (SQLite's read transaction, whose
``BEGIN`` SQLAlchemy sends) or in autocommit (PostgreSQL's read pool) take this path, and only
statements whose compiled form has no parameters expanded at execution (``IN`` lists); every
other statement goes through SQLAlchemy as before.

A caller whose statement is the same text with the same values run after run (a kept report
for one viewer) may ask for it ``literal``: on PostgreSQL its values are then written into the
SQL by psycopg's client-side binding (`psycopg.ClientCursor.mogrify`, which quotes for the
connection) and the statement sent without parameters. psycopg prepares it on its fifth run on
a connection like any other; PostgreSQL then plans it once, with its values, instead of
planning it again at every run, which it does for a statement with parameters whenever it
judges a plan for any value (a generic plan) worse than one for these values — a report's
plan cost more than its execution's CPU around it (docs/decisions.md "Reports' values written
into their statement").
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from psycopg import ClientCursor
from sqlalchemy import Select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from engine.store.read_pool import AUTOCOMMIT, GUARDED, guard_for


@dataclass(frozen=True)
class _Sent:
    """What SQLAlchemy sent for a statement on one dialect: the SQL, how parameters are made
    from the caller's values, and the result's keys."""

    compiled: SQLCompiler
    sql: str
    keys: tuple[str, ...]
    positions: tuple[str, ...] | None  # a positional paramstyle's order of names
    escaped: dict[str, str] | None  # bind name -> name in the SQL, where they differ
    processors: Sequence[Any] | None  # the result columns' conversions (None: none has one)
    binders: dict[str, Callable[[Any], Any]]  # bind name -> its parameter conversion
    index: dict[str, int]  # result key -> position
    literal: dict[tuple[Any, ...], str] = field(default_factory=dict)  # values -> their SQL


@dataclass(frozen=True)
class DriverRows:
    """A statement's rows as the driver returned them, its result keys, and the cursor's
    description (read lazily: psycopg builds it anew on every access)."""

    keys: tuple[str, ...]
    rows: Sequence[Any]
    cursor: Any  # the driver's cursor, None when SQLAlchemy sent the statement
    processors: Sequence[Any] | None
    index: dict[str, int]
    read_description: Any = None

    @property
    def description(self) -> Any:
        """The cursor's description (the cursor: read now; SQLAlchemy's: as it was read)."""
        return self.cursor.description if self.cursor is not None else self.read_description

    def named(self) -> list[NamedRow]:
        """The rows with each column's conversion applied (as SQLAlchemy's rows have it),
        their values readable by key as attributes."""
        processors, index = self.processors, self.index
        if processors is None:
            return [NamedRow(row, index) for row in self.rows]
        return [
            NamedRow(
                tuple(
                    v if p is None or v is None else p(v)
                    for p, v in zip(processors, row, strict=True)
                ),
                index,
            )
            for row in self.rows
        ]


class NamedRow:
    """A row whose values are read by result key (``row.user_id``)."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[self._index[key]]
        except KeyError:
            raise AttributeError(key) from None

    def __getitem__(self, position: int) -> Any:
        return self._values[position]


_NOT_DIRECT: Any = object()  # a statement SQLAlchemy must send (see `_remember`)
_SEEN: Any = object()  # a statement run once so far
# Statement -> dialect name -> what to send. Weak keys: a statement the readers drop goes with
# its entry (what is kept refers to a clone of the statement, never to the key itself).
_SENT: weakref.WeakKeyDictionary[Select[Any], dict[str, _Sent]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
# SQLAlchemy's internals this module uses (it is not pinned): without them, no statement is
# sent directly. Tests turn DIRECT off to compare with SQLAlchemy's own execution.
DIRECT = all(
    hasattr(Connection, name) for name in ("_handle_dbapi_exception", "_has_events", "dispatch")
) and hasattr(SQLCompiler, "_bind_processors")


LITERAL_KEPT = 64  # per statement: the SQL with its values written in, for this many value sets


def driver_rows(
    conn: Connection, statement: Select[Any], params: dict[str, Any], *, literal: bool = False
) -> DriverRows:
    """`statement`'s rows on `conn` with `params` (see the module); `literal`: on PostgreSQL,
    sent with its values written into the SQL once it goes to the driver directly."""
    statement, params = guard_for(conn, statement, params)
    dialect = conn.dialect
    sent = _SENT.get(statement, {}).get(dialect.name)
    if sent is None or sent is _SEEN or sent is _NOT_DIRECT or not (DIRECT and _direct(conn)):
        result = conn.execute(statement, params, execution_options={GUARDED: True})
        if sent is None or sent is _SEEN:
            _remember(statement, dialect, result, again=sent is _SEEN)
        keys = tuple(result.keys())
        description = result.cursor.description
        return DriverRows(
            keys,
            result.cursor_strategy.fetchall(result, result.cursor),
            None,
            result._metadata._effective_processors,
            {key: position for position, key in enumerate(keys)},
            description,
        )
    compiled = sent.compiled
    values = compiled.construct_params(params, escape_names=False)
    processors = sent.binders
    parameters: Any
    if sent.positions is not None:
        parameters = dialect.execute_sequence_format(
            [
                processors[name](values[name]) if name in processors else values[name]
                for name in sent.positions
            ]
        )
    else:
        escaped = sent.escaped or {}
        parameters = {
            escaped.get(name, name): processors[name](value) if name in processors else value
            for name, value in values.items()
        }
    dbapi_connection = conn.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    sql = sent.sql
    if literal and dialect.name == "postgresql" and isinstance(parameters, dict):
        sql, parameters = _literal(sent, dbapi_connection, parameters)
    try:
        events = conn._has_events or conn.engine._has_events
        if events:
            for before in conn.dispatch.before_cursor_execute:
                sql, parameters = before(conn, cursor, sql, parameters, None, False)
        cursor.execute(sql, parameters)
        if events:
            for after in conn.dispatch.after_cursor_execute:
                after(conn, cursor, sql, parameters, None, False)
        rows = cursor.fetchall()
    except Exception as exc:
        conn._handle_dbapi_exception(exc, sql, parameters, cursor, None)
    return DriverRows(sent.keys, rows, cursor, sent.processors, sent.index)


def _literal(sent: _Sent, dbapi_connection: Any, parameters: dict[str, Any]) -> tuple[str, Any]:
    """`sent`'s SQL with `parameters` written in (kept per value set), and no parameters; as it
    is when a value is not hashable (an array)."""
    # each value's type too: 1, 1.0 and True are equal keys but are written differently
    key = tuple((name, value.__class__, value) for name, value in parameters.items())
    try:
        found = sent.literal.get(key)
    except TypeError:
        return sent.sql, parameters
    if found is None:
        found = ClientCursor(dbapi_connection).mogrify(sent.sql, parameters)
        with _lock:
            if len(sent.literal) >= LITERAL_KEPT:
                sent.literal.clear()
            sent.literal[key] = found
    return found, None


def _direct(conn: Connection) -> bool:
    """Whether `conn` may be sent to directly: in a transaction SQLAlchemy began (and so sent
    SQLite's ``BEGIN`` for), or a connection that never opens one."""
    return conn.in_transaction() or bool(conn.info.get(AUTOCOMMIT))


def _remember(statement: Select[Any], dialect: Dialect, result: Any, *, again: bool) -> None:
    """Keep what to send for `statement` from its first execution through SQLAlchemy: its own
    compilation (of a clone: SQLAlchemy's may come from its cache, compiled from another
    statement of the same shape whose literal values differ), checked to be the SQL SQLAlchemy
    sent, and the result's keys and conversions. Statements with parameters expanded or
    rendered at execution (``IN`` lists, literal execution), a schema translation or tuple
    parameters are always left to SQLAlchemy. A statement run once is only marked (`again`
    False): statements built per request (a scoped caller's page) are never run twice, and
    compiling them again would cost more than it saves."""
    if not again:
        with _lock:
            _SENT.setdefault(statement, {})[dialect.name] = _SEEN
        return
    try:
        sent = _sent(statement, dialect, result)
    except AttributeError:  # a SQLAlchemy whose internals differ from those this module knows
        sent = _NOT_DIRECT
    with _lock:
        _SENT.setdefault(statement, {})[dialect.name] = sent


def _sent(statement: Select[Any], dialect: Dialect, result: Any) -> Any:
    used = result.context.compiled
    clone = statement._clone()
    clone.__dict__.pop("_is_clone_of", None)  # what is kept must not keep the key alive
    compiled = clone.compile(dialect=dialect)
    if (
        not isinstance(compiled, SQLCompiler)
        or not isinstance(used, SQLCompiler)
        or compiled.string != used.string
        or compiled.literal_execute_params
        or compiled.post_compile_params
        or compiled.schema_translate_map
        or any(isinstance(p, Sequence) for p in compiled._bind_processors.values())
    ):
        return _NOT_DIRECT
    positions = tuple(compiled.positiontup or ()) if compiled.positional else None
    escaped = dict(compiled.escaped_bind_names) if compiled.escaped_bind_names else None
    keys = tuple(result.keys())
    return _Sent(
        compiled,
        compiled.string,
        keys,
        positions,
        escaped,
        result._metadata._effective_processors,
        cast(dict[str, Callable[[Any], Any]], dict(compiled._bind_processors)),
        {key: position for position, key in enumerate(keys)},
    )
