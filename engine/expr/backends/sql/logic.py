"""Logic functions in SQL: IF, IFS and SWITCH as CASE (only the chosen branch is evaluated),
AND, OR, XOR, NOT and ISBLANK; a blank condition is FALSE."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal_column

from engine.expr import ast

from .compiler import SqlCompiler, emitter
from .nodes import Val, both, define, op
from .operators import compare, condition, logic, negate


def _case(a: list[str], p: tuple[Any, ...]) -> str:
    """CASE over (condition, value) pairs; ``p[0]``: whether the last argument is an ELSE."""
    has_else = p[0]
    pairs = a[:-1] if has_else else a
    parts = [f"WHEN {pairs[i]} THEN {pairs[i + 1]}" for i in range(0, len(pairs), 2)]
    tail = f" ELSE {a[-1]}" if has_else else ""
    return f"(CASE {' '.join(parts)}{tail} END)"


both("case", _case)
both("bind", "(SELECT {1} FROM (SELECT {0} AS s) AS {p0})")


def _xor(modulo: str) -> Any:
    def render(a: list[str], p: tuple[Any, ...]) -> str:
        total = " + ".join(f"(CASE WHEN {x} THEN 1 ELSE 0 END)" for x in a)
        return modulo.format(total)

    return render


# "%" would be read as a placeholder by psycopg: PostgreSQL uses mod().
define("xor", sqlite=_xor("(({0}) % 2 = 1)"), postgresql=_xor("(mod({0}, 2) = 1)"))


def branch(c: SqlCompiler, node: ast.Node, kind: Any) -> Val:
    """A branch value typed as the whole expression (a blank branch becomes a typed NULL)."""
    v = c.compile(node)
    return c.null(kind) if v.kind == "blank" and kind != "blank" else v


def case(c: SqlCompiler, kind: Any, pairs: list[tuple[Val, Val]], otherwise: Val | None) -> Val:
    args: list[Val] = []
    for test, value in pairs:
        args += [condition(test), value]
    if otherwise is not None:
        args.append(otherwise)
    return Val(op("case", *args, params=(otherwise is not None,)), kind)


@emitter("IF")
def if_(c: SqlCompiler, node: ast.Call) -> Val:
    assert node.type is not None
    kind = node.type.kind
    test = c.compile(node.args[0])
    then = branch(c, node.args[1], kind)
    otherwise = branch(c, node.args[2], kind) if len(node.args) > 2 else None
    return case(c, kind, [(test, then)], otherwise)


@emitter("IFS")
def ifs(c: SqlCompiler, node: ast.Call) -> Val:
    assert node.type is not None
    kind = node.type.kind
    pairs = [
        (c.compile(node.args[i]), branch(c, node.args[i + 1], kind))
        for i in range(0, len(node.args), 2)
    ]
    return case(c, kind, pairs, None)


@emitter("SWITCH")
def switch(c: SqlCompiler, node: ast.Call) -> Val:
    assert node.type is not None
    kind = node.type.kind
    subject = c.compile(node.args[0])
    alias = None
    bound = subject
    if not subject.simple:
        # Compute the subject once: (SELECT CASE ... END FROM (SELECT <subject> AS s) AS jimu_sN).
        alias = f"jimu_s{c.next_id()}"
        subject = Val(
            literal_column(f"{alias}.s"), subject.kind, simple=True, nullable=subject.nullable
        )
    rest = node.args[1:]
    pairs = []
    for i in range(0, len(rest) - 1, 2):
        pairs.append((compare("=", subject, c.compile(rest[i])), branch(c, rest[i + 1], kind)))
    otherwise = branch(c, rest[-1], kind) if len(rest) % 2 else None
    result = case(c, kind, pairs, otherwise)
    if alias is None:
        return result
    return result.but(sql=op("bind", bound, result, params=(alias,)))


@emitter("AND", "OR")
def and_or(c: SqlCompiler, node: ast.Call) -> Val:
    return logic(node.name.lower(), c.args(node))


@emitter("XOR")
def xor(c: SqlCompiler, node: ast.Call) -> Val:
    values = [condition(v) for v in c.args(node)]
    return Val(op("xor", *values), "boolean", nullable=False)


@emitter("NOT")
def not_(c: SqlCompiler, node: ast.Call) -> Val:
    return negate(c.compile(node.args[0]))


@emitter("ISBLANK")
def isblank(c: SqlCompiler, node: ast.Call) -> Val:
    v = c.compile(node.args[0])
    if v.kind == "blank":
        return Val(op("true"), "boolean", simple=True, nullable=False)
    return Val(op("is_null", v), "boolean", nullable=False)
