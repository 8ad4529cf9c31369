"""The rule action `notify` (issue 14) on the stock CRM, SQLite and PostgreSQL: recipients by
user, role, field, owner and actor (deduplicated, inactive users skipped), sandboxed Jinja2
text over the record, the rows the inbox shows, and the checks of its settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.core.errors import ServiceError
from engine.flows.inbox import list_notifications
from engine.flows.models import Notification
from tests.rules.acts_fixtures import Acts, check, install, rolled_back

NOTICE = {
    "type": "notify",
    "to": [
        {"user": "director"},
        {"role": "sales_rep"},
        {"field": "owner"},
        {"owner": True},
        {"actor": True},
    ],
    "title": "新线索：{{ record_title }}（{{ company }}）",
    "body": "{{ app }} · {{ form }} #{{ record_id }}，负责人 {{ owner.name }}，来源 {{ source }}",
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    yield from install(request, tmp_path_factory)


def _rows(conn: Any, record_id: int) -> list[Any]:
    return list(
        conn.execute(
            select(Notification.__table__)
            .where(Notification.record_id == record_id, Notification.kind == "rule")
            .order_by(Notification.id)
        )
    )


def test_renders_and_notifies_each_active_recipient_once(crm: dict[str, Any]) -> None:
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        acts.actor = acts.user("gm")
        finance = acts.user("finance")
        lead = acts.create(
            "lead",
            {"name": "李雷", "company": "韩梅梅贸易", "source": "website", "owner": finance},
            owner=acts.user("rep_a1"),
        )
        acts.deactivate("rep_b2")  # a deactivated role member is skipped
        outcome = acts.run(NOTICE, lead)
        names = ["director", "rep_a1", "rep_a2", "rep_b1", "finance", "gm"]
        members = sorted(acts.user(n) for n in ("rep_a1", "rep_a2", "rep_b1"))
        expected = [acts.user("director"), *members, finance, acts.user("gm")]
        assert outcome["notified"] == expected  # entry order; rep_a1 (role and owner) once
        assert sorted(outcome["notified"]) == sorted(acts.user(n) for n in names)
        assert outcome["title"] == "新线索：李雷（韩梅梅贸易）"
        assert outcome["body"] == f"客户管理 · 线索 #{lead}，负责人 褚丽（财务），来源 website"
        rows = _rows(conn, lead)
        assert [r.user_id for r in rows] == expected
        first = rows[0]
        assert first.data["title"] == outcome["title"] and first.data["body"] == outcome["body"]
        assert (first.data["app"], first.data["form"], first.data["rule"]) == ("crm", "lead", "r1")
        listed = list_notifications(conn, acts.user("director"), unread=True)["items"][0]
        assert listed["kind"] == "rule" and listed["record_id"] == lead
        assert (listed["app"], listed["form"]) == ("crm", "lead")


def test_nobody_left_is_an_outcome_not_an_error(crm: dict[str, Any]) -> None:
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        lead = acts.create("lead", {"name": "无人"}, owner=acts.user("rep_b1"))
        acts.deactivate("rep_b1")
        action = {"type": "notify", "to": [{"owner": True}, {"user": "ghost"}], "title": "x"}
        assert acts.run(action, lead)["notified"] == []
        assert _rows(conn, lead) == []


def test_sandbox_refuses_unsafe_templates(crm: dict[str, Any]) -> None:
    with rolled_back(crm["engine"]) as conn:
        acts = Acts(conn)
        lead = acts.create("lead", {"name": "沙箱"}, owner=acts.user("rep_a1"))
        escape = {"type": "notify", "to": [{"owner": True}], "title": "{{ name.__class__ }}"}
        # Python internals read as nothing in the sandbox
        assert acts.run(escape, lead)["title"] == ""
        huge = {
            "type": "notify",
            "to": [{"owner": True}],
            "title": "t",
            "body": "{% for i in range(100000) %}x{% endfor %}",
        }
        with pytest.raises(ServiceError) as caught:
            acts.run(huge, lead)
        assert caught.value.code == "template_error"
        assert caught.value.issues[0].path == "body"
        call = {"type": "notify", "to": [{"owner": True}], "title": "{{ 1 // 0 }}"}
        with pytest.raises(ServiceError):
            acts.run(call, lead)
        long = {"type": "notify", "to": [{"owner": True}], "title": "{{ name * 500 }}"}
        assert len(acts.run(long, lead)["title"]) == 200
        count = conn.execute(select(func.count()).select_from(Notification)).scalar_one()
        assert count >= 2


@pytest.mark.parametrize(
    ("action", "path", "code"),
    [
        ({"to": [{"owner": True}], "title": "{{ name"}, "title", "template_syntax"),
        ({"to": [{"owner": True}], "title": "ok", "body": "{{ nmae }}"}, "body", "unknown_field"),
        ({"to": [{"role": "nobody"}], "title": "x"}, "to[0].role", "unknown_role"),
        ({"to": [{"field": "company"}], "title": "x"}, "to[0].field", "not_a_user_field"),
        ({"to": [{"field": "nope"}], "title": "x"}, "to[0].field", "unknown_field"),
        ({"to": [], "title": "x"}, "to", "too_short"),
        ({"to": [{"owner": True}]}, "title", "missing"),
        ({"to": [{"owner": True, "actor": True}], "title": "x"}, "to[0]", "value_error"),
        ({"to": [{"owner": False}], "title": "x"}, "to[0].owner", "literal_error"),
    ],
)
def test_checks(crm: dict[str, Any], action: dict[str, Any], path: str, code: str) -> None:
    with crm["engine"].connect() as conn:
        issues = check(conn, {"type": "notify", **action})
    found = [(i.path, i.code) for i in issues]
    assert (f"rules[0].actions[0].{path}", code) in found, found
    assert all(i.message_zh and i.message_en for i in issues)


def test_good_settings_pass_the_checks(crm: dict[str, Any]) -> None:
    with crm["engine"].connect() as conn:
        assert check(conn, NOTICE) == []
        syntax = check(conn, {"type": "notify", "to": [{"owner": True}], "title": "a\n{% if %}"})
        assert syntax[0].line == 2
