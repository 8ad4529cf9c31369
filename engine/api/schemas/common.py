"""Shapes shared by the response models of several areas: labels and open JSON objects."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

# A label in the definition format (DESIGN §4): one text, or `{zh, en}`.
Label = str | dict[str, str | None] | None
# Any JSON value (a record value, a rule's parameter, an audit entry's detail).
Json = Any


class Answer(BaseModel):
    """A fixed JSON object: every key is declared (the guard test checks that none is missing)."""


class OpenAnswer(BaseModel):
    """A JSON object whose fixed keys are declared and whose other keys are open
    (`additionalProperties`), such as a record's field values."""

    model_config = ConfigDict(extra="allow")


class Localized(Answer):
    """A message in both UI languages."""

    zh: str
    en: str
