"""The immutable syntax tree of a formula.

The parser builds it with ``type`` unset; the checker returns a copy with every node typed and
every reference resolved to field keys. Backends only read checked trees.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.expr.errors import Span
from engine.expr.types import ExprType


@dataclass(frozen=True, slots=True)
class Node:
    """Base of all nodes: where it is in the source and, once checked, its type."""

    span: Span
    type: ExprType | None


@dataclass(frozen=True, slots=True)
class NumberLit(Node):
    value: Decimal


@dataclass(frozen=True, slots=True)
class TextLit(Node):
    value: str


@dataclass(frozen=True, slots=True)
class BoolLit(Node):
    value: bool


@dataclass(frozen=True, slots=True)
class BlankLit(Node):
    pass


@dataclass(frozen=True, slots=True)
class Ref(Node):
    """A field reference. ``names`` as written; ``path`` the resolved keys (after checking).

    ``braced`` marks names written in ``{...}``, which may be labels.
    """

    names: tuple[str, ...]
    braced: tuple[bool, ...]
    path: tuple[str, ...] = ()
    field_type: str = ""
    scale: int | None = None  # declared decimal places of a number field


@dataclass(frozen=True, slots=True)
class Unary(Node):
    """``-x`` (op ``"-"``), ``+x`` (op ``"+"``), ``x%`` (op ``"%"``) or ``NOT x`` (op ``"NOT"``)."""

    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    """Arithmetic (``+ - * / ^``), text join (``&``), comparison (``= <> < <= > >=``) or logic.

    ``==`` and ``!=`` are normalised to ``=`` and ``<>``; logic ops are ``AND`` and ``OR``.
    """

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A function call; ``name`` is upper-cased."""

    name: str
    args: tuple[Node, ...]


ARITHMETIC_OPS = frozenset({"+", "-", "*", "/", "^"})
COMPARISON_OPS = frozenset({"=", "<>", "<", "<=", ">", ">="})
LOGIC_OPS = frozenset({"AND", "OR"})


def children(node: Node) -> tuple[Node, ...]:
    """The direct children of a node, in source order."""
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    return ()


def chain(node: Node, op: str) -> list[Node]:
    """The operands of a left-nested run of one operator (``a & b & c``), in source order."""
    operands: list[Node] = []
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Binary) and current.op == op:
            stack += [current.right, current.left]
        else:
            operands.append(current)
    return operands


def depth(node: Node) -> int:
    """Nesting depth of a tree, computed without recursion."""
    best = 0
    stack = [(node, 1)]
    while stack:
        current, level = stack.pop()
        best = max(best, level)
        stack.extend((child, level + 1) for child in children(current))
    return best
