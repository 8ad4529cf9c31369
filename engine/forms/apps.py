"""Apps: create, read, plan and publish definitions, export and import packs.

Every function takes the caller's connection and runs inside its transaction, so a publish
(definition row, ids, DDL, conversions, recomputation) is all-or-nothing. Layouts are cached
per (app id, revision): a revision is immutable, so the cache never goes stale.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from engine.core.issues import DefinitionError
from engine.forms.compile import validate_app
from engine.forms.errors import ServiceError, not_found
from engine.forms.field_types.links import RelationField
from engine.forms.layout import AppLayout, FormLayout
from engine.forms.messages import issue
from engine.forms.migrate import Plan, apply_plan, make_plan, recorded
from engine.forms.query import Reader
from engine.forms.records import Actor, Writer
from engine.forms.spec import AppSpec
from engine.store.models import App, AppVersion, FormField

_LAYOUTS: dict[tuple[int, int], AppLayout] = {}
EXPORT_PAGE = 1000
COMPUTED_TYPES = frozenset({"formula", "lookup", "rollup", "created_at", "created_by", "updated_at", "updated_by"})


@dataclass(frozen=True)
class LoadedApp:
    """An installed app at its live revision."""

    id: int
    key: str
    revision: int
    definition: dict[str, Any]
    layout: AppLayout

    def form(self, key: str) -> FormLayout:
        found = self.layout.forms.get(key)
        if found is None:
            raise not_found()
        return found


def validated(data: Any) -> AppSpec:
    """The definition as a spec, or a 422 with every issue."""
    try:
        return validate_app(data)
    except DefinitionError as exc:
        raise ServiceError(422, "invalid_definition", exc.issues) from None


def definition_of(spec: AppSpec) -> dict[str, Any]:
    """The JSON stored for a published definition (without pack data)."""
    return spec.model_dump(mode="json", exclude_none=True, exclude={"data"})


def list_apps(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(App.__table__).where(App.current_revision.is_not(None)).order_by(App.id)).all()
    result = []
    for app in rows:
        version = conn.execute(
            select(AppVersion.definition).where(AppVersion.app_id == app.id, AppVersion.revision == app.current_revision)
        ).scalar_one()
        result.append({"key": app.key, "name": app.name, "version": version.get("version"), "_revision": app.current_revision})
    return result


def load(conn: Connection, key: str) -> LoadedApp:
    """The live revision of app `key` (404 when there is none)."""
    app = conn.execute(select(App.__table__).where(App.key == key)).first()
    if app is None or app.current_revision is None:
        raise not_found()
    definition = conn.execute(
        select(AppVersion.definition).where(AppVersion.app_id == app.id, AppVersion.revision == app.current_revision)
    ).scalar_one()
    cache_key = (app.id, app.current_revision)
    layout = _LAYOUTS.get(cache_key)
    if layout is None:
        layout = _layout_from_records(conn, app.id, validate_app(definition))
        _LAYOUTS[cache_key] = layout
    return LoadedApp(app.id, app.key, app.current_revision, definition, layout)


def _layout_from_records(conn: Connection, app_id: int, spec: AppSpec) -> AppLayout:
    rec = recorded(conn, app_id)
    ids: dict[tuple[str, ...], int] = {}
    for form in spec.forms:
        form_row = rec.forms[form.key]
        ids[(form.key,)] = form_row.id
        live = rec.fields.get((form_row.id, None), {})
        for f in form.fields:
            ids[(form.key, f.key)] = live[f.key].id
            for sub in getattr(f, "fields", None) or []:
                ids[(form.key, f.key, sub.key)] = rec.fields[(form_row.id, live[f.key].id)][sub.key].id
    return AppLayout.build(spec, ids)


def plan(conn: Connection, key: str | None, data: Any) -> Plan:
    """The migration plan a publish of `data` would apply (nothing changes)."""
    spec = validated(data)
    if key is not None and spec.key != key:
        raise _key_mismatch(spec.key, key)
    current = _current(conn, spec.key)
    result, _ = make_plan(conn, current.id if current else None, spec, current.layout if current else None)
    return result


def _current(conn: Connection, key: str) -> LoadedApp | None:
    try:
        return load(conn, key)
    except ServiceError:
        return None


def _key_mismatch(given: str, expected: str) -> ServiceError:
    from engine.core.issues import Issue

    return ServiceError(
        422,
        "invalid_definition",
        [Issue("key", "key_mismatch", f"应用标识应为 {expected}，而不是 {given}", f"The app key must be {expected}, not {given}")],
    )


def create(conn: Connection, data: Any, actor: Actor) -> tuple[LoadedApp, Plan]:
    """Install a new app from a definition (409 when the key exists)."""
    spec = validated(data)
    if conn.execute(select(App.id).where(App.key == spec.key)).first() is not None:
        raise ServiceError(409, "app_exists")
    app_id = conn.execute(
        insert(App).values(key=spec.key, name=_name(spec), created_at=_now(), updated_at=_now()).returning(App.id)
    ).scalar_one()
    return _publish(conn, app_id, spec, None, actor)


def publish(
    conn: Connection, key: str, data: Any, *, revision: Any, plan_hash: str | None, actor: Actor
) -> tuple[LoadedApp, Plan]:
    """Publish a new revision; `revision` must be the live one (409 otherwise), and the plan the caller saw."""
    spec = validated(data)
    if spec.key != key:
        raise _key_mismatch(spec.key, key)
    current = load(conn, key)
    if revision != current.revision:
        raise ServiceError(409, "stale_revision")
    return _publish(conn, current.id, spec, current, actor, plan_hash)


def _publish(
    conn: Connection, app_id: int, spec: AppSpec, current: LoadedApp | None, actor: Actor, plan_hash: str | None = None
) -> tuple[LoadedApp, Plan]:
    steps, provisional = make_plan(conn, app_id, spec, current.layout if current else None)
    if plan_hash is not None and plan_hash != steps.hash:
        raise ServiceError(409, "plan_changed")
    final = apply_plan(conn, app_id, steps, provisional, current.layout if current else None)
    revision = (current.revision if current else 0) + 1
    definition = definition_of(spec)
    conn.execute(
        insert(AppVersion).values(
            app_id=app_id, revision=revision, definition=definition, created_at=_now(), created_by=actor.user_id
        )
    )
    conn.execute(update(App).where(App.id == app_id).values(current_revision=revision, name=_name(spec), updated_at=_now()))
    _LAYOUTS[(app_id, revision)] = final
    return LoadedApp(app_id, spec.key, revision, definition, final), steps


def _name(spec: AppSpec) -> dict[str, Any]:
    return spec.name if isinstance(spec.name, dict) else spec.name.model_dump(exclude_none=True) if not isinstance(spec.name, str) else {"zh": spec.name}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- packs -----------------------------------------------------------------------------------


def export_pack(conn: Connection, key: str, *, data: bool) -> dict[str, Any]:
    """The app's definition, with every live record when `data` (relations as `_id`s)."""
    app = load(conn, key)
    pack = dict(app.definition)
    if data:
        pack["data"] = {form.key: _export_records(conn, app, form) for form in app.layout.forms.values()}
    return pack


