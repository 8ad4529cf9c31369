"""Exporting a form's records to a spreadsheet file and importing records from one.

Export reads through the caller's `Reader` (so the export scope and hidden fields apply in SQL
exactly as in a list): the ids of the matching records stream from one ordered query, and each
chunk of them is read as record JSON by `Reader.list` and written out before the next, so memory
stays flat however many rows there are. Import parses the rows (`engine.forms.spreadsheet`),
resolves names to ids in one query per kind, and sends chunks of records through the record
pipeline (`Writer.create_many`), each chunk in a savepoint: all or nothing by default, or with
`partial` every good row written and every bad one reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from engine.core.context import Actor
from engine.core.errors import ServiceError
from engine.core.issues import Issue
from engine.forms.access import Access
from engine.forms.layout import AppLayout, FormLayout
from engine.forms.query import Reader
from engine.forms.records import Writer
from engine.forms.spreadsheet import (
    Format,
    Formatter,
    Language,
    Names,
    Parser,
    SheetWriter,
    export_columns,
    label_in,
    map_header,
)
from engine.store.models import Department, User

EXPORT_CHUNK = 500
IMPORT_CHUNK = 200
MAX_XLSX_ROWS = 1_048_575  # Excel's sheet limit, less the header


def export_file(
    conn: Connection,
    reader: Reader,
    path: Path,
    *,
    fmt: Format,
    lang: Language,
    filter: str | None = None,
    sort: str | None = None,
    fields: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the records the caller may export (filtered and sorted) to `path`; the row count.
    `progress` is told the number of rows written so far after each chunk."""
    columns = export_columns(reader.form, reader.hidden, lang, fields)
    resolver = reader.resolver()
    table = reader.form.table
    conditions = [reader.visible(resolver, action="export")]
    if filter:
        conditions.append(reader.filter_sql(filter, resolver))
    ids = (
        select(table.c._id)
        .where(and_(*conditions))
        .order_by(*reader.order_by(sort or "", resolver))
    )
    formatter = Formatter(reader.form, lang, reader.tz, reader.value_owner)
    sheet = SheetWriter(path, fmt, label_in(reader.form.spec.name, reader.form.key, lang))
    sheet.header([c.header for c in columns])
    count = 0
    try:
        result = conn.execution_options(yield_per=EXPORT_CHUNK).execute(ids)
        for part in result.partitions():
            chunk = [row[0] for row in part]
            count += len(chunk)
            if fmt == "xlsx" and count > MAX_XLSX_ROWS:
                raise ServiceError(
                    422,
                    "too_many_rows",
                    message_zh="超过 Excel 的行数上限，请加筛选条件或导出为 CSV",
                    message_en="More rows than Excel allows; add a filter or export as CSV",
                )
            page = reader.list(
                conn, ids=chunk, sort=sort, limit=len(chunk), count=False, action="export"
            )
            for record in page.items:
                sheet.row(formatter.row(columns, record))
            if progress is not None:
                progress(count)
    finally:
        sheet.close()
    return count


@dataclass
class ImportResult:
    """What an import did: created ids by spreadsheet row, failed rows with their issues, and
    the header cells that were not imported."""

    created: dict[int, int] = field(default_factory=dict)
    failed: dict[int, list[Issue]] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)


