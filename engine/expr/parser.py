"""Source text → syntax tree, with exact error positions and hard size limits.

The LALR parser applies the tree builder while it reduces, so no step recurses over the input:
ten thousand nested parentheses are rejected by the depth limit, never by a RecursionError.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from engine.expr import ast
from engine.expr.errors import ExprError, Span
from engine.expr.numbers import LIMIT

MAX_LENGTH = 4000
MAX_DEPTH = 64
FULLWIDTH = {"，": ",", "（": "(", "）": ")", "“": '"', "”": '"', "‘": "'", "’": "'", "；": ";"}
_TOKEN_WORDS = {
    "RPAR": ")",
    "LPAR": "(",
    "COMMA": ",",
    "$END": "end",
}

Built = tuple[ast.Node, int]  # a node and the depth of the tree under it


def _level(span: Span, *children: Built) -> int:
    level = 1 + max((d for _, d in children), default=0)
    if level > MAX_DEPTH:
        raise ExprError("too_deep", "", span, limit=MAX_DEPTH)
    return level


def _span(token: Token) -> Span:
    start = token.start_pos or 0
    end = token.end_pos if token.end_pos is not None else start + len(token)
    return Span(start, token.line or 1, token.column or 1, max(1, end - start))


class _Builder(Transformer[Token, Built]):
    """Builds ast nodes (with their depth) as the parser reduces; raises on limits.

    Stateless, so the one parser instance that owns it can be shared by threads; errors carry
    no source text until :func:`parse` re-raises them.
    """

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)

    def _node(self, node: ast.Node, *children: Built) -> Built:
        return node, _level(node.span, *children)

    def number(self, items: list[Any]) -> Built:
        token: Token = items[0]
        text = str(token)
        try:
            value = Decimal(text if not text.endswith(".") else text[:-1])
        except InvalidOperation as exc:  # pragma: no cover - the lexer only passes digits
            raise ExprError("bad_number", "", _span(token), text=text) from exc
        if abs(value) >= LIMIT or len(value.as_tuple().digits) > 40:
            raise ExprError("bad_number", "", _span(token), text=text[:40])
        return self._node(ast.NumberLit(_span(token), None, value))

    def string(self, items: list[Any]) -> Built:
        token: Token = items[0]
        quote = token[0]
        value = token[1:-1].replace(quote * 2, quote)
        return self._node(ast.TextLit(_span(token), None, value))

    def true(self, items: list[Any]) -> Built:
        return self._node(ast.BoolLit(_span(items[0]), None, True))

    def false(self, items: list[Any]) -> Built:
        return self._node(ast.BoolLit(_span(items[0]), None, False))

    def null(self, items: list[Any]) -> Built:
        return self._node(ast.BlankLit(_span(items[0]), None))

    def ref(self, items: list[Any]) -> Built:
        parts = [t for t in items if t.type != "DOT"]
        first, last = parts[0], parts[-1]
        start = first.start_pos or 0
        span = Span(
            start, first.line or 1, first.column or 1, max(1, (last.end_pos or start) - start)
        )
        names = tuple(t[1:-1].strip() if t.type == "BRACED" else str(t) for t in parts)
        braced = tuple(t.type == "BRACED" for t in parts)
        return self._node(ast.Ref(span, None, names, braced))

    def callee(self, items: list[Any]) -> Token:
        token: Token = items[0]
        return token

    def arglist(self, items: list[Any]) -> list[Built]:
        return [item for item in items if not isinstance(item, Token)]

    def call(self, items: list[Any]) -> Built:
        callee: Token = items[0]
        args: list[Built] = items[2] or []
        node = ast.Call(_span(callee), None, str(callee).upper(), tuple(n for n, _ in args))
        return self._node(node, *args)

    def paren(self, items: list[Any]) -> Built:
        built: Built = items[1]
        return built[0], _level(_span(items[0]), built)

    def binary(self, items: list[Any]) -> Built:
        left, op, right = items
        symbol = {"==": "=", "!=": "<>"}.get(str(op), str(op).upper())
        return self._node(ast.Binary(_span(op), None, symbol, left[0], right[0]), left, right)

    def prefix(self, items: list[Any]) -> Built:
        op, operand = items
        return self._node(ast.Unary(_span(op), None, str(op).upper(), operand[0]), operand)

    def percent(self, items: list[Any]) -> Built:
        operand, op = items
        return self._node(ast.Unary(_span(op), None, "%", operand[0]), operand)


@lru_cache(maxsize=1)
def _grammar() -> str:
    return resources.files("engine.expr").joinpath("grammar.lark").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(_grammar(), parser="lalr", maybe_placeholders=True, transformer=_Builder())


def _check_limits(source: str) -> None:
    if len(source) > MAX_LENGTH:
        raise ExprError(
            "too_long",
            source[:MAX_LENGTH],
            Span(MAX_LENGTH, 1, 1),
            length=len(source),
            limit=MAX_LENGTH,
        )
    if not source.strip():
        raise ExprError("empty", source, None)


def _position(source: str, offset: int) -> Span:
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return Span(offset, line, column)


def _describe_expected(expected: set[str]) -> tuple[str, str]:
    if "RPAR" in expected:
        return "缺少右括号 )", "a closing parenthesis ) is missing"
    return "缺少运算对象", "an operand is missing"


def _translate(source: str, exc: UnexpectedInput) -> ExprError:
    offset = getattr(exc, "pos_in_stream", None)
    if isinstance(exc, UnexpectedCharacters):
        at = exc.pos_in_stream or 0
        span = _position(source, at)
        char = source[at]
        if char in "\"'":
            return ExprError("unterminated_text", source, span)
        if char == "{":
            return ExprError("unterminated_brace", source, span)
        if char in FULLWIDTH:
            return ExprError(
                "unexpected_char", source, span, char=f"{char}（请使用半角 {FULLWIDTH[char]}）"
            )
        return ExprError("unexpected_char", source, span, char=char)
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        token = exc.token
        span = _span(token)
        before = source[: token.start_pos or 0].rstrip()
        if token.type == "COMP_OP":
            return ExprError("chained_comparison", source, span)
        if before.endswith("%") and token.type in {"NUMBER", "NAME", "BRACED", "LPAR", "STRING"}:
            return ExprError("modulo_operator", source, _position(source, len(before) - 1))
        return ExprError("unexpected_token", source, span, token=str(token))
    if isinstance(exc, (UnexpectedEOF, UnexpectedToken)):
        expected = set(getattr(exc, "expected", ()) or ())
        zh, en = _describe_expected(expected)
        span = _position(source, len(source.rstrip()) if offset is None else offset)
        error = ExprError("unexpected_end", source, span, expected=zh)
        error.message_en = f"The formula ends too early: {en}"
        return error
    return ExprError("unexpected_char", source, _position(source, offset or 0), char="?")


def parse(source: str) -> ast.Node:
    """Parse a formula into an (unchecked) syntax tree; raise ExprError on bad syntax."""
    if not isinstance(source, str):
        raise TypeError("formula source must be a str")
    _check_limits(source)
    try:
        built: Built = _lark().parse(source)  # type: ignore[assignment]
    except UnexpectedInput as exc:
        raise _translate(source, exc) from None
    except ExprError as exc:
        raise ExprError(exc.code, source, exc.span, **exc.params) from None
    return built[0]
