"""The catalog: app packs shipped in `apps_catalog/<pack>/` (app.json, sample_data.json,
sample_users.json).

`install(conn, pack, sample_data=...)` installs a pack through the same import path as
`POST /apps/import`, so a catalog app is just configuration, never code. With sample data it
also creates the pack's sample organisation (departments, users with a documented initial
password, and their app roles) and resolves the usernames the sample records use for owners
(`_owner` and user fields) to those users' ids (as every pack import does).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from engine import apps as assembly
from engine.auth.credentials import hash_password
from engine.core.context import ExecutionContext
from engine.core.errors import not_found
from engine.forms import apps
from engine.store.models import Department, Role, RoleMember, User, utcnow

CATALOG_DIR = Path(__file__).resolve().parents[1] / "apps_catalog"


def _pack_dir(key: str) -> Path:
    path = CATALOG_DIR / key
    if not key.isidentifier() or not (path / "app.json").is_file():
        raise not_found()
    return path


def available() -> list[dict[str, Any]]:
    """Every pack in the catalog: key, name, version, description, whether it has sample data."""
    packs = []
    for path in sorted(CATALOG_DIR.glob("*/app.json")):
        definition = json.loads(path.read_text(encoding="utf-8"))
        packs.append(
            {
                "key": definition["key"],
                "name": definition.get("name"),
                "version": definition.get("version"),
                "description": definition.get("description"),
                "sample_data": (path.parent / "sample_data.json").is_file(),
            }
        )
    return packs


def load_pack(key: str, *, sample_data: bool) -> dict[str, Any]:
    """A catalog pack as an import document (with its sample records when asked)."""
    path = _pack_dir(key)
    pack: dict[str, Any] = json.loads((path / "app.json").read_text(encoding="utf-8"))
    if sample_data and (path / "sample_data.json").is_file():
        pack["data"] = json.loads((path / "sample_data.json").read_text(encoding="utf-8"))
    return pack


def install(
    conn: Connection, key: str, *, sample_data: bool, ctx: ExecutionContext
) -> apps.LoadedApp:
    """Install catalog pack `key` (409 if an app with its key exists) as `ctx`'s actor."""
    pack = load_pack(key, sample_data=sample_data)
    data = pack.pop("data", None)
    app = assembly.import_pack(conn, pack, mode="create", ctx=ctx).app
    if data:
        users_file = _pack_dir(key) / "sample_users.json"
        if users_file.is_file():
            _sample_users(conn, app, users_file)
        apps.load_records(conn, app, data, ctx)  # sample records name their owners by username
    return app


def _sample_users(conn: Connection, app: apps.LoadedApp, path: Path) -> None:
    """Create the pack's sample departments, users and role memberships (existing users are
    kept as they are)."""
    sample = json.loads(path.read_text(encoding="utf-8"))
    departments: dict[str, int] = {}
    for department in sample.get("departments", []):
        parent = departments.get(department.get("parent", ""))
        found = conn.execute(
            select(Department.id).where(
                Department.name == department["name"],
                Department.parent_id.is_(None)
                if parent is None
                else Department.parent_id == parent,
            )
        ).scalar_one_or_none()
        if found is None:
            found = conn.execute(
                insert(Department)
                .values(name=department["name"], parent_id=parent, sort=len(departments))
                .returning(Department.id)
            ).scalar_one()
        departments[department["key"]] = found
    password_hash = hash_password(sample["password"])
    ids: dict[str, int] = {}
    for user in sample.get("users", []):
        found = conn.execute(
            select(User.id).where(User.username == user["username"])
        ).scalar_one_or_none()
        if found is None:
            found = conn.execute(
                insert(User)
                .values(
                    username=user["username"],
                    display_name=user["display_name"],
                    department_id=departments.get(user.get("department", "")),
                    password_hash=password_hash,
                    password_changed_at=utcnow(),
                    is_active=True,
                    is_admin=False,
                    created_at=utcnow(),
                )
                .returning(User.id)
            ).scalar_one()
        ids[user["username"]] = found
    for user in sample.get("users", []):
        if user.get("manager") in ids:
            conn.execute(
                update(User)
                .where(User.id == ids[user["username"]])
                .values(manager_id=ids[user["manager"]])
            )
        for role_key in user.get("roles", []):
            role_id = conn.execute(
                select(Role.id).where(Role.app_id == app.id, Role.key == role_key)
            ).scalar_one_or_none()
            if role_id is not None:
                conn.execute(
                    insert(RoleMember).values(role_id=role_id, user_id=ids[user["username"]])
                )
    for department in sample.get("departments", []):
        if department.get("head") in ids:
            conn.execute(
                update(Department)
                .where(Department.id == departments[department["key"]])
                .values(head_user_id=ids[department["head"]])
            )
