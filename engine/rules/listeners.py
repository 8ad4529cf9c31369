"""The rule engine's record listener (DESIGN §15): one synchronous listener, `rules`,
registered in `engine.forms.changes.LISTENERS` when this module is imported
(`engine.api.main.create_app` and the job workers import it; `forms` never imports rules).

Per write call it hands the events to `engine.rules.runtime.on_changes`, in the saving
transaction: matching sync rules run there (a refusal refuses the save), async ones are queued
as `rules.run` jobs with their snapshot. Pack installs and imports with data announce no
events (`ExecutionContext.record_events`), so they fire no rule.
"""

from __future__ import annotations

import contextlib

from engine.forms.changes import LISTENERS
from engine.rules import runtime, timing

NAME = "rules"
DATES = "rules.dates"  # re-plans date triggers when a record's date changes (engine.rules.timing)


def register() -> None:
    """Register the listener (once per process)."""
    with contextlib.suppress(ValueError):  # already registered
        LISTENERS.sync(NAME, runtime.on_changes)
    with contextlib.suppress(ValueError):
        LISTENERS.sync(DATES, timing.on_changes)


register()

__all__ = ["DATES", "NAME", "register"]
