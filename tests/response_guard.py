"""The guard of the typed responses (issue 16): a response model never changes an answer.

FastAPI runs a route's return value through its response model, which drops keys the model
does not list and converts values to the declared types. So that declaring models (for the
OpenAPI document and the UI's generated types) cannot change what a route answers, every
request the in-process test client makes is checked twice:

* a route that returns data: the JSON of the value as the route returned it (serialised as
  before typing, with no model) must equal what the model made of it;
* every 2xx JSON answer of a typed route (including the record routes, which send bytes
  themselves and bypass the model): validating the body against the model and serialising it
  again must give the same JSON, so the model lists every key, with types that fit.

A difference fails the test that made the request (at its teardown), naming the route.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import fastapi.routing
import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter
from pydantic_core import to_jsonable_python
from starlette.routing import Match
from starlette.testclient import TestClient

MISMATCHES: list[str] = []
_ADAPTERS: dict[int, TypeAdapter[Any]] = {}
_original_serialize = fastapi.routing.serialize_response
_original_request = TestClient.request


def _typed(model: Any) -> bool:
    """Whether `model` describes something (not absent nor an open `dict[str, Any]`)."""
    return model is not None and model is not Any and str(model) != "dict[str, typing.Any]"


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return json.loads(value)
    return json.loads(json.dumps(to_jsonable_python(value)))


async def _checked_serialize(**kwargs: Any) -> Any:
    result = await _original_serialize(**kwargs)
    field = kwargs.get("field")
    model = field.field_info.annotation if field is not None else None
    if _typed(model):
        content = kwargs["response_content"]
        if isinstance(content, BaseModel):  # a route that builds its model: only its own flags
            content = content.model_dump(
                mode="json",
                by_alias=True,
                exclude_unset=kwargs.get("exclude_unset", False),
                exclude_defaults=kwargs.get("exclude_defaults", False),
                exclude_none=kwargs.get("exclude_none", False),
            )
        before = _plain(content)
        after = _plain(result)
        if before != after:
            MISMATCHES.append(
                f"the response model {model!r} changed an answer:\n"
                f"  returned: {json.dumps(before, ensure_ascii=False)[:600]}\n"
                f"  sent:     {json.dumps(after, ensure_ascii=False)[:600]}"
            )
    return result


def _route_of(client: TestClient, method: str, path: str) -> APIRoute | None:
    scope = {"type": "http", "path": path, "method": method.upper(), "root_path": ""}
    for route in getattr(client.app, "routes", []):
        if isinstance(route, APIRoute) and route.matches(scope)[0] == Match.FULL:
            return route
    return None


def _adapter(model: Any) -> TypeAdapter[Any]:
    key = id(model)
    if key not in _ADAPTERS:
        _ADAPTERS[key] = TypeAdapter(model)
    return _ADAPTERS[key]


def _checked_request(self: TestClient, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
    response = _original_request(self, method, url, *args, **kwargs)
    if not (200 <= response.status_code < 300) or "json" not in response.headers.get(
        "content-type", ""
    ):
        return response
    route = _route_of(self, method, response.request.url.path)
    if route is None or not _typed(route.response_model):
        return response
    body = response.json()
    adapter = _adapter(route.response_model)
    again = _plain(
        adapter.dump_python(
            adapter.validate_python(body),
            mode="json",
            by_alias=True,
            exclude_unset=route.response_model_exclude_unset,
        )
    )
    if again != body:
        MISMATCHES.append(
            f"{method.upper()} {route.path}: the response model {route.response_model!r} "
            f"does not describe the answer:\n"
            f"  answer: {json.dumps(body, ensure_ascii=False)[:600]}\n"
            f"  model:  {json.dumps(again, ensure_ascii=False)[:600]}"
        )
    return response


fastapi.routing.serialize_response = _checked_serialize  # type: ignore[assignment]
TestClient.request = _checked_request  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _responses_kept() -> Iterator[None]:
    """Fails the test when a response model changed or did not describe one of its answers."""
    MISMATCHES.clear()
    yield
    found = list(MISMATCHES)
    MISMATCHES.clear()
    assert not found, "\n".join(found)
