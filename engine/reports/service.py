"""Reports as the API serves them: a stored report by key, an ad-hoc report checked like a stored
one, one report saved into the app's `reports` part, a result exported as xlsx or CSV, and
which reports a viewer may run (the app menu).

No HTTP here (`engine.api.routes.reports` is the thin router); the viewer's rights come in as
the forms engine's `FormSql` opened for them (`engine.auth.callers.open_as`).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from engine import apps as assembly
from engine.core.context import ExecutionContext
from engine.core.errors import ServiceError, not_found
from engine.core.issues import Issue
from engine.forms.access import Access
from engine.forms.apps import LoadedApp
from engine.forms.cache import lru_on_layout
from engine.forms.compile import structural_issues
from engine.forms.layout import FormLayout
from engine.forms.references import FormRefs
from engine.forms.sql import FormSql
from engine.reports.compile import ReportCompiler
from engine.reports.result import ReportResult
from engine.reports.spec import ReportSpec, check_report


def stored_report(loaded: LoadedApp, key: str) -> ReportSpec:
    """Report `key` of the live definition (404 when there is none), read once per revision
    (kept on its layout)."""
    kept = lru_on_layout(loaded.layout, "stored_reports")
    found: ReportSpec | None = kept.get(key)
    if found is not None:
        return found
    for item in loaded.definition.get("reports") or []:
        if isinstance(item, dict) and item.get("key") == key:
            found = ReportSpec.model_validate(item)
            kept.put(key, found)
            return found
    raise not_found()


def adhoc_report(loaded: LoadedApp, body: Any) -> ReportSpec:
    """An ad-hoc report shape (the designer's preview) checked like a stored report; 422 with
    every issue at its path in the body (`rows[0].field`). `key` and `name` may be left out.

    A shape that passed is kept on the revision's layout under its JSON: the checks depend on
    the definition alone, and a dashboard or preview asks the same shape again and again.
    Refused shapes are not kept (their issues are cheap to find again, and never cached)."""
    kept = lru_on_layout(loaded.layout, "adhoc_reports")
    key = _shape_key(body)
    if key is not None:
        found: ReportSpec | None = kept.get(key)
        if found is not None:
            return found
    report = _checked_adhoc(loaded, body)
    if key is not None:
        kept.put(key, report)
    return report


def _shape_key(body: Any) -> bytes | None:
    """An ad-hoc shape's cache key: its JSON (None: not a JSON object)."""
    if not isinstance(body, dict):
        return None
    try:
        return orjson.dumps(body)
    except TypeError:  # not plain JSON (only a caller in process could send that)
        return None


def _checked_adhoc(loaded: LoadedApp, body: Any) -> ReportSpec:
    data = dict(body) if isinstance(body, dict) else body
    if isinstance(data, dict):
        data.setdefault("key", "preview")
        data.setdefault("name", "preview")
    try:
        report = ReportSpec.model_validate(data)
    except ValidationError as exc:
        raise ServiceError(422, "validation_failed", structural_issues(exc, data)) from None
    issues = check_report(FormRefs(loaded.layout.spec), report, "#")
    if issues:
        raise ServiceError(422, "validation_failed", [_relative(i) for i in issues])
    return report


def _relative(issue: Issue) -> Issue:
    path = issue.path.removeprefix("#").removeprefix(".")
    return Issue(path, issue.code, issue.message_zh, issue.message_en, issue.line, issue.column)


def save_report(
    conn: Connection, loaded: LoadedApp, key: str, body: Any, ctx: ExecutionContext
) -> Any:
    """Publish the app with report `key` replaced (or added) by `body` (`{"_revision": n,
    …report}`); every other report and part stays as it is live. 409 for a stale revision."""
    if not isinstance(body, dict):
        raise ServiceError(
            422, "validation_failed", [Issue("", "dict_type", "应为对象", "Should be an object")]
        )
    if "_revision" not in body:
        raise ServiceError(
            422,
            "validation_failed",
            [
                Issue(
                    "_revision",
                    "missing",
                    "必须提供 _revision（所基于的版本号）",
                    "_revision (the revision this change is based on) is required",
                )
            ],
        )
    report = {k: v for k, v in body.items() if k != "_revision"}
    report.setdefault("key", key)
    if report["key"] != key:
        raise ServiceError(
            422,
            "validation_failed",
            [
                Issue(
                    "key", "key_mismatch", f"报表标识应为 {key}", f"The report key should be {key}"
                )
            ],
        )
    items = list(loaded.definition.get("reports") or [])
    index = next((i for i, item in enumerate(items) if item.get("key") == key), None)
    if index is None:
        items.append(report)
    else:
        items[index] = report
    return assembly.publish_part(
        conn, loaded.key, "reports", items, revision=body["_revision"], ctx=ctx
    )


def runnable_reports(
    loaded: LoadedApp, access_of: Callable[[FormLayout], Access | None], ctx: ExecutionContext
) -> list[str]:
    """Keys of the live reports a viewer may run (the app menu's 报表 entries): they may view
    the report's form (`access_of`: their rights on a form, None for unrestricted) and it
    reads no field hidden from them — what running it would refuse with 404 or 403."""
    found: list[str] = []
    for item in loaded.definition.get("reports") or []:
        try:
            report = ReportSpec.model_validate(item)
        except ValidationError:
            continue
        layout = loaded.layout.forms.get(report.form)
        if layout is None:
            continue
        access = access_of(layout)
        if access is not None and not access.allows("view"):
            continue
        sql = FormSql(loaded.layout, layout, ctx, access=access)
        try:
            ReportCompiler(sql, report).refuse()
        except (ServiceError, KeyError):
            continue
        found.append(report.key)
    return found


def export_result(result: ReportResult, path: Path, fmt: str, title: str) -> None:
    """Write `result` to `path` as xlsx (numbers as numbers, with their decimal places as the
    cell format) or CSV (UTF-8 with BOM, so Excel opens Chinese text)."""
    header = [column.label for column in result.columns]
    kinds: list[str] = [column.kind for column in result.columns]
    rows = [_plain(row, kinds) for row in [*result.rows, *result.totals]]
    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for row in rows:
                writer.writerow(["" if v is None else v for v in row])
        return
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "report")
    sheet.append(header)
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, Decimal):
                places = max(0, -value.as_tuple().exponent)  # type: ignore[operator]
                cell.number_format = "#,##0" + ("." + "0" * places if places else "")
            elif isinstance(value, int) and not isinstance(value, bool):
                cell.number_format = "#,##0"
            cells.append(cell)
        sheet.append(cells)
    book.save(path)


def _plain(row: list[Any], kinds: list[str]) -> list[Any]:
    """A result row as spreadsheet values: dimension labels, measures as numbers."""
    found: list[Any] = []
    for value, kind in zip(row, kinds, strict=True):
        if kind == "dimension":
            found.append(value.get("label") if isinstance(value, dict) else value)
        elif isinstance(value, str):
            try:
                found.append(Decimal(value))
            except InvalidOperation:
                found.append(value)
        else:
            found.append(value)
    return found


__all__ = [
    "adhoc_report",
    "export_result",
    "runnable_reports",
    "save_report",
    "stored_report",
]
