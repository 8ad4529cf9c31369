"""The parser (DESIGN §6): precedence as tree shapes, reserved words, braces, positions, snippets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.expr import MAX_DEPTH, MAX_LENGTH, ExprError, ast, parse


def shape(node: ast.Node) -> str:
    """A compact S-expression of a tree: ``(op left right)``, ``NAME(args)``, literals, refs."""
    if isinstance(node, ast.NumberLit):
        return str(node.value)
    if isinstance(node, ast.TextLit):
        return repr(node.value)
    if isinstance(node, ast.BoolLit):
        return "TRUE" if node.value else "FALSE"
    if isinstance(node, ast.BlankLit):
        return "NULL"
    if isinstance(node, ast.Ref):
        return ".".join(
            f"{{{n}}}" if b else n for n, b in zip(node.names, node.braced, strict=True)
        )
    if isinstance(node, ast.Unary):
        return f"({node.op} {shape(node.operand)})"
    if isinstance(node, ast.Binary):
        return f"({node.op} {shape(node.left)} {shape(node.right)})"
    if isinstance(node, ast.Call):
        return f"{node.name}({', '.join(shape(a) for a in node.args)})"
    raise TypeError(node)  # pragma: no cover


def error(source: str) -> ExprError:
    with pytest.raises(ExprError) as info:
        parse(source)
    return info.value


@pytest.mark.parametrize(
    ("source", "tree"),
    [
        # unary minus binds tightest: -2^2 = (-2)^2
        ("-2^2", "(^ (- 2) 2)"),
        ("-x^2", "(^ (- x) 2)"),
        ("2^-1", "(^ 2 (- 1))"),
        # then postfix %
        ("-10%", "(% (- 10))"),
        ("10%^2", "(^ (% 10) 2)"),
        ("50%%", "(% (% 50))"),
        ("2*10%", "(* 2 (% 10))"),
        # ^ is left associative
        ("2^3^2", "(^ (^ 2 3) 2)"),
        ("2^(3^2)", "(^ 2 (^ 3 2))"),
        # * / before + -, both left associative
        ("1+2*3", "(+ 1 (* 2 3))"),
        ("2*3^2", "(* 2 (^ 3 2))"),
        ("8/4*2", "(* (/ 8 4) 2)"),
        ("10-4-3", "(- (- 10 4) 3)"),
        ("1-2+3", "(+ (- 1 2) 3)"),
        ("(1+2)*3", "(* (+ 1 2) 3)"),
        ("5--2", "(- 5 (- 2))"),
        ("+x", "(+ x)"),
        # & below + -
        ("1&2+3", "(& 1 (+ 2 3))"),
        ("'a'&'b'&'c'", "(& (& 'a' 'b') 'c')"),
        # comparisons below &
        ("a = b & c", "(= a (& b c))"),
        ("a + 1 >= b * 2", "(>= (+ a 1) (* b 2))"),
        ("a == b", "(= a b)"),
        ("a != b", "(<> a b)"),
        # NOT below comparisons, AND below NOT, OR loosest
        ("NOT a = b", "(NOT (= a b))"),
        ("NOT a AND b", "(AND (NOT a) b)"),
        ("a OR b AND c", "(OR a (AND b c))"),
        ("a AND b OR c AND d", "(OR (AND a b) (AND c d))"),
        ("NOT NOT a", "(NOT (NOT a))"),
        ("a AND b AND c", "(AND (AND a b) c)"),
        # calls and references
        ("IF(a > 1, 'x', NULL)", "IF((> a 1), 'x', NULL)"),
        ("round(1.5)", "ROUND(1.5)"),
        ("TODAY()", "TODAY()"),
        ("customer.level", "customer.level"),
        ("{合同金额} * 2", "(* {合同金额} 2)"),
        ("{items}.{qty}", "{items}.{qty}"),
        ("SUM(items.qty * items.price)", "SUM((* items.qty items.price))"),
    ],
)
def test_precedence_and_tree_shape(source: str, tree: str) -> None:
    assert shape(parse(source)) == tree


@pytest.mark.parametrize(
    ("source", "tree"),
    [
        ("true", "TRUE"),
        ("False", "FALSE"),
        ("null", "NULL"),
        ("TRUE And FALSE", "(AND TRUE FALSE)"),
        ("a or b", "(OR a b)"),
        ("not a", "(NOT a)"),
        ("and(TRUE, FALSE)", "AND(TRUE, FALSE)"),
        ("Or(a, b)", "OR(a, b)"),
    ],
)
def test_reserved_words_are_case_insensitive(source: str, tree: str) -> None:
    assert shape(parse(source)) == tree


def test_not_with_parentheses_means_negation() -> None:
    tree = parse("NOT(TRUE)")
    assert shape(tree) in ("(NOT TRUE)", "NOT(TRUE)")


def test_field_named_like_a_reserved_word_needs_braces() -> None:
    tree = parse("{and} + {true}")
    assert isinstance(tree, ast.Binary)
    assert (
        isinstance(tree.left, ast.Ref)
        and tree.left.names == ("and",)
        and tree.left.braced == (True,)
    )
    assert isinstance(tree.right, ast.Ref) and tree.right.names == ("true",)
    assert error("and + 1").code in ("unexpected_token", "unexpected_end")


def test_braces_keep_labels_and_trim_spaces() -> None:
    tree = parse("{ 合同 金额 }")
    assert isinstance(tree, ast.Ref)
    assert tree.names == ("合同 金额",) and tree.braced == (True,)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("'it''s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        ('"it\'s"', "it's"),
        ("'多行\n文本'", "多行\n文本"),
        ("'\\n'", "\\n"),
        ("'😀'", "😀"),
    ],
)
def test_text_literals(source: str, value: str) -> None:
    tree = parse(source)
    assert isinstance(tree, ast.TextLit) and tree.value == value


@pytest.mark.parametrize(
    ("source", "value"), [("1.", "1"), (".5", "0.5"), ("007", "7"), ("1.2500", "1.25")]
)
def test_number_literals(source: str, value: str) -> None:
    tree = parse(source)
    assert isinstance(tree, ast.NumberLit) and tree.value == Decimal(value)


def test_spans_of_nodes() -> None:
    tree = parse("amount +\n  qtyy")
    assert isinstance(tree, ast.Binary)
    assert (tree.span.line, tree.span.column) == (1, 8)
    assert (tree.right.span.line, tree.right.span.column, tree.right.span.length) == (2, 3, 4)
    call = parse("  SUM(1)")
    assert (call.span.column, call.span.offset) == (3, 2)


@pytest.mark.parametrize(
    ("source", "code", "line", "column"),
    [
        ("1 +\n\n  )", "unexpected_token", 3, 3),
        ("1 < 2 < 3", "chained_comparison", 1, 7),
        ("a = b\n  <> c", "chained_comparison", 2, 3),
        ("amount % 3", "modulo_operator", 1, 8),
        ("x%\ny", "modulo_operator", 1, 2),
        ("'abc", "unterminated_text", 1, 1),
        ('1 +\n "abc', "unterminated_text", 2, 2),
        ("{amount", "unterminated_brace", 1, 1),
        ("ROUND（1）", "unexpected_char", 1, 6),
        ("ROUND(1，2)", "unexpected_char", 1, 8),
        ("1 2", "unexpected_token", 1, 3),
        ("1e5", "unexpected_token", 1, 2),
        ("SUM(1,)", "unexpected_token", 1, 7),
        ("a.", "unexpected_end", None, None),
        ("(1 + 2", "unexpected_end", None, None),
        ("99999999999999999999", "bad_number", 1, 1),
        ("1 + 1000000000000000000", "bad_number", 1, 5),
        ("x\n\n   @", "unexpected_char", 3, 4),
    ],
)
def test_error_codes_and_positions(
    source: str, code: str, line: int | None, column: int | None
) -> None:
    exc = error(source)
    assert exc.code == code, str(exc)
    if line is not None:
        assert (exc.line, exc.column) == (line, column)
    assert exc.source == source


def test_fullwidth_punctuation_hint() -> None:
    exc = error("ROUND（1）")
    assert "（请使用半角 (）" in exc.message_zh
    assert "（" in exc.message_en


def test_unexpected_end_messages() -> None:
    exc = error("(1 + 2")
    assert "右括号" in exc.message_zh and "closing parenthesis" in exc.message_en
    exc = error("1 +")
    assert exc.message_zh.startswith("公式不完整") and exc.message_en.startswith(
        "The formula ends too early"
    )


def test_modulo_message_points_to_mod() -> None:
    exc = error("7 % 2")
    assert "MOD" in exc.message_zh and "MOD(a, b)" in exc.message_en


def test_caret_snippet_single_line() -> None:
    exc = error("1 + 2)")
    assert exc.snippet == "1 + 2)\n     ^"


def test_caret_snippet_on_the_offending_line() -> None:
    exc = error("IF(a,\n   b c)")
    assert exc.code == "unexpected_token"
    assert (exc.line, exc.column) == (2, 6)
    assert exc.snippet == "   b c)\n     ^"


def test_caret_snippet_of_long_line_is_windowed() -> None:
    source = "'" + "a" * 300 + "' 2"
    exc = error(source)
    assert (exc.code, exc.column) == ("unexpected_token", 304)
    text, caret = exc.snippet.split("\n")
    assert len(text) <= 200
    assert text[caret.index("^")] == "2"


def test_limits() -> None:
    assert error("").code == "empty"
    assert error(" \n\t ").code == "empty"
    assert error("1" + " " * MAX_LENGTH).code == "too_long"
    exc = error("'" + "a" * 1_000_000 + "'")
    assert exc.code == "too_long" and str(MAX_LENGTH) in exc.message_en
    ok = "(" * (MAX_DEPTH - 1) + "1" + ")" * (MAX_DEPTH - 1)
    assert isinstance(parse(ok), ast.NumberLit)
    exc = error("(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH)
    assert exc.code == "too_deep" and str(MAX_DEPTH) in exc.message_zh
    assert error("-" * 1000 + "1").code == "too_deep"
    assert error("(" * 1999 + "1" + ")" * 1999).code == "too_deep"  # no RecursionError


def test_source_must_be_text() -> None:
    with pytest.raises(TypeError):
        parse(b"1 + 1")  # type: ignore[arg-type]
