"""Apps, the forms engine's part: create, read, plan and publish definitions, export and
import packs.

Every function takes the caller's connection and runs inside its transaction, so a publish
(definition row, ids, DDL, conversions, recomputation) is all-or-nothing. Layouts are cached
per database and (app id, revision): a revision is immutable, so the cache never goes stale.
The cache is bounded (`JIMU_APP_CACHE_SIZE` revisions per database, least recently used
first) and a newer live revision drops the older ones. It is keyed by the engine's connection
pool, which every `engine.execution_options(...)` copy shares, so read-only connections hit
it as well as write transactions.

The whole definition — the other engines' parts typed, and their plans — is `engine.apps`,
which publishes through here; this module sees flows, rules, reports and dashboards as opaque.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Row

from engine.core.context import Actor, ExecutionContext
from engine.core.errors import ServiceError, not_found
from engine.core.issues import DefinitionError
from engine.forms.cache import LruCache, PerDatabase
from engine.forms.compile import validate_app
from engine.forms.field_types.links import RelationField
from engine.forms.layout import AppLayout, FormLayout
from engine.forms.messages import issue
from engine.forms.migrate import Plan, apply_plan, make_plan, recorded
from engine.forms.query import Reader
from engine.forms.records import lone_surrogate_issue, lone_surrogates
from engine.forms.spec import AppSpec
from engine.settings import get_settings
from engine.store.models import App, AppVersion, FormField, Role, User

# Loaded apps per database and (app id, revision): a revision never changes.
_LOADED: PerDatabase[LoadedApp] = PerDatabase(lambda: get_settings().app_cache_size)


def _cache(conn: Connection) -> LruCache[LoadedApp]:
    return _LOADED.of(conn)


EXPORT_PAGE = 1000
PEOPLE_SYSTEM = frozenset({"_owner", "_created_by", "_updated_by"})


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
    if bad := lone_surrogates(data):
        raise ServiceError(422, "invalid_definition", [lone_surrogate_issue(path) for path in bad])
    try:
        return validate_app(data)
    except DefinitionError as exc:
        raise ServiceError(422, "invalid_definition", exc.issues) from None


def definition_of(spec: AppSpec) -> dict[str, Any]:
    """The JSON stored for a published definition (without pack data)."""
    return spec.model_dump(mode="json", exclude_none=True, exclude={"data"})


def list_apps(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(App.__table__).where(App.current_revision.is_not(None)).order_by(App.id)
    ).all()
    result = []
    for app in rows:
        version = conn.execute(
            select(AppVersion.definition).where(
                AppVersion.app_id == app.id, AppVersion.revision == app.current_revision
            )
        ).scalar_one()
        result.append(
            {
                "key": app.key,
                "name": app.name,
                "version": version.get("version"),
                "_revision": app.current_revision,
            }
        )
    return result


_LIVE_REVISION = select(App.id, App.current_revision, App.rule_switch_stamp).where(
    App.key == bindparam("key")
)
_STAMPS = "jimu.rule_switch_stamps"


def _remember_stamp(conn: Connection, app_id: int, stamp: int) -> None:
    """Note the app's rule switch stamp as read in `conn`'s current transaction."""
    transaction = conn.get_transaction()
    kept: tuple[Any, dict[int, int]] | None = conn.info.get(_STAMPS)
    if kept is None or kept[0] is not transaction:
        kept = (transaction, {})
        conn.info[_STAMPS] = kept
    kept[1][app_id] = int(stamp)


def rule_switch_stamp(conn: Connection, app_id: int) -> int | None:
    """The app's rule switch stamp (`apps.rule_switch_stamp`) as `load` read it in `conn`'s
    current transaction, or None when it was not read in this transaction (the rules runtime
    then reads the switches themselves)."""
    kept = conn.info.get(_STAMPS)
    if kept is None or kept[0] is not conn.get_transaction():
        return None
    stamp: int | None = kept[1].get(app_id)
    return stamp


@dataclass(frozen=True)
class _Live:
    id: int | None
    current_revision: int | None


def load(
    conn: Connection, key: str, live: tuple[int | None, int | None] | None = None
) -> LoadedApp:
    """The live revision of app `key` (404 when there is none): one SELECT (built once), then
    the cache. `live`: the app's (id, live revision), already read by the caller in a
    statement of its own (engine.api.opening folds it into the one that opens a read), so
    no SELECT is sent; (None, None) when there is no such app."""
    app = conn.execute(_LIVE_REVISION, {"key": key}).first() if live is None else _Live(*live)
    if app is None or app.id is None or app.current_revision is None:
        raise not_found()
    if isinstance(app, Row):
        _remember_stamp(conn, app.id, app.rule_switch_stamp)
    cache = _cache(conn)
    cached = cache.get((app.id, app.current_revision))
    if cached is not None:
        return cached
    definition = conn.execute(
        select(AppVersion.definition).where(
            AppVersion.app_id == app.id, AppVersion.revision == app.current_revision
        )
    ).scalar_one()
    layout = _layout_from_records(conn, app.id, validate_app(definition, runnable=False))
    loaded = LoadedApp(app.id, key, app.current_revision, definition, layout)
    live = (app.id, app.current_revision)
    cache.drop(lambda k: isinstance(k, tuple) and k[0] == live[0] and k[1] < live[1])
    cache.put(live, loaded)
    return loaded


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
                ids[(form.key, f.key, sub.key)] = rec.fields[(form_row.id, live[f.key].id)][
                    sub.key
                ].id
    return AppLayout.build(spec, ids)


def plan(conn: Connection, key: str | None, data: Any) -> Plan:
    """The migration plan a publish of `data` would apply (nothing changes)."""
    spec = validated(data)
    if key is not None and spec.key != key:
        raise _key_mismatch(spec.key, key)
    current = _current(conn, spec.key)
    result, _ = make_plan(
        conn, current.id if current else None, spec, current.layout if current else None
    )
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
        [
            Issue(
                "key",
                "key_mismatch",
                f"应用标识应为 {expected}，而不是 {given}",
                f"The app key must be {expected}, not {given}",
            )
        ],
    )


def create(conn: Connection, data: Any, ctx: ExecutionContext) -> tuple[LoadedApp, Plan]:
    """Install a new app from a definition (409 when the key exists) as `ctx`'s actor."""
    spec = validated(data)
    if conn.execute(select(App.id).where(App.key == spec.key)).first() is not None:
        raise ServiceError(409, "app_exists")
    app_id = conn.execute(
        insert(App)
        .values(key=spec.key, name=_name(spec), created_at=_now(), updated_at=_now())
        .returning(App.id)
    ).scalar_one()
    return _publish(conn, app_id, spec, None, ctx)


