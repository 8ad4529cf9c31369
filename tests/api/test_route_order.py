"""The order of `engine.api.main.ROUTERS` decides which route answers a request only where
two routers hold routes that one request can match: records_io's `GET /records/export` before
records' `GET /records/{record_id}`. Everywhere else it only decides
how many routes FastAPI tries first, so it may follow how often each is requested."""

from __future__ import annotations

from fastapi.routing import APIRoute

from engine.api.main import ROUTERS
from engine.api.routes import records, records_io


def _can_match_one_path(first: str, second: str) -> bool:
    """Whether one request path can match both templates (a parameter is one segment)."""
    a, b = first.strip("/").split("/"), second.strip("/").split("/")
    assert not any(":path" in segment for segment in a + b)  # would span segments
    return len(a) == len(b) and all(
        x == y or x.startswith("{") or y.startswith("{") for x, y in zip(a, b, strict=True)
    )


def test_only_records_io_and_records_share_requests_across_routers() -> None:
    routes = [
        (position, route)
        for position, router in enumerate(ROUTERS)
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    shared = {
        (first.path, second.path)
        for position, first in routes
        for later, second in routes
        if position < later
        and first.methods & second.methods
        and _can_match_one_path(first.path, second.path)
    }
    assert shared == {
        ("/apps/{app}/forms/{form}/records/export", "/apps/{app}/forms/{form}/records/{record_id}")
    }
    assert ROUTERS.index(records_io.router) < ROUTERS.index(records.router)
