"""The tree walker: a checked formula tree to dialect-neutral SQL, one node at a time.

It owns references (resolving paths to columns and reading each column type's
representation), literals, list sources (aggregates become correlated scalar subqueries over
:class:`SqlRows`) and dispatch to the emitter table :data:`EMITTERS`, which the family modules
fill with one emitter per function of the language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Numeric, bindparam, select
from sqlalchemy.sql import ColumnElement, FromClause
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.types import TypeDecorator

from engine.core.sqltypes import ExactDecimal
from engine.expr import ast, numbers
from engine.expr.errors import ExprError
from engine.expr.functions import FUNCTIONS
from engine.expr.runtime import EvalContext
from engine.expr.types import Kind

from .nodes import Op, Val, both, define, op
from .types import KIND_TYPES, NumberValue


@dataclass(frozen=True)
class SqlRows:
    """The rows of a list source (subform, to-many relation) for one record.

    ``from_`` is the child table (or a join); ``where`` correlates it with the record's row
    (e.g. ``child._parent_id == parent._id``); ``order_by`` keeps row order for TEXTJOIN;
    ``ids`` is, for a to-many relation, the column of the related records' ids (what the
    relation alone lists).
    """

    from_: FromClause
    where: ColumnElement[bool] | None = None
    order_by: Sequence[ColumnElement[Any]] = field(default_factory=tuple)
    ids: ColumnElement[Any] | None = None


Resolver = Callable[[tuple[str, ...]], Any]


def _is_constant(node: ast.Node) -> bool:
    """True when no field is read anywhere below ``node`` (TODAY/NOW come from the context)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Ref):
            return False
        stack.extend(ast.children(current))
    return True


Emitter = Callable[["SqlCompiler", ast.Call], Val]
EMITTERS: dict[str, Emitter] = {}


def emitter(*names: str) -> Callable[[Emitter], Emitter]:
    """Register the SQL emitter of one or more functions of the language."""

    def register(fn: Emitter) -> Emitter:
        for name in names:
            if name in EMITTERS:
                raise ValueError(f"SQL emitter for {name} registered twice")
            EMITTERS[name] = fn
        return fn

    return register


_PG_NULL = {
    "number": "CAST(NULL AS NUMERIC)",
    "text": "CAST(NULL AS TEXT)",
    "boolean": "CAST(NULL AS BOOLEAN)",
    "date": "CAST(NULL AS DATE)",
    "datetime": "CAST(NULL AS TIMESTAMPTZ)",
    "time": "CAST(NULL AS TIME)",
    "blank": "CAST(NULL AS TEXT)",
    "record": "CAST(NULL AS BIGINT)",
    "user": "CAST(NULL AS BIGINT)",
    "department": "CAST(NULL AS BIGINT)",
}
define("null", sqlite="NULL", postgresql=lambda a, p: _PG_NULL[p[0]])
define("num_lit", sqlite="'{p0}'", postgresql="CAST({p0} AS NUMERIC)")
define(
    "bool_lit",
    sqlite=lambda a, p: "1" if p[0] else "0",
    postgresql=lambda a, p: "TRUE" if p[0] else "FALSE",
)
define("text_lit", sqlite="{0}", postgresql="CAST({0} AS TEXT)")
# A scaled-integer column as a number: canonical text on SQLite.
define(
    "col_scaled",
    sqlite=lambda a, p: f"CAST({a[0]} AS TEXT)" if p[0] == 0 else f"jimu_unscale({a[0]}, {p[0]})",
    postgresql="{0}",
)
define("col_number", sqlite="jimu_to_number({0})", postgresql="CAST({0} AS NUMERIC)")
both("col", "{0}")


