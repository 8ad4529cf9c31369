"""The flow runtime (issue 13, DESIGN §8): starting instances, walking the graph, and every
action on a task or an instance — each one transaction with an optimistic version check.

State is small rows (engine/flows/models.py), updated per action, never a serialised blob:

- an **instance** pins the app revision it started on (`revision`): its walk reads that
  revision's flow plan (`engine.apps.load_revision`) until it finishes, while the record itself
  is always read and written through the live layout;
- a **token** is one visit of one branch to one node (a new row per node entered), so the tasks
  of a visit are the tasks of its token, also when a loop comes back to the same node; a token
  at a parallel join waits (`waiting`) until all the join's incoming branches arrived;
- a **task** is one person's part at a node, by the node's mode: 或签 `any` (everyone open, the
  first action decides, the others cancelled), 会签 `all` (everyone open; passes when all approve
  or `pass_ratio` is reached, any reject rejects), 依次 `sequential` (one open at a time, the
  others `waiting` in list order);
- every action first raises the instance's `version` with `UPDATE … WHERE id = ? AND version = ?`:
  of two people acting at once exactly one changes the row, the other gets 409 `task_closed`
  (on PostgreSQL the loser's UPDATE waits for the winner's commit and then matches nothing;
  SQLite runs writers one at a time, and the loser reads the task already closed).

The timeline (`flow_events`) and notifications are written in the same transaction; the flow's
record events (`flow_started`, `flow_node_entered {node}`, `flow_task_done {node, action}`,
`flow_finished {outcome}`; `RecordChanged.changes` carries that data) are handed to the record
listeners through `engine.forms.changes.emit` at the end of each action, for rules to trigger on.
Record-side hooks (start on create, lock while running, cancel on delete) are the listeners of
`engine.flows.listeners`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, case, exists, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Row

from engine.apps.pipeline import AppRevision, load_revision
from engine.core.context import ExecutionContext
from engine.core.errors import ServiceError, forbidden, not_found
from engine.core.issues import Issue
from engine.core.sqltypes import to_epoch_ms
from engine.flows import assignees
from engine.flows.field_access import check_edit, node_access
from engine.flows.models import FlowEvent, FlowInstance, FlowTask, FlowToken, Notification
from engine.forms import apps as forms_apps
from engine.forms.apps import LoadedApp
from engine.forms.changes import EVENT_KINDS, LISTENERS, RecordChanged, emit
from engine.forms.layout import FormLayout
from engine.forms.query import Reader
from engine.forms.records import Writer
from engine.forms.resolve import Who
from engine.store.models import App, User

# The name of the flows' own record listener (engine.flows.listeners), which ignores flow events:
# with no other listener they are not made at all (no read of the record's `_version`).
LISTENER_NAME = "flows"

# The flow's record events (engine.forms.changes): kind -> the name a history row would store.
FLOW_EVENT_KINDS = ("flow_started", "flow_node_entered", "flow_task_done", "flow_finished")
for _kind in FLOW_EVENT_KINDS:
    if _kind not in EVENT_KINDS:
        EVENT_KINDS.register(_kind, _kind)

RUNNING, RETURNED = "running", "returned"
LIVE_STATES = (RUNNING, RETURNED)
OUTCOMES = ("approved", "rejected", "withdrawn", "cancelled")
URGE_COOL_DOWN = dt.timedelta(minutes=10)
MAX_STEPS = 500  # node entries in one walk: a loop whose conditions never change stops here
TASK_ACTIONS = ("approve", "reject", "handle", "transfer", "comment", "resubmit")


def task_closed() -> ServiceError:
    """409: the task (or the instance) was acted on, closed or changed meanwhile."""
    return ServiceError(
        409,
        "task_closed",
        message_zh="该待办已被处理或已关闭，请刷新后查看",
        message_en="This task has already been handled or is closed; reload to see its state",
    )


# The statements of every action, built once: a statement built per call costs several times
# its execution in SQLAlchemy's construction and cache-key work (bench/flow_bench.py).
# An action's one read: the task, its instance, the app's key and live revision (so the live
# app comes from the cache without a SELECT of its own, engine.forms.apps.load's `live`).
_TASK_RUN = (
    select(
        FlowInstance.__table__,
        App.key.label("app_key"),
        App.current_revision.label("app_revision"),
        FlowTask.id.label("task_id"),
        FlowTask.token_id.label("task_token_id"),
        FlowTask.node.label("task_node"),
        FlowTask.assignee_id.label("task_assignee_id"),
        FlowTask.kind.label("task_kind"),
        FlowTask.state.label("task_state"),
        FlowTask.seq.label("task_seq"),
    )
    .select_from(FlowTask)
    .join(FlowInstance, FlowInstance.id == FlowTask.instance_id)
    .join(App, App.id == FlowInstance.app_id)
    .where(FlowTask.id == bindparam("task"))
)
_INSTANCE = (
    select(
        FlowInstance.__table__,
        App.key.label("app_key"),
        App.current_revision.label("app_revision"),
    )
    .join(App, App.id == FlowInstance.app_id)
    .where(FlowInstance.id == bindparam("instance"))
)
_START = (
    insert(FlowInstance)
    .values(
        app_id=bindparam("app"),
        form_id=bindparam("form"),
        record_id=bindparam("record"),
        flow_key=bindparam("flow"),
        revision=bindparam("revision_number"),
        state=RUNNING,
        initiator_id=bindparam("initiator"),
        version=1,
        started_at=bindparam("at"),
    )
    .returning(*FlowInstance.__table__.c, bindparam("app_key_value").label("app_key"))
)
_BUMP = (
    update(FlowInstance)
    .where(FlowInstance.id == bindparam("instance"), FlowInstance.version == bindparam("seen"))
    .values(version=bindparam("raised"))
)
_SET_STATE = (
    update(FlowInstance)
    .where(FlowInstance.id == bindparam("instance"))
    .values(state=bindparam("new_state"))
)
_FINISH_STATE = (
    update(FlowInstance)
    .where(FlowInstance.id == bindparam("instance"))
    .values(state=bindparam("new_state"), finished_at=bindparam("at"))
)
_CANCEL_TASKS = (
    update(FlowTask)
    .where(FlowTask.instance_id == bindparam("instance"), FlowTask.state.in_(("open", "waiting")))
    .values(state="cancelled")
)
_END_TOKENS = (
    update(FlowToken)
    .where(FlowToken.instance_id == bindparam("instance"), FlowToken.state != "done")
    .values(state="done")
)
_NEW_TOKEN = (
    insert(FlowToken)
    .values(
        instance_id=bindparam("instance"),
        node=bindparam("at_node"),
        state=bindparam("token_state"),
        created_at=bindparam("at"),
    )
    .returning(FlowToken.id)
)
_END_TOKENS_IN = (
    update(FlowToken)
    .where(FlowToken.id.in_(bindparam("tokens", expanding=True)))
    .values(state="done")
)
# Reaching an end: the instance finishes when no other token is live (the tokens this action
# passed count as done though their UPDATE is still pending) — the check and the state in one.
_FINISH_IF_DONE = (
    update(FlowInstance)
    .where(
        FlowInstance.id == bindparam("instance"),
        ~exists().where(
            FlowToken.instance_id == bindparam("instance"),
            FlowToken.state != "done",
            FlowToken.id.not_in(bindparam("ending", expanding=True)),
        ),
    )
    .values(state=bindparam("new_state"), finished_at=bindparam("at"))
)
_NEW_TASK = insert(FlowTask).returning(FlowTask.id)
_CLOSE_TASK = (
    update(FlowTask)
    .where(FlowTask.id == bindparam("task"))
    .values(
        state="done",
        action=bindparam("done_action"),
        comment=bindparam("done_comment"),
        acted_at=bindparam("at"),
    )
)
# 或签: the deciding task closed and its node's other open or waiting tasks cancelled at once.
_IS_DECIDING = FlowTask.id == bindparam("task")
_CLOSE_DECIDING = (
    update(FlowTask)
    .where(
        FlowTask.token_id == bindparam("token"),
        or_(_IS_DECIDING, FlowTask.state.in_(("open", "waiting"))),
    )
    .values(
        state=case((_IS_DECIDING, "done"), else_="cancelled"),
        action=case(
            (_IS_DECIDING, bindparam("done_action", type_=FlowTask.action.type)),
            else_=FlowTask.action,
        ),
        comment=case(
            (_IS_DECIDING, bindparam("done_comment", type_=FlowTask.comment.type)),
            else_=FlowTask.comment,
        ),
        acted_at=case(
            (_IS_DECIDING, bindparam("at", type_=FlowTask.acted_at.type)),
            else_=FlowTask.acted_at,
        ),
    )
)
_SIBLINGS = (
    select(FlowTask.id, FlowTask.state, FlowTask.action, FlowTask.seq, FlowTask.assignee_id)
    .where(FlowTask.token_id == bindparam("token"))
    .order_by(FlowTask.seq, FlowTask.id)
)
_OPEN_TASK = update(FlowTask).where(FlowTask.id == bindparam("task")).values(state="open")
_CANCEL_TOKEN_TASKS = (
    update(FlowTask)
    .where(
        FlowTask.token_id.in_(bindparam("tokens", expanding=True)),
        FlowTask.state.in_(("open", "waiting")),
    )
    .values(state="cancelled")
)
_ADD_EVENTS = insert(FlowEvent)
_ADD_NOTIFICATIONS = insert(Notification)


def _bad(path: str, code: str, zh: str, en: str) -> ServiceError:
    """422 `code` with one issue at `path`, its message also the error's."""
    return ServiceError(422, code, [Issue(path, code, zh, en)], message_zh=zh, message_en=en)


