"""`/apps`: list, create, read, plan, publish, export and import app definitions, publish
one engine's part (`PUT /apps/{app}/flows`, `/rules`, `/reports`, `/dashboards`), and list and
restore a form's type-change backups (thin router)."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request

from engine import apps as assembly
from engine.api.deps import AdminActor, AdminContext, DbEngine, context_for, limited, read_only
from engine.api.schemas.apps import (
    AppDefinitionOut,
    AppMenu,
    AppSummary,
    BackupOut,
    CreatedApp,
    ExportedPack,
    ImportedApp,
    PlanPreview,
    PublishedApp,
    Purged,
    RestoreOut,
    published_part,
)
from engine.api.security import CurrentUser
from engine.auth import audit
from engine.auth.builders import may_build
from engine.auth.permissions import form_access, held_roles, user_departments
from engine.auth.principal import Principal
from engine.core.context import Actor
from engine.core.errors import ServiceError, not_found
from engine.core.issues import Issue
from engine.forms import apps as service
from engine.forms import backups
from engine.forms.cache import on_layout
from engine.forms.display import form_display
from engine.forms.migrate import Plan, recompute_formulas
from engine.reports.service import runnable_reports
from engine.store.limits import Work

router = APIRouter(prefix="/apps", tags=["apps"])

Definition = Annotated[dict[str, Any], Body(description="An app definition (jimu.app/1)")]
PartBody = Annotated[
    dict[str, Any],
    Body(
        description="One part of the definition and the live revision it was based on, e.g. "
        '`{"_revision": 3, "flows": [...]}`',
        examples=[{"_revision": 3, "flows": []}],
    ),
]


@router.get("", response_model=list[AppSummary])
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


def _member(conn: Any, principal: Principal, key: str, loaded: Any = None) -> bool:
    """Whether the caller holds a role of app `key` (`loaded`: the app, when already loaded)."""
    if principal.user_id is None:
        return False
    loaded = loaded if loaded is not None else service.load(conn, key)
    departments = user_departments(conn, principal.user_id)
    return bool(held_roles(conn, loaded.id, principal.user_id, departments))


@router.post("", status_code=201, response_model=CreatedApp)
def create_app(definition: Definition, engine: DbEngine, ctx: AdminContext) -> dict[str, Any]:
    """Install a new app from its definition; returns it with `_revision` and the applied plan."""
    actor = ctx.actor
    with engine.begin() as conn:
        done = assembly.create(conn, definition, ctx)
        _audit(conn, "app.create", actor, done.app.key, done.plan)
    return {**done.app.definition, "_revision": done.app.revision, "plan": done.plan.to_json()}


@router.post("/import", status_code=201, response_model=ImportedApp)
def import_app(
    pack: Definition,
    engine: DbEngine,
    ctx: AdminContext,
    mode: Literal["create", "upgrade"] = "create",
) -> dict[str, Any]:
    """Install (`mode=create`) or upgrade an app from a pack, with its records when it has `data`."""
    actor = ctx.actor
    with engine.begin() as conn:
        done = assembly.import_pack(conn, pack, mode=mode, ctx=ctx)
        data = pack.get("data")
        records = sum(len(v) for v in (data or {}).values() if isinstance(v, list))
        _audit(conn, "app.import", actor, done.app.key, done.plan, mode=mode, records=records)
    return {
        "key": done.app.key,
        "_revision": done.app.revision,
        "plan": done.plan.to_json(),
        "warnings": _warnings(done.warnings, ctx.locale),
    }


@router.get("/{app}", response_model=AppDefinitionOut)
def get_app(app: str, engine: DbEngine, principal: CurrentUser) -> dict[str, Any]:
    """The live definition with its `_revision` (send it back with `PUT`); members of the app
    may read it too (404 for everyone else)."""
    with read_only(engine) as conn:
        if not principal.may_use_app(app):
            raise not_found()
        loaded = service.load(conn, app)
        if not (principal.is_admin or _member(conn, principal, app, loaded)):
            raise not_found()
    return {**loaded.definition, "_revision": loaded.revision}


@router.get("/{app}/menu", response_model=AppMenu)
def app_menu(
    app: str, engine: DbEngine, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    """The app's forms as the caller may use them (issue 16): per form, `read` (the role's
    view action) and `create`, so the menu leaves out forms they can do neither with and offers
    only filling in where they may only create; and `display`, how its lookups, rollups and
    formulas show (`engine.forms.display`); `reports`, the keys of the reports they may run
    (issue 15: the 报表 entries; none, no 报表 group). Members of the app only (404 for
    everyone else)."""
    with read_only(engine) as conn:
        if not principal.may_use_app(app):
            raise not_found()
        loaded = service.load(conn, app)
        if not (principal.is_admin or _member(conn, principal, app, loaded)):
            raise not_found()
        user = principal.user_id
        departments = user_departments(conn, user) if user is not None else ()
        held = (
            held_roles(conn, loaded.id, user, departments)
            if user is not None and not principal.is_admin
            else set()
        )
        forms: dict[str, Any] = {}
        rights: dict[str, Any] = {}

        def access_of(layout: Any) -> Any:
            if layout.key not in rights:
                rights[layout.key] = form_access(
                    conn,
                    principal,
                    loaded.id,
                    loaded.layout.spec,
                    layout,
                    departments=departments,
                    held=held,
                )
            return rights[layout.key]

        for key, layout in loaded.layout.forms.items():
            access = access_of(layout)
            forms[key] = {
                "read": access.allows("view"),
                "create": access.allows("create") and principal.can_write,
                "display": on_layout(
                    layout, "display", partial(form_display, loaded.layout, layout)
                ),
            }
        ctx = context_for(request, principal.actor())
        reports = runnable_reports(loaded, access_of, ctx)
    return {"forms": forms, "reports": reports}


@router.post("/{app}/plan", response_model=PlanPreview)
def plan_app(
    app: str, definition: Definition, engine: DbEngine, ctx: AdminContext
) -> dict[str, Any]:
    """What publishing `definition` would do to the tables and data, and the engines' warnings
    about it; nothing is applied."""
    with read_only(engine) as conn:
        plan, warnings = assembly.plan(conn, app, _without_meta(definition))
    return {**plan.to_json(), "warnings": _warnings(warnings, ctx.locale)}


@router.put("/{app}", response_model=PublishedApp)
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
        done = assembly.publish(
            conn,
            app,
            _without_meta(definition),
            revision=revision,
            plan_hash=plan_hash if isinstance(plan_hash, str) else None,
            ctx=ctx,
        )
        _audit(conn, "app.publish", ctx.actor, app, done.plan, revision=done.app.revision)
    return {
        **done.app.definition,
        "_revision": done.app.revision,
        "plan": done.plan.to_json(),
        "warnings": _warnings(done.warnings, ctx.locale),
    }


def _publish_part(part: str, title: tuple[str, str]) -> None:
    """`PUT /apps/{app}/<part>`: administrators and the app's builder roles publish one part."""

    def publish_part(
        app: str,
        body: PartBody,
        engine: DbEngine,
        principal: CurrentUser,
        request: Request,
    ) -> dict[str, Any]:
        ctx = context_for(request, principal.actor())
        unknown = [
            Issue(k, "unknown_property", f"不允许的属性 {k}", f"Unknown property {k}")
            for k in body
            if k not in ("_revision", part)
        ]
        if "_revision" not in body:
            unknown.append(
                Issue(
                    "_revision",
                    "missing",
                    "必须提供 _revision（所基于的版本号）",
                    "_revision (the revision this change is based on) is required",
                )
            )
        if part not in body:
            unknown.append(Issue(part, "missing", "缺少必填项", "Field required"))
        with engine.begin() as conn, limited(conn, request, Work.PUBLISH):
            if not principal.may_use_app(app):
                raise not_found()
            may_build(conn, principal, service.load(conn, app))
            if unknown:
                raise ServiceError(422, "validation_failed", unknown)
            done = assembly.publish_part(
                conn, app, part, body[part], revision=body["_revision"], ctx=ctx
            )
            _audit(
                conn,
                "app.publish_part",
                ctx.actor,
                app,
                done.plan,
                part=part,
                revision=done.app.revision,
            )
        return {
            part: done.app.definition.get(part, []),
            "_revision": done.app.revision,
            "plans": done.plans.get(part, {}),
            "warnings": _warnings(done.warnings, ctx.locale),
        }

    publish_part.__name__ = f"publish_{part}"
    publish_part.__doc__ = (
        f"Publish the app's {title[1]} ({title[0]}) as a new revision; everything else stays as "
        f"it is live. Send the `_revision` it was based on (409 when another publish came "
        f"first). Administrators and members holding a builder role of the app; the roles are "
        f"never changed here. A bad definition is a 422 with paths such as `{part}[0].form`."
    )
    router.put(f"/{{app}}/{part}", name=publish_part.__name__, response_model=published_part(part))(
        publish_part
    )


