"""What the import dialog needs around `engine.forms.spreadsheet`: the template a form's
records are filled in, the columns of an uploaded file matched to fields (for the mapping
step), and an explicit mapping chosen by the user turned into the header the importer reads.

The template (`template_xlsx`) has one sheet with the form's importable fields in the form's
order, Chinese headers, and a drop-down list (data validation) on select columns; a second
sheet, 填写说明, has per column the field's type, whether it is required, a hint and an
example — kept off the data sheet, so a template imported as it is creates nothing it should
not. A mapping is one entry per column of the file: a field key, or null to ignore the column.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from engine.core.errors import ServiceError
from engine.core.issues import Issue
from engine.forms.common import ValueFieldSpec
from engine.forms.field_types.cells import label_in, labels_of
from engine.forms.layout import FieldLayout, FormLayout

PREVIEW_ROWS = 5
MAX_COLUMNS = 500

_HINTS: dict[str, tuple[str, str]] = {
    "text": ("文本", "华东电气"),
    "textarea": ("多行文本", "第一行"),
    "number": ("数字", "123.45"),
    "integer": ("整数", "12"),
    "money": ("金额", "1200.00"),
    "percent": ("百分比", "15%"),
    "rating": ("评分（整数）", "4"),
    "date": ("日期 YYYY-MM-DD", "2026-01-31"),
    "datetime": ("日期时间 YYYY-MM-DD HH:MM", "2026-01-31 09:30"),
    "time": ("时间 HH:MM", "09:30"),
    "checkbox": ("是 / 否", "是"),
    "phone": ("手机号", "13800000000"),
    "email": ("邮箱", "name@example.com"),
    "url": ("网址", "https://example.com"),
    "user": ("成员的姓名或用户名", "张三"),
    "department": ("部门名称", "销售部"),
    "relation": ("关联记录的标题", ""),
}


def importable(layout: FieldLayout, hidden: frozenset[str]) -> bool:
    """A field a spreadsheet cell can fill (what the importer would not ignore)."""
    return layout.key not in hidden and layout.writable and bool(layout.kind.traits.importable)


def _options(layout: FieldLayout) -> list[str]:
    return [label_in(o.label, o.value, "zh") for o in getattr(layout.spec, "options", None) or []]


def template_xlsx(form: FormLayout, hidden: frozenset[str]) -> bytes:
    """The template workbook of `form` for a caller who does not see `hidden` (module docstring)."""
    fields = [f for f in form.fields.values() if importable(f, hidden)]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = label_in(form.spec.name, form.key, "zh")[:31] or "Sheet1"
    notes = book.create_sheet("填写说明")
    notes.append(["列", "字段键", "类型", "必填", "说明", "示例"])
    for index, layout in enumerate(fields, start=1):
        header = label_in(layout.spec.label, layout.key, "zh")
        sheet.cell(row=1, column=index, value=header)
        sheet.column_dimensions[get_column_letter(index)].width = max(12, len(header) * 2 + 4)
        hint, example = _HINTS.get(layout.spec.type, (layout.kind.title[0], ""))
        options = _options(layout)
        if options:
            hint = "选项：" + "、".join(options)
            example = options[0]
            if layout.spec.type == "select" and len(",".join(options)) < 250:
                listed = DataValidation(
                    type="list",
                    formula1='"' + ",".join(o.replace('"', "'") for o in options) + '"',
                    allow_blank=True,
                )
                listed.add(f"{get_column_letter(index)}2:{get_column_letter(index)}10000")
                sheet.add_data_validation(listed)
        required = isinstance(layout.spec, ValueFieldSpec) and layout.spec.required
        notes.append(
            [header, layout.key, layout.kind.title[0], "是" if required else "", hint, example]
        )
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def match_columns(
    form: FormLayout, hidden: frozenset[str], cells: Sequence[Any]
) -> list[str | None]:
    """Each header cell's field, matched by key or label (zh or en, case-insensitive) as the
    importer matches them, or None (no match, or a field a cell cannot fill). A field is
    matched to its first column only."""
    names: dict[str, str] = {}
    for key, layout in form.fields.items():
        if not importable(layout, hidden):
            continue
        for name in (key, *labels_of(layout.spec.label)):
            names.setdefault(name.strip().casefold(), key)
    taken: set[str] = set()
    out: list[str | None] = []
    for raw in cells:
        found = names.get(("" if raw is None else str(raw)).strip().casefold())
        if found is None or found in taken:
            out.append(None)
            continue
        taken.add(found)
        out.append(found)
    return out


def _mapping_issue(code: str, zh: str, en: str) -> ServiceError:
    return ServiceError(422, "validation_failed", [Issue("mapping", code, zh, en)])


def parse_mapping(text: str, columns: int) -> list[str | None]:
    """The `mapping` form value: a JSON list with one field key or null per column of the file."""
    try:
        value = json.loads(text)
    except ValueError:
        raise _mapping_issue(
            "invalid_mapping",
            "列与字段的对应不是有效的 JSON 列表",
            "The column mapping is not a valid JSON list",
        ) from None
    if not isinstance(value, list) or not all(v is None or isinstance(v, str) for v in value):
        raise _mapping_issue(
            "invalid_mapping",
            "列与字段的对应必须是由字段键或 null 组成的列表",
            "The column mapping must be a list of field keys or nulls",
        )
    if len(value) != columns:
        raise _mapping_issue(
            "mapping_columns",
            f"列与字段的对应有 {len(value)} 项，文件有 {columns} 列",
            f"The column mapping has {len(value)} entries; the file has {columns} columns",
        )
    if all(v is None or not v.strip() for v in value):
        raise _mapping_issue(
            "mapping_empty",
            "至少要把一列对应到字段",
            "Map at least one column to a field",
        )
    return [v.strip() if v and v.strip() else None for v in value]


def mapped_rows(rows: list[list[Any]], mapping: list[str | None]) -> list[list[Any]]:
    """`rows` with the header replaced by the mapping's field keys (blank: ignored), so the
    importer reads the columns the user chose; unknown keys are then the importer's
    `unknown_column` issues at `header[N]`, a field chosen twice its `duplicate_column`."""
    return [[key or "" for key in mapping], *rows[1:]]


def preview(form: FormLayout, hidden: frozenset[str], rows: list[list[Any]]) -> dict[str, Any]:
    """The header, the matched field of each column and the first rows, as text."""
    header = rows[0] if rows else []
    if len(header) > MAX_COLUMNS:
        raise _mapping_issue(
            "too_many_columns",
            f"文件最多 {MAX_COLUMNS} 列",
            f"A file may have at most {MAX_COLUMNS} columns",
        )
    shown = [["" if c is None else str(c) for c in row] for row in rows[1 : 1 + PREVIEW_ROWS]]
    return {
        "columns": ["" if c is None else str(c) for c in header],
        "matched": match_columns(form, hidden, header),
        "rows": shown,
        "total_rows": max(0, len(rows) - 1),
    }


__all__ = ["mapped_rows", "match_columns", "parse_mapping", "preview", "template_xlsx"]