# --- the plan of an instance ------------------------------------------------------------------


@dataclass(frozen=True)
class FlowPlan:
    """A flow as an instance walks it: the stored plan of its revision and node names, made
    once per (app, revision, flow) and kept (`of`), with each node's assignee entries typed
    on first use (`entries`)."""

    key: str
    name: Any
    form: str
    admin: dict[str, Any] | None
    nodes: Mapping[str, str]
    settings: Mapping[str, Mapping[str, Any]]
    next: Mapping[str, Sequence[Mapping[str, Any]]]
    joins: Mapping[str, int]
    names: Mapping[str, Any]
    start: str = ""
    _typed: dict[str, tuple[tuple[Any, ...], bool]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def of(cls, revision: AppRevision, key: str) -> FlowPlan:
        """The plan of flow `key` in `revision` (404 when it has none), from the cache when
        this revision's plan was made before (revisions never change once published)."""
        cache_key = (revision.stored.app_id, revision.revision, key)
        hit = _PLANS.get(cache_key)
        if hit is not None and hit[0] is revision.stored:
            return hit[1]
        stored = revision.plans.get("flows", {}).get(key)
        spec = next((f for f in revision.spec.flows if f.key == key), None)
        if stored is None or spec is None:
            raise not_found()
        nodes = stored["nodes"]
        plan = cls(
            key=key,
            name=_label(spec.name),
            form=stored["form"],
            admin=stored.get("admin"),
            nodes=nodes,
            settings=stored["settings"],
            next=stored["next"],
            joins=stored.get("joins", {}),
            names={n.id: _label(n.name) for n in spec.nodes if n.name is not None},
            start=next((node for node, kind in nodes.items() if kind == "start"), ""),
        )
        if len(_PLANS) >= _PLANS_KEPT:
            _PLANS.clear()
        _PLANS[cache_key] = (revision.stored, plan)
        return plan

    def start_node(self) -> str:
        return self.start or next(node for node, kind in self.nodes.items() if kind == "start")

    def entries(self, node: str) -> tuple[tuple[Any, ...], bool]:
        """The node's assignee entries typed (engine.flows.assignees.typed_entry) and whether
        resolving them reads the record (a `{"field": …}` entry), worked out once; an entry
        that does not type raises its `DefinitionError` every time, as resolving it would."""
        found = self._typed.get(node)
        if found is None:
            raw = self.settings.get(node, {}).get("assignees", [])
            typed = tuple(
                assignees.typed_entry(entry, f"assignees[{i}]") for i, entry in enumerate(raw)
            )
            found = (typed, _reads_record(raw))
            self._typed[node] = found
        return found

    def node_name(self, node: str) -> Any:
        return self.names.get(node, node)


# Plans made, by (app id, revision, flow key), with the revision they were made from.
_PLANS: dict[tuple[int, int, str], tuple[Any, FlowPlan]] = {}
_PLANS_KEPT = 512


def _label(value: Any) -> Any:
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


# --- assignees ----------------------------------------------------------------------------------


def _reads_record(entries: Sequence[Mapping[str, Any]]) -> bool:
    """Whether resolving `entries` needs the record: only `{"field": …}` entries read it (the
    flow admin is a user or a role), so the others resolve without reading it."""
    return any(not isinstance(entry, Mapping) or "field" in entry for entry in entries)


def _resolve(
    conn: Connection,
    app_id: int,
    entries: Sequence[Mapping[str, Any]],
    *,
    initiator_id: int | None,
    record: Mapping[str, Any],
    flow_admin: Mapping[str, Any] | None,
) -> tuple[int, ...]:
    """The active users `entries` give (engine.flows.assignees), else the flow's admin."""
    resolution = assignees.resolve(
        conn,
        app_id,
        entries,
        initiator_id=initiator_id or 0,  # an anonymous initiator has no department or manager
        record=record,
        flow_admin=flow_admin,
    )
    return tuple(resolution.user_ids)


# --- one instance worked on in one transaction ------------------------------------------------


@dataclass
class _Run:
    """An instance being started or acted on in one transaction: its row, its plan, the
    record (read when needed), and the timeline rows, notifications and record events the
    work produces (written at `flush`)."""

    conn: Connection
    ctx: ExecutionContext
    instance: Row[Any]
    revision: AppRevision
    plan: FlowPlan
    form: FormLayout
    events: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    record_events: list[RecordChanged] = field(default_factory=list)
    _record: dict[str, Any] | None = None
    _version: int | None = None
    state: str = RUNNING
    listened: bool = True  # whether a listener other than the flows' own takes record events
    # Tokens this action passed (and whose open tasks it cancels): written at `flush` in one
    # statement each, or covered by the instance-wide writes when the instance finishes.
    _ending: list[int] = field(default_factory=list)
    _cancelling: list[int] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.instance.id)

    @property
    def actor(self) -> int | None:
        return self.ctx.actor.user_id

    def reader(self) -> Reader:
        layout = self.revision.current.layout
        return Reader(layout, self.form, self.ctx, who=Who(self.instance.initiator_id))

    def record(self) -> dict[str, Any]:
        """The record as the engine reads it (read-time fields too), unrestricted."""
        if self._record is None:
            reader, record_id = self.reader(), int(self.instance.record_id)
            try:
                self._record = reader.get(self.conn, record_id)
            except ServiceError as exc:  # deleted: cancelling its instance
                if exc.status != 404:
                    raise
                self._record = reader.get(self.conn, record_id, deleted=True)
        return self._record

    def record_version(self) -> int:
        """The record's `_version` (what its record events carry): from the record when it was
        read, else one indexed read of that column alone, kept until the record is written."""
        if self._record is not None:
            return int(self._record.get("_version") or 0)
        if self._version is None:
            table = self.form.table
            found = self.conn.execute(
                select(table.c._version).where(table.c._id == int(self.instance.record_id))
            ).scalar()
            self._version = int(found or 0)
        return self._version

    def holds(self, condition: str) -> bool:
        """Whether `condition` is true of the record, evaluated in SQL with read-time fields."""
        page = self.reader().list(
            self.conn,
            ids=[int(self.instance.record_id)],
            filter=condition,
            limit=0,
            count=True,
        )
        return page.total == 1

    # -- timeline, notifications, record events
    def event(self, kind: str, node: str | None = None, **data: Any) -> None:
        self.events.append(
            {
                "instance_id": self.id,
                "at": self.ctx.now,
                "actor_id": self.actor,
                "kind": kind,
                "node": node,
                "data": data,
            }
        )

    def notify(self, user_id: int, kind: str, task_id: int | None = None, **data: Any) -> None:
        self.notes.append(
            {
                "user_id": user_id,
                "kind": kind,
                "app_id": self.instance.app_id,
                "form_id": self.instance.form_id,
                "record_id": self.instance.record_id,
                "task_id": task_id,
                "data": {
                    "flow": self.plan.name,
                    "flow_key": self.plan.key,
                    "instance_id": self.id,
                    "app": self.revision.current.key,
                    "form": self.form.key,
                    **data,
                },
                "read_at": None,
                "created_at": self.ctx.now,
            }
        )

    def announce(self, kind: str, **data: Any) -> None:
        if not self.listened:  # nobody but the flows' own listener, which ignores flow events
            return
        self.record_events.append(
            RecordChanged(
                kind=kind,
                app=self.revision.current.key,
                app_id=int(self.instance.app_id),
                form=self.form.key,
                form_id=int(self.instance.form_id),
                record_id=int(self.instance.record_id),
                version=self.record_version(),
                changes=data,
                actor=self.actor,
                channel="flow",
                depth=self.ctx.depth,
                at=self.ctx.now,
                layout=self.revision.current.layout,
            )
        )

    def flush(self) -> None:
        """Write the pending token ends, the timeline and notifications, then hand the record
        events to listeners."""
        self.write_pending()
        if self.events:
            _add_rows(self.conn, _ADD_EVENTS, self.events)
            self.events = []
        if self.notes:
            _add_rows(self.conn, _ADD_NOTIFICATIONS, self.notes)
            self.notes = []
        if self.record_events:
            pending, self.record_events = self.record_events, []
            emit(self.conn, self.ctx, pending)

    # -- instance state
    def bump(self, expected: int | None = None) -> None:
        """Raise the instance's version from the one read (409 `task_closed` when another
        action changed it meanwhile, or when it is not `expected`)."""
        version = int(self.instance.version)
        if expected is not None and expected != version:
            raise task_closed()
        changed = self.conn.execute(
            _BUMP, {"instance": self.id, "seen": version, "raised": version + 1}
        ).rowcount
        if changed != 1:
            raise task_closed()

    def set_state(self, state: str, *, finished: bool = False) -> None:
        self.state = state
        values: dict[str, Any] = {"instance": self.id, "new_state": state}
        if finished:
            values["at"] = self.ctx.now
        self.conn.execute(_FINISH_STATE if finished else _SET_STATE, values)

    def close_everything(self) -> None:
        """Cancel every open or waiting task and end every token (pending ends included)."""
        self.conn.execute(_CANCEL_TASKS, {"instance": self.id})
        self.conn.execute(_END_TOKENS, {"instance": self.id})
        self._ending.clear()
        self._cancelling.clear()

    def write_pending(self) -> None:
        """Cancel the open tasks of the tokens passed and end those tokens."""
        if self._cancelling:
            self.conn.execute(_CANCEL_TOKEN_TASKS, {"tokens": self._cancelling})
            self._cancelling = []
        if self._ending:
            self.conn.execute(_END_TOKENS_IN, {"tokens": self._ending})
            self._ending = []

    def finish(self, outcome: str) -> None:
        """End the instance with `outcome` (approved, rejected, withdrawn, cancelled)."""
        self.close_everything()
        self.set_state(outcome, finished=True)
        self.finished(outcome)

    def finish_at_end(self) -> None:
        """A token reached an end: the instance is approved when no other token is live."""
        values = {
            "instance": self.id,
            "ending": self._ending,
            "new_state": "approved",
            "at": self.ctx.now,
        }
        if self.conn.execute(_FINISH_IF_DONE, values).rowcount != 1:
            return
        self.state = "approved"
        # No other token is live, and open or waiting tasks belong to live tokens only: the
        # pending writes (the tokens passed and their tasks) are all that is left to close.
        self.write_pending()
        self.finished("approved")

    def finished(self, outcome: str) -> None:
        """The timeline, record event and notification of the instance ending as `outcome`."""
        self.event("finished", outcome=outcome)
        self.announce("flow_finished", outcome=outcome)
        initiator = self.instance.initiator_id
        if initiator is not None and outcome in ("approved", "rejected", "cancelled"):
            self.notify(initiator, "finished", outcome=outcome)

    # -- the walk
    def new_token(self, node: str, state: str = "active") -> int:
        values = {"instance": self.id, "at_node": node, "token_state": state, "at": self.ctx.now}
        return int(self.conn.execute(_NEW_TOKEN, values).scalar_one())

    def end_token(self, token_id: int, *, cancel_tasks: bool = False) -> None:
        """End a token (and cancel its open or waiting tasks), written at `flush`."""
        self._ending.append(int(token_id))
        if cancel_tasks:
            self._cancelling.append(int(token_id))

    def walk(self, node: str) -> None:
        """A new token enters `node`; run the graph until every token waits at a task node or
        a join, or the instance finishes."""
        work = [node]
        steps = 0
        while work and self.state == RUNNING:
            steps += 1
            if steps > MAX_STEPS:
                raise _bad(
                    "",
                    "flow_loop",
                    f"流程 {self.plan.key} 在节点 {work[-1]} 处循环不止，请检查分支条件",
                    f"Flow {self.plan.key} loops without end at node {work[-1]}; check its conditions",
                )
            current = work.pop()
            work.extend(reversed(self.enter(current)))

    def enter(self, node: str) -> list[str]:
        """Enter `node` with a new token; the nodes to enter next."""
        kind = self.plan.nodes[node]
        self.event("node_entered", node, type=kind)
        self.announce("flow_node_entered", node=node)
        if kind == "parallel" and node in self.plan.joins:
            self.write_pending()
            self.new_token(node, "waiting")
            waiting = select(FlowToken.id).where(
                FlowToken.instance_id == self.id,
                FlowToken.node == node,
                FlowToken.state == "waiting",
            )
            arrived = list(self.conn.execute(waiting).scalars())
            if len(arrived) < self.plan.joins[node]:
                return []
            self.conn.execute(
                update(FlowToken).where(FlowToken.id.in_(arrived)).values(state="done")
            )
            return self.targets(node)
        if kind in ("approve", "handle"):
            token = self.new_token(node)
            if self.open_tasks(node, token, kind):
                return []
            self.end_token(token)  # nobody at all to ask (no admin either): pass on
            return self.targets(node)
        if kind == "cc":
            self.copy(node)
        if kind == "end":
            self.finish_at_end()
            return []
        return self.targets(node)

    def targets(self, node: str) -> list[str]:
        """The nodes a token leaving `node` enters (exclusive: the first edge whose condition
        holds, else the default; parallel split: every edge)."""
        edges = self.plan.next.get(node, [])
        if self.plan.nodes[node] == "exclusive":
            for edge in edges:
                if edge.get("when") and self.holds(edge["when"]):
                    return [edge["to"]]
            default = next((e["to"] for e in edges if e.get("default")), None)
            if default is None:
                raise _bad(
                    "",
                    "no_branch",
                    f"流程 {self.plan.key} 的节点 {node} 没有可走的分支",
                    f"No branch of node {node} of flow {self.plan.key} applies",
                )
            return [default]
        return [edge["to"] for edge in edges]

    def assignees(self, node: str) -> tuple[int, ...]:
        entries, reads_record = self.plan.entries(node)
        return _resolve(
            self.conn,
            int(self.instance.app_id),
            entries,
            initiator_id=self.instance.initiator_id,
            record=self.record() if reads_record else {},
            flow_admin=self.plan.admin,
        )

    def open_tasks(self, node: str, token: int, kind: str) -> bool:
        """Create the tasks of an approve/handle node (by its mode); False when nobody."""
        users = self.assignees(node)
        if not users:
            return False
        mode = self.plan.settings.get(node, {}).get("mode", "any")
        rows = [
            {
                "instance_id": self.id,
                "token_id": token,
                "node": node,
                "assignee_id": user,
                "kind": kind,
                "state": "waiting" if mode == "sequential" and seq > 0 else "open",
                "seq": seq,
                "created_at": self.ctx.now,
            }
            for seq, user in enumerate(users)
        ]
        ids = _insert_tasks(self.conn, rows)
        for task_id, user, row in zip(ids, users, rows, strict=True):
            if row["state"] == "open":
                self.assigned(task_id, user, node)
        return True

    def assigned(self, task_id: int, user: int, node: str) -> None:
        self.notify(user, "assigned", task_id, node=node, node_name=self.plan.node_name(node))

    def copy(self, node: str) -> None:
        """A cc node: a done, read-only task and a notification for each person copied."""
        users = self.assignees(node)
        if not users:
            return
        rows = [
            {
                "instance_id": self.id,
                "node": node,
                "assignee_id": user,
                "kind": "cc",
                "state": "done",
                "seq": 0,
                "created_at": self.ctx.now,
            }
            for user in users
        ]
        ids = _insert_tasks(self.conn, rows)
        for task_id, user in zip(ids, users, strict=True):
            self.notify(user, "cc", task_id, node=node, node_name=self.plan.node_name(node))