for _name in assembly.PART_NAMES:
    _publish_part(_name, assembly.PARTS[_name].title)


def _warnings(found: list[Issue], language: str) -> list[dict[str, Any]]:
    return [warning.to_dict(language) for warning in found]


@router.get("/{app}/export", response_model=ExportedPack, response_model_exclude_unset=True)
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


@router.post("/{app}/forms/{form}/fields/{field}/purge", response_model=Purged)
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


@router.get("/{app}/forms/{form}/backups", response_model=list[BackupOut])
def list_backups(app: str, form: str, engine: DbEngine, actor: AdminActor) -> list[dict[str, Any]]:
    """The type-change backups of the form's fields: field, backup column, old type, when,
    and how many values each holds."""
    with engine.connect() as conn:
        return backups.list_backups(conn, service.load(conn, app).form(form))


@router.post(
    "/{app}/forms/{form}/fields/{field}/backups/{backup}/restore",
    response_model=RestoreOut,
    response_model_exclude_unset=True,
)
def restore_backup(
    app: str, form: str, field: str, backup: str, engine: DbEngine, ctx: AdminContext
) -> dict[str, Any]:
    """Copy a type-change backup's values back into the field where it is empty and the value
    converts to the field's current type; answers what was restored and which records were
    not (their value does not convert, or they have a value of their own). A subform's row
    field is `subform.field`: its values go back into the same rows."""
    with engine.begin() as conn:
        loaded = service.load(conn, app)
        layout = loaded.form(form)
        report = backups.restore_backup(conn, layout, field, backup)
        if report["restored"]:
            recompute_formulas(conn, loaded.layout, layout, tz=ctx.tz)
        audit.record(
            conn,
            "app.restore_backup",
            actor_id=ctx.actor.user_id,
            subject=app,
            detail={"form": form, "field": field, "backup": backup, "restored": report["restored"]},
        )
    return report


def _audit(conn: Any, kind: str, actor: Actor, key: str, plan: Plan, **detail: Any) -> None:
    """A definition change in the audit log, with the migration plan as its diff."""
    steps = [{"op": s.op, "form": s.form, "field": s.field} for s in plan.steps]
    audit.record(conn, kind, actor_id=actor.user_id, subject=key, detail={"steps": steps, **detail})


def _without_meta(definition: dict[str, Any]) -> dict[str, Any]:
    # What a publish answers besides the definition: a client may send the answer back as is.
    return {
        k: v
        for k, v in definition.items()
        if k not in ("_revision", "plan_hash", "plan", "warnings")
    }
