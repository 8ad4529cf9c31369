"""`/apps`: list, create, read, plan, publish, export and import app definitions (thin router)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request

from engine.api.deps import AdminActor, AdminContext, DbEngine, limited, read_only
from engine.api.security import CurrentUser
from engine.auth import audit
from engine.auth.permissions import held_roles, user_departments
from engine.auth.principal import Principal
from engine.core.context import Actor
from engine.core.errors import ServiceError, not_found
from engine.forms import apps as service
from engine.forms.migrate import Plan
from engine.store.limits import Work

router = APIRouter(prefix="/apps", tags=["apps"])

Definition = Annotated[dict[str, Any], Body(description="An app definition (jimu.app/1)")]


@router.get("")
def list_apps(engine: DbEngine, principal: CurrentUser) -> list[dict[str, Any]]:
    """Installed apps I may use (all of them for administrators): key, name, version, revision."""
    with read_only(engine) as conn:
        installed = service.list_apps(conn)
        if principal.is_admin:
            return [a for a in installed if principal.may_use_app(a["key"])]
        return [
            a
            for a in installed
            if principal.may_use_app(a["key"]) and _member(conn, principal, a["key"])
        ]


def _member(conn: Any, principal: Principal, key: str) -> bool:
    if principal.user_id is None:
        return False
    loaded = service.load(conn, key)
    departments = user_departments(conn, principal.user_id)
    return bool(held_roles(conn, loaded.id, principal.user_id, departments))


@router.post("", status_code=201)
def create_app(definition: Definition, engine: DbEngine, ctx: AdminContext) -> dict[str, Any]:
    """Install a new app from its definition; returns it with `_revision` and the applied plan."""
    actor = ctx.actor
    with engine.begin() as conn:
        app, plan = service.create(conn, definition, ctx)
        _audit(conn, "app.create", actor, app.key, plan)
    return {**app.definition, "_revision": app.revision, "plan": plan.to_json()}


@router.post("/import", status_code=201)
def import_app(
    pack: Definition,
    engine: DbEngine,
    ctx: AdminContext,
    mode: Literal["create", "upgrade"] = "create",
) -> dict[str, Any]:
    """Install (`mode=create`) or upgrade an app from a pack, with its records when it has `data`."""
    actor = ctx.actor
    with engine.begin() as conn:
        app, plan = service.import_pack(conn, pack, mode=mode, ctx=ctx)
        records = sum(len(v) for v in (pack.get("data") or {}).values() if isinstance(v, list))
        _audit(conn, "app.import", actor, app.key, plan, mode=mode, records=records)
    return {"key": app.key, "_revision": app.revision, "plan": plan.to_json()}


@router.get("/{app}")
def get_app(app: str, engine: DbEngine, principal: CurrentUser) -> dict[str, Any]:
    """The live definition with its `_revision` (send it back with `PUT`); members of the app
    may read it too (404 for everyone else)."""
    with read_only(engine) as conn:
        if not principal.may_use_app(app) or not (
            principal.is_admin or _member(conn, principal, app)
        ):
            raise not_found()
        loaded = service.load(conn, app)
    return {**loaded.definition, "_revision": loaded.revision}


@router.post("/{app}/plan")
def plan_app(
    app: str, definition: Definition, engine: DbEngine, actor: AdminActor
) -> dict[str, Any]:
    """What publishing `definition` would do to the tables and data; nothing is applied."""
    with read_only(engine) as conn:
        return service.plan(conn, app, _without_meta(definition)).to_json()


@router.put("/{app}")
def publish_app(
    app: str, definition: Definition, engine: DbEngine, ctx: AdminContext, request: Request
) -> dict[str, Any]:
    """Publish a new revision. Send the `_revision` it was based on and, optionally, the
    `plan_hash` the user confirmed; a mismatch is a 409 and nothing changes."""
    revision = definition.get("_revision")
    if revision is None:
        raise ServiceError(
            422,
            "validation_failed",
            message_zh="必须提供 _revision（所基于的版本号）",
            message_en="_revision (the revision this change is based on) is required",
        )
    plan_hash = definition.get("plan_hash")
    with engine.begin() as conn, limited(conn, request, Work.PUBLISH):
        loaded, plan = service.publish(
            conn,
            app,
            _without_meta(definition),
            revision=revision,
            plan_hash=plan_hash if isinstance(plan_hash, str) else None,
            ctx=ctx,
        )
        _audit(conn, "app.publish", ctx.actor, app, plan, revision=loaded.revision)
    return {**loaded.definition, "_revision": loaded.revision, "plan": plan.to_json()}


@router.get("/{app}/export")
def export_app(
    app: str, engine: DbEngine, ctx: AdminContext, data: Annotated[bool, Query()] = False
) -> dict[str, Any]:
    """The app as a pack (with every live record when `data=true`)."""
    actor = ctx.actor
    with engine.begin() as conn:  # writes the audit entry
        pack = service.export_pack(conn, app, data=data, ctx=ctx)
        records = sum(len(v) for v in (pack.get("data") or {}).values())
        audit.record(
            conn,
            "app.export",
            actor_id=actor.user_id,
            subject=app,
            detail={"data": data, "records": records},
        )
    return pack


@router.post("/{app}/forms/{form}/fields/{field}/purge")
def purge_field(
    app: str, form: str, field: str, engine: DbEngine, actor: AdminActor
) -> dict[str, Any]:
    """Permanently drop a deleted field's kept values, or a field's type-change backups."""
    with engine.begin() as conn:
        dropped = service.purge(conn, app, form, field)
        audit.record(
            conn,
            "app.purge_field",
            actor_id=actor.user_id,
            subject=app,
            detail={"form": form, "field": field, "columns": dropped},
        )
    return {"purged_columns": dropped}


def _audit(conn: Any, kind: str, actor: Actor, key: str, plan: Plan, **detail: Any) -> None:
    """A definition change in the audit log, with the migration plan as its diff."""
    steps = [{"op": s.op, "form": s.form, "field": s.field} for s in plan.steps]
    audit.record(conn, kind, actor_id=actor.user_id, subject=key, detail={"steps": steps, **detail})


def _without_meta(definition: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in definition.items() if k not in ("_revision", "plan_hash", "plan")}