def _export_records(conn: Connection, app: LoadedApp, form: FormLayout) -> list[dict[str, Any]]:
    reader = Reader(app.layout, form)
    records: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = reader.list(conn, sort="_id", limit=EXPORT_PAGE, offset=offset, count=False)
        records.extend(_portable(form, item) for item in page.items)
        if len(page.items) < EXPORT_PAGE:
            return records
        offset += EXPORT_PAGE


def _portable(form: FormLayout, item: dict[str, Any]) -> dict[str, Any]:
    """A read record as import input: computed values dropped, references as plain ids."""
    result: dict[str, Any] = {}
    for key, value in item.items():
        if key == "_deleted_at":
            continue
        if key.startswith("_"):
            result[key] = value
            continue
        layout = form.fields[key]
        if layout.spec.type in COMPUTED_TYPES:
            continue
        result[key] = _plain(layout, value)
    return result


def _plain(layout: Any, value: Any) -> Any:
    spec = layout.spec
    if value is None:
        return None
    if isinstance(spec, RelationField):
        return [v["_id"] for v in value] if isinstance(value, list) else value["_id"]
    if spec.type in ("user", "department"):
        return value["id"]
    if spec.type in ("users", "departments"):
        return [v["id"] for v in value]
    if spec.type in ("attachment", "image", "signature"):
        return [v["file_id"] for v in value]
    if layout.rows is not None:
        return [
            {
                k: v if k == "_id" else _plain(layout.rows.fields[k], v)
                for k, v in row.items()
                if k == "_id" or layout.rows.fields[k].spec.type not in COMPUTED_TYPES
            }
            for row in value
        ]
    return value


