"""Records as spreadsheets: cells formatted the way Chinese users read them, and cells parsed back.

Export turns record JSON (DESIGN §12) into cells: dates `YYYY-MM-DD`, date-times in the
business time zone, money and numbers with their places (real numbers in xlsx, with a number
format), percentages, option labels, people's and departments' names, related records' titles
and addresses as 省市区 + detail. Import goes the other way: a header row maps to fields by key
or by label (zh or en), and each cell becomes record *input* — option labels to values, names
and titles to ids (through `Names`, resolved in one query per kind) — so the record pipeline
does every check itself. Files are written and read here too (xlsx through openpyxl's
write-only and read-only modes, CSV as UTF-8 with a BOM so that Excel opens it).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from engine.core.errors import ServiceError
from engine.core.issues import Issue
from engine.forms.field_types.cells import (
    Cell,
    CellReader,
    CellWriter,
    Language,
    address_text,
    cell_text,
    label_in,
    labels_of,
    parse_address,
    split_parts,
)
from engine.forms.layout import Container, FieldLayout, FormLayout

Format = Literal["xlsx", "csv"]

ID_LABELS = {"zh": "记录ID", "en": "Record ID"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAGIC = b"PK\x03\x04"

_MESSAGES: dict[str, tuple[str, str]] = {
    "unknown_column": (
        "第 {column} 列“{header}”不是此表单的字段",
        "Column {column} ({header}) is not a field of this form",
    ),
    "duplicate_column": (
        "第 {column} 列“{header}”与前面的列对应同一字段",
        "Column {column} ({header}) maps to the same field as an earlier column",
    ),
    "no_columns": (
        "第一行应为表头（字段名称），没有找到可导入的列",
        "The first row must be a header of field names; no importable column found",
    ),
    "unknown_export_field": ("{key} 不是可导出的字段", "{key} is not a field you may export"),
    "name_not_found": ("找不到“{name}”", "“{name}” was not found"),
    "ambiguous_name": (
        "“{name}”对应多条，请改用编号",
        "“{name}” matches more than one; use the id instead",
    ),
    "unreadable_file": (
        "无法读取文件：请上传 xlsx 或 CSV（UTF-8 或 GBK）文件",
        "Cannot read the file: upload an xlsx or CSV (UTF-8 or GBK) file",
    ),
    "too_many_rows": (
        "最多导入 {max} 行，请拆分文件",
        "At most {max} rows can be imported at once; split the file",
    ),
    "empty_file": ("文件中没有数据行", "The file has no data rows"),
}


def sheet_issue(path: str, code: str, **params: Any) -> Issue:
    """An issue of this module with its zh/en messages."""
    zh, en = _MESSAGES[code]
    return Issue(path, code, zh.format(**params), en.format(**params))


# --- export -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One exported column: a field (or `_id`), its header, and the field's layout."""

    key: str
    header: str
    layout: FieldLayout | None


def export_columns(
    form: FormLayout, hidden: frozenset[str], lang: Language, keys: Sequence[str] | None = None
) -> list[Column]:
    """The columns of an export: `_id`, then the fields the caller may see (all, or `keys` in
    that order); asking for a hidden or unknown field is a 422 that does not tell them apart."""
    visible = {k: f for k, f in form.fields.items() if k not in hidden and f.source != "none"}
    columns = [Column("_id", ID_LABELS[lang], None)]
    if keys is None:
        chosen = list(visible)
    else:
        unknown = [k for k in keys if k not in visible and k != "_id"]
        if unknown:
            raise ServiceError(
                422,
                "validation_failed",
                [sheet_issue("fields", "unknown_export_field", key=k) for k in unknown],
            )
        chosen = [k for k in dict.fromkeys(keys) if k != "_id"]
    columns.extend(Column(k, label_in(visible[k].spec.label, k, lang), visible[k]) for k in chosen)
    return columns


class Formatter:
    """Record JSON -> cells, in one language and time zone; each field type writes its own
    cells (`FieldType.to_cell`)."""

    def __init__(self, form: FormLayout, lang: Language, tz: str, value_owner: Any) -> None:
        self.form = form
        self.lang = lang
        self.zone = ZoneInfo(tz)
        self.sheet = CellWriter(lang, self.zone)
        self.value_owner = value_owner  # Reader.value_owner: whose type formats a lookup or rollup

    def row(self, columns: Sequence[Column], record: dict[str, Any]) -> list[Cell]:
        return [
            self.cell(self.form, c.layout, record.get(c.key))
            if c.layout
            else (record.get(c.key), None)
            for c in columns
        ]

    def cell(self, container: Container, layout: FieldLayout, value: Any) -> Cell:
        """One field's value as a cell."""
        if value is None or value == []:
            return None, None
        if layout.rows is not None:
            return self._rows(layout, value), None
        owner = self.value_owner(container, layout)
        if isinstance(value, list) and (owner is None or not owner.kind.is_many(owner.spec)):
            parts = [
                self.cell(container, layout, item)[0] for item in value
            ]  # a many-relation lookup
            return self.sheet.join(_text(p) for p in parts if p is not None), None
        if owner is None:
            return (self.sheet.yes_no(value) if isinstance(value, bool) else value), None
        cell: Cell = owner.kind.to_cell(owner.spec, value, self.sheet)
        return cell

    def _rows(self, layout: FieldLayout, rows: list[dict[str, Any]]) -> str:
        """A subform as text: one line per row, `label: value` pairs."""
        assert layout.rows is not None
        lines = []
        for row in rows:
            pairs = []
            for sub in layout.rows.fields.values():
                value, _ = self.cell(layout.rows, sub, row.get(sub.key))
                if value is not None:
                    pairs.append(f"{label_in(sub.spec.label, sub.key, self.lang)}: {_text(value)}")
            lines.append(("，" if self.lang == "zh" else ", ").join(pairs))
        return "\n".join(lines)


