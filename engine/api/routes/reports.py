"""`/apps/{app}/reports/{report}/run`, `/apps/{app}/query`, `PUT /apps/{app}/reports/{report}`
and `…/reports/{report}/export`: the report engine's thin router (DESIGN §10, §12).

A report runs as its viewer: the form is opened for them (`engine.auth.callers.open_as`: 404
without view access), so their row scope and field access shape the one statement the report
compiler builds (`engine.reports.compile`); a report reading a field hidden from them is a 403
``field_forbidden``. Saving one report is for administrators and the app's builder roles.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request
from fastapi.responses import FileResponse
from sqlalchemy.engine import Connection
from starlette.background import BackgroundTask

from engine.api.deps import DbEngine, context_for, limited, read_only
from engine.api.errors import pick_language
from engine.api.schemas.rules import SavedReport
from engine.api.security import CurrentUser, client_ip
from engine.auth import audit
from engine.auth.builders import may_build
from engine.auth.callers import open_as
from engine.auth.principal import Principal
from engine.core.errors import ServiceError, not_found
from engine.forms import apps as forms_apps
from engine.reports.result import ReportResult, RunBody
from engine.reports.runtime import run_report
from engine.reports.service import adhoc_report, export_result, save_report, stored_report
from engine.reports.spec import ReportSpec
from engine.store.limits import Work

router = APIRouter(prefix="/apps/{app}", tags=["reports"])

MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def _run(
    conn: Connection,
    request: Request,
    principal: Principal,
    app: str,
    report: ReportSpec,
    filters: list[str],
    *,
    exporting: bool = False,
) -> ReportResult:
    ctx = context_for(request, principal.actor())
    opened = open_as(ctx, conn, principal, app, report.form, writes=False, ip=client_ip(request))
    if opened.fill_only:  # may create the form's records, not read them: as an unviewable form
        raise not_found()
    if exporting and opened.access is not None and not opened.access.allows("export"):
        raise ServiceError(
            403,
            "forbidden",
            message_zh="您的角色不能导出该表单的数据",
            message_en="Your role may not export this form's data",
        )
    return run_report(
        conn, opened.reader().sql, report, filters=filters, lang=pick_language(request)
    )


def _loaded(conn: Connection, principal: Principal, app: str) -> forms_apps.LoadedApp:
    if not principal.may_use_app(app):
        raise not_found()
    return forms_apps.load(conn, app)


@router.post("/reports/{report}/run", response_model=ReportResult)
def run(
    app: str,
    report: str,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
    body: Annotated[RunBody | None, Body()] = None,
) -> ReportResult:
    """Run a saved report as me: my row scope and field access apply (403 `field_forbidden`
    when it reads a field hidden from me; 404 when I may not view its form). `filters`:
    conditions ANDed to the report's filter."""
    with read_only(engine) as conn, limited(conn, request, Work.REPORT):
        spec = stored_report(_loaded(conn, principal, app), report)
        return _run(conn, request, principal, app, spec, body.filters if body else [])


@router.post("/query", response_model=ReportResult)
def query(
    app: str,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
    body: Annotated[dict[str, Any], Body(description="A report shape (DESIGN §10)")],
) -> ReportResult:
    """Run an ad-hoc report shape (the designer's live preview) as me; 422 with every issue of
    the shape at its path."""
    with read_only(engine) as conn, limited(conn, request, Work.REPORT):
        spec = adhoc_report(_loaded(conn, principal, app), body)
        return _run(conn, request, principal, app, spec, [])


@router.put("/reports/{report}", response_model=SavedReport)
def save(
    app: str,
    report: str,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
    body: Annotated[dict[str, Any], Body(description="The report and `_revision`")],
) -> dict[str, Any]:
    """Save one report (added, or replacing the one with this key) as a new revision of the app;
    the rest of the definition stays as it is live. Administrators and the app's builder
    roles; 409 when the `_revision` sent is not the live one."""
    ctx = context_for(request, principal.actor())
    with engine.begin() as conn, limited(conn, request, Work.PUBLISH):
        loaded = _loaded(conn, principal, app)
        may_build(conn, principal, loaded)
        done = save_report(conn, loaded, report, body, ctx)
        audit.record(
            conn,
            "app.publish_part",
            actor_id=ctx.actor.user_id,
            subject=app,
            detail={"part": "reports", "report": report, "revision": done.app.revision},
        )
    saved = next(r for r in done.app.definition.get("reports", []) if r.get("key") == report)
    return {**saved, "_revision": done.app.revision}


@router.get("/reports/{report}/export", response_class=FileResponse)
def export(
    app: str,
    report: str,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
    format: Literal["xlsx", "csv"] = "xlsx",
) -> FileResponse:
    """A saved report's result as I see it, as an xlsx file (numbers as numbers with their
    decimal places) or CSV; headers in my language. Needs my role's `export` action on the
    report's form (403 otherwise), as exporting its records does."""
    return _export(app, report, engine, principal, request, format, [])


@router.post("/reports/{report}/export", response_class=FileResponse)
def export_filtered(
    app: str,
    report: str,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
    format: Literal["xlsx", "csv"] = "xlsx",
    body: Annotated[RunBody | None, Body()] = None,
) -> FileResponse:
    """The same export with runtime `filters` (as `run` takes them)."""
    return _export(app, report, engine, principal, request, format, body.filters if body else [])


def _export(
    app: str,
    report: str,
    engine: Any,
    principal: Principal,
    request: Request,
    format: str,
    filters: list[str],
) -> FileResponse:
    descriptor, name = tempfile.mkstemp(prefix="jimu-report-", suffix=f".{format}")
    os.close(descriptor)
    path = Path(name)
    try:
        with read_only(engine) as conn, limited(conn, request, Work.EXPORT):
            spec = stored_report(_loaded(conn, principal, app), report)
            result = _run(conn, request, principal, app, spec, filters, exporting=True)
        language = pick_language(request)
        if isinstance(spec.name, str):
            title = spec.name
        else:
            title = (spec.name.en if language == "en" else spec.name.zh) or spec.key
        export_result(result, path, format, title)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[format],
        filename=f"{title}.{format}",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


__all__ = ["router"]