# --- writing tasks -------------------------------------------------------------------------------

_TASK_COLUMNS = ("instance_id", "token_id", "node", "assignee_id", "kind", "state", "seq")
_MULTI_TASK_SQL: dict[tuple[str, int], str] = {}


def _insert_tasks(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert a node's tasks (one per assignee, assignees distinct); their ids in row order.
    One row: the statement built once. Several: one multi-row INSERT … RETURNING through the
    driver (its SQL kept per row count), the ids matched to rows by assignee — SQLAlchemy
    would send one INSERT per row to keep RETURNING in parameter order."""
    if len(rows) == 1:
        return [int(conn.execute(_NEW_TASK, dict(rows[0])).scalar_one())]
    dialect = conn.dialect.name
    sql = _MULTI_TASK_SQL.get((dialect, len(rows)))
    if sql is None:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        one = "(" + ", ".join(mark for _ in range(len(_TASK_COLUMNS) + 1)) + ")"
        sql = (
            f"INSERT INTO {FlowTask.__tablename__} ({', '.join(_TASK_COLUMNS)}, created_at)"
            f" VALUES {', '.join(one for _ in rows)} RETURNING id, assignee_id"
        )
        _MULTI_TASK_SQL[(dialect, len(rows))] = sql
    params: list[Any] = []
    for row in rows:
        params.extend(row.get(column) for column in _TASK_COLUMNS)
        params.append(_moment(dialect, row["created_at"]))
    ids = {int(a): int(i) for i, a in conn.exec_driver_sql(sql, tuple(params)).all()}
    return [ids[int(row["assignee_id"])] for row in rows]


def _moment(dialect: str, value: dt.datetime) -> Any:
    """`value` as the driver takes a `UtcDateTime` (engine.core.sqltypes): PostgreSQL an aware
    UTC datetime to the millisecond, SQLite milliseconds since the epoch."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    value = value.astimezone(dt.UTC)
    value = value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value if dialect == "postgresql" else to_epoch_ms(value)


_DOCUMENTS = frozenset({"data"})  # JSON columns of the timeline and notification rows
_MOMENTS = frozenset({"at", "read_at", "created_at"})  # their UtcDateTime columns
_ROWS_SQL: dict[str, str] = {}


def _add_rows(conn: Connection, statement: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert timeline or notification rows (each with the same keys) in one statement. On
    SQLite through the driver's executemany on ready values (as engine.forms.changes
    `insert_history`): SQLAlchemy's per-row processing of the JSON and moment values costs more
    than the insert; elsewhere the statement built once."""
    if conn.dialect.name != "sqlite":
        conn.execute(statement, list(rows))
        return
    table = statement.table.name
    columns = tuple(rows[0])
    sql = _ROWS_SQL.get(table + ":" + ",".join(columns))
    if sql is None:
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        _ROWS_SQL[table + ":" + ",".join(columns)] = sql
    conn.exec_driver_sql(
        sql,
        [
            tuple(
                json.dumps(row[c])
                if c in _DOCUMENTS
                else (None if row[c] is None else to_epoch_ms(row[c]))
                if c in _MOMENTS
                else row[c]
                for c in columns
            )
            for row in rows
        ],
    )


# --- loading ------------------------------------------------------------------------------------


def _open_run(
    conn: Connection,
    ctx: ExecutionContext,
    instance: Row[Any],
    revision: AppRevision | None = None,
) -> _Run:
    """The run of `instance` (a row of `_instance` or `_TASK_RUN`, with its `app_key` and the
    app's live revision `app_revision`), on its revision."""
    if revision is None:
        live = (int(instance.app_id), instance.app_revision)
        current = forms_apps.load(conn, instance.app_key, live)
        revision = load_revision(conn, instance.app_key, int(instance.revision), current)
    plan = FlowPlan.of(revision, instance.flow_key)
    form = revision.current.form(plan.form)
    listened = ctx.record_events and LISTENERS.wanted(
        revision.current.layout, form.key, FLOW_EVENT_KINDS, besides=LISTENER_NAME
    )
    return _Run(conn, ctx, instance, revision, plan, form, state=instance.state, listened=listened)


def _instance(conn: Connection, instance_id: int) -> Row[Any]:
    """The instance's row and its app's key (`app_key`), in one statement (404 if none)."""
    row = conn.execute(_INSTANCE, {"instance": instance_id}).first()
    if row is None:
        raise not_found()
    return row


# --- start --------------------------------------------------------------------------------------


def flow_of(conn: Connection, app_key: str, form_key: str) -> tuple[int, str] | None:
    """The live revision and the key of the flow bound to `form_key`, when it has one that can
    run (a flow with no nodes is a draft)."""
    bound = _bound_flow(conn, app_key, form_key)
    return None if bound is None else (bound[0].revision, bound[1])


def _bound_flow(
    conn: Connection, app_key: str, form_key: str, flow_key: str | None = None
) -> tuple[LoadedApp, str] | None:
    """The live app and the key of the runnable flow bound to `form_key` (see `flow_of`), or of
    flow `flow_key` when it is a runnable flow of that form."""
    from engine.forms import apps as forms_apps

    loaded = forms_apps.load(conn, app_key)
    form = loaded.layout.forms.get(form_key)
    key = flow_key if flow_key is not None else (form.spec.flow if form is not None else None)
    if key is None or form is None:
        return None
    flows = loaded.definition.get("flows") or []
    found = next((f for f in flows if isinstance(f, dict) and f.get("key") == key), None)
    if found is None or not found.get("nodes"):
        return None
    if flow_key is not None and found.get("form") != form_key:
        return None
    return loaded, key


def start(
    conn: Connection,
    ctx: ExecutionContext,
    *,
    app_key: str,
    form_key: str,
    record_id: int,
    initiator_id: int | None,
    record_version: int | None = None,
    flow_key: str | None = None,
) -> int | None:
    """Start the flow bound to the form on record `record_id`, on the app's live revision; the
    new instance's id (None: the form has no runnable flow). `record_version`: the record's
    `_version` when the caller knows it (the listener, from the created event). `flow_key`:
    start that flow of the form instead (a rule's `start_flow`; None when it is not a runnable
    flow of the form)."""
    bound = _bound_flow(conn, app_key, form_key, flow_key)
    if bound is None:
        return None
    loaded, flow_key = bound
    revision_number = loaded.revision
    revision = load_revision(conn, app_key, revision_number, loaded)
    form = revision.current.form(form_key)
    values = {
        "app": revision.current.id,
        "form": form.id,
        "record": record_id,
        "flow": flow_key,
        "revision_number": revision_number,
        "initiator": initiator_id,
        "at": ctx.now,
        "app_key_value": app_key,
    }
    instance = conn.execute(_START, values).one()
    instance_id = int(instance.id)
    run = _open_run(conn, ctx, instance, revision)
    run._version = record_version
    run.event("started")
    run.announce("flow_started")
    run.walk(run.plan.start_node())
    run.flush()
    return int(instance_id)


# --- actions on a task --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Task:
    """The task an action is on (read with its instance in one statement, `_TASK_RUN`)."""

    id: int
    instance_id: int
    token_id: int | None
    node: str
    assignee_id: int
    kind: str
    state: str
    seq: int

    @classmethod
    def of(cls, row: Row[Any]) -> _Task:
        return cls(
            int(row.task_id),
            int(row.id),
            row.task_token_id,
            row.task_node,
            int(row.task_assignee_id),
            row.task_kind,
            row.task_state,
            int(row.task_seq or 0),
        )


@dataclass(frozen=True)
class ActResult:
    """What an action did: the task, the instance's state and version afterwards."""

    task_id: int
    instance_id: int
    state: str
    version: int

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task_id,
            "instance": self.instance_id,
            "state": self.state,
            "version": self.version,
        }


def act(
    conn: Connection,
    ctx: ExecutionContext,
    task_id: int,
    action: str,
    *,
    comment: str | None = None,
    to: int | None = None,
    data: Mapping[str, Any] | None = None,
    expected_version: int | None = None,
) -> ActResult:
    """Act on one open task of the caller (`ctx.actor`): approve, reject, handle, transfer (to
    user `to`), comment, or resubmit (the initiator's task of a returned instance). One
    transaction (the caller's); 409 `task_closed` when the task or its instance moved on."""
    if action not in TASK_ACTIONS:
        raise _bad(
            "action",
            "unknown_action",
            f"未知的操作 {action}（可用：{', '.join(TASK_ACTIONS)}）",
            f"Unknown action {action} (expected one of: {', '.join(TASK_ACTIONS)})",
        )
    if comment is not None and len(comment) > 2000:
        raise _bad(
            "comment", "too_long", "意见不能超过 2000 个字符", "The comment is over 2000 characters"
        )
    user = ctx.actor.user_id
    row = conn.execute(_TASK_RUN, {"task": task_id}).first()
    if row is None:
        raise not_found()
    task = _Task.of(row)
    if user is None or task.assignee_id != user:
        raise forbidden()
    if task.state != "open":
        raise task_closed()
    run = _open_run(conn, ctx, row)
    expected_state = RETURNED if action == "resubmit" else RUNNING
    if run.instance.state != expected_state and not (
        action == "comment" and run.instance.state in LIVE_STATES
    ):
        raise task_closed()
    run.bump(expected_version)
    if action == "comment":
        run.event("comment", task.node, task=task_id, comment=comment or "")
    elif action == "transfer":
        _transfer(run, task, to, comment)
    elif action == "resubmit":
        if task.kind != "handle" or run.plan.nodes.get(task.node) != "start":
            raise _not_allowed(action)
        _close(run, task, "resubmit", comment)
        run.end_token(int(task.token_id or 0))
        run.set_state(RUNNING)
        run.event("resubmitted", task.node, comment=comment or "")
        run.walk(run.plan.start_node())
    else:
        _decide(run, task, action, comment, data)
    run.flush()
    version = int(run.instance.version) + 1
    return ActResult(task_id, run.id, run.state, version)


def _not_allowed(action: str) -> ServiceError:
    return _bad(
        "action",
        "action_not_allowed",
        f"此待办不能执行操作 {action}",
        f"The action {action} is not allowed on this task",
    )


def _close(
    run: _Run, task: _Task, action: str, comment: str | None, *, deciding: bool = False
) -> None:
    """Close `task` with `action`; `deciding`: a 或签 decided, its node's other open or waiting
    tasks are cancelled in the same statement."""
    values = {"task": task.id, "done_action": action, "done_comment": comment, "at": run.ctx.now}
    if deciding:
        run.conn.execute(_CLOSE_DECIDING, {**values, "token": task.token_id})
    else:
        run.conn.execute(_CLOSE_TASK, values)
    run.event("task_done", task.node, task=int(task.id), action=action, comment=comment or "")
    run.announce("flow_task_done", node=task.node, action=action)


def _transfer(run: _Run, task: _Task, to: int | None, comment: str | None) -> None:
    if task.kind not in ("approve", "handle"):
        raise _not_allowed("transfer")
    if to is None or isinstance(to, bool) or not isinstance(to, int):
        raise _bad("to", "required", "请选择转交给谁", "Choose whom to transfer the task to")
    if to == task.assignee_id:
        raise _bad(
            "to", "transfer_to_self", "不能转交给自己", "A task cannot be transferred to yourself"
        )
    active = run.conn.execute(select(User.is_active).where(User.id == to)).scalar_one_or_none()
    if not active:
        raise _bad(
            "to",
            "unknown_user",
            f"用户 {to} 不存在或已停用",
            f"User {to} does not exist or is inactive",
        )
    holds = run.conn.execute(
        select(func.count())
        .select_from(FlowTask)
        .where(
            FlowTask.token_id == task.token_id,
            FlowTask.assignee_id == to,
            FlowTask.state.in_(("open", "waiting")),
        )
    ).scalar_one()
    if holds:
        raise _bad(
            "to",
            "already_assignee",
            "该用户已是此节点的处理人",
            "This user already holds a task at this node",
        )
    _close(run, task, "transfer", comment)
    new_id = run.conn.execute(
        insert(FlowTask)
        .values(
            instance_id=run.id,
            token_id=task.token_id,
            node=task.node,
            assignee_id=to,
            kind=task.kind,
            state="open",
            seq=task.seq,
            created_at=run.ctx.now,
            transferred_from=task.id,
        )
        .returning(FlowTask.id)
    ).scalar_one()
    run.event("transferred", task.node, task=int(task.id), to=to, new_task=int(new_id))
    run.assigned(int(new_id), to, task.node)


def _decide(
    run: _Run,
    task: _Task,
    action: str,
    comment: str | None,
    data: Mapping[str, Any] | None,
) -> None:
    """Approve / handle / reject a task, then settle its node by the node's mode."""
    kind = task.kind
    if kind == "approve" and action not in ("approve", "reject"):
        raise _not_allowed(action)
    if kind == "handle" and action not in ("handle", "approve"):
        raise _not_allowed(action)
    if kind not in ("approve", "handle") or run.plan.nodes.get(task.node) == "start":
        raise _not_allowed(action)
    if data and action != "reject":
        _write_fields(run, task.node, data)
    settings = run.plan.settings.get(task.node, {})
    mode = settings.get("mode", "any")
    if action != "reject" and mode == "any" and task.token_id is not None:
        # the first action decides: this task closed and the others cancelled in one UPDATE,
        # without reading them
        _close(run, task, action, comment, deciding=True)
        run.end_token(task.token_id)
        for target in run.targets(task.node):
            run.walk(target)
        return
    _close(run, task, action, comment)
    if action == "reject":
        _reject(run, task, settings, comment)
        return
    siblings = run.conn.execute(_SIBLINGS, {"token": task.token_id}).all()
    passed = False
    if mode == "all":
        counted = [s for s in siblings if s.action != "transfer" and s.state != "cancelled"]
        approvals = sum(1 for s in counted if s.action in ("approve", "handle"))
        ratio = settings.get("pass_ratio") or 1
        passed = approvals >= math.ceil(ratio * len(counted) - 1e-9)
    else:  # sequential: the next one's turn, or the node passes
        waiting = [s for s in siblings if s.state == "waiting"]
        if waiting:
            following = waiting[0]
            run.conn.execute(_OPEN_TASK, {"task": following.id})
            run.assigned(int(following.id), int(following.assignee_id), task.node)
        else:
            passed = True
    if passed:
        others = any(s.state in ("open", "waiting") for s in siblings)
        run.end_token(int(task.token_id or 0), cancel_tasks=others)
        for target in run.targets(task.node):
            run.walk(target)


def _reject(run: _Run, task: _Task, settings: Mapping[str, Any], comment: str | None) -> None:
    if settings.get("on_reject", "end") != "initiator":
        run.finish("rejected")
        return
    run.close_everything()
    run.set_state(RETURNED)
    start = run.plan.start_node()
    token = run.new_token(start)
    initiator = run.instance.initiator_id
    owner = initiator if initiator is not None else (_resolve_admin(run))
    run.event("returned", task.node, comment=comment or "")
    if owner is None:
        return
    task_id = run.conn.execute(
        insert(FlowTask)
        .values(
            instance_id=run.id,
            token_id=token,
            node=start,
            assignee_id=owner,
            kind="handle",
            state="open",
            seq=0,
            created_at=run.ctx.now,
        )
        .returning(FlowTask.id)
    ).scalar_one()
    run.notify(
        owner,
        "returned",
        int(task_id),
        node=task.node,
        node_name=run.plan.node_name(task.node),
        comment=comment or "",
    )


def _resolve_admin(run: _Run) -> int | None:
    users = _resolve(
        run.conn,
        int(run.instance.app_id),
        [run.plan.admin] if run.plan.admin else [],
        initiator_id=None,
        record={},  # the admin is a user or a role: no record needed
        flow_admin=run.plan.admin,
    )
    return users[0] if users else None


def _write_fields(run: _Run, node: str, data: Mapping[str, Any]) -> None:
    """Field edits made while acting: only the node's `edit` fields, through the record
    pipeline as the acting user on channel `flow` (validation, history and record events
    apply; the record lock lets channel `flow` through)."""
    if not isinstance(data, Mapping):
        raise _bad("data", "expected_record", "data 应为对象", "data must be an object")
    values = {k: v for k, v in data.items() if k != "_version"}
    allowed = node_access(run.form, run.plan.settings.get(node, {}).get("fields") or {})
    refused = check_edit(allowed, values)
    if refused:
        raise ServiceError(422, "validation_failed", [i.under("data") for i in refused])
    if not values:
        return
    version = data.get("_version", run.record().get("_version"))
    ctx = run.ctx.nested(channel="flow")
    writer = Writer(run.revision.current.layout, run.revision.current.id, run.form, ctx)
    writer.update(run.conn, int(run.instance.record_id), {**values, "_version": version}, ctx.actor)
    run._record = None
    run._version = None


# --- the initiator's actions --------------------------------------------------------------------


def _initiated(conn: Connection, ctx: ExecutionContext, instance_id: int) -> _Run:
    run = _open_run(conn, ctx, _instance(conn, instance_id))
    if ctx.actor.user_id is None or run.instance.initiator_id != ctx.actor.user_id:
        raise forbidden()
    return run


def withdraw(
    conn: Connection, ctx: ExecutionContext, instance_id: int, *, comment: str | None = None
) -> str:
    """撤回: the initiator ends a running (or returned) instance while no approver has acted on
    the node(s) it is at now; open tasks are cancelled. 409 `withdraw_too_late` otherwise."""
    run = _initiated(conn, ctx, instance_id)
    if run.instance.state not in LIVE_STATES:
        raise task_closed()
    acted = conn.execute(
        select(func.count())
        .select_from(FlowTask)
        .join(FlowToken, FlowToken.id == FlowTask.token_id)
        .where(
            FlowTask.instance_id == run.id,
            FlowToken.state == "active",
            FlowTask.action.in_(("approve", "reject", "handle")),
        )
    ).scalar_one()
    if acted and run.instance.state == RUNNING:
        raise ServiceError(
            409,
            "withdraw_too_late",
            message_zh="审批人已处理当前节点，不能撤回",
            message_en="An approver has already acted on the current step; it cannot be withdrawn",
        )
    run.bump()
    run.event("withdrawn", comment=comment or "")
    run.finish("withdrawn")
    run.flush()
    return run.state


def urge(conn: Connection, ctx: ExecutionContext, instance_id: int) -> int:
    """催办: the initiator reminds everyone holding an open task (an `urged` notification each);
    at most once per 10 minutes per instance (429 `urge_too_soon` with the wait). How many
    were reminded."""
    run = _initiated(conn, ctx, instance_id)
    if run.instance.state != RUNNING:
        raise task_closed()
    last = run.instance.urged_at
    if last is not None and ctx.now - last < URGE_COOL_DOWN:
        wait = math.ceil((URGE_COOL_DOWN - (ctx.now - last)).total_seconds())
        minutes = max(1, math.ceil(wait / 60))
        raise ServiceError(
            429,
            "urge_too_soon",
            message_zh=f"催办过于频繁，请 {minutes} 分钟后再试",
            message_en=f"Reminded too recently; try again in {minutes} minute(s)",
            retry_after=wait,
        )
    run.bump()
    conn.execute(update(FlowInstance).where(FlowInstance.id == run.id).values(urged_at=ctx.now))
    tasks = conn.execute(
        select(FlowTask.id, FlowTask.assignee_id, FlowTask.node).where(
            FlowTask.instance_id == run.id, FlowTask.state == "open"
        )
    ).all()
    for task in tasks:
        run.notify(
            int(task.assignee_id),
            "urged",
            int(task.id),
            node=task.node,
            node_name=run.plan.node_name(task.node),
        )
    run.event("urged", users=[int(t.assignee_id) for t in tasks])
    run.flush()
    return len(tasks)


def resubmit(
    conn: Connection,
    ctx: ExecutionContext,
    instance_id: int,
    *,
    comment: str | None = None,
) -> ActResult:
    """The initiator resubmits a returned instance (after editing the record through the
    records API, which is not locked while returned): the walk restarts from the start on the
    same instance."""
    run = _initiated(conn, ctx, instance_id)
    if run.instance.state != RETURNED:
        raise task_closed()
    task_id = conn.execute(
        select(FlowTask.id).where(
            FlowTask.instance_id == run.id,
            FlowTask.state == "open",
            FlowTask.assignee_id == ctx.actor.user_id,
            FlowTask.node == run.plan.start_node(),
        )
    ).scalar()
    if task_id is None:
        raise task_closed()
    return act(conn, ctx, int(task_id), "resubmit", comment=comment)


def cancel(conn: Connection, ctx: ExecutionContext, instance_id: int, reason: str) -> None:
    """End a live instance as cancelled (its record was deleted): open tasks cancelled."""
    run = _open_run(conn, ctx, _instance(conn, instance_id))
    if run.instance.state not in LIVE_STATES:
        return
    run.bump()
    run.event("cancelled", reason=reason)
    run.finish("cancelled")
    run.flush()


# --- queries ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenTask:
    """A task that lets its assignee read a record: the node and its field access."""

    task_id: int
    instance_id: int
    node: str
    kind: str


def open_task_for(conn: Connection, user_id: int, form_id: int, record_id: int) -> OpenTask | None:
    """The user's open task, or a cc task, on the record's latest live or finished instance
    (what the access layer asks before letting an assignee read a record)."""
    row = conn.execute(
        select(FlowTask.id, FlowTask.instance_id, FlowTask.node, FlowTask.kind)
        .join(FlowInstance, FlowInstance.id == FlowTask.instance_id)
        .where(
            FlowInstance.form_id == form_id,
            FlowInstance.record_id == record_id,
            FlowTask.assignee_id == user_id,
            (FlowTask.state == "open") | (FlowTask.kind == "cc"),
        )
        .order_by(FlowTask.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return OpenTask(int(row.id), int(row.instance_id), row.node, row.kind)


def instance_for(conn: Connection, form_id: int, record_id: int) -> Row[Any] | None:
    """The record's latest instance (None: no flow ever ran on it)."""
    return conn.execute(
        select(FlowInstance.__table__)
        .where(FlowInstance.form_id == form_id, FlowInstance.record_id == record_id)
        .order_by(FlowInstance.id.desc())
        .limit(1)
    ).first()


def involved(conn: Connection, user_id: int, instance: Row[Any]) -> bool:
    """Whether the user started the instance or ever held a task in it (who may follow it)."""
    if instance.initiator_id == user_id:
        return True
    held = conn.execute(
        select(FlowTask.id)
        .where(FlowTask.instance_id == instance.id, FlowTask.assignee_id == user_id)
        .limit(1)
    ).first()
    return held is not None


def instance_for_id(conn: Connection, instance_id: int) -> Row[Any]:
    """One instance's row (404 when there is none)."""
    return _instance(conn, instance_id)


def live_instances(
    conn: Connection, form_id: int, record_ids: Iterable[int], states: Sequence[str] = LIVE_STATES
) -> dict[int, int]:
    """Record id -> id of its instance in one of `states`, for the given records."""
    ids = list(record_ids)
    if not ids:
        return {}
    rows = conn.execute(
        select(FlowInstance.record_id, FlowInstance.id).where(
            FlowInstance.form_id == form_id,
            FlowInstance.record_id.in_(ids),
            FlowInstance.state.in_(states),
        )
    ).all()
    return {int(r.record_id): int(r.id) for r in rows}


def flow_state(conn: Connection, instance_id: int) -> dict[str, Any]:
    """`{state, current: [{node, name, assignees}], history}` of one instance."""
    instance = _instance(conn, instance_id)
    open_tasks = conn.execute(
        select(FlowTask.node, FlowTask.assignee_id, FlowTask.state)
        .where(FlowTask.instance_id == instance_id, FlowTask.state.in_(("open", "waiting")))
        .order_by(FlowTask.seq, FlowTask.id)
    ).all()
    current: dict[str, list[int]] = {}
    for task in open_tasks:
        if task.state == "open":
            current.setdefault(task.node, []).append(int(task.assignee_id))
    history = conn.execute(
        select(FlowEvent.at, FlowEvent.actor_id, FlowEvent.kind, FlowEvent.node, FlowEvent.data)
        .where(FlowEvent.instance_id == instance_id)
        .order_by(FlowEvent.id)
    ).all()
    return {
        "id": int(instance.id),
        "flow": instance.flow_key,
        "revision": int(instance.revision),
        "state": instance.state,
        "version": int(instance.version),
        "initiator": instance.initiator_id,
        "current": [{"node": node, "assignees": users} for node, users in current.items()],
        "history": [
            {
                "at": h.at,
                "actor": h.actor_id,
                "kind": h.kind,
                "node": h.node,
                "data": h.data,
            }
            for h in history
        ],
    }


__all__ = [
    "FLOW_EVENT_KINDS",
    "ActResult",
    "FlowPlan",
    "OpenTask",
    "act",
    "cancel",
    "flow_of",
    "flow_state",
    "instance_for",
    "instance_for_id",
    "involved",
    "live_instances",
    "open_task_for",
    "resubmit",
    "start",
    "task_closed",
    "urge",
    "withdraw",
]
