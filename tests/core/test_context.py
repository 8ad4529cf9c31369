"""`engine.core.context`: the execution context, and what lives in core instead of forms."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from engine.core.context import CHANNELS, Actor, ExecutionContext

ENGINE = Path(__file__).resolve().parents[2] / "engine"


def test_now_is_a_utc_moment_in_milliseconds() -> None:
    local = dt.datetime(2026, 3, 2, 2, 14, 5, 123456, tzinfo=ZoneInfo("Pacific/Kiritimati"))
    ctx = ExecutionContext(Actor(7, "ui"), local, "Pacific/Kiritimati")
    assert ctx.now == dt.datetime(2026, 3, 1, 12, 14, 5, 123000, tzinfo=dt.UTC)
    assert ctx.now.tzinfo is dt.UTC
    naive = ExecutionContext(Actor(), dt.datetime(2026, 3, 1, 12, 14), "UTC")
    assert naive.now == dt.datetime(2026, 3, 1, 12, 14, tzinfo=dt.UTC)  # naive means UTC


def test_today_is_the_organisations_date() -> None:
    moment = dt.datetime(2026, 3, 1, 12, 14, tzinfo=dt.UTC)
    assert ExecutionContext(Actor(), moment, "Pacific/Kiritimati").today == dt.date(2026, 3, 2)
    assert ExecutionContext(Actor(), moment, "Asia/Shanghai").today == dt.date(2026, 3, 1)
    assert ExecutionContext(Actor(), moment, "Pacific/Pago_Pago").today == dt.date(2026, 3, 1)


def test_an_unknown_zone_fails_when_the_context_is_made() -> None:
    with pytest.raises(ZoneInfoNotFoundError):
        ExecutionContext.create(Actor(), "Mars/Olympus_Mons")


def test_nested_work_keeps_actor_clock_and_zone_one_level_deeper() -> None:
    ctx = ExecutionContext.create(Actor(3, "ui"), "Asia/Shanghai", locale="en")
    rule = ctx.nested(channel="rule")
    assert (rule.actor.user_id, rule.channel, rule.depth) == (3, "rule", 1)
    assert (rule.now, rule.tz, rule.locale) == (ctx.now, ctx.tz, "en")
    flow = rule.nested(channel="flow").nested()
    assert (flow.channel, flow.depth) == ("flow", 3)
    assert ctx.channel == "ui" and ctx.depth == 0  # the outer context is unchanged
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.depth = 5  # type: ignore[misc]


def test_with_actor_changes_only_the_actor() -> None:
    ctx = ExecutionContext.create(Actor(3, "api"), "Asia/Shanghai")
    imported = ctx.with_actor(Actor(3, "import"))
    assert imported.channel == "import" and (imported.now, imported.tz) == (ctx.now, ctx.tz)


def test_the_stored_channel_names() -> None:
    assert {"ui", "api", "import", "public_link", "rule", "flow"} == CHANNELS


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_auth_takes_errors_actors_and_moments_from_core() -> None:
    """`engine.auth` sits below the engines: these three come from `engine.core`."""
    moved = {
        "engine.forms.errors",
        "engine.forms.records.Actor",
        "engine.forms.field_types.values.datetime_json",
    }
    offending = {
        f"{path.name}: {name}"
        for path in sorted((ENGINE / "auth").glob("*.py"))
        for name in _imported_modules(path)
        if any(name == m or name.startswith(m + ".") for m in moved)
    }
    assert offending == set()
