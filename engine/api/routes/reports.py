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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy.engine import Connection
from starlette.background import BackgroundTask

from engine.api.deps import DbEngine, context_for, limited, read_only
from engine.api.errors import pick_language
from engine.api.fast_json import record_answer
from engine.api.opening import Opened, open_caller, read_as_caller
from engine.api.schemas.rules import SavedReport
from engine.api.security import CurrentUser, client_ip, credential_present
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
from engine.store.limits import Work, seconds_for, statement_limit

router = APIRouter(prefix="/apps/{app}", tags=["reports"])
AUTHENTICATED = [Depends(credential_present)]

MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def _run(
    conn: Connection,
    request: Request,
    opened: Opened,
    loaded: forms_apps.LoadedApp,
    report: ReportSpec,
    filters: list[str],
    *,
    exporting: bool = False,
) -> ReportResult:
    principal = opened.principal
    ctx = context_for(request, principal.actor())
    service = open_as(
        ctx,
        conn,
        principal,
        loaded.key,
        report.form,
        writes=False,
        ip=client_ip(request),
        live=(loaded.id, loaded.revision),
        departments=opened.departments,
        roles=opened.roles,
    )
    if service.fill_only:  # may create the form's records, not read them: as an unviewable form
        raise not_found()
    if exporting and service.access is not None and not service.access.allows("export"):
        raise ServiceError(
            403,
            "forbidden",
            message_zh="您的角色不能导出该表单的数据",
            message_en="Your role may not export this form's data",
        )
    return run_report(
        conn, service.reader().sql, report, filters=filters, lang=pick_language(request)
    )


def _app_of(conn: Connection, opened: Opened, app: str) -> forms_apps.LoadedApp:
    """The app at the live revision the opening statement read; 404 when the caller may not
    use it."""
    if not opened.principal.may_use_app(app):
        raise not_found()
    return forms_apps.load(conn, app, opened.live)


@contextmanager
def _opened(
    engine: Any, request: Request, app: str, work: Work
) -> Iterator[tuple[Connection, Opened, forms_apps.LoadedApp]]:
    """For an export: a read-only transaction under `work`'s time limit, the caller opened on
    it with one statement (engine.api.opening.open_caller: credential, the app's live
    revision, the caller's departments and roles; on PostgreSQL also the time limit), and the
    app. Exports stay on the main pool: a read pool per export limit would hold connections
    of its own for two round trips that the written file dwarfs."""
    seconds = seconds_for(request.app.state.settings, work)
    with read_only(engine) as conn:
        postgres = conn.dialect.name == "postgresql"
        with statement_limit(conn, work, seconds, transaction_ends=True, preset=postgres):
            opened = open_caller(conn, request, app, seconds if postgres else 0)
            yield conn, opened, _app_of(conn, opened, app)


def _loaded(conn: Connection, principal: Principal, app: str) -> forms_apps.LoadedApp:
    if not principal.may_use_app(app):
        raise not_found()
    return forms_apps.load(conn, app)


# The run routes authenticate inside the statement that opens the read (`read_as_caller`): up front
# only a request without any credential is refused.
@router.post("/reports/{report}/run", response_model=ReportResult, dependencies=AUTHENTICATED)
def run(
    app: str,
    report: str,
    engine: DbEngine,
    request: Request,
    body: Annotated[RunBody | None, Body()] = None,
) -> Response:
    """Run a saved report as me: my row scope and field access apply (403 `field_forbidden`
    when it reads a field hidden from me; 404 when I may not view its form). `filters`:
    conditions ANDed to the report's filter."""
    filters = body.filters if body else []

    def answer(conn: Connection, opened: Opened) -> Response:
        loaded = _app_of(conn, opened, app)
        return _answer(_run(conn, request, opened, loaded, stored_report(loaded, report), filters))

    return read_as_caller(engine, request, app, Work.REPORT, answer)


@router.post("/query", response_model=ReportResult, dependencies=AUTHENTICATED)
def query(
    app: str,
    engine: DbEngine,
    request: Request,
    body: Annotated[dict[str, Any], Body(description="A report shape (DESIGN §10)")],
) -> Response:
    """Run an ad-hoc report shape (the designer's live preview) as me; 422 with every issue of
    the shape at its path."""

    def answer(conn: Connection, opened: Opened) -> Response:
        loaded = _app_of(conn, opened, app)
        return _answer(_run(conn, request, opened, loaded, adhoc_report(loaded, body), []))

    return read_as_caller(engine, request, app, Work.REPORT, answer)


def _answer(result: ReportResult) -> Response:
    """The result written once to JSON bytes (`engine.api.fast_json`): its cells are JSON-ready
    already, so FastAPI's re-validation of every cell (most of a large pivot's answer time) is
    skipped; `response_model` still documents the shape."""
    return record_answer(
        {
            "columns": [column.model_dump() for column in result.columns],
            "rows": result.rows,
            "totals": result.totals,
            "previous": result.previous,
            "periods": result.periods,
        }
    )


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


@router.get("/reports/{report}/export", response_class=FileResponse, dependencies=AUTHENTICATED)
def export(
    app: str,
    report: str,
    engine: DbEngine,
    request: Request,
    format: Literal["xlsx", "csv"] = "xlsx",
) -> FileResponse:
    """A saved report's result as I see it, as an xlsx file (numbers as numbers with their
    decimal places) or CSV; headers in my language. Needs my role's `export` action on the
    report's form (403 otherwise), as exporting its records does."""
    return _export(app, report, engine, request, format, [])


@router.post("/reports/{report}/export", response_class=FileResponse, dependencies=AUTHENTICATED)
def export_filtered(
    app: str,
    report: str,
    engine: DbEngine,
    request: Request,
    format: Literal["xlsx", "csv"] = "xlsx",
    body: Annotated[RunBody | None, Body()] = None,
) -> FileResponse:
    """The same export with runtime `filters` (as `run` takes them)."""
    return _export(app, report, engine, request, format, body.filters if body else [])


def _export(
    app: str,
    report: str,
    engine: Any,
    request: Request,
    format: str,
    filters: list[str],
) -> FileResponse:
    descriptor, name = tempfile.mkstemp(prefix="jimu-report-", suffix=f".{format}")
    os.close(descriptor)
    path = Path(name)
    try:
        with _opened(engine, request, app, Work.EXPORT) as (conn, opened, loaded):
            spec = stored_report(loaded, report)
            result = _run(conn, request, opened, loaded, spec, filters, exporting=True)
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