def publish(
    conn: Connection,
    key: str,
    data: Any,
    *,
    revision: Any,
    plan_hash: str | None,
    ctx: ExecutionContext,
) -> tuple[LoadedApp, Plan]:
    """Publish a new revision as `ctx`'s actor; `revision` must be the live one (409 otherwise),
    and the plan the caller saw. Stored formulas are recomputed in `ctx`'s time zone."""
    spec = validated(data)
    if spec.key != key:
        raise _key_mismatch(spec.key, key)
    current = load(conn, key)
    if revision != current.revision:
        raise ServiceError(409, "stale_revision")
    return _publish(conn, current.id, spec, current, ctx, plan_hash)


def _publish(
    conn: Connection,
    app_id: int,
    spec: AppSpec,
    current: LoadedApp | None,
    ctx: ExecutionContext,
    plan_hash: str | None = None,
) -> tuple[LoadedApp, Plan]:
    steps, provisional = make_plan(conn, app_id, spec, current.layout if current else None)
    if plan_hash is not None and plan_hash != steps.hash:
        raise ServiceError(409, "plan_changed")
    final = apply_plan(
        conn, app_id, steps, provisional, current.layout if current else None, tz=ctx.tz
    )
    revision = (current.revision if current else 0) + 1
    definition = definition_of(spec)
    conn.execute(
        insert(AppVersion).values(
            app_id=app_id,
            revision=revision,
            definition=definition,
            created_at=_now(),
            created_by=ctx.actor.user_id,
        )
    )
    conn.execute(
        update(App)
        .where(App.id == app_id)
        .values(current_revision=revision, name=_name(spec), updated_at=_now())
    )
    _sync_roles(conn, app_id, spec)
    # Not cached here: if the transaction rolls back, this revision number will be reused.
    return LoadedApp(app_id, spec.key, revision, definition, final), steps