def import_pack(conn: Connection, pack: Any, *, mode: str, actor: Actor) -> tuple[LoadedApp, Plan]:
    """Install (`create`) or upgrade an app from a pack; records in `data` keep their ids."""
    spec = validated(pack)
    if mode == "upgrade":
        current = load(conn, spec.key)
        app, steps = _publish(conn, current.id, spec, current, actor)
    else:
        app, steps = create(conn, pack, actor)
    if spec.data:
        load_records(conn, app, spec.data, actor)
    return app, steps


def load_records(conn: Connection, app: LoadedApp, data: dict[str, list[Any]], actor: Actor) -> int:
    """Insert pack records form by form (ids kept), relations after all rows exist."""
    from engine.core.issues import Issue

    unknown = [Issue(f"data.{key}", "unknown_form", f"表单 {key} 不存在", f"Form {key} does not exist") for key in data if key not in app.layout.forms]
    if unknown:
        raise ServiceError(422, "validation_failed", unknown)
    imported = Actor(actor.user_id, "import")
    deferred: list[tuple[str, int, str]] = []
    total = 0
    for form_key, records in data.items():
        form = app.layout.forms[form_key]
        writer = Writer(app.layout, app.id, form)
        writer.defer_links = True
        paths = [f"data.{form_key}[{i}]." for i in range(len(records))]
        writer.create_many(conn, records, imported, preserve=True, paths=paths)
        deferred.extend(writer.deferred)
        total += len(records)
    wanted: dict[str, set[int]] = {}
    for target, value, _ in deferred:
        wanted.setdefault(target, set()).add(value)
    existing = {}
    for target, ids in wanted.items():
        table = app.layout.forms[target].table
        existing[target] = set(conn.execute(select(table.c._id).where(table.c._id.in_(ids), table.c._deleted_at.is_(None))).scalars())
    missing = [issue(at, "record_not_found", id=value) for target, value, at in deferred if value not in existing[target]]
    if missing:
        raise ServiceError(422, "validation_failed", missing)
    return total


def purge(conn: Connection, key: str, form_key: str, field_key: str) -> int:
    """Permanently drop a deleted field's kept values, or a live field's type-change backups."""
    from engine.forms.migrate import purge_field

    app = load(conn, key)
    form = app.form(form_key)
    rows = conn.execute(select(FormField.__table__).where(FormField.form_id == form.id, FormField.key == field_key, FormField.parent_id.is_(None))).all()
    if not rows:
        raise not_found()
    dropped = 0
    for row in rows:
        dropped += purge_field(conn, form, row, form.table.name)
    _LAYOUTS.pop((app.id, app.revision), None)
    return dropped


__all__ = [
    "LoadedApp",
    "create",
    "export_pack",
    "import_pack",
    "list_apps",
    "load",
    "load_records",
    "plan",
    "publish",
    "purge",
]
