"""Field ``pattern``s, matched with RE2 (google-re2): time linear in the input, whatever the
pattern (issue 10, finding 9: ``(a+)+$`` took 9.2 s on one anonymous create through Python's
backtracking ``re``).

Patterns keep the syntax builders know (Python / JavaScript): ``\\uXXXX`` escapes are translated
to RE2's ``\\x{XXXX}``. What RE2 cannot run in linear time — backreferences (``\\1``) and
lookarounds (``(?=…)``, ``(?<!…)``) — is refused when the app is published
(``unsupported_pattern``); ``\\d`` and ``\\w`` are ASCII, as in the browser.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2  # type: ignore[import-untyped]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the error comes back as an exception; nothing on stderr
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")


class PatternError(ValueError):
    """A pattern RE2 refuses; ``str()`` is RE2's reason."""


def re2_syntax(pattern: str) -> str:
    """``pattern`` with Python/JavaScript ``\\uXXXX`` and ``\\UXXXXXXXX`` escapes in RE2's form."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\" and i + 1 < n:
            follower = pattern[i + 1]
            if follower == "u" and _HEX4.fullmatch(pattern, i + 2, i + 6):
                out.append("\\x{" + pattern[i + 2 : i + 6] + "}")
                i += 6
                continue
            if follower == "U" and _HEX8.fullmatch(pattern, i + 2, i + 10):
                out.append("\\x{" + pattern[i + 2 : i + 10] + "}")
                i += 10
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 program of a field pattern; raise :class:`PatternError` if RE2 refuses it."""
    try:
        return re2.compile(re2_syntax(pattern), options=_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        raise PatternError(
            reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        ) from None


def matches(pattern: str, text: str) -> bool:
    """Whether the whole of ``text`` matches ``pattern`` (a pattern RE2 refuses matches anything:
    publishing refuses it, so only definitions from before this check can hold one)."""
    try:
        program = compile_pattern(pattern)
    except PatternError:
        return True
    return program.fullmatch(text) is not None
