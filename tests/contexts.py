"""Execution contexts for tests that call the record pipeline directly (no request)."""

from __future__ import annotations

import datetime as dt

from engine.core.context import Actor, ExecutionContext

TZ = "Asia/Shanghai"  # the default JIMU_TIMEZONE


def context(
    actor: Actor | None = None, *, now: dt.datetime | None = None, tz: str = TZ
) -> ExecutionContext:
    """A context for `actor` (default: an API caller without a user), now or at `now`."""
    return ExecutionContext.create(actor or Actor(None, "api"), tz, now=now)
