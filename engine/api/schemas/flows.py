"""Response models of the approval-flow routes (`engine.api.routes.flows_runtime`): the inbox,
a task for the approval form, a record's flow, actions and notifications."""

from __future__ import annotations

from engine.api.schemas.common import Answer, Json, Label
from engine.api.schemas.records import IssueOut, RecordOut


class Person(Answer):
    """A member as the inbox names them."""

    id: int
    name: str | None = None
    username: str | None = None


class FlowName(Answer):
    """A flow by key and name."""

    key: str
    name: Label


class InstanceRef(Answer):
    """A flow instance and its state."""

    id: int
    state: str


class InboxItem(Answer):
    """A task in my inbox, or (`kind: instance`) a flow I started."""

    id: int
    kind: str
    state: str
    action: str | None = None
    comment: str | None = None
    node: str | None = None
    node_name: Label = None
    flow: FlowName
    instance: InstanceRef
    app: str
    form: str
    record_id: int
    title: Json
    initiator: Person | None
    created_at: str | None
    acted_at: str | None = None
    finished_at: str | None = None


class Inbox(Answer):
    """One page of my tasks and how many there are."""

    items: list[InboxItem]
    total: int


class TaskForm(Answer):
    """A task for the approval form: the task, the record as the task lets me read it (null
    once it no longer does) and each field's access at the task's node."""

    task: InboxItem
    record: RecordOut | None
    fields: dict[str, str]


class ActError(Answer):
    """Why an action on a task was refused."""

    code: str
    message: str
    issues: list[IssueOut]


class ActOutcome(Answer):
    """The result of acting on one task of a batch."""

    id: int
    ok: bool
    task: int | None = None
    instance: int | None = None
    state: str | None = None
    version: int | None = None
    error: ActError | None = None


class ActBatch(Answer):
    """One result per task, in the order given."""

    results: list[ActOutcome]


class Acted(Answer):
    """What an action did: the task, the instance's state and version afterwards."""

    task: int
    instance: int
    state: str
    version: int


class FlowStep(Answer):
    """A node a record's flow waits at, and who may act there."""

    node: str
    name: Label
    assignees: list[Person]


class FlowEvent(Answer):
    """One entry of a flow's history."""

    at: str | None
    actor: Person | None
    kind: str
    node: str | None
    data: Json
    node_name: Label = None


class RecordFlow(Answer):
    """A record's flow: its state, where it waits, who started it and what happened; only
    `state` (null), `current` and `history` (empty) when the record has no flow. An action on
    it adds what it did (`urged`, or the task, instance and version)."""

    id: int | None = None
    flow: FlowName | None = None
    revision: int | None = None
    state: str | None
    version: int | None = None
    initiator: Person | None = None
    current: list[FlowStep]
    history: list[FlowEvent]
    urged: int | None = None
    task: int | None = None
    instance: int | None = None


class Notification(Answer):
    """One of my notifications."""

    id: int
    kind: str
    app: str | None
    form: str | None
    record_id: int | None
    task_id: int | None
    data: dict[str, Json]
    read: bool
    created_at: str | None


class Notifications(Answer):
    """A page of my notifications, how many match, how many are unread."""

    items: list[Notification]
    total: int
    unread: int


class MarkedRead(Answer):
    """How many notifications were marked read."""

    read: int
