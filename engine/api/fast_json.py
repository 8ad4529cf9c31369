"""Record answers written straight to JSON bytes (issue 12, cause 6).

A route that returns plain data has FastAPI validate it against its return annotation, turn it
into JSON-ready Python (pydantic, in a thread-pool hop of its own for sync routes) and then
`json.dumps` it. Record JSON (`engine.forms.record_json`) is already JSON-ready — strings,
numbers, booleans, None, lists and dicts — so the record routes return `record_answer(data)`
instead: one `orjson.dumps` to bytes, which FastAPI sends as is. The routes keep their
`response_model`, so the OpenAPI document does not change.

The bytes are those of before: UTF-8, Chinese text unescaped, compact separators, keys in
insertion order. Whatever orjson would write differently goes the old way (pydantic's JSON
mode, then `JimuJSONResponse`): values that are not plain JSON (Decimal, dates, dataclasses,
subclasses of str/int/dict/list, which orjson is told to pass through), integers beyond 64
bits and text with lone surrogates (written as ``\\u`` escapes, as before). The one spelling
that differs is a float below 1e-4 in magnitude (``0.00001`` instead of ``1e-05``, the same
number); record JSON writes numbers as decimal text, so only a location's coordinates could
be floats.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response
from pydantic_core import to_jsonable_python

from engine.api.errors import JimuJSONResponse

_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _not_plain(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def json_bytes(content: Any) -> bytes:
    """`content` as the JSON bytes the API has always written for it (see the module doc)."""
    try:
        return orjson.dumps(content, default=_not_plain, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return bytes(JimuJSONResponse(to_jsonable_python(content)).body)


class RecordJSONResponse(Response):
    """A JSON response rendered by `json_bytes`."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json_bytes(content)


def record_answer(content: Any, status_code: int = 200) -> Response:
    """The answer of a record route: `content` rendered once, sent without FastAPI's
    re-validation (the route's `response_model` still documents its shape)."""
    return RecordJSONResponse(content, status_code=status_code)


__all__ = ["RecordJSONResponse", "json_bytes", "record_answer"]
