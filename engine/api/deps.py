"""Request dependencies: the database engine, transactions, the admin-token guard, the actor
and the execution context (`context_for`: one clock reading per request, the organisation's
time zone, the caller's language; `app.state.clock` is the clock, which tests set).

Until the identity issue lands, one admin token guards every data endpoint: `JIMU_ADMIN_TOKEN`
when set, else a random token created at first start and kept in the data directory
(`admin_token`), so it survives restarts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Connection, Engine

from engine.api.errors import pick_language
from engine.auth.credentials import TOKEN_FILE as TOKEN_FILE  # moved there, names kept here
from engine.auth.credentials import admin_token as admin_token
from engine.core.context import Actor, ExecutionContext, system_clock
from engine.store import make_engine
from engine.store.limits import Work, seconds_for, statement_limit


async def get_engine(request: Request) -> Engine:
    """The application's database engine, as a dependency: `engine_of` on the event loop (it
    connects to nothing), instead of a thread-pool hop per request as a sync dependency."""
    return engine_of(request)


def engine_of(request: Request) -> Engine:
    """The application's database engine (created on first use)."""
    state = request.app.state
    if getattr(state, "engine", None) is None:
        state.engine = make_engine(state.settings)
    engine: Engine = state.engine
    return engine


_READ_ONLY = "_jimu_read_only_view"


def read_only(engine: Engine) -> Connection:
    """A connection for reading: on SQLite its transactions never take the write lock. The
    read-only view of `engine` (an `OptionEngine` sharing its pool) is made once per engine,
    not per request."""
    viewed: Engine | None = getattr(engine, _READ_ONLY, None)
    if viewed is None:
        viewed = engine.execution_options(jimu_read_only=True)
        setattr(engine, _READ_ONLY, viewed)  # kept on the engine: goes when the engine goes
    return viewed.connect()


@contextmanager
def limited(conn: Connection, request: Request, work: Work) -> Iterator[Connection]:
    """``conn`` with every statement under the time limit of ``work`` (engine.store.limits);
    a statement past it is a 422 ``query_timeout``. The routes end the transaction with the
    block, so the previous limit is not put back."""
    seconds = seconds_for(request.app.state.settings, work)
    with statement_limit(conn, work, seconds, transaction_ends=True):
        yield conn


def require_admin(request: Request) -> Actor:
    """The record pipeline's actor for an administrator (401 signed out, 403 for members)."""
    from engine.api.security import require_admin as admin_principal

    return admin_principal(request).actor()


def request_now(request: Request) -> dt.datetime:
    """This request's moment: the app's clock (`app.state.clock`), read once per request."""
    now: dt.datetime | None = getattr(request.state, "jimu_now", None)
    if now is None:
        now = getattr(request.app.state, "clock", system_clock)()
        request.state.jimu_now = now
    return now


def context_for(request: Request, actor: Actor) -> ExecutionContext:
    """The execution context of `actor`'s work in this request: the request's moment, the
    organisation's time zone (`JIMU_TIMEZONE`) and the caller's language."""
    return ExecutionContext.create(
        actor,
        request.app.state.settings.timezone,
        now=request_now(request),
        locale=pick_language(request),
    )


async def admin_context(
    request: Request, actor: Annotated[Actor, Depends(require_admin)]
) -> ExecutionContext:
    """The execution context of an administrator's request (401 signed out, 403 for members).

    `async` because it neither blocks nor waits: FastAPI runs a plain `def` dependency in the
    thread pool, one hand-off per dependency per request; only those that touch the database
    (the caller's credential) need to be."""
    return context_for(request, actor)


AdminActor = Annotated[Actor, Depends(require_admin)]
AdminContext = Annotated[ExecutionContext, Depends(admin_context)]
DbEngine = Annotated[Engine, Depends(get_engine)]
