"""`/apps/{app}/forms/{form}/records/export` and `/records/import`: records as xlsx or CSV files.

Thin router: the record service (`engine.forms.service`) checks the role's `export`/`import`
action (403), exports, imports and writes the audit entry; formatting and parsing live in
`engine.forms.spreadsheet` and `engine.forms.records_io`. Registered before the records router, so `/records/export` is
never taken for `/records/{record_id}`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from engine.api.deps import DbEngine, limited, read_only
from engine.api.errors import pick_language
from engine.api.routes.records import open_form
from engine.api.schemas.records import ImportPreview, ImportResult
from engine.api.security import CurrentUser
from engine.core.errors import ServiceError
from engine.forms import import_mapping
from engine.forms.spreadsheet import detect_format, label_in, read_rows
from engine.forms.uploads import read_limited
from engine.store.limits import Work

router = APIRouter(prefix="/apps/{app}/forms/{form}", tags=["records"])

MAX_IMPORT_ROWS = 10_000
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


@router.get("/records/export", response_class=FileResponse)
def export_records(
    app: str,
    form: str,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
    format: Literal["xlsx", "csv"] = "xlsx",
    filter: Annotated[
        str | None, Query(max_length=4000, description="A condition in the formula language")
    ] = None,
    sort: Annotated[
        str | None, Query(max_length=1000, description="Keys, `-` for descending: -amount,title")
    ] = None,
    fields: Annotated[
        str | None,
        Query(max_length=4000, description="Field keys to export, comma-separated (default: all)"),
    ] = None,
) -> FileResponse:
    """The records I may export (the role's `export` action and scope), filtered and sorted like
    the list, as an xlsx or CSV file with headers in my language (`Accept-Language`)."""
    language = pick_language(request)
    keys = [k.strip() for k in fields.split(",") if k.strip()] if fields else None
    descriptor, name = tempfile.mkstemp(prefix="jimu-export-", suffix=f".{format}")
    os.close(descriptor)
    path = Path(name)
    try:
        with read_only(engine) as conn, limited(conn, request, Work.EXPORT):
            opened = open_form(conn, app, form, principal, request)
            result = opened.export(
                path, fmt=format, lang=language, filter=filter, sort=sort, fields=keys
            )
        with engine.begin() as conn:
            opened.audit_export(conn, result)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    title = label_in(opened.form.spec.name, form, language)
    stamp = opened.ctx.now.astimezone(opened.ctx.zone).strftime("%Y%m%d-%H%M")
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[format],
        filename=f"{title}-{stamp}.{format}",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.post("/records/import", response_model=ImportResult, response_model_exclude_unset=True)
def import_records(
    app: str,
    form: str,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
    file: Annotated[
        UploadFile, File(description="An xlsx or CSV file whose first row names the fields")
    ],
    partial: bool = False,
    start_flows: bool = False,
    mapping: Annotated[
        str | None,
        Form(
            max_length=100_000,
            description="The column mapping: a JSON list with a field key or null (ignore) per "
            "column of the file; without it, columns are matched by their header",
        ),
    ] = None,
) -> dict[str, Any]:
    """Create records from a spreadsheet through the record pipeline: all or nothing (422 with
    `rows[N].field` issues, N being the row number the spreadsheet shows), or with
    `partial=true` the good rows written and the bad ones reported per row. With
    `start_flows=true` each record created starts the form's approval flow (off by default:
    an import of past contracts must not ask anyone to approve them again). With `mapping`
    the columns feed the fields it names (see `POST .../records/import/preview`)."""
    language = pick_language(request)
    with read_only(engine) as conn:
        checked = open_form(conn, app, form, principal, request)
        checked.require("import")
    rows = _read_upload(file, request)
    if mapping is not None:
        chosen = import_mapping.parse_mapping(mapping, len(rows[0]) if rows else 0)
        rows = import_mapping.mapped_rows(rows, chosen)
    detail: dict[str, Any] = {
        "file": (file.filename or "")[:200],
        "rows": len(rows) - 1,
        "partial": partial,
        "start_flows": start_flows,
    }
    try:
        with engine.begin() as conn, limited(conn, request, Work.IMPORT):
            opened = open_form(conn, app, form, principal, request)
            result = opened.import_rows(
                rows, partial=partial, detail=detail, start_flows=start_flows
            )
    except ServiceError as exc:
        with engine.begin() as conn:
            checked.audit_failed_import(conn, exc, detail)
        raise
    outcomes: list[dict[str, Any]] = [
        {"row": n, "ok": True, "_id": record_id} for n, record_id in result.created.items()
    ]
    outcomes += [
        {
            "row": n,
            "ok": False,
            "error": {"code": "validation_failed", "issues": [i.to_dict(language) for i in issues]},
        }
        for n, issues in result.failed.items()
    ]
    return {
        "created": len(result.created),
        "failed": len(result.failed),
        "ignored_columns": result.ignored_columns,
        "results": sorted(outcomes, key=lambda o: o["row"]),
    }


def _read_upload(file: UploadFile, request: Request) -> list[list[Any]]:
    """The uploaded spreadsheet's rows: at most `JIMU_MAX_IMPORT_BYTES` (the body limit of
    the import routes, `engine.api.limits`) and `MAX_IMPORT_ROWS`."""
    data = read_limited(file.file, request.app.state.settings.max_import_bytes)
    return [
        list(row) for row in read_rows(data, detect_format(file.filename, data), MAX_IMPORT_ROWS)
    ]


@router.get("/records/import/template", response_class=Response)
def import_template(
    app: str, form: str, engine: DbEngine, principal: CurrentUser, request: Request
) -> Response:
    """An xlsx template to fill in: the fields I may import, in the form's order, with Chinese
    headers, drop-down lists on select columns and a 填写说明 sheet of hints and examples."""
    with read_only(engine) as conn:
        opened = open_form(conn, app, form, principal, request)
        opened.require("import")
        data = import_mapping.template_xlsx(opened.form, opened.reader().hidden)
    title = label_in(opened.form.spec.name, form, "zh")
    return Response(
        data,
        media_type=MEDIA_TYPES["xlsx"],
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(title + '-导入模板.xlsx')}"
        },
    )


@router.post("/records/import/preview", response_model=ImportPreview)
def import_preview(
    app: str,
    form: str,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
    file: Annotated[UploadFile, File(description="The xlsx or CSV file to be imported")],
) -> dict[str, Any]:
    """The file's columns, the field each is matched to by its header (key or label, zh or
    en; null: none), its first rows and how many rows it has: the import dialog's mapping
    step. Nothing is written."""
    with read_only(engine) as conn:
        opened = open_form(conn, app, form, principal, request)
        opened.require("import")
        hidden = opened.reader().hidden
    return import_mapping.preview(opened.form, hidden, _read_upload(file, request))
