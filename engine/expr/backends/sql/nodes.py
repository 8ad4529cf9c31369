"""The one SQL construct the backend builds, rendered per dialect from template tables.

Every operation of the language becomes an :class:`Op` (a SQLAlchemy ``FunctionElement``)
carrying an operation name, its SQL arguments and plain parameters. Construction is
dialect-neutral; ``@compiles(Op, "sqlite")`` and ``@compiles(Op, "postgresql")`` look the
operation up in :data:`RENDER` and fill its template with the rendered arguments. Each family
module (operators, logic, maths, texts, dates) registers its templates with :func:`define`,
so a dialect difference lives next to the function it belongs to.

A template is a ``str.format`` string (``{0}``, ``{1}``... are the rendered arguments, ``{p0}``,
``{p1}``... the plain parameters), a callable ``(args, params) -> str``, or a
:class:`ByElement` that renders the element itself. Templates must not
repeat an argument unless the emitter guarantees the argument is small (a column or a literal):
repeating sub-expressions makes SQL text exponential in nesting depth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from engine.expr.types import Kind


@dataclass(frozen=True, slots=True)
class ByElement:
    """A template that renders the whole element itself (e.g. to fuse a subtree)."""

    render: Callable[..., str]


Template = str | Callable[[list[str], tuple[Any, ...]], str] | ByElement
DIALECTS = ("sqlite", "postgresql")
RENDER: dict[str, dict[str, Template]] = {d: {} for d in DIALECTS}


def define(op: str, *, sqlite: Template, postgresql: Template) -> str:
    """Register how ``op`` renders on each dialect; returns ``op`` for convenience."""
    if op in RENDER["sqlite"]:
        raise ValueError(f"SQL operation {op!r} defined twice")
    RENDER["sqlite"][op] = sqlite
    RENDER["postgresql"][op] = postgresql
    return op


def both(op: str, template: Template) -> str:
    """Register an operation that renders the same on both dialects."""
    return define(op, sqlite=template, postgresql=template)


class Op(FunctionElement[Any]):
    """One operation of the language: ``jop`` names its template, ``jparams`` are plain values."""

    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy's own class-level declaration style
        *FunctionElement._traverse_internals,
        ("jop", InternalTraversal.dp_string),
        ("jparams", InternalTraversal.dp_plain_obj),
    ]

    def __init__(
        self, jop: str, *args: Any, params: tuple[Any, ...] = (), type_: Any = None
    ) -> None:
        self.jop = jop
        self.jparams = params
        super().__init__(*args)
        if type_ is not None:
            self.type = type_() if isinstance(type_, type) else type_


def _render(element: Op, compiler: SQLCompiler, dialect: str, **kw: Any) -> str:
    template = RENDER[dialect].get(element.jop)
    if template is None:
        raise TypeError(f"{element.jop} has no {dialect} rendering")
    if isinstance(template, ByElement):
        return template.render(element, compiler, **kw)
    clauses: Any = element.clause_expr.element
    args = [compiler.process(c, **kw) for c in clauses.clauses]
    if isinstance(template, str):
        named = {f"p{i}": p for i, p in enumerate(element.jparams)}
        return template.format(*args, **named)
    return template(args, element.jparams)


@compiles(Op, "sqlite")
def _render_sqlite(element: Op, compiler: SQLCompiler, **kw: Any) -> str:
    return _render(element, compiler, "sqlite", **kw)


@compiles(Op, "postgresql")
def _render_postgresql(element: Op, compiler: SQLCompiler, **kw: Any) -> str:
    return _render(element, compiler, "postgresql", **kw)


@compiles(Op)
def _render_other(element: Op, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"formulas compile for SQLite and PostgreSQL, not {compiler.dialect.name}")


@dataclass(frozen=True, slots=True)
class Val:
    """A compiled scalar: its SQL and what the emitters may rely on.

    ``simple``: a column or literal, cheap to repeat in a template; ``weight``: for small
    composite values, how many leaves they hold (see ``cost``). ``nullable``: may be NULL
    (comparisons and conditions are never NULL). ``scaled``: for a SQLite scaled-integer
    column, the raw column and its scale (fast comparisons with literals). ``literal``: the
    value of a number literal. ``places``: for a number, its decimal places when known (a scaled
    column, a literal, exact arithmetic on those), so PostgreSQL can skip rounding.
    """

    sql: ColumnElement[Any]
    kind: Kind
    simple: bool = False
    nullable: bool = True
    scaled: tuple[ColumnElement[Any], int] | None = None
    literal: Decimal | None = None
    weight: int = 0
    places: int | None = None

    @property
    def cost(self) -> int:
        """Roughly how many leaves the SQL holds (99: large or unknown)."""
        return 1 if self.simple else (self.weight or 99)

    def but(self, **changes: Any) -> Val:
        return replace(self, **changes)


def op(name: str, *args: Val | ColumnElement[Any], params: tuple[Any, ...] = ()) -> Op:
    """An :class:`Op` over compiled values (or raw SQL)."""
    return Op(name, *[a.sql if isinstance(a, Val) else a for a in args], params=params)


def join_args(args: Sequence[str], separator: str = ", ") -> str:
    return separator.join(args)