class Importer:
    """Imports spreadsheet rows into one form through the record pipeline (module docstring)."""

    def __init__(self, writer: Writer, target_access: Callable[[str], Access | None]) -> None:
        self.writer = writer
        self.app: AppLayout = writer.app
        self.form: FormLayout = writer.form
        self.target_access = target_access
        self.parser = Parser(writer.ctx.tz)  # dates without a zone are the organisation's

    def run(
        self,
        conn: Connection,
        rows: Sequence[Sequence[Any]],
        actor: Actor,
        *,
        partial: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> ImportResult:
        """Import `rows` (the first is the header); raises 422 with every issue unless `partial`.
        `progress` is told how many data rows were handled after each chunk."""
        self.writer.require("create")
        header = map_header(self.form, self.writer.reader.hidden, rows[0])
        result = ImportResult(ignored_columns=header.ignored)
        data = [(number, row) for number, row in enumerate(rows[1:], start=2)]
        for _, row in data:
            for layout, raw in zip(header.fields, row, strict=False):
                if layout is not None:
                    self.parser.collect(layout, raw)
        self._resolve(conn)
        records: list[tuple[int, dict[str, Any]]] = []
        for number, row in data:
            record: dict[str, Any] = {}
            issues: list[Issue] = []
            for layout, raw in zip(header.fields, row, strict=False):
                if layout is None:
                    continue
                value, found = self.parser.value(layout, raw)
                issues.extend(i.under(f"rows[{number}].{layout.key}") for i in found)
                if value is not None and value != []:
                    record[layout.key] = value
            if issues:
                result.failed[number] = issues
            records.append(
                (number, record)
            )  # a row with bad cells still meets the pipeline, for its other issues
        for start in range(0, len(records), IMPORT_CHUNK):
            self._write(conn, records[start : start + IMPORT_CHUNK], actor, result, partial)
            if progress is not None:
                progress(min(len(records), start + IMPORT_CHUNK))
        if result.failed and not partial:
            issues = [i for number in sorted(result.failed) for i in result.failed[number]]
            raise ServiceError(422, "validation_failed", issues)
        return result

    def _write(
        self,
        conn: Connection,
        chunk: list[tuple[int, dict[str, Any]]],
        actor: Actor,
        result: ImportResult,
        partial: bool,
    ) -> None:
        savepoint = conn.begin_nested()
        try:
            ids = self.writer.create_many(
                conn, [r for _, r in chunk], actor, paths=[f"rows[{n}]." for n, _ in chunk]
            )
        except ServiceError as exc:
            savepoint.rollback()
            if exc.status != 422:
                raise
            if not partial or len(chunk) == 1:
                self._failed(result, chunk, exc.issues)
                return
            for one in chunk:  # find the good rows of a bad chunk one by one
                self._write(conn, [one], actor, result, partial)
            return
        if partial and any(n in result.failed for n, _ in chunk):
            savepoint.rollback()  # rows with cells that did not parse are only checked, never written
            if len(chunk) > 1:
                for one in chunk:
                    self._write(conn, [one], actor, result, partial)
            return
        savepoint.commit()
        result.created.update(zip([n for n, _ in chunk], ids, strict=True))

    @staticmethod
    def _failed(
        result: ImportResult, chunk: list[tuple[int, dict[str, Any]]], issues: list[Issue]
    ) -> None:
        rows = [n for n, _ in chunk]
        for found in issues:
            number = next((n for n in rows if found.path.startswith(f"rows[{n}]")), rows[0])
            known = result.failed.setdefault(number, [])
            if found.path not in {
                i.path for i in known
            }:  # e.g. `required` for a name that was not found
                known.append(found)

    def _resolve(self, conn: Connection) -> None:
        names: Names = self.parser.names
        for kind, texts in names.wanted.items():
            wanted = sorted(texts)
            matches: dict[str, list[int]] = {}
            if kind == "user":
                query = select(User.id, User.username, User.display_name).where(
                    User.is_active.is_(True),
                    User.username.in_(wanted) | User.display_name.in_(wanted),
                )
                users = conn.execute(query).all()
                by_username = {
                    username: [user_id] for user_id, username, _ in users if username in texts
                }
                matches.update(by_username)  # a username is unique, so it wins over display names
                for user_id, _, display_name in users:
                    if display_name in texts and display_name not in by_username:
                        matches.setdefault(display_name, []).append(user_id)
            elif kind == "department":
                rows = conn.execute(
                    select(Department.id, Department.name, Department.parent_id)
                ).all()
                by_id = {row.id: row for row in rows}
                for row in rows:
                    path, parent = row.name, row.parent_id
                    while parent is not None and parent in by_id:
                        path = f"{by_id[parent].name}/{path}"
                        parent = by_id[parent].parent_id
                    for name in {row.name, path}:
                        if name in texts:
                            matches.setdefault(name, []).append(row.id)
            else:
                matches = self._titles(conn, kind.removeprefix("form:"), wanted)
            names.found(kind, matches)

    def _titles(self, conn: Connection, form_key: str, titles: list[str]) -> dict[str, list[int]]:
        """Records of `form_key` the caller may see, by title."""
        target = self.app.forms.get(form_key)
        if target is None or target.title_field is None:
            return {}
        reader = Reader(self.app, target, self.writer.ctx, access=self.target_access(form_key))
        resolver = reader.resolver()
        title = resolver.value(target.title_field)
        query = select(target.table.c._id, title).where(reader.visible(resolver), title.in_(titles))
        matches: dict[str, list[int]] = {}
        for record_id, value in conn.execute(query):
            matches.setdefault(str(value), []).append(record_id)
        return matches


def export_count(conn: Connection, reader: Reader, filter: str | None = None) -> int:
    """How many records an export with `filter` will hold (for a progress bar)."""
    return reader.list(conn, filter=filter, limit=0, action="export").total or 0


__all__ = ["ImportResult", "Importer", "export_count", "export_file"]
