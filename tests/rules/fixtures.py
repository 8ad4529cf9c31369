"""What the rule tests share: a small sales app (customers, deals, projects, notes), a few
users, and `Rules`, which publishes rules, writes records one transaction each (as the API
does) and runs the job worker."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from engine import apps
from engine.auth.directory import create_user, ensure_admin
from engine.core.context import Actor, ExecutionContext
from engine.core.registry import Registry
from engine.flows import listeners as flow_listeners
from engine.forms.records import history
from engine.forms.service import open_form
from engine.jobs import JOB_KINDS, JobKind, Worker
from engine.rules import listeners
from engine.rules.models import RuleRun
from engine.rules.runtime import JOB_KIND
from engine.settings import Settings
from tests.contexts import context
from tests.store_fixtures import prepare_fresh

NOW = dt.datetime(2026, 12, 6, 1, 0, tzinfo=dt.UTC)
PEOPLE = ("alice", "bob")


def _form(key: str, zh: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"key": key, "name": {"zh": zh, "en": key}, "title_field": "name", "fields": fields}


FORMS: list[dict[str, Any]] = [
    _form(
        "customer",
        "客户",
        [
            {"key": "name", "type": "text", "label": "名称", "required": True},
            {"key": "city", "type": "text", "label": "城市"},
            {"key": "level", "type": "text", "label": "等级"},
            {"key": "touched", "type": "integer", "label": "次数"},
        ],
    ),
    _form(
        "deal",
        "商机",
        [
            {"key": "name", "type": "text", "label": "名称", "required": True},
            {
                "key": "stage",
                "type": "select",
                "label": "阶段",
                "options": [
                    {"value": "open", "label": "进行中"},
                    {"value": "won", "label": "已签约"},
                    {"value": "lost", "label": "输单"},
                ],
            },
            {"key": "amount", "type": "money", "label": "金额"},
            {"key": "customer", "type": "relation", "label": "客户", "target": "customer"},
            {"key": "note", "type": "text", "label": "备注"},
            {"key": "close", "type": "date", "label": "签约日"},
            {"key": "bounce", "type": "integer", "label": "来回"},
        ],
    ),
    _form(
        "project",
        "项目",
        [
            {"key": "name", "type": "text", "label": "名称", "required": True},
            {"key": "customer", "type": "relation", "label": "客户", "target": "customer"},
            {"key": "amount", "type": "money", "label": "合同金额"},
            {"key": "code", "type": "text", "label": "编号", "max": 8},
            {"key": "bounce", "type": "integer", "label": "来回"},
        ],
    ),
]


def sales_app(
    rules: list[dict[str, Any]] | None = None, flow: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The sales app with `rules` and, when given, `flow` bound to deals."""
    found: dict[str, Any] = {
        "format": "jimu.app/1",
        "key": "sales",
        "name": {"zh": "销售", "en": "Sales"},
        "version": "1.0.0",
        "forms": copy.deepcopy(FORMS),
        "roles": [
            {
                "key": "designer",
                "name": {"zh": "搭建者", "en": "Designer"},
                "builder": True,
                "forms": {f["key"]: {"actions": ["view"], "scope": "all"} for f in FORMS},
            },
            {
                "key": "rep",
                "name": {"zh": "销售", "en": "Rep"},
                "forms": {
                    f["key"]: {"actions": ["view", "create", "edit", "delete"], "scope": "all"}
                    for f in FORMS
                },
            },
        ],
        "rules": rules or [],
    }
    if flow is not None:
        found["flows"] = [flow]
        found["forms"][1]["flow"] = flow["key"]
    return found


def rule(
    key: str, on: dict[str, Any], actions: list[dict[str, Any]], **more: Any
) -> dict[str, Any]:
    """A rule on deals."""
    return {
        "key": key,
        "name": {"zh": f"规则{key}", "en": f"Rule {key}"},
        "form": "deal",
        "on": on,
        "actions": actions,
        **more,
    }


@dataclass
class Rules:
    """The sales app on one database, the demo users' ids, and helpers."""

    engine: Engine
    users: dict[str, int]
    now: dt.datetime = NOW

    def ctx(self, user: str | None = "alice", channel: str = "api") -> ExecutionContext:
        uid = self.users[user] if user is not None else None
        return context(Actor(uid, channel), now=self.now)

    def revision(self, conn: Connection) -> int:
        from engine.forms import apps as forms_apps

        return forms_apps.load(conn, "sales").revision

    def publish(self, *rules: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            apps.publish(
                conn,
                "sales",
                sales_app(list(rules)),
                revision=self.revision(conn),
                plan_hash=None,
                ctx=self.ctx(None),
            )

    def create(self, form: str = "deal", user: str | None = "alice", **values: Any) -> int:
        values.setdefault("name", f"{form} 1")
        with self.engine.begin() as conn:
            return open_form(self.ctx(user), conn, "sales", form).create_many([values])[0]

    def get(self, form: str, record_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return open_form(self.ctx(None), conn, "sales", form).get(record_id)

    def update(self, form: str, record_id: int, user: str = "alice", **values: Any) -> None:
        version = self.get(form, record_id)["_version"]
        with self.engine.begin() as conn:
            open_form(self.ctx(user), conn, "sales", form).update(
                record_id, {**values, "_version": version}
            )

    def delete(self, form: str, record_id: int, user: str = "alice") -> None:
        with self.engine.begin() as conn:
            open_form(self.ctx(user), conn, "sales", form).delete(record_id)

    def records(self, form: str, filter: str | None = None) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            service = open_form(self.ctx(None), conn, "sales", form)
            return service.list(filter=filter, sort="_id", limit=1000).items

    def history(self, form: str, record_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            service = open_form(self.ctx(None), conn, "sales", form)
            return history(conn, service.form, record_id)

    def runs(self, key: str | None = None) -> list[Any]:
        query = select(RuleRun.__table__).order_by(RuleRun.id)
        if key is not None:
            query = query.where(RuleRun.rule_key == key)
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())

    def work(self) -> int:
        """Run every due job (the rules' ones among them); how many ran."""
        kinds: Registry[JobKind] = Registry("job kind")
        kinds.register(JOB_KIND, JOB_KINDS[JOB_KIND])
        worker = Worker(self.engine, Settings(timezone="Asia/Shanghai"), kinds=kinds)
        return worker.drain()


def set_up(engine: Engine, *rules: dict[str, Any], flow: dict[str, Any] | None = None) -> Rules:
    """The sales app with `rules` (and `flow` bound to deals), and the demo users, on
    `engine`."""
    prepare_fresh(engine)
    flow_listeners.register()
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
        apps.create(conn, sales_app(list(rules), flow), context(Actor(None, "api"), now=NOW))
    return Rules(engine, users)
