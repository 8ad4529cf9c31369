"""Record events (issue 11, item 3) end to end on SQLite and PostgreSQL: a test listener sees
every kind of change from the HTTP API, batches, a spreadsheet import, a public-link submit and
the CLI; installing the CRM with sample data announces nothing; a refusing synchronous listener
rolls the save back with its issue; an asynchronous listener's job is committed with the save
and absent when the save fails; a crashing listener is a logged 500 that writes nothing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from engine.core.context import ExecutionContext
from engine.core.errors import invalid
from engine.core.issues import Issue
from engine.forms.changes import LISTENERS, JobRequest, RecordChanged
from engine.jobs import JOB_KINDS, JobKind, RunningJob, register_kind
from engine.store.models import Job
from tests.auth.crm_org import API, installed_crm

NOTED = "test.record_events.noted"


def _noted(job: RunningJob, conn: Connection) -> None:
    """The job kind the asynchronous test listener queues (never run here)."""


if NOTED not in JOB_KINDS:
    register_kind(JobKind(NOTED, apply=_noted))


class Recorder:
    """A synchronous listener that keeps every call's events."""

    def __init__(self) -> None:
        self.calls: list[list[RecordChanged]] = []

    def __call__(
        self, conn: Connection, ctx: ExecutionContext, events: Sequence[RecordChanged]
    ) -> None:
        self.calls.append(list(events))

    def take(self) -> list[list[RecordChanged]]:
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The CRM with sample data and demo users, installed while a recorder listens; `seen` is
    that recorder (emptied after the install, whose calls are kept as `at_install`)."""
    seen = Recorder()
    with LISTENERS.listening("test.recorder", seen):
        for installed in installed_crm(request, tmp_path_factory):
            yield {**installed, "seen": seen, "at_install": seen.take()}


@pytest.fixture
def seen(crm: dict[str, Any]) -> Recorder:
    recorder: Recorder = crm["seen"]
    recorder.take()
    return recorder


def url(form: str, suffix: str = "") -> str:
    return f"{API}/apps/crm/forms/{form}/records{suffix}"


def count(crm: dict[str, Any], sql: str, **params: Any) -> int:
    with crm["engine"].connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def history_rows(crm: dict[str, Any]) -> int:
    return count(crm, "SELECT COUNT(*) FROM record_history")


def leads_named(crm: dict[str, Any], name: str) -> list[dict[str, Any]]:
    page = crm["clients"]["admin"].get(url("lead"), params={"filter": f'name = "{name}"'})
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def kinds(calls: list[list[RecordChanged]]) -> list[list[tuple[str, str, int]]]:
    return [[(e.kind, e.form, e.record_id) for e in call] for call in calls]


def test_installing_the_crm_with_sample_data_announces_nothing(crm: dict[str, Any]) -> None:
    assert crm["at_install"] == []
    # ... although its records went through the pipeline: they have history on channel import
    assert count(crm, "SELECT COUNT(*) FROM record_history WHERE channel = 'import'") >= 240


def test_every_kind_of_change_from_the_api(crm: dict[str, Any], seen: Recorder) -> None:
    admin, me = crm["clients"]["admin"], crm["ids"]["admin"]
    name = f"事件{uuid.uuid4().hex[:6]}"
    created = admin.post(url("lead"), json={"name": name, "company": "甲公司"})
    assert created.status_code == 201, created.text
    lead = created.json()
    [[event]] = seen.take()
    assert (event.kind, event.app, event.form, event.record_id, event.version) == (
        "created",
        "crm",
        "lead",
        lead["_id"],
        1,
    )
    assert (event.actor, event.channel, event.depth, event.path) == (me, "api", 0, "")
    assert event.changes["name"] == [None, name] and event.changes["company"] == [None, "甲公司"]

    patched = admin.patch(url("lead", f"/{lead['_id']}"), json={"company": "乙公司", "_version": 1})
    assert patched.status_code == 200, patched.text
    [[event]] = seen.take()
    assert (event.kind, event.version, dict(event.changes)) == (
        "updated",
        2,
        {"company": ["甲公司", "乙公司"]},
    )

    assert admin.delete(url("lead", f"/{lead['_id']}")).status_code == 204
    assert admin.post(url("lead", f"/{lead['_id']}/restore")).status_code == 200
    owner = crm["ids"]["rep_a1"]
    moved = admin.post(url("lead", "/transfer"), json={"ids": [lead["_id"]], "owner": owner})
    assert moved.status_code == 200, moved.text
    calls = seen.take()
    assert [[(e.kind, e.version, dict(e.changes)) for e in call] for call in calls] == [
        [("deleted", 3, {})],
        [("restored", 4, {})],
        [("transferred", 5, {"_owner": [me, owner]})],
    ]
    # the events say what the history says
    history = admin.get(url("lead", f"/{lead['_id']}/history")).json()
    assert [h["event"] for h in history] == ["create", "update", "delete", "restore", "transfer"]


def test_a_batch_is_one_call_for_its_creates(crm: dict[str, Any], seen: Recorder) -> None:
    admin = crm["clients"]["admin"]
    [lead] = admin.get(url("lead"), params={"limit": 1}).json()["items"]
    names = [f"批量{uuid.uuid4().hex[:6]}" for _ in range(2)]
    batch = admin.post(
        url("lead", "/batch"),
        json=[
            {"name": names[0]},
            {"_id": lead["_id"], "_version": lead["_version"], "note": "批量修改"},
            {"name": names[1]},
        ],
    )
    assert batch.status_code == 200, batch.text
    results = batch.json()["results"]
    calls = seen.take()
    assert kinds(calls) == [
        [("created", "lead", results[0]["_id"]), ("created", "lead", results[2]["_id"])],
        [("updated", "lead", lead["_id"])],
    ]
    assert [e.path for e in calls[0]] == ["[0]", "[2]"]
    assert calls[1][0].changes["note"] == [lead.get("note"), "批量修改"]


def test_an_updated_diff_carries_the_records_own_rollups(
    crm: dict[str, Any], seen: Recorder
) -> None:
    """A rule on a rollup can work: changing a contract's line items changes its `amount`
    (a rollup read at query time), and the event says so."""
    admin = crm["clients"]["admin"]
    [contract] = admin.get(
        url("contract"), params={"limit": 1, "filter": "amount > 0", "sort": "_id"}
    ).json()["items"]
    items = [{**row, "qty": row["qty"] + 1} for row in contract["items"]]
    patched = admin.patch(
        url("contract", f"/{contract['_id']}"),
        json={"items": items, "_version": contract["_version"]},
    )
    assert patched.status_code == 200, patched.text
    [[event]] = seen.take()
    old, new = event.changes["amount"]
    assert float(new) > float(old) and float(new) == float(patched.json()["amount"])
    assert "items" in event.changes


def _csv(rows: list[list[str]]) -> bytes:
    return ("\ufeff" + "\n".join(",".join(row) for row in rows) + "\n").encode()


def test_an_import_announces_its_records_as_a_batch(crm: dict[str, Any], seen: Recorder) -> None:
    admin = crm["clients"]["admin"]
    names = [f"导入{uuid.uuid4().hex[:6]}" for _ in range(3)]
    content = _csv([["姓名", "公司"], *[[n, "丙公司"] for n in names]])
    imported = admin.post(url("lead", "/import"), files={"file": ("leads.csv", content)})
    assert imported.status_code == 200, imported.text
    [call] = seen.take()
    assert [e.kind for e in call] == ["created"] * 3
    assert {e.channel for e in call} == {"import"}
    assert [e.changes["name"][1] for e in call] == names


def test_a_public_link_submit_is_announced(crm: dict[str, Any], seen: Recorder) -> None:
    admin, owner = crm["clients"]["admin"], crm["ids"]["rep_a1"]
    made = admin.post(
        f"{API}/apps/crm/forms/lead/links",
        json={"kind": "fill", "fields": ["name", "company"], "owner_id": owner},
    )
    assert made.status_code == 201, made.text
    name = f"访客{uuid.uuid4().hex[:6]}"
    anonymous = TestClient(crm["app"], raise_server_exceptions=False)
    submitted = anonymous.post(f"{API}/public/{made.json()['token']}", json={"name": name})
    assert submitted.status_code == 200, submitted.text
    [[event]] = seen.take()
    [lead] = leads_named(crm, name)
    assert (event.kind, event.record_id, event.channel, event.actor) == (
        "created",
        lead["_id"],
        "public_link",
        None,
    )


def refuse_named(name: str) -> Any:
    """A synchronous listener refusing any lead created or changed to `name`, at `name`."""

    def listener(conn: Connection, ctx: ExecutionContext, events: Sequence[RecordChanged]) -> None:
        bad = [
            e for e in events if e.form == "lead" and (e.changes.get("name") or [0, 0])[1] == name
        ]
        if bad:
            raise invalid(
                Issue("name", "refused", "规则拒绝了这个名称", "A rule refused this name").under(
                    e.path
                )
                for e in bad
            )

    return listener


def test_a_refusing_listener_rolls_the_save_back_with_its_issue(
    crm: dict[str, Any], seen: Recorder
) -> None:
    admin = crm["clients"]["admin"]
    name = f"拒绝{uuid.uuid4().hex[:6]}"
    before = history_rows(crm)
    with LISTENERS.listening("test.refuse", refuse_named(name)):
        refused = admin.post(url("lead"), json={"name": name})
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert [(i["path"], i["code"]) for i in error["issues"]] == [("name", "refused")]
        assert error["issues"][0]["message"] == "规则拒绝了这个名称"
        # in a batch the issue sits at the record's place, and the whole batch is refused
        batch = admin.post(
            url("lead", "/batch"),
            json=[{"name": f"好{name}"}, {"name": name}],
            headers={"Accept-Language": "en"},
        )
        assert batch.status_code == 422, batch.text
        assert [(i["path"], i["code"], i["message"]) for i in batch.json()["error"]["issues"]] == [
            ("[1].name", "refused", "A rule refused this name")
        ]
        # a change to the refused name: the stored record stays as it was
        [lead] = admin.get(url("lead"), params={"limit": 1}).json()["items"]
        patch = admin.patch(
            url("lead", f"/{lead['_id']}"), json={"name": name, "_version": lead["_version"]}
        )
        assert patch.status_code == 422, patch.text
        again = admin.get(url("lead", f"/{lead['_id']}")).json()
        assert again["name"] == lead["name"] and again["_version"] == lead["_version"]
    assert leads_named(crm, name) == [] and leads_named(crm, f"好{name}") == []
    assert history_rows(crm) == before  # neither the records nor their history
    # the recorder (registered first) saw the attempts; nothing of them was kept
    assert [len(call) for call in seen.take()] == [1, 2, 1]


def test_an_async_listeners_job_commits_with_the_save_and_only_then(
    crm: dict[str, Any], seen: Recorder
) -> None:
    admin = crm["clients"]["admin"]

    def note(events: Sequence[RecordChanged]) -> list[JobRequest]:
        return [
            JobRequest(NOTED, {"record": e.record_id, "kind": e.kind, "name": e.changes["name"][1]})
            for e in events
            if e.kind == "created" and e.form == "lead"
        ]

    kept, refused_name = f"入队{uuid.uuid4().hex[:6]}", f"拒绝{uuid.uuid4().hex[:6]}"

    def jobs_for(name: str) -> int:
        with crm["engine"].connect() as conn:
            payloads = conn.execute(select(Job.payload).where(Job.kind == NOTED)).scalars()
            return sum(1 for payload in payloads if payload["name"] == name)

    with (
        LISTENERS.listening("test.note", note, mode="async"),
        LISTENERS.listening("test.refuse", refuse_named(refused_name)),
    ):
        saved = admin.post(url("lead"), json={"name": kept})
        assert saved.status_code == 201, saved.text
        refused = admin.post(url("lead"), json={"name": refused_name})
        assert refused.status_code == 422, refused.text
    assert jobs_for(kept) == 1
    assert jobs_for(refused_name) == 0  # queued by the listener, rolled back with the save
    assert leads_named(crm, refused_name) == []


def test_a_crashing_listener_is_a_logged_error_and_writes_nothing(
    crm: dict[str, Any], seen: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    admin = crm["clients"]["admin"]

    def crash(conn: Connection, ctx: ExecutionContext, events: Sequence[RecordChanged]) -> None:
        raise RuntimeError("listener bug")

    name = f"崩溃{uuid.uuid4().hex[:6]}"
    before = history_rows(crm)
    with (
        caplog.at_level(logging.ERROR, logger="engine.forms.changes"),
        LISTENERS.listening("test.crash", crash),
    ):
        response = admin.post(url("lead"), json={"name": name}, headers={"Accept-Language": "en"})
    assert response.status_code == 500, response.text
    error = response.json()["error"]
    assert error["code"] == "listener_failed" and "test.crash" in error["message"]
    assert leads_named(crm, name) == [] and history_rows(crm) == before
    [logged] = [r for r in caplog.records if "test.crash" in r.getMessage()]
    assert logged.exc_info is not None and "listener bug" in str(logged.exc_info[1])


def test_the_cli_install_is_silent_and_its_import_is_announced(tmp_path: Path) -> None:
    """The CLI opens its own SQLite database; the listener is in this process all the same."""
    from typer.testing import CliRunner

    from engine.cli import app

    runner, data = CliRunner(), str(tmp_path / "data")
    recorder = Recorder()
    with LISTENERS.listening("test.cli", recorder):
        installed = runner.invoke(
            app, ["app", "install", "crm", "--sample-data", "--data-dir", data]
        )
        assert installed.exit_code == 0, installed.output
        assert recorder.take() == []
        sheet = tmp_path / "leads.csv"
        sheet.write_bytes(_csv([["姓名"], ["命令行一"], ["命令行二"]]))
        imported = runner.invoke(
            app, ["records", "import", "crm", "lead", str(sheet), "--data-dir", data]
        )
        assert imported.exit_code == 0, imported.output
    [call] = recorder.take()
    assert [(e.kind, e.channel, e.changes["name"][1]) for e in call] == [
        ("created", "import", "命令行一"),
        ("created", "import", "命令行二"),
    ]


def test_a_listener_writing_in_the_transaction_cascades_one_level_deeper(
    crm: dict[str, Any], seen: Recorder
) -> None:
    """What a rule will do: on a new lead, write another record through the pipeline with
    `ctx.nested(channel="rule")`; its event says depth 1, channel rule, and a refusal of the
    nested record rolls back both."""
    from engine.forms import apps
    from engine.forms.records import Writer

    admin = crm["clients"]["admin"]
    name = f"级联{uuid.uuid4().hex[:6]}"

    def cascade(conn: Connection, ctx: ExecutionContext, events: Sequence[RecordChanged]) -> None:
        for event in events:
            if event.depth == 0 and event.kind == "created" and event.form == "lead":
                loaded = apps.load(conn, "crm")
                nested = ctx.nested(channel="rule")
                writer = Writer(loaded.layout, loaded.id, loaded.form("lead"), nested)
                follow = f"{event.changes['name'][1]}-跟进"
                writer.create_many(conn, [{"name": follow}], nested.actor)

    with LISTENERS.listening("test.cascade", cascade):
        created = admin.post(url("lead"), json={"name": name})
        assert created.status_code == 201, created.text
        calls = seen.take()
        with LISTENERS.listening("test.refuse", refuse_named(f"拒{name}-跟进")):
            refused = admin.post(url("lead"), json={"name": f"拒{name}"})
    assert [[(e.kind, e.channel, e.depth) for e in call] for call in calls] == [
        [("created", "api", 0)],
        [("created", "rule", 1)],
    ]
    [follow] = leads_named(crm, f"{name}-跟进")
    assert calls[1][0].record_id == follow["_id"]
    assert refused.status_code == 422, refused.text
    assert leads_named(crm, f"拒{name}") == [] and leads_named(crm, f"拒{name}-跟进") == []
