"""Problems found in a definition or a record: one `Issue` per problem, all raised at once.

An issue has a path (`forms[2].fields[5].expr`, or a field key such as `items[3].qty`), a stable
language-free code, a message in Chinese and English and, for formulas, a line and column.
`DefinitionError` carries every issue a validation found, so a caller can show them together.
"""

from __future__ import annotations

from collections.abc import Iterable
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