def _sync_roles(conn: Connection, app_id: int, spec: AppSpec) -> None:
    """A platform role row per role of the definition, so people can be given it. Rows of
    roles the definition dropped stay (with their members) but grant nothing."""
    existing = set(conn.execute(select(Role.key).where(Role.app_id == app_id)).scalars())
    for role in spec.roles:
        name = role.name if isinstance(role.name, str) else role.name.model_dump(exclude_none=True)
        if role.key not in existing:
            conn.execute(
                insert(Role).values(
                    app_id=app_id,
                    key=role.key,
                    name={"zh": name} if isinstance(name, str) else name,
                    created_at=_now(),
                )
            )


def _name(spec: AppSpec) -> dict[str, Any]:
    return (
        spec.name
        if isinstance(spec.name, dict)
        else spec.name.model_dump(exclude_none=True)
        if not isinstance(spec.name, str)
        else {"zh": spec.name}
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- packs -----------------------------------------------------------------------------------


def export_pack(conn: Connection, key: str, *, data: bool, ctx: ExecutionContext) -> dict[str, Any]:
    """The app's definition, with every live record when `data` (relations as `_id`s)."""
    app = load(conn, key)
    pack = dict(app.definition)
    if data:
        names = dict(conn.execute(select(User.id, User.username)).all())
        pack["data"] = {
            form.key: _export_records(conn, app, form, names, ctx)
            for form in app.layout.forms.values()
        }
    return pack


def _export_records(
    conn: Connection,
    app: LoadedApp,
    form: FormLayout,
    names: dict[int, str],
    ctx: ExecutionContext,
) -> list[dict[str, Any]]:
    reader = Reader(app.layout, form, ctx)
    records: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = reader.list(conn, sort="_id", limit=EXPORT_PAGE, offset=offset, count=False)
        records.extend(_portable(form, item, names) for item in page.items)
        if len(page.items) < EXPORT_PAGE:
            return records
        offset += EXPORT_PAGE


def _portable(form: FormLayout, item: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    """A read record as import input: computed values dropped, relations as `_id`s, people as
    usernames (user ids differ between installations; usernames do not)."""
    result: dict[str, Any] = {}
    for key, value in item.items():
        if key == "_deleted_at":
            continue
        if key in PEOPLE_SYSTEM:
            result[key] = names.get(value, value) if value is not None else None
        elif key.startswith("_"):
            result[key] = value
        elif form.fields[key].kind.traits.portable:
            result[key] = _plain(form.fields[key], value, names)
    return result


def _plain(layout: Any, value: Any, names: dict[int, str]) -> Any:
    spec = layout.spec
    if value is None:
        return None
    if isinstance(spec, RelationField):
        return [v["_id"] for v in value] if isinstance(value, list) else value["_id"]
    traits = layout.kind.traits
    if traits.refers_to in ("user", "department"):
        named = names if traits.refers_to == "user" else {}
        items = value if traits.many_valued else [value]
        ids = [named.get(v["id"], v["id"]) for v in items]
        return ids if traits.many_valued else ids[0]
    if traits.is_file:
        return [v["file_id"] for v in value]
    if layout.rows is not None:
        return [
            {
                k: v if k == "_id" else _plain(layout.rows.fields[k], v, names)
                for k, v in row.items()
                if k == "_id" or layout.rows.fields[k].kind.traits.portable
            }
            for row in value
        ]
    return value


def import_pack(
    conn: Connection, pack: Any, *, mode: str, ctx: ExecutionContext
) -> tuple[LoadedApp, Plan]:
    """Install (`create`) or upgrade an app from a pack as `ctx`'s actor; records in `data`
    keep their ids."""
    spec = validated(pack)
    if mode == "upgrade":
        current = load(conn, spec.key)
        app, steps = _publish(conn, current.id, spec, current, ctx)
    else:
        app, steps = create(conn, pack, ctx)
    if spec.data:
        load_records(conn, app, spec.data, ctx)
    return app, steps


def load_records(
    conn: Connection, app: LoadedApp, data: dict[str, list[Any]], ctx: ExecutionContext
) -> int:
    """Insert pack records form by form (ids kept), relations after all rows exist, on the
    `import` channel of `ctx` (its clock and time zone fill defaults and serials)."""
    from engine.core.issues import Issue
    from engine.forms.service import open_form, system_caller

    unknown = [
        Issue(f"data.{key}", "unknown_form", f"表单 {key} 不存在", f"Form {key} does not exist")
        for key in data
        if key not in app.layout.forms
    ]
    if unknown:
        raise ServiceError(422, "validation_failed", unknown)
    data = _with_user_ids(conn, app, data)
    # A pack's records are a load, not anyone's change: history, but no record events (installing
    # the CRM with sample data must not start approvals or notify anyone).
    imported = ctx.with_actor(Actor(ctx.actor.user_id, "import")).without_record_events()
    deferred: list[tuple[str, int, str]] = []
    total = 0
    for form_key, records in data.items():
        # a system load through the record service: no caller's rights, no record events
        service = open_form(imported, conn, app, form_key, system_caller(via="pack"))
        paths = [f"data.{form_key}[{i}]." for i in range(len(records))]
        deferred.extend(service.load(records, paths=paths))
        total += len(records)
    wanted: dict[str, set[int]] = {}
    for target, value, _ in deferred:
        wanted.setdefault(target, set()).add(value)
    existing = {}
    for target, ids in wanted.items():
        table = app.layout.forms[target].table
        existing[target] = set(
            conn.execute(
                select(table.c._id).where(table.c._id.in_(ids), table.c._deleted_at.is_(None))
            ).scalars()
        )
    missing = [
        issue(at, "record_not_found", id=value)
        for target, value, at in deferred
        if value not in existing[target]
    ]
    if missing:
        raise ServiceError(422, "validation_failed", missing)
    return total


def _with_user_ids(
    conn: Connection, app: LoadedApp, data: dict[str, list[Any]]
) -> dict[str, list[Any]]:
    """Pack records with people given by username (exports, sample data) turned into user ids.

    A username this installation does not know becomes an inactive user without a password
    (so ownership and history survive a move to a fresh installation); an administrator can
    activate it later.
    """
    wanted: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, str):
            wanted.add(value)
        elif isinstance(value, list):
            wanted.update(v for v in value if isinstance(v, str))

    people = {
        key: {
            k
            for k, f in form.fields.items()
            if f.kind.traits.refers_to == "user" and not f.kind.traits.computed
        }
        for key, form in app.layout.forms.items()
    }
    for form_key, records in data.items():
        for record in records:
            if isinstance(record, dict):
                for key in PEOPLE_SYSTEM | people.get(form_key, set()):
                    collect(record.get(key))
    if not wanted:
        return data
    ids = dict(conn.execute(select(User.username, User.id).where(User.username.in_(wanted))).all())
    for username in sorted(wanted - ids.keys()):
        if 0 < len(username) <= 64:
            ids[username] = conn.execute(
                insert(User)
                .values(
                    username=username,
                    display_name=username,
                    is_active=False,
                    is_admin=False,
                    created_at=_now(),
                )
                .returning(User.id)
            ).scalar_one()

    def one(value: Any) -> Any:
        return ids.get(value, value) if isinstance(value, str) else value

    resolved: dict[str, list[Any]] = {}
    for form_key, records in data.items():
        out = []
        for record in records:
            if isinstance(record, dict):
                record = dict(record)
                for key in (PEOPLE_SYSTEM | people.get(form_key, set())) & record.keys():
                    value = record[key]
                    record[key] = [one(v) for v in value] if isinstance(value, list) else one(value)
            out.append(record)
        resolved[form_key] = out
    return resolved


def purge(conn: Connection, key: str, form_key: str, field_key: str) -> int:
    """Permanently drop a deleted field's kept values, or a live field's type-change backups."""
    from engine.forms.migrate import purge_field

    app = load(conn, key)
    form = app.form(form_key)
    rows = conn.execute(
        select(FormField.__table__).where(
            FormField.form_id == form.id, FormField.key == field_key, FormField.parent_id.is_(None)
        )
    ).all()
    if not rows:
        raise not_found()
    dropped = 0
    for row in rows:
        dropped += purge_field(conn, form, row, form.table.name)
    _cache(conn).pop((app.id, app.revision))
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
    "rule_switch_stamp",
]
