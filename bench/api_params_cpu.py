"""CPU of what FastAPI does for a records read before its endpoint runs (issue 12), in one
process, as thread CPU time (`time.thread_time`), which other work on the machine moves far
less than wall time:

- ``parameters``: the list route's dependencies and parameters solved by FastAPI
  (`solve_dependencies`) for the bench's page query, with the parameters declared as they
  were before (eight `Query()`/path parameters and the engine dependency) and as they are now
  (`engine.api.route_params`: the request alone, then `parse_params`);
- ``matching``: the routes FastAPI tries for health, a page and a get by id — every route of
  each router before the matching one, and the matching router's routes again — with
  `engine.api.main.ROUTERS` in its order. ``--matching`` measures only this, which also runs
  on a checkout from before route_params: run it with each checkout on PYTHONPATH to compare.

Usage: ``PYTHONPATH=. python bench/api_params_cpu.py [--rounds 3000] [--matching]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated, Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi import Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant, solve_dependencies
from fastapi.routing import Match
from pydantic import SecretStr

from engine.api.deps import DbEngine
from engine.api.main import create_app
from engine.api.security import credential_present
from engine.forms.query import MAX_LIMIT
from engine.settings import Settings

RECORDS = "/api/v1/apps/bench_api/forms/deal/records"
QUERY = b"filter=status+%3D+%22won%22&sort=-amount&limit=25&count=none"
PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*:[1-9][0-9]{0,17}$"


def declared_per_parameter(  # the list route's signature before route_params
    app: str,
    form: str,
    engine: DbEngine,
    request: Request,
    filter: Annotated[str | None, Query(max_length=4000)] = None,
    sort: Annotated[str | None, Query(max_length=1000)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=0, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    count: Literal["exact", "none"] = "exact",
    related: Annotated[str | None, Query(max_length=100, pattern=PATTERN)] = None,
) -> None:
    """Only its signature is used."""


def request_only(request: Request) -> None:
    """Only its signature is used."""


def _dependant(call: Callable[..., Any]) -> Dependant:
    dependant = get_dependant(path="/apps/{app}/forms/{form}/records", call=call)
    dependant.dependencies.insert(0, get_dependant(path="", call=credential_present))
    return dependant


async def _solve(dependant: Dependant, state: Any, parse: bool) -> None:
    async with AsyncExitStack() as inner, AsyncExitStack() as function:
        scope = {
            "type": "http",
            "method": "GET",
            "path": RECORDS,
            "query_string": QUERY,
            "headers": [(b"authorization", b"Bearer bench")],
            "path_params": {"app": "bench_api", "form": "deal"},
            "app": state,
            "fastapi_inner_astack": inner,
            "fastapi_function_astack": function,
        }
        request = Request(scope)
        solved = await solve_dependencies(
            request=request, dependant=dependant, async_exit_stack=inner, embed_body_fields=False
        )
        assert not solved.errors, solved.errors
        if parse:
            from engine.api.route_params import parse_params
            from engine.api.routes.records import FormPath, ListParams

            parse_params(request, FormPath, ListParams)


def _per_call(run: Callable[[], Any], rounds: int) -> tuple[float, float]:
    """Median and minimum thread CPU µs per call over 7 batches."""
    batches = []
    for _ in range(7):
        began = time.thread_time()
        for _ in range(rounds):
            run()
        batches.append((time.thread_time() - began) / rounds * 1e6)
    return statistics.median(batches), min(batches)


def parameters(rounds: int) -> None:
    app = create_app(Settings(admin_token=SecretStr("bench")))
    app.state.engine = object()  # get_engine only hands it over
    loop = asyncio.new_event_loop()
    for name, dependant, parse in (
        ("per parameter (before)", _dependant(declared_per_parameter), False),
        ("route_params (now)", _dependant(request_only), True),
    ):
        median, least = _per_call(
            lambda d=dependant, p=parse: loop.run_until_complete(_solve(d, app, p)), rounds
        )
        print(f"  parameters {name:24} {median:7.1f} µs (min {least:.1f})")
    loop.close()


def matching(rounds: int) -> None:
    app = create_app(Settings(admin_token=SecretStr("bench")))

    def select(path: str) -> None:
        scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
        for route in app.router.routes:
            match, child = route.matches(scope)
            if match == Match.FULL:
                scope.update(child)
                again = getattr(route, "_match", None)  # _IncludedRouter: matched again
                if again is not None:
                    again(scope)
                return
        raise AssertionError(path)

    for name, path in (
        ("health", "/api/v1/health"),
        ("page", RECORDS),
        ("get", f"{RECORDS}/4711"),
    ):
        median, least = _per_call(lambda p=path: select(p), rounds)
        print(f"  matching {name:8} {median:7.1f} µs (min {least:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3000, help="calls per batch")
    parser.add_argument("--matching", action="store_true", help="route matching only")
    args = parser.parse_args()
    if not args.matching:
        parameters(args.rounds)
    matching(args.rounds)


if __name__ == "__main__":
    main()