def _text(value: Any) -> str:
    """A cell as CSV text (and inside joined cells)."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _csv_text(cell: Cell) -> Any:
    value, number_format = cell
    if value is None:
        return ""
    if isinstance(value, Decimal) and number_format and number_format.endswith("%"):
        places = number_format.count("0") - 1
        return f"{(value * 100).quantize(Decimal(1).scaleb(-places))}%"
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value  # never let a spreadsheet run text as a formula (CSV injection)
    return _text(value)


class SheetWriter:
    """Writes a header and rows to an xlsx (write-only: rows go to disk as they come) or CSV file."""

    def __init__(self, path: Path, fmt: Format, title: str) -> None:
        self.fmt = fmt
        self.path = path
        if fmt == "xlsx":
            from openpyxl import Workbook

            self.book = Workbook(write_only=True)
            self.sheet = self.book.create_sheet(
                re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Sheet1"
            )
        else:
            self.handle = path.open("w", encoding="utf-8-sig", newline="")
            self.csv = csv.writer(self.handle)

    def header(self, names: Sequence[str]) -> None:
        if self.fmt == "csv":
            self.csv.writerow(names)
            return
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        cells = []
        for name in names:
            cell = WriteOnlyCell(self.sheet, value=name)
            cell.font = Font(bold=True)
            cells.append(cell)
        self.sheet.append(cells)

    def row(self, cells: Sequence[Cell]) -> None:
        if self.fmt == "csv":
            self.csv.writerow([_csv_text(c) for c in cells])
            return
        from openpyxl.cell import WriteOnlyCell

        out = []
        for value, number_format in cells:
            cell = WriteOnlyCell(self.sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text starting with "=" stays text, never a formula
            if number_format:
                cell.number_format = number_format
            out.append(cell)
        self.sheet.append(out)

    def close(self) -> None:
        if self.fmt == "csv":
            self.handle.close()
        else:
            self.book.save(self.path)


# --- import -----------------------------------------------------------------------------


def detect_format(name: str | None, data: bytes) -> Format:
    """xlsx by its zip signature or name, else CSV."""
    if data.startswith(XLSX_MAGIC) or (name or "").lower().endswith((".xlsx", ".xlsm")):
        return "xlsx"
    return "csv"


def read_rows(data: bytes, fmt: Format, max_rows: int) -> list[list[Any]]:
    """The first sheet's rows (header included), blank rows dropped; 422 when unreadable or
    longer than `max_rows` data rows."""
    rows: list[list[Any]] = []
    try:
        for raw in _xlsx_rows(data) if fmt == "xlsx" else _csv_rows(data):
            values = [None if (isinstance(v, str) and not v.strip()) else v for v in raw]
            if not any(v is not None for v in values):
                continue
            rows.append(values)
            if len(rows) > max_rows + 1:
                raise ServiceError(
                    422, "validation_failed", [sheet_issue("rows", "too_many_rows", max=max_rows)]
                )
    except ServiceError:
        raise
    except (
        Exception
    ):  # any malformed upload (zip, XML, encoding, CSV) is the user's file, not a bug
        raise ServiceError(
            422, "unreadable_file", [sheet_issue("file", "unreadable_file")]
        ) from None
    if len(rows) < 2:
        raise ServiceError(422, "validation_failed", [sheet_issue("rows", "empty_file")])
    return rows


def _xlsx_rows(data: bytes) -> Iterator[Sequence[Any]]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        yield from book.worksheets[0].iter_rows(values_only=True)
    finally:
        book.close()


def _csv_rows(data: bytes) -> Iterator[Sequence[Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030")  # what Excel on a Chinese Windows saves "CSV" as
    if "\x00" in text:
        raise ValueError("NUL in CSV")
    yield from csv.reader(io.StringIO(text, newline=""))


@dataclass
class Header:
    """Which field each column feeds (None: ignored), and the columns left out and why."""

    fields: list[FieldLayout | None]
    ignored: list[str] = field(default_factory=list)


def map_header(form: FormLayout, hidden: frozenset[str], cells: Sequence[Any]) -> Header:
    """Match header cells to fields by key or label (zh or en, case-insensitive); unknown and
    hidden fields are the same `unknown_column` issue; computed fields, `_id` and field types
    a cell cannot hold (files, subforms, locations) are ignored."""
    names: dict[str, FieldLayout | None] = {
        label.casefold(): None for label in (*ID_LABELS.values(), "_id", "id")
    }
    for key, field_layout in form.fields.items():
        if key in hidden:
            continue
        for name in (key, *labels_of(field_layout.spec.label)):
            names.setdefault(name.strip().casefold(), field_layout)
    header = Header([])
    issues: list[Issue] = []
    seen: set[str] = set()
    for index, raw in enumerate(cells):
        text = "" if raw is None else str(raw).strip()
        if not text:
            header.fields.append(None)
            continue
        folded = text.casefold()
        if folded not in names:
            issues.append(
                sheet_issue(f"header[{index + 1}]", "unknown_column", column=index + 1, header=text)
            )
            header.fields.append(None)
            continue
        layout = names[folded]
        if layout is None or not layout.writable or not layout.kind.traits.importable:
            header.ignored.append(text)
            header.fields.append(None)
            continue
        if layout.key in seen:
            issues.append(
                sheet_issue(
                    f"header[{index + 1}]", "duplicate_column", column=index + 1, header=text
                )
            )
        seen.add(layout.key)
        header.fields.append(layout)
    if issues:
        raise ServiceError(422, "validation_failed", issues)
    if not seen:
        raise ServiceError(422, "validation_failed", [sheet_issue("header", "no_columns")])
    return header


class Names:
    """Texts of people, departments and related records found in an import, resolved to ids.

    `want` collects every text first; the caller resolves each kind in one query and gives the
    result to `found` as text -> ids (more than one id: ambiguous)."""

    def __init__(self) -> None:
        self.wanted: dict[str, set[str]] = {}  # "user" | "department" | "form:<key>" -> texts
        self.ids: dict[str, dict[str, list[int]]] = {}

    def want(self, kind: str, text: str) -> None:
        self.wanted.setdefault(kind, set()).add(text)

    def found(self, kind: str, matches: dict[str, list[int]]) -> None:
        self.ids[kind] = matches

    def lookup(self, kind: str, text: str) -> tuple[int | None, Issue | None]:
        matches = sorted(set(self.ids.get(kind, {}).get(text, [])))
        if len(matches) == 1:
            return matches[0], None
        if not matches and text.isdigit() and len(text) < 19:
            return int(text), None  # an id; the pipeline checks that it exists
        return None, sheet_issue("", "ambiguous_name" if matches else "name_not_found", name=text)


class Parser:
    """Spreadsheet cells -> record input for the pipeline (see the module docstring): names of
    members, departments and records (`traits.refers_to`) here, the rest by each field type
    (`FieldType.from_cell`)."""

    def __init__(self, tz: str) -> None:
        self.zone = ZoneInfo(tz)
        self.sheet = CellReader(self.zone)
        self.names = Names()

    @staticmethod
    def reference_kind(layout: FieldLayout) -> str | None:
        refers = layout.kind.traits.refers_to
        if refers == "record":
            return "form:" + str(getattr(layout.spec, "target", ""))
        return refers

    def collect(self, layout: FieldLayout, raw: Any) -> None:
        """Remember the names a cell refers to (first pass over the rows)."""
        kind = self.reference_kind(layout)
        text = cell_text(raw)
        if kind is None or text is None:
            return
        for part in self.parts(layout, text):
            self.names.want(kind, part)

    def parts(self, layout: FieldLayout, text: str) -> list[str]:
        if not layout.kind.is_many(layout.spec):
            return [text]
        return split_parts(text)

    def value(self, layout: FieldLayout, raw: Any) -> tuple[Any, list[Issue]]:
        """A cell as record input; `(None, [])` for a blank cell."""
        if raw is None:
            return None, []
        if isinstance(raw, str):
            raw = raw.strip()
            if len(raw) > 1 and raw[0] == "'" and raw[1] in "=+-@":
                raw = raw[1:]  # our own CSV export's guard against formulas
        reference = self.reference_kind(layout)
        if reference is None:
            return layout.kind.from_cell(layout.spec, raw, self.sheet)
        text = cell_text(raw) or ""
        ids: list[int] = []
        issues: list[Issue] = []
        for part in self.parts(layout, text):
            found, problem = self.names.lookup(reference, part)
            if problem is not None:
                issues.append(problem)
            elif found is not None:
                ids.append(found)
        many = layout.kind.is_many(layout.spec)
        return (ids if many else (ids[0] if ids else None)), issues


__all__ = [
    "Cell",
    "Column",
    "Formatter",
    "Header",
    "Names",
    "Parser",
    "SheetWriter",
    "address_text",
    "detect_format",
    "export_columns",
    "label_in",
    "map_header",
    "parse_address",
    "read_rows",
    "sheet_issue",
]
