"""The execution context: who acts, through which door, at which moment, in which time zone
and language, and how deep in a cascade (issue 11, item 1).

One `ExecutionContext` is built where a piece of work enters the system — once per API request
(`engine.api.deps.context_for`), per CLI command, per public-link submission, per pack install
or export — and is passed to everything that reads or writes records (`Reader`, `Writer`,
`Resolver`, `Linker`). Nothing below the entry point reads the wall clock or the settings' time
zone on its own, so one request sees one "now", every `TODAY()` (defaults, serial patterns,
filters, the browser's formulas) falls on the organisation's date, and tests set the clock.

Rules and flows that write records on behalf of a change run with `ctx.nested(channel=...)`:
the same actor, clock and zone, one level deeper (`depth`), so cascades can be bounded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

Locale = Literal["zh", "en"]
# The doors a record change comes through, as history rows store them.
CHANNELS = frozenset({"ui", "api", "import", "public_link", "rule", "flow"})


@dataclass(frozen=True)
class Actor:
    """Who writes, and through which door (UI, API, import, public link, rule, flow).

    `owner` is who new records belong to when that is not the writer (an anonymous person
    filling a public link creates records owned by the link's owner); None: the writer.
    `link_id` is the public link an anonymous writer fills (its uploads are theirs to use).
    """

    user_id: int | None = None
    channel: str = "api"
    owner: int | None = None
    link_id: int | None = None


def utc_ms(moment: dt.datetime) -> dt.datetime:
    """`moment` as an aware UTC datetime truncated to milliseconds (what the store keeps);
    a naive moment is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(dt.UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def system_clock() -> dt.datetime:
    """The wall clock in UTC (the clock of every context not given another one)."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ExecutionContext:
    """Actor, clock, time zone, locale, channel and cascade depth of one piece of work.

    `now` is an aware UTC moment truncated to milliseconds (normalized on creation); `tz` an
    IANA zone name (the organisation's, `JIMU_TIMEZONE`); `channel` is the actor's door.
    """

    actor: Actor
    now: dt.datetime
    tz: str
    locale: Locale = "zh"
    depth: int = 0
    # Whether record writes in this context announce `RecordChanged` events to listeners
    # (engine.forms.changes). False only for loads that are not anyone's change: pack installs
    # and imports with data (sample data must not start approvals or notify anyone).
    record_events: bool = True
    # An import that asked to start the approval flows of the records it creates (issue 13:
    # "imports: an option, off by default"); other doors start them anyway.
    start_flows: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "now", utc_ms(self.now))
        ZoneInfo(self.tz)  # an unknown zone fails here, not in the middle of a write

    @classmethod
    def create(
        cls,
        actor: Actor,
        tz: str,
        *,
        now: dt.datetime | None = None,
        locale: Locale = "zh",
    ) -> ExecutionContext:
        """A context starting now (or at `now`), at depth 0."""
        return cls(actor, now if now is not None else system_clock(), tz, locale)

    @property
    def channel(self) -> str:
        """The door this work comes through (ui, api, import, public_link, rule, flow)."""
        return self.actor.channel

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def today(self) -> dt.date:
        """The organisation's date at `now` (what `TODAY()` answers)."""
        return self.now.astimezone(self.zone).date()

    def with_actor(self, actor: Actor) -> ExecutionContext:
        """The same moment, zone and depth for another actor (or the same one on another door)."""
        return dataclasses.replace(self, actor=actor)

    def without_record_events(self) -> ExecutionContext:
        """This context for a load that is nobody's change (a pack's records): its writes keep
        their history but announce nothing to record listeners."""
        return dataclasses.replace(self, record_events=False)

    def nested(self, *, channel: str | None = None) -> ExecutionContext:
        """The context of work caused by this one (a rule or a flow writing on a change): the
        same actor, clock and zone, one level deeper, on `channel` when given."""
        actor = self.actor if channel is None else dataclasses.replace(self.actor, channel=channel)
        return dataclasses.replace(self, actor=actor, depth=self.depth + 1)


__all__ = ["CHANNELS", "Actor", "ExecutionContext", "Locale", "system_clock", "utc_ms"]
