"""The flow engine's record listener (DESIGN §15): what a record change does to flows.

One synchronous listener, `flows`, registered in `engine.forms.changes.LISTENERS` when this
module is imported (`engine.api.main.create_app` imports it, as `jimu serve` does; `forms`
never imports flows). In the saving transaction it:

- **starts** the flow bound to the form (`form.flow`) on each record *created* — through the
  UI, the API, a public link or an engine — on the app's live revision; not for spreadsheet
  imports (channel `import`) unless the import asked for it (`start_flows`), nor pack and sample loads (their context announces nothing). The
  initiator is the creating user, or for an anonymous public-link fill the link's owner;
- **locks** a record whose instance is running: an update on any channel but `flow` (the
  edits an approver makes through `engine.flows.runtime.act`) is refused with 422
  `record_in_approval` at each changed field. A returned instance does not lock: the
  initiator edits the record, then resubmits;
- **cancels** the live instance of a record *deleted* (tasks cancelled); a restore does not
  start it again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from sqlalchemy.engine import Connection

from engine.core.context import ExecutionContext
from engine.core.errors import ServiceError
from engine.core.issues import Issue
from engine.flows import runtime
from engine.forms.changes import LISTENERS, RecordChanged

NAME = runtime.LISTENER_NAME


def _bound(conn: Connection, event: RecordChanged) -> bool:
    """Whether the event's form has a flow bound in the live definition (the revision the
    write used, when the event carries it: no app read)."""
    from engine.forms import apps as forms_apps

    layout = event.layout if event.layout is not None else forms_apps.load(conn, event.app).layout
    form = layout.forms.get(event.form)
    return form is not None and form.spec.flow is not None


def on_record_changes(
    conn: Connection, ctx: ExecutionContext, events: Sequence[RecordChanged]
) -> None:
    """Start, lock or cancel flows for one write call's events (see the module docstring)."""
    if not events or events[0].kind not in ("created", "updated", "deleted"):
        return
    first = events[0]
    if first.kind == "created":  # `start` itself finds whether a flow is bound
        if ctx.channel == "import" and not ctx.start_flows:
            return
        if first.layout is not None:  # the revision the write used: no flow, no app read
            form = first.layout.forms.get(first.form)
            if form is None or form.spec.flow is None:
                return
        for event in events:
            started = runtime.start(
                conn,
                ctx,
                app_key=event.app,
                form_key=event.form,
                record_id=event.record_id,
                initiator_id=event.actor if event.actor is not None else ctx.actor.owner,
                record_version=event.version,
            )
            if started is None:  # no runnable flow: the same for every record of the call
                return
        return
    if not _bound(conn, first):
        return
    if first.kind == "updated":
        if ctx.channel == "flow":
            return
        running = runtime.live_instances(
            conn, first.form_id, [e.record_id for e in events], (runtime.RUNNING,)
        )
        issues = [
            Issue(
                f"{event.path}.{key}" if event.path else key,
                "record_in_approval",
                "记录正在审批中，只能在审批时修改此字段",
                "The record is under approval; this field can be changed only while approving",
            )
            for event in events
            if event.record_id in running
            for key in (event.changes or {"": None})
        ]
        if issues:
            raise ServiceError(
                422,
                "record_in_approval",
                issues,
                message_zh="记录正在审批中，不能修改",
                message_en="The record is under approval and cannot be changed",
            )
    else:
        live = runtime.live_instances(conn, first.form_id, [e.record_id for e in events])
        for instance_id in live.values():
            runtime.cancel(conn, ctx, instance_id, "record_deleted")


def register() -> None:
    """Register the listener (once per process)."""
    with contextlib.suppress(ValueError):  # already registered
        LISTENERS.sync(NAME, on_record_changes)


register()

__all__ = ["NAME", "on_record_changes", "register"]
