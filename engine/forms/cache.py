"""Caches kept on layout objects: what the record pipeline and reader derive from a definition.

A layout (`engine.forms.layout`) belongs to one published revision and never changes, so
whatever is computed from it alone — per-field coercers, JSON writers, compiled filters and
sorts — can live on it: a publish builds new layouts, and their caches start empty. Nothing
that depends on the caller (row scopes) or on the clock (`TODAY()`, `NOW()`) may be stored
unless its key says so; see `Reader` in `engine.forms.query`.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.pool import Pool

from engine.expr import ast
from engine.forms.field_types.computed import FormulaField
from engine.forms.layout import VOLATILE, AppLayout, Container

T = TypeVar("T")
V = TypeVar("V")

DEFAULT_SIZE = 256
"""Entries kept per layout and kind (filters, sorts, page shapes): recent ones win."""


class LruCache(Generic[V]):
    """A small thread-safe least-recently-used map with a fixed number of entries."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
            return found

    def pop(self, key: Hashable) -> V | None:
        """Drop `key`; its value, if it was kept."""
        with self._lock:
            return self._data.pop(key, None)

    def drop(self, unwanted: Callable[[Hashable], bool]) -> None:
        """Drop every entry whose key is `unwanted`."""
        with self._lock:
            for key in [k for k in self._data if unwanted(k)]:
                del self._data[key]

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


class PerDatabase(Generic[V]):
    """One `LruCache` per database a process talks to, found from a connection.

    Keyed by the connection pool: every OptionEngine of one engine (the read-only connections)
    shares the root engine's pool, and so its cache, while two databases served by one process
    (tests, tools) stay apart; a disposed engine gets a new pool and starts empty. The pool of
    PostgreSQL's interactive reads (engine.store.read_pool) names the main pool it shares
    with."""

    def __init__(self, size: Callable[[], int]) -> None:
        self._size = size
        self._caches: weakref.WeakKeyDictionary[Pool, LruCache[V]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def of(self, conn: Connection) -> LruCache[V]:
        """The cache of `conn`'s database."""
        pool = conn.engine.pool
        pool = getattr(pool, "jimu_caches_of", pool)  # a read pool shares its database's
        with self._lock:
            found = self._caches.get(pool)
            if found is None:
                found = self._caches[pool] = LruCache(self._size())
            return found


def on_layout(owner: Any, name: str, build: Callable[[], T]) -> T:
    """The value `name` kept on a layout object, built on first use (builds are idempotent, so
    two threads building at once is harmless)."""
    cache: dict[str, Any] = owner.__dict__.setdefault("_jimu_cache", {})
    if name not in cache:
        cache[name] = build()
    found: T = cache[name]
    return found


def lru_on_layout(owner: Any, name: str) -> LruCache[Any]:
    """A bounded cache named `name` on a layout object."""
    return on_layout(owner, "lru:" + name, LruCache)


def calls_clock(tree: ast.Node, names: frozenset[str] = VOLATILE) -> bool:
    """Whether a formula calls one of `names` (by default TODAY(), NOW() and the acting
    member's functions: its SQL then holds the moment or the member)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call) and node.name in names:
            return True
        stack.extend(ast.children(node))
    return False


def reads_clock(app: AppLayout) -> bool:
    """Whether any read-time value of the app may depend on the clock: a formula field (of any
    form or subform) calling TODAY() or NOW(). Lookups, rollups and formulas over such a field
    then do too, so SQL built from this app's fields is not kept when this is true."""

    def build() -> bool:
        from engine import expr

        containers: list[Container] = []
        for form in app.forms.values():
            containers.append(form)
            containers.extend(f.rows for f in form.fields.values() if f.rows is not None)
        for container in containers:
            for layout in container.fields.values():
                if isinstance(layout.spec, FormulaField):
                    try:
                        tree = expr.checked(layout.spec.expr, container.schema)
                    except (expr.ExprError, ValueError):
                        return True  # cannot tell: assume it does
                    if calls_clock(tree):
                        return True
        return False

    return on_layout(app, "reads_clock", build)


__all__ = ["DEFAULT_SIZE", "LruCache", "calls_clock", "lru_on_layout", "on_layout", "reads_clock"]