class SqlCompiler:
    """Compiles one checked tree; ``resolve`` maps a field path to SQL (see ``compile_sql``)."""

    def __init__(self, resolve: Resolver, ctx: EvalContext) -> None:
        self.resolve = resolve
        self.ctx = ctx
        self.iterating: set[str] = set()
        self._tz: ColumnElement[Any] | None = None
        self._ids = 0

    def next_id(self) -> int:
        """A number unique within this formula (for SQL aliases)."""
        self._ids += 1
        return self._ids

    # --- context ------------------------------------------------------------------------
    @property
    def tz(self) -> ColumnElement[Any]:
        """The organisation's time zone name, as a bind parameter."""
        if self._tz is None:
            self._tz = op(
                "text_lit",
                bindparam("jimu_tz", self.ctx.tz.key, type_=KIND_TYPES["text"](), unique=True),
            )
        return self._tz

    def null(self, kind: Kind) -> Val:
        return Val(op("null", params=(kind,)), kind, simple=True)

    # --- dispatch -----------------------------------------------------------------------
    def compile(self, node: ast.Node) -> Val:
        """A node's value; inside :meth:`iterate`, a list node's per-row element value."""
        assert node.type is not None
        if node.type.is_list and node.type.source not in self.iterating:
            raise TypeError("a list outside an aggregate")  # pragma: no cover - checker prevents
        if isinstance(node, ast.NumberLit):
            return self.number_literal(node)
        if isinstance(node, ast.TextLit):
            if not node.value:
                return self.null("text")
            sql = op("text_lit", bindparam(None, node.value, type_=KIND_TYPES["text"]()))
            return Val(sql, "text", simple=True, nullable=False)
        if isinstance(node, ast.BoolLit):
            return Val(op("bool_lit", params=(node.value,)), "boolean", simple=True, nullable=False)
        if isinstance(node, ast.BlankLit):
            return self.null("blank")
        if isinstance(node, ast.Ref):
            return self.reference(node)
        if not node.type.is_list and _is_constant(node):
            return self.constant(node)
        from . import operators

        if isinstance(node, ast.Unary):
            return operators.unary(self, node)
        if isinstance(node, ast.Binary):
            return operators.binary(self, node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise TypeError(f"cannot compile {node!r}")  # pragma: no cover

    def call(self, node: ast.Call) -> Val:
        fn = FUNCTIONS[node.name]
        if "sql" not in fn.backends:
            raise ExprError(
                "not_in_backend",
                span=node.span,
                name=node.name,
                backend_zh="数据库",
                backend_en="the database",
            )
        return EMITTERS[node.name](self, node)

    def args(self, node: ast.Call) -> list[Val]:
        return [self.compile(a) for a in node.args]

    def constant(self, node: ast.Node) -> Val:
        """A sub-tree that reads no field has one value for every row: compute it once with the
        Python reference (so it is equal by construction) and bind it, instead of per row."""
        from engine.expr.backends.python import compile_node

        assert node.type is not None
        kind = node.type.kind
        value = compile_node(node)({}, self.ctx)
        if value is None:
            return self.null(kind)
        if kind == "number":
            places = min(numbers.places(value.normalize()), numbers.PLACES)
            sql = op("num_lit", params=(numbers.to_text(value),))
            return Val(sql, "number", simple=True, nullable=False, literal=value, places=places)
        if kind == "boolean":
            return Val(
                op("bool_lit", params=(bool(value),)), "boolean", simple=True, nullable=False
            )
        if isinstance(value, list):  # CURRENT_DEPARTMENTS(): only CONTAINS reads it
            raise TypeError("a list outside an aggregate")  # pragma: no cover
        wrapper = "text_lit" if kind == "text" else "col"
        bound = bindparam(None, value, type_=KIND_TYPES[kind](), unique=True)
        return Val(op(wrapper, bound), kind, simple=True, nullable=False)

    def number_literal(self, node: ast.NumberLit) -> Val:
        value = numbers.norm(node.value)
        if value is None:
            return self.null("number")
        sql = op("num_lit", params=(numbers.to_text(value),))
        places = max(0, -int(value.normalize().as_tuple().exponent))
        return Val(
            sql, "number", simple=True, nullable=False, literal=value, places=min(places, 10)
        )

    # --- references ---------------------------------------------------------------------
    def reference(self, node: ast.Ref) -> Val:
        assert node.type is not None
        target = self.resolve(node.path)
        if isinstance(target, SqlRows) and target.ids is not None and node.type.kind == "record":
            return Val(op("col", target.ids), "record", nullable=False)
        if isinstance(target, SqlRows):
            raise TypeError(f"{'.'.join(node.path)} is a list source, not a column")
        return self.column_value(target, node.type.kind)

    def column_value(self, column: Any, kind: Kind) -> Val:
        """A column read as a value of ``kind``, after its storage representation."""
        sql: ColumnElement[Any] = column
        simple = isinstance(sql, ColumnClause)
        col_type = sql.type
        if kind == "number":
            if isinstance(col_type, (ExactDecimal, Integer)):
                scale = col_type.scale if isinstance(col_type, ExactDecimal) else 0
                value = op("col_scaled", sql, params=(scale,))
                scaled = (sql, scale) if simple else None
                return Val(value, kind, simple=simple, scaled=scaled, places=scale)
            if isinstance(col_type, NumberValue):
                return Val(op("col", sql), kind, simple=simple)
            if isinstance(col_type, Numeric) and not isinstance(col_type, TypeDecorator):
                return Val(op("col_number", sql), kind, simple=simple)
            return Val(op("col_number", sql), kind)
        if kind == "blank":
            return self.null("blank")
        return Val(op("col", sql), kind, simple=simple)

    # --- lists --------------------------------------------------------------------------
    def rows(self, source: str) -> SqlRows | ColumnElement[Any]:
        """What a list source resolves to: its rows, or a JSON array column (multiselect)."""
        target: SqlRows | ColumnElement[Any] = self.resolve(tuple(source.split(".")))
        return target

    @contextmanager
    def iterate(self, source: str) -> Iterator[None]:
        added = source not in self.iterating
        self.iterating.add(source)
        try:
            yield
        finally:
            if added:
                self.iterating.discard(source)

    def element_subquery(self, node: ast.Node, ordered: bool = False) -> Any:
        """``SELECT <element> AS v [, order keys o0...] FROM rows WHERE ...`` as a subquery.

        Raises ExprError for a list the database cannot iterate (e.g. a multiselect in an
        element-wise expression).
        """
        assert node.type is not None and node.type.source is not None
        source = node.type.source
        rows = self.rows(source)
        if not isinstance(rows, SqlRows):
            raise ExprError(
                "list_not_in_backend",
                span=node.span,
                name=source,
                backend_zh="数据库",
                backend_en="the database",
            )
        with self.iterate(source):
            element = self.compile(node)
        return self._rows_subquery(rows, element.sql, ordered)

    def _rows_subquery(self, rows: SqlRows, value: ColumnElement[Any], ordered: bool) -> Any:
        keys = [k.label(f"o{i}") for i, k in enumerate(rows.order_by)] if ordered else []
        inner = select(value.label("v"), *keys).select_from(rows.from_)
        if rows.where is not None:
            inner = inner.where(rows.where)
        inner = inner.correlate_except(rows.from_)
        if keys:
            inner = inner.order_by(*rows.order_by)
        return inner.subquery()

    def scaled_subquery(
        self,
        node: ast.Node,
        columns: Mapping[str, Callable[[Any, Any], ColumnElement[Any]]],
        products: bool = False,
    ) -> tuple[Any, int] | None:
        """When every element of list `node` is a fixed-scale number column (``items.amount``)
        or, with `products`, the product of two (``items.qty * items.price``, places adding up
        to at most 10): ``SELECT <columns> FROM rows WHERE ...``, each column made from the
        element as stored (on SQLite a scaled integer, which plain SQL aggregates add exactly)
        and whether it cannot be (1 for a product past 64 bits or past the number limit), and
        the scale. The aggregates read the rows directly (no derived table of elements, which
        SQLite would evaluate far more slowly per record). None for any other list."""
        assert node.type is not None and node.type.source is not None
        rows = self.rows(node.type.source)
        if not isinstance(rows, SqlRows):
            return None
        with self.iterate(node.type.source):
            if products and isinstance(node, ast.Binary) and node.op == "*":
                left, right = self.compile(node.left), self.compile(node.right)
                if left.scaled is None or right.scaled is None:
                    return None
                scale = left.scaled[1] + right.scaled[1]
                if scale > 10:
                    return None
                a, b = left.scaled[0], right.scaled[0]
                value: ColumnElement[Any] = Op("scaled_mul", a, b)
                over: ColumnElement[Any] = Op("scaled_mul_over", a, b, params=(scale,))
            else:
                element = self.compile(node)
                if element.scaled is None:
                    return None
                value, scale = element.scaled
                over = Op("scaled_never")
        parts = select(*[make(value, over).label(name) for name, make in columns.items()])
        parts = parts.select_from(rows.from_)
        if rows.where is not None:
            parts = parts.where(rows.where)
        return parts.correlate_except(rows.from_).subquery(), scale

    def aggregate(
        self, node: ast.Node, name: str, *extra: ColumnElement[Any], params: tuple[Any, ...] = ()
    ) -> ColumnElement[Any]:
        """``(SELECT <name>(v) FROM (<element subquery>))``: one scalar per list argument."""
        sub = self.element_subquery(node)
        return select(Op(name, sub.c.v, *extra, params=params)).select_from(sub).scalar_subquery()

    def list_array(self, node: ast.Node) -> ColumnElement[Any]:
        """A list argument as one value: a PostgreSQL array, or a JSON array on SQLite.

        A multiselect field (a JSON array column) is its own list.
        """
        assert node.type is not None and node.type.source is not None
        target = self.rows(node.type.source)
        if not isinstance(target, SqlRows):
            if isinstance(node, ast.Ref) and node.path == tuple(node.type.source.split(".")):
                return op("json_list", target)
            raise ExprError(
                "list_not_in_backend",
                span=node.span,
                name=node.type.source,
                backend_zh="数据库",
                backend_en="the database",
            )
        rows = target
        sub = self.element_subquery(node, ordered=True)
        keys = [sub.c[f"o{i}"] for i in range(len(rows.order_by))]
        return select(Op("list_agg", sub.c.v, *keys)).select_from(sub).scalar_subquery()


def _list_agg_pg(args: list[str], params: tuple[Any, ...]) -> str:
    order = f" ORDER BY {', '.join(args[1:])}" if len(args) > 1 else ""
    return f"array_agg({args[0]}{order})"


define("list_agg", sqlite="json_group_array({0})", postgresql=_list_agg_pg)
define(
    "json_list",
    sqlite="{0}",
    postgresql=(
        "ARRAY(SELECT NULLIF(e.v, '') FROM jsonb_array_elements_text(CAST({0} AS JSONB))"
        " WITH ORDINALITY AS e(v, n) ORDER BY e.n)"
    ),
)


def resolver_for(columns: Mapping[str, Any] | Resolver) -> Resolver:
    """A path resolver from a mapping of dotted paths (or a resolver already)."""
    if callable(columns) and not isinstance(columns, Mapping):
        return columns
    mapping = columns

    def resolve(path: tuple[str, ...]) -> Any:
        key = ".".join(path)
        if key not in mapping:
            raise KeyError(f"no SQL column for field {key!r}")
        return mapping[key]

    return resolve


# --- calls of the language's functions ----------------------------------------------------

KIND_CODES = {
    "number": "n",
    "text": "t",
    "boolean": "b",
    "date": "d",
    "datetime": "D",
    "time": "T",
    "blank": "x",
}


def _sqlite_call(args: list[str], params: tuple[Any, ...]) -> str:
    return f"jimu_call('{params[0]}'" + "".join(f", {a}" for a in args) + ")"


def optional(args: Sequence[str], index: int, default: str = "NULL") -> str:
    """A template helper: rendered argument ``index``, or ``default`` when it was omitted."""
    return args[index] if len(args) > index else default


def function(name: str, postgresql: Any, sqlite: Any = None) -> None:
    """Define how ``fn:<name>`` renders: a PostgreSQL template; SQLite calls the Python code."""
    define(f"fn:{name}", sqlite=sqlite or _sqlite_call, postgresql=postgresql)


def call(
    c: SqlCompiler,
    node: ast.Call,
    args: Sequence[Val],
    lists: Sequence[bool] = (),
    extra: tuple[Any, ...] = (),
) -> Val:
    """``fn:<NAME>`` over compiled arguments (``lists[i]``: argument i is a list array).

    Params: ``(signature, lists, kinds, *extra)``. The SQLite rendering passes the signature
    to ``jimu_call``; a function that needs the context gets the time zone as last argument.
    """
    assert node.type is not None
    fn = FUNCTIONS[node.name]
    flags = tuple(lists) or (False,) * len(args)
    codes = ",".join(
        ("L" if is_list else "") + KIND_CODES[a.kind]
        for a, is_list in zip(args, flags, strict=True)
    )
    signature = f"{node.name}|{codes}|{'c' if fn.needs_ctx else ''}|{node.type.kind}"
    sql_args: list[Val] = []
    for i, a in enumerate(args):
        param = fn.param_for(i)
        if a.kind == "blank" and param is not None:
            a = c.null(param.kinds[0]) if not flags[i] else a
        sql_args.append(a)
    if fn.needs_ctx:
        sql_args.append(Val(c.tz, "text"))
    kinds = tuple(a.kind for a in args)
    return Val(
        op(f"fn:{node.name}", *sql_args, params=(signature, flags, kinds, *extra)), node.type.kind
    )
