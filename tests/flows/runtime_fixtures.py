"""What the flow runtime tests share: a small app (a deal with an amount, a member field, a
notes field and a rollup over its line items), a demo org, the test flows, and `Flows`, which
works them through the runtime one transaction per step, as the API will."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from engine import apps
from engine.auth.directory import create_user, ensure_admin
from engine.core.context import Actor, ExecutionContext
from engine.flows import listeners, runtime
from engine.flows.models import FlowEvent, FlowInstance, FlowTask, FlowToken, Notification
from engine.forms.changes import LISTENERS, RecordChanged
from engine.forms.service import open_form
from tests.contexts import context
from tests.store_fixtures import prepare_fresh

NOW = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
PEOPLE = ("alice", "bob", "carol", "dave", "erin")

DEAL_FORM: dict[str, Any] = {
    "key": "deal",
    "name": {"zh": "交易", "en": "Deal"},
    "title_field": "title",
    "fields": [
        {"key": "title", "type": "text", "label": "标题", "required": True},
        {"key": "amount", "type": "number", "label": "金额", "precision": 2},
        {"key": "reviewer", "type": "user", "label": "复核人"},
        {"key": "note", "type": "text", "label": "备注"},
        {
            "key": "items",
            "type": "subform",
            "label": "明细",
            "fields": [{"key": "line", "type": "number", "label": "行金额", "precision": 2}],
        },
        {
            "key": "total",
            "type": "rollup",
            "label": "合计",
            "relation": "items",
            "field": "line",
            "aggregate": "sum",
        },
    ],
}


def approve(node: str, *users: str, **settings: Any) -> dict[str, Any]:
    """An approve node asking `users` (by username)."""
    return {"id": node, "type": "approve", "assignees": [{"user": u} for u in users], **settings}


def node(node_id: str, node_type: str, *users: str, **settings: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"id": node_id, "type": node_type, **settings}
    if users:
        found["assignees"] = [{"user": u} for u in users]
    return found


def chain(*nodes: dict[str, Any]) -> dict[str, Any]:
    """start → nodes… → end, in order."""
    ids = ["start", *(n["id"] for n in nodes), "end"]
    return flow(
        [{"id": "start", "type": "start"}, *nodes, {"id": "end", "type": "end"}],
        [{"from": a, "to": b} for a, b in itertools.pairwise(ids)],
    )


def flow(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "key": "deal_approval",
        "name": {"zh": "交易审批", "en": "Deal approval"},
        "form": "deal",
        "nodes": nodes,
        "edges": edges,
    }


# The flows of the tests --------------------------------------------------------------------------

ONE_APPROVER = chain(approve("boss", "bob"))
ANY_OF_TWO = chain(approve("pair", "bob", "carol"))
ALL_OF_THREE = chain(approve("board", "bob", "carol", "dave", mode="all"))
TWO_OF_THREE = chain(approve("board", "bob", "carol", "dave", mode="all", pass_ratio=0.6))
IN_TURN = chain(approve("line", "bob", "carol", "dave", mode="sequential"))
REJECT_RETURNS = chain(approve("boss", "bob", on_reject="initiator"))
EDITS = chain(approve("boss", "bob", fields={"note": "edit", "amount": "read_only"}))
TWO_STEPS = chain(approve("first", "bob"), approve("second", "carol"))
WITH_CC = chain(approve("boss", "bob"), node("copy", "cc", "erin"))
HANDLE_ALL = chain(node("fill", "handle", "bob", "carol", mode="all"))
# amount < 1000 → bob; else when the rollup of the lines is ≥ 5000 → bob and carol in 会签; else carol
ROUTED = flow(
    [
        {"id": "start", "type": "start"},
        {"id": "route", "type": "exclusive"},
        approve("small", "bob"),
        approve("big", "bob", "carol", mode="all"),
        approve("middle", "carol"),
        {"id": "end", "type": "end"},
    ],
    [
        {"from": "start", "to": "route"},
        {"from": "route", "to": "small", "when": "amount < 1000"},
        {"from": "route", "to": "big", "when": "total >= 5000"},
        {"from": "route", "to": "middle", "default": True},
        {"from": "small", "to": "end"},
        {"from": "big", "to": "end"},
        {"from": "middle", "to": "end"},
    ],
)
PARALLEL = flow(
    [
        {"id": "start", "type": "start"},
        {"id": "split", "type": "parallel"},
        approve("legal", "bob"),
        approve("money", "carol"),
        {"id": "join", "type": "parallel"},
        approve("final", "dave"),
        {"id": "end", "type": "end"},
    ],
    [
        {"from": "start", "to": "split"},
        {"from": "split", "to": "legal"},
        {"from": "split", "to": "money"},
        {"from": "legal", "to": "join"},
        {"from": "money", "to": "join"},
        {"from": "join", "to": "final"},
        {"from": "final", "to": "end"},
    ],
)


def deals_app(flow_def: dict[str, Any] | None) -> dict[str, Any]:
    form = copy.deepcopy(DEAL_FORM)
    definition: dict[str, Any] = {
        "format": "jimu.app/1",
        "key": "deals",
        "name": {"zh": "交易", "en": "Deals"},
        "version": "1.0.0",
        "forms": [form],
        "roles": [],
        "flows": [],
    }
    if flow_def is not None:
        form["flow"] = flow_def["key"]
        definition["flows"] = [copy.deepcopy(flow_def)]
    return definition


# Working a flow ----------------------------------------------------------------------------------


@dataclass
class Flows:
    """The deals app with one flow on one database, and the demo org's user ids."""

    engine: Engine
    users: dict[str, int]
    now: dt.datetime = NOW
    seen: list[RecordChanged] = field(default_factory=list)

    def ctx(self, user: str | None, channel: str = "api") -> ExecutionContext:
        uid = self.users[user] if user is not None else None
        return context(Actor(uid, channel), now=self.now)

    def publish(self, flow_def: dict[str, Any] | None) -> None:
        with self.engine.begin() as conn:
            apps.publish(
                conn,
                "deals",
                deals_app(flow_def),
                revision=apps_revision(conn),
                plan_hash=None,
                ctx=self.ctx(None),
            )

    def create(self, user: str | None = "alice", channel: str = "api", **values: Any) -> int:
        values.setdefault("title", "合同")
        with self.engine.begin() as conn:
            service = open_form(self.ctx(user, channel), conn, "deals", "deal")
            return service.create_many([values])[0]

    def record(self, record_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return open_form(self.ctx(None), conn, "deals", "deal").get(record_id)

    def update(self, user: str, record_id: int, **values: Any) -> dict[str, Any]:
        version = self.record(record_id)["_version"]
        with self.engine.begin() as conn:
            service = open_form(self.ctx(user), conn, "deals", "deal")
            return service.update(record_id, {**values, "_version": version})

    def delete(self, user: str, record_id: int) -> None:
        with self.engine.begin() as conn:
            open_form(self.ctx(user), conn, "deals", "deal").delete(record_id)

    def restore(self, user: str, record_id: int) -> None:
        with self.engine.begin() as conn:
            open_form(self.ctx(user), conn, "deals", "deal").restore(record_id)

    def instance(self, record_id: int) -> Any:
        with self.engine.connect() as conn:
            form_id = conn.execute(
                select(FlowInstance.form_id).order_by(FlowInstance.id.desc()).limit(1)
            ).scalar()
            return runtime.instance_for(conn, int(form_id or 0), record_id)

    def state(self, record_id: int) -> str | None:
        found = self.instance(record_id)
        return None if found is None else str(found.state)

    def tasks(self, user: str | None = None, state: str | None = "open") -> list[Any]:
        query = select(FlowTask.__table__).order_by(FlowTask.id)
        if user is not None:
            query = query.where(FlowTask.assignee_id == self.users[user])
        if state is not None:
            query = query.where(FlowTask.state == state)
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())

    def task(self, user: str) -> int:
        """The id of `user`'s one open task."""
        [found] = self.tasks(user)
        return int(found.id)

    def act(self, user: str, action: str, task_id: int | None = None, **options: Any) -> Any:
        task_id = task_id or self.task(user)
        with self.engine.begin() as conn:
            return runtime.act(conn, self.ctx(user), task_id, action, **options)

    def withdraw(self, user: str, record_id: int) -> str:
        instance_id = int(self.instance(record_id).id)
        with self.engine.begin() as conn:
            return runtime.withdraw(conn, self.ctx(user), instance_id)

    def urge(self, user: str, record_id: int) -> int:
        instance_id = int(self.instance(record_id).id)
        with self.engine.begin() as conn:
            return runtime.urge(conn, self.ctx(user), instance_id)

    def resubmit(self, user: str, record_id: int, comment: str | None = None) -> Any:
        instance_id = int(self.instance(record_id).id)
        with self.engine.begin() as conn:
            return runtime.resubmit(conn, self.ctx(user), instance_id, comment=comment)

    def events(self, record_id: int) -> list[tuple[str, str | None]]:
        """The instance's timeline as (kind, node)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(FlowEvent.kind, FlowEvent.node)
                .where(FlowEvent.instance_id == self.instance(record_id).id)
                .order_by(FlowEvent.id)
            ).all()
        return [(r.kind, r.node) for r in rows]

    def notifications(self, user: str) -> list[tuple[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(Notification.kind, Notification.data)
                .where(Notification.user_id == self.users[user])
                .order_by(Notification.id)
            ).all()
        return [(r.kind, r.data) for r in rows]

    def tokens(self, record_id: int) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(FlowToken.node, FlowToken.state)
                .where(FlowToken.instance_id == self.instance(record_id).id)
                .order_by(FlowToken.id)
            ).all()
        return [(r.node, r.state) for r in rows]

    def deactivate(self, user: str) -> None:
        from engine.store.models import User

        with self.engine.begin() as conn:
            conn.execute(update(User).where(User.id == self.users[user]).values(is_active=False))

    def later(self, minutes: int) -> None:
        self.now = self.now + dt.timedelta(minutes=minutes)


def apps_revision(conn: Connection) -> int:
    from engine.forms import apps as forms_apps

    return forms_apps.load(conn, "deals").revision


def set_up(engine: Engine, flow_def: dict[str, Any] | None) -> Flows:
    """The deals app with `flow_def` bound to its form, and the demo org, on `engine`."""
    prepare_fresh(engine)
    listeners.register()
    users: dict[str, int] = {}
    with engine.begin() as conn:
        created = ensure_admin(conn, "admin-password-1")
        assert created is not None
        users["admin"] = created.user_id
        for name in PEOPLE:
            users[name] = create_user(
                conn, {"username": name, "display_name": name.title()}, password=None, actor_id=None
            )["id"]
        apps.create(conn, deals_app(flow_def), context(Actor(None, "api"), now=NOW))
    return Flows(engine, users)


@contextmanager
def recorded() -> Iterator[list[RecordChanged]]:
    """The flow record events handed to listeners inside the `with` block."""
    seen: list[RecordChanged] = []

    def keep(conn: Connection, ctx: ExecutionContext, events: Any) -> None:
        seen.extend(e for e in events if e.kind.startswith("flow_"))

    with LISTENERS.listening("test_flow_events", keep):
        yield seen
