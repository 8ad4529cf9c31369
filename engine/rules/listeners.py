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
from engine.forms.layout import AppLayout
from engine.rules import runtime, timing

NAME = "rules"
DATES = "rules.dates"  # re-plans date triggers when a record's date changes (engine.rules.timing)


# The date kinds `timing.on_changes` acts on; flow events never move a date.
DATE_EVENT_KINDS = frozenset({"created", "updated", "deleted", "restored"})


def wants_rule_event(layout: AppLayout, form: str, kind: str) -> bool:
    """Whether a rule of the app is triggered by `kind` events on `form`."""
    return (form, kind) in runtime.rules_of(layout).by_event


def wants_date_event(layout: AppLayout, form: str, kind: str) -> bool:
    """Whether a date rule of the app watches `form` (for the kinds that move its dates)."""
    return kind in DATE_EVENT_KINDS and form in timing.date_rules(layout)


def register() -> None:
    """Register the listeners (once per process), each saying which events it wants."""
    with contextlib.suppress(ValueError):  # already registered
        LISTENERS.sync(NAME, runtime.on_changes, wants_rule_event)
    with contextlib.suppress(ValueError):
        LISTENERS.sync(DATES, timing.on_changes, wants_date_event)


register()

__all__ = ["DATES", "NAME", "register", "wants_date_event", "wants_rule_event"]
