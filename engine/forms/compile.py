"""Validation of a whole app definition: every problem at once, as one `DefinitionError`.

First the structure (the Pydantic models, i.e. the published JSON Schema): each error becomes
an issue at its definition path (`forms[2].fields[5].precision`) with a Chinese and English
message. Only a structurally valid definition goes on to the semantic checks (`checks.py`),
and only a semantically valid one to the checks that it can run (`runnable.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from engine.core.issues import PYDANTIC_ZH, DefinitionError, Issue, format_path
from engine.forms.checks import semantic_issues
from engine.forms.common import KEY_PATTERN
from engine.forms.field_types import FIELD_TYPES
from engine.forms.messages import INVALID_VALUE_EN, INVALID_VALUE_ZH, UNKNOWN_TYPE_EN
from engine.forms.runnable import runnable_issues
from engine.forms.spec import AppSpec

A = TypeVar("A", bound=AppSpec)


def validate_app(
    data: Any,
    *,
    runnable: bool = True,
    model: type[A] = AppSpec,  # type: ignore[assignment]
    checks: Callable[[A], list[Issue]] | None = None,
) -> A:
    """The validated app; raise `DefinitionError` with every problem when it is invalid.

    With `runnable` (the default, for anything about to be published) a semantically valid
    app is also checked to run (`engine.forms.runnable`: no lookup or rollup cycles, every
    formula run in the database compiles to SQL). Loading a revision already published skips
    that, so one published before those checks existed can still be opened and fixed.

    `model` and `checks` let the whole definition (`engine.apps`) validate through here: its
    model types the other engines' parts, and `checks` adds their issues to the forms' own.
    """
    try:
        app = model.model_validate(data)
    except ValidationError as exc:
        raise DefinitionError(structural_issues(exc, data)) from None
    issues = semantic_issues(app)
    if checks is not None:
        issues += checks(app)
    if not issues and runnable:
        issues = runnable_issues(app)
    if issues:
        raise DefinitionError(issues)
    return app


def structural_issues(exc: ValidationError, data: Any) -> list[Issue]:
    """Pydantic's errors as issues, one per path (a union's alternatives collapse to one)."""
    issues: list[Issue] = []
    seen: set[str] = set()
    for error in _linkage_errors(exc.errors(include_url=False), data):
        found = issue_of_error(error, data)
        if found.path not in seen:
            seen.add(found.path)
            issues.append(found)
    return issues


def _linkage_errors(errors: list[ErrorDetails], data: Any) -> list[ErrorDetails]:
    """A default given as `{"linkage": ...}` is reported by the linkage model alone, at the
    paths inside it (`default.linkage.when`), rather than as a default that fits no form."""
    linkage: set[tuple[int | str, ...]] = set()
    for error in errors:
        loc = tuple(error["loc"])
        if MEMBER in loc:
            head = loc[: loc.index(MEMBER)]
            node = _node(data, _data_path(head, data, "")[0])
            if isinstance(node, dict) and "linkage" in node and "expr" not in node:
                linkage.add(head)
    if not linkage:
        return errors
    kept: list[ErrorDetails] = []
    for error in errors:
        loc = tuple(error["loc"])
        prefix = next((p for p in linkage if loc[: len(p)] == p), None)
        if prefix is None:
            kept.append(error)
        elif len(loc) > len(prefix) and loc[len(prefix)] == MEMBER:
            kept.append({**error, "loc": prefix + loc[len(prefix) + 1 :]})
    return kept


MEMBER = "DefaultLinkage"  # how Pydantic names the linkage member of the default union


def _node(data: Any, parts: Sequence[int | str]) -> Any:
    for part in parts:
        data = data[part]
    return data


def issue_of_error(error: ErrorDetails, data: Any) -> Issue:
    """The field-level issue (path into `data`, Chinese and English message) of one pydantic
    validation error; shared by every part of a definition that validates with pydantic."""
    kind = error["type"]
    parts, union_at = _data_path(error["loc"], data, kind)
    if union_at is not None:  # one issue for a value that fits none of a union's forms
        return Issue(
            format_path(parts[:union_at]), "invalid_value", INVALID_VALUE_ZH, INVALID_VALUE_EN
        )
    path = format_path(parts)
    message_en = error["msg"]
    code = kind
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        path = f"{path}.type" if path else "type"
        if kind == "union_tag_invalid":
            tag = (error.get("ctx") or {}).get("tag", "")
            code = "unknown_field_type"
            expected = ", ".join(FIELD_TYPES.names())
            message_en = UNKNOWN_TYPE_EN.format(type=tag, expected=expected)
            return Issue(path, code, f"未知的字段类型 {tag}", message_en)
        code = "missing"
        message_en = "The field type (type) is required"
    elif kind == "extra_forbidden":
        code = "unknown_property"
    elif (
        kind == "string_pattern_mismatch" and (error.get("ctx") or {}).get("pattern") == KEY_PATTERN
    ):
        code = "invalid_key"
        message_en = "A key is a lowercase letter followed by up to 40 lowercase letters, digits or underscores"
    return Issue(path, code, PYDANTIC_ZH.get(code, message_en), message_en)


def _data_path(
    loc: Sequence[int | str], data: Any, kind: str
) -> tuple[list[int | str], int | None]:
    """The parts of a Pydantic location that name real places in `data`.

    Pydantic adds a field union's tag (`"text"`) or another union's member (`"str"`,
    `"LocalizedText"`) to the location; walking the data alongside drops them. The second
    result is how many parts lead to the first such union member (None when there is none).
    """
    parts: list[int | str] = []
    union_at: int | None = None
    node = data
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(part, int):
            if isinstance(node, list) and 0 <= part < len(node):
                parts.append(part)
                node = node[part]
                continue
            if union_at is None:
                union_at = len(parts)
            continue
        if isinstance(node, dict):
            if not last and part == node.get("type") and part in FIELD_TYPES:
                continue
            if part in node:
                parts.append(part)
                node = node[part]
                continue
            if last and kind == "missing":
                parts.append(part)
                continue
        if union_at is None:
            union_at = len(parts)
    return parts, union_at


__all__ = ["issue_of_error", "structural_issues", "validate_app"]
