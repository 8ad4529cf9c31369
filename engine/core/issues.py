"""Problems found in a definition or a record: one `Issue` per problem, all raised at once.

An issue has a path (`forms[2].fields[5].expr`, or a field key such as `items[3].qty`), a stable
language-free code, a message in Chinese and English and, for formulas, a line and column.
`DefinitionError` carries every issue a validation found, so a caller can show them together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem at one path, in DESIGN §12's issue shape."""

    path: str
    code: str
    message_zh: str
    message_en: str
    line: int | None = None
    column: int | None = None

    def message(self, language: str = "zh") -> str:
        """The message in `language` (zh unless it starts with "en")."""
        return self.message_en if language.startswith("en") else self.message_zh

    def under(self, prefix: str) -> Issue:
        """This issue with its path made relative to `prefix` (`fields[3]` + `target`)."""
        if not prefix:
            return self
        if not self.path:
            return replace(self, path=prefix)
        glue = "" if self.path.startswith("[") else "."
        return replace(self, path=f"{prefix}{glue}{self.path}")

    def to_dict(self, language: str = "zh") -> dict[str, Any]:
        """`{"path", "code", "message", "line"?, "column"?}` with the message in `language`."""
        result: dict[str, Any] = {
            "path": self.path,
            "code": self.code,
            "message": self.message(language),
        }
        if self.line is not None:
            result["line"] = self.line
        if self.column is not None:
            result["column"] = self.column
        return result


class DefinitionError(Exception):
    """A definition is invalid; `issues` lists every problem found, in document order."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues: list[Issue] = list(issues)
        summary = "; ".join(f"{i.path or '<root>'}: {i.code}" for i in self.issues[:5])
        more = f" (+{len(self.issues) - 5} more)" if len(self.issues) > 5 else ""
        super().__init__(f"{len(self.issues)} problem(s) in the definition: {summary}{more}")

    def to_dicts(self, language: str = "zh") -> list[dict[str, Any]]:
        """Every issue in the API's issue shape."""
        return [issue.to_dict(language) for issue in self.issues]


__all__ = ["DefinitionError", "Issue"]


# Chinese for Pydantic's error types (its own messages are English only).
PYDANTIC_ZH: dict[str, str] = {
    "missing": "缺少必填项",
    "extra_forbidden": "不允许的字段",
    "json_invalid": "JSON 格式不正确",
    "json_type": "应为 JSON 内容",
    "model_attributes_type": "应为对象",
    "dict_type": "应为对象",
    "list_type": "应为列表",
    "string_type": "应为文本",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "decimal_parsing": "应为数字",
    "bool_type": "应为是/否（true/false）",
    "bool_parsing": "应为是/否（true/false）",
    "string_too_short": "文本过短",
    "string_too_long": "文本过长",
    "too_short": "项目过少",
    "too_long": "项目过多",
    "greater_than": "数值过小",
    "greater_than_equal": "数值过小",
    "less_than": "数值过大",
    "less_than_equal": "数值过大",
    "literal_error": "不是允许的取值",
    "enum": "不是允许的取值",
    "date_parsing": "日期格式不正确",
    "datetime_parsing": "日期时间格式不正确",
    "unknown_property": "不允许的属性",
    "unknown_field_type": "未知的字段类型",
    "invalid_key": "标识只能由小写字母、数字和下划线组成，以字母开头，最长 41 个字符",
    "model_type": "应为对象",
    "int_from_float": "应为整数",
    "string_pattern_mismatch": "格式不正确",
    "union_tag_not_found": "缺少字段类型 type",
    "frozen_instance": "不可修改",
}


def format_path(parts: Sequence[int | str]) -> str:
    """`["forms", 2, "fields", 5, "precision"]` → `forms[2].fields[5].precision`."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path
