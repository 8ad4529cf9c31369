"""One CRM installation with sample data, its demo users signed in and a test role
(`auditor`) added, on SQLite or PostgreSQL: what the permission and attack tests share."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from engine.api.main import create_app
from engine.auth.directory import ensure_admin
from engine.settings import Settings
from engine.store import prepare_database
from tests.store_fixtures import DatabaseTemplates

API = "/api/v1"
TOKEN = "matrix-admin-token"
ADMIN_PASSWORD = "admin-password-1"
PACK = Path(__file__).resolve().parents[2] / "apps_catalog" / "crm"
APP = json.loads((PACK / "app.json").read_text(encoding="utf-8"))
USERS = json.loads((PACK / "sample_users.json").read_text(encoding="utf-8"))
AUDITOR: dict[str, Any] = {
    "key": "auditor",
    "name": {"zh": "审计", "en": "Auditor"},
    "forms": {
        "customer": {
            "actions": ["view", "create", "edit", "export", "import"],
            "scope": {"expr": 'level = "A"'},
            "fields": {"phone": "hidden", "annual_purchase": "read_only"},
        },
        "contact": {
            "actions": ["view", "export"],
            "scope": "department",
            "fields": {"email": "hidden"},
        },
    },
}


def installed_crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The body of a module-scoped fixture parametrized by database ("sqlite"/"postgres"):
    `clients` by username (each with its session's Bearer token; `admin` uses the admin token),
    `tokens` (session tokens), `ids` and `names` of users, the `app` and its `engine`.

    The installation is built once per session (tests/store_fixtures.py DatabaseTemplates);
    each module gets a database of its own copied from it."""
    for crm, _connect in copied_crm(request, tmp_path_factory.mktemp("crm")):
        yield crm


def copied_crm(
    request: pytest.FixtureRequest, tmp: Path
) -> Iterator[tuple[dict[str, Any], Callable[[], Engine]]]:
    """`installed_crm`'s answer on a copy whose files are in `tmp`, with the function that
    makes new engines on the copy."""
    templates: DatabaseTemplates = request.getfixturevalue("database_templates")
    with templates.copy(request, "crm_org", _install, tmp) as (connect, facts):
        engine = connect()
        app = create_app(Settings(data_dir=tmp, admin_token=SecretStr(TOKEN)))
        app.state.engine = engine
        clients = {"admin": _client(app, TOKEN)}
        for username, token in facts["tokens"].items():
            clients[username] = _client(app, token)
        ids: dict[str, int] = facts["ids"]
        try:
            yield (
                {
                    "clients": clients,
                    "tokens": dict(facts["tokens"]),
                    "ids": dict(ids),
                    "names": {v: k for k, v in ids.items()},
                    "installed_on": dt.date.fromisoformat(facts["installed_on"]),
                    "engine": engine,
                    "app": app,
                },
                connect,
            )
        finally:
            engine.dispose()


def _client(app: FastAPI, token: str) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _install(engine: Engine, tmp: Path) -> dict[str, Any]:
    """The template build: migrate, install the CRM with its sample data, add the auditor,
    sign every demo user in; answers the session `tokens` and the user `ids` by username."""
    prepare_database(engine)
    with engine.begin() as conn:
        ensure_admin(conn, ADMIN_PASSWORD)
    app = create_app(Settings(data_dir=tmp, admin_token=SecretStr(TOKEN)))
    app.state.engine = engine
    admin = _client(app, TOKEN)
    assert admin.post(f"{API}/catalog/crm/install", json={"sample_data": True}).status_code == 201
    # The day the sample dates were moved to (the organisation's zone): the template is built
    # once per session, so a session that runs past midnight there uses it on a later day.
    installed_on = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    _add_auditor(admin)
    tokens = {}
    for user in [*USERS["users"], {"username": "auditor"}]:
        client = TestClient(app, raise_server_exceptions=False)
        login = client.post(
            f"{API}/auth/login", json={"username": user["username"], "password": USERS["password"]}
        )
        assert login.status_code == 200, login.text
        tokens[user["username"]] = login.json()["token"]
    ids = {u["username"]: u["id"] for u in admin.get(f"{API}/users", params={"limit": 100}).json()}
    return {"tokens": tokens, "ids": ids, "installed_on": installed_on}


def _add_auditor(admin: TestClient) -> None:
    """Publish the `auditor` role and give it to a new user in 销售一组."""
    definition = admin.get(f"{API}/apps/crm").json()
    definition["roles"].append(AUDITOR)
    published = admin.put(f"{API}/apps/crm", json=definition)
    assert published.status_code == 200, published.text
    team = next(d for d in admin.get(f"{API}/departments").json() if d["name"] == "销售一组")
    user = admin.post(
        f"{API}/users",
        json={
            "username": "auditor",
            "display_name": "审计员",
            "department_id": team["id"],
            "password": USERS["password"],
        },
    )
    assert user.status_code == 201, user.text
    role = next(
        r for r in admin.get(f"{API}/roles", params={"app": "crm"}).json() if r["key"] == "auditor"
    )
    assert (
        admin.post(
            f"{API}/roles/{role['id']}/members", json={"user_id": user.json()["id"]}
        ).status_code
        == 201
    )
