"""The catalog: app packs shipped in `apps_catalog/<pack>/` (app.json, sample_data.json,
sample_users.json).

`install(conn, pack, sample_data=...)` installs a pack through the same import path as
`POST /apps/import`, so a catalog app is just configuration, never code. With sample data it
also creates the pack's sample organisation (departments, users with a documented initial
password, and their app roles) and resolves the usernames the sample records use for owners
(`_owner` and user fields) to those users' ids (as every pack import does).

Sample records are a snapshot taken on a day named in the pack's `sample_dates.json`
(`{"today": "2026-06-30"}`, the last day of a month). Installing them moves every `date` value
(fields and subform row fields) to the install day in the organisation's time zone
(`move_sample_dates`): the snapshot's month becomes the install month, each date keeping its day
of the month (clamped to the month's end); what had happened by the snapshot's "today" is kept
on or before the install day, what was planned after it on or after. So "this month" and "the
last 12 months" hold data on whatever day the pack is installed, and every order between two
dates (end after start, payment after signing) holds as in the file. `sample_data.json` itself
stays as generated, and imports as it is through `POST /apps/import`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
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
    dates_file = _pack_dir(key) / "sample_dates.json"
    if data and dates_file.is_file():
        snapshot = json.loads(dates_file.read_text(encoding="utf-8"))["today"]
        data = move_sample_dates(pack, data, dt.date.fromisoformat(snapshot), ctx.today)
    app = assembly.import_pack(conn, pack, mode="create", ctx=ctx).app
    if data:
        users_file = _pack_dir(key) / "sample_users.json"
        if users_file.is_file():
            _sample_users(conn, app, users_file)
        apps.load_records(conn, app, data, ctx)  # sample records name their owners by username
    return app


def _add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved by whole months, its day of the month clamped to the month's end."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return day.replace(year=year, month=month, day=min(day.day, (following - dt.timedelta(1)).day))


def move_sample_date(day: dt.date, snapshot: dt.date, today: dt.date) -> dt.date:
    """Where a sample date taken on `snapshot` falls when the pack is installed on `today`:
    moved by the months between the two, then kept on the same side of `today` as it was of
    `snapshot` (past on or before it, planned on or after it)."""
    moved = _add_months(day, (today.year - snapshot.year) * 12 + today.month - snapshot.month)
    return min(moved, today) if day <= snapshot else max(moved, today)


def _date_keys(fields: list[Mapping[str, Any]]) -> tuple[set[str], dict[str, set[str]]]:
    """The keys of `fields` holding dates, and those of each subform's rows."""
    dates = {f["key"] for f in fields if f.get("type") == "date"}
    subforms = {
        f["key"]: _date_keys(f.get("fields", []))[0] for f in fields if f.get("type") == "subform"
    }
    return dates, subforms


def move_sample_dates(
    pack: Mapping[str, Any], data: dict[str, list[Any]], snapshot: dt.date, today: dt.date
) -> dict[str, list[Any]]:
    """A copy of the sample `data` (form key -> records) with every well-formed date of the
    pack's date fields (and subform row fields) moved by `move_sample_date`; anything else is
    left for the import to judge."""

    def moved(value: Any) -> Any:
        try:
            day = dt.date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            day = None
        return value if day is None else move_sample_date(day, snapshot, today).isoformat()

    keys = {form["key"]: _date_keys(form.get("fields", [])) for form in pack.get("forms", [])}
    result: dict[str, list[Any]] = {}
    for form, records in data.items():
        dates, subforms = keys.get(form, (set(), {}))
        result[form] = []
        for record in records:
            if not isinstance(record, dict):
                result[form].append(record)
                continue
            copy = {k: moved(v) if k in dates else v for k, v in record.items()}
            for sub, sub_dates in subforms.items():
                if sub_dates and isinstance(copy.get(sub), list):
                    copy[sub] = [
                        {k: moved(v) if k in sub_dates else v for k, v in row.items()}
                        if isinstance(row, dict)
                        else row
                        for row in copy[sub]
                    ]
            result[form].append(copy)
    return result


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
