"""Errors of the expression language: the one exception type, its codes and bilingual messages.

Only parse and type errors raise; run-time problems yield blank (see docs/expressions.md).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

# code -> (zh template, en template); templates use str.format with keyword arguments.
MESSAGES: dict[str, tuple[str, str]] = {
    "empty": ("公式为空", "The formula is empty"),
    "too_long": (
        "公式过长：{length} 个字符，最多 {limit} 个",
        "The formula is too long: {length} characters, at most {limit}",
    ),
    "too_deep": (
        "公式嵌套过深：最多 {limit} 层",
        "The formula is nested too deeply: at most {limit} levels",
    ),
    "unexpected_char": ("无法识别的字符 {char}", "Unexpected character {char}"),
    "unexpected_token": ("此处不应出现 {token}", "Unexpected {token} here"),
    "unexpected_end": ("公式不完整：{expected}", "The formula ends too early: {expected}"),
    "unterminated_text": ("文本缺少结束引号", "The text has no closing quote"),
    "unterminated_brace": (
        "字段引用缺少右花括号 }}",
        "The field reference has no closing brace }}",
    ),
    "chained_comparison": (
        "比较不能连写，请用 AND 组合：a < b AND b < c",
        "Comparisons cannot be chained; combine them with AND: a < b AND b < c",
    ),
    "modulo_operator": (
        "没有取余运算符 %，请使用 MOD(a, b)",
        "There is no modulo operator; use MOD(a, b)",
    ),
    "bad_number": ("无效的数字 {text}", "Invalid number {text}"),
    "unknown_field": ("未知字段 {name}{hint_zh}", "Unknown field {name}{hint_en}"),
    "ambiguous_field": (
        "字段名称 {name} 不唯一，请使用字段标识",
        "The field name {name} is ambiguous; use the field key",
    ),
    "not_a_relation": (
        "字段 {name} 不是关联或子表单字段，不能使用“.”",
        "Field {name} is not a relation or subform, so “.” cannot follow it",
    ),
    "needs_subfield": (
        "字段 {name} 是子表单，请指定其中的字段，例如 {name}.{example}",
        "Field {name} is a subform; name one of its fields, e.g. {name}.{example}",
    ),
    "unsupported_field_type": (
        "字段 {name} 的类型 {type} 不能用于公式",
        "Field {name} of type {type} cannot be used in formulas",
    ),
    "unknown_function": ("未知函数 {name}{hint_zh}", "Unknown function {name}{hint_en}"),
    "old_needs_field": (
        "OLD() 需要一个本表单的字段作为参数，例如 OLD(status)",
        "OLD() takes one field of the rule's form, e.g. OLD(status)",
    ),
    "old_outside_rule": (
        "OLD() 只能用在自动化规则的条件中（读取修改前的值）",
        "OLD() is available only in automation rule conditions (it reads the value before the change)",
    ),
    "arg_count": (
        "函数 {name} 需要 {expected} 个参数，实际为 {actual} 个",
        "Function {name} takes {expected} argument(s), got {actual}",
    ),
    "arg_type": (
        "函数 {name} 的第 {index} 个参数（{param}）应为{expected_zh}，实际为{actual_zh}",
        "Argument {index} ({param}) of {name} must be {expected_en}, got {actual_en}",
    ),
    "arg_literal": (
        "函数 {name} 的第 {index} 个参数（{param}）必须是固定值，不能引用字段",
        "Argument {index} ({param}) of {name} must be a constant, not a field reference",
    ),
    "operand_type": (
        "运算符 {op} 不能用于{left_zh}和{right_zh}",
        "Operator {op} cannot combine {left_en} and {right_en}",
    ),
    "unary_type": (
        "运算符 {op} 不能用于{operand_zh}",
        "Operator {op} cannot apply to {operand_en}",
    ),
    "condition_type": (
        "{where}需要条件（是/否），实际为{actual_zh}；例如写成 {example}",
        "{where_en} needs a condition (TRUE/FALSE), got {actual_en}; e.g. write {example}",
    ),
    "branch_type": (
        "{name} 的各个结果类型不一致：{first_zh}与{second_zh}",
        "The results of {name} have different types: {first_en} and {second_en}",
    ),
    "list_not_allowed": (
        "{what} 是一组值（列表），只能放在 SUM、AVERAGE、MIN、MAX、COUNT、COUNTA、TEXTJOIN 等汇总函数中",
        "{what_en} is a list of values; use it inside an aggregate such as SUM, AVERAGE, MIN, MAX,"
        " COUNT, COUNTA or TEXTJOIN",
    ),
    "list_mismatch": (
        "不能逐行组合来自不同子表单或关联的列表：{left} 与 {right}",
        "Lists from different subforms or relations cannot be combined row by row: {left} and {right}",
    ),
    "number_overflow": (
        "常量计算结果超出范围（绝对值须小于 10^18）",
        "This constant calculation is out of range (the absolute value must be below 10^18)",
    ),
    "list_not_in_backend": (
        "多选字段 {name} 只能整体用于 COUNTA、TEXTJOIN 等汇总函数，逐项运算不能在{backend_zh}中计算",
        "The multi-select field {name} can only be used whole in aggregates such as COUNTA or"
        " TEXTJOIN; element-wise use cannot be computed in {backend_en}",
    ),
    "not_in_backend": (
        "函数 {name} 不能在{backend_zh}中计算",
        "Function {name} cannot be computed in {backend_en}",
    ),
}

TYPE_NAMES_ZH = {
    "number": "数字",
    "text": "文本",
    "boolean": "是/否",
    "date": "日期",
    "datetime": "日期时间",
    "time": "时间",
    "blank": "空值",
    "record": "关联记录",
    "user": "成员",
    "department": "部门",
    "list": "列表",
    "any": "任意值",
}


@dataclass(frozen=True, slots=True)
class Span:
    """A position in the formula source: 0-based offset, 1-based line and column, length."""

    offset: int
    line: int
    column: int
    length: int = 1


class ExprError(Exception):
    """A parse or type error in a formula, with a stable code, zh/en messages and a position."""

    def __init__(
        self,
        code: str,
        source: str = "",
        span: Span | None = None,
        **params: object,
    ) -> None:
        self.code = code
        self.source = source
        self.span = span
        self.params = params
        zh, en = MESSAGES[code]
        self.message_zh = zh.format(**params)
        self.message_en = en.format(**params)
        super().__init__(self.message_en)

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.column if self.span else None

    @property
    def snippet(self) -> str:
        """The offending source line with a caret under the error position."""
        if self.span is None or not self.source:
            return ""
        lines = self.source.splitlines() or [""]
        line_text = lines[min(self.span.line, len(lines)) - 1]
        if len(line_text) > 200:
            start = max(0, self.span.column - 100)
            line_text = line_text[start : start + 200]
            col = self.span.column - start
        else:
            col = self.span.column
        width = max(1, min(self.span.length, len(line_text) - col + 1))
        return f"{line_text}\n{' ' * (col - 1)}{'^' * width}"

    def message(self, language: str = "zh") -> str:
        return self.message_en if language.startswith("en") else self.message_zh

    def to_issue(self, language: str = "zh", path: str | None = None) -> dict[str, object]:
        """This error as one issue of DESIGN §12's error shape."""
        issue: dict[str, object] = {"code": self.code, "message": self.message(language)}
        if path is not None:
            issue["path"] = path
        if self.span is not None:
            issue["line"] = self.span.line
            issue["column"] = self.span.column
        return issue

    def __str__(self) -> str:
        where = f" (line {self.line}, column {self.column})" if self.span else ""
        return f"{self.code}: {self.message_en}{where}"


def did_you_mean(name: str, candidates: Iterable[str]) -> tuple[str, str]:
    """Bilingual "did you mean" hints for the closest candidate, or empty strings."""
    lowered: dict[str, str] = {}
    for candidate in candidates:  # the first spelling wins: callers list keys before labels
        lowered.setdefault(candidate.lower(), candidate)
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    if not close:
        return "", ""
    best = lowered[close[0]]
    return f"（您是否想输入 {best}？）", f" (did you mean {best}?)"
