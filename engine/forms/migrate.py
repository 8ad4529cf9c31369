"""The schema migrator: desired definition vs physical tables -> a plan, then its application.

`make_plan` compares a validated definition with what the platform recorded (`forms`,
`form_fields`: ids, types, physical storage) and returns every step with a zh/en description
and, for type changes, how many stored values will not convert — without changing anything.
`apply_plan` executes it in the caller's transaction (DDL is transactional on both databases
here): it assigns ids to new forms and fields, creates tables and columns, retires what the
definition dropped (columns are kept with their data until an explicit purge), converts types
by copying every value through the field types (the original column stays as a backup, so
every value remains recoverable) and recomputes stored formulas.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from sqlalchemy import Column, MetaData, Table, select, text, update
from sqlalchemy import insert as sa_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from engine.core.errors import ServiceError
from engine.core.issues import Issue
from engine.forms import count_cache
from engine.forms.common import FieldSpecBase, Label, LocalizedText
from engine.forms.field_types import FIELD_TYPES
from engine.forms.field_types.computed import FormulaField
from engine.forms.field_types.links import RelationField
from engine.forms.field_types.structure import SubformField
from engine.forms.field_types.values import generic_json
from engine.forms.indexes import existing_indexes, index_columns_of, index_tokens
from engine.forms.layout import AppLayout, Container, FieldLayout, FormLayout
from engine.forms.sortkey import (
    backfill,
    ensure_key_column,
    has_column,
    is_key_column,
    key_column,
    sort_key,
)
from engine.forms.spec import AppSpec
from engine.store import records as physical
from engine.store.models import Form, FormField

CONVERT_BATCH = 2000
FAILED_IDS_SHOWN = 100
FAILED_SAMPLES_SHOWN = 10
"""Records a type change's plan names with the value that does not convert (the rest: a count)."""


@dataclass
class Step:
    """One change the plan makes; `message` says it in zh and en for the person publishing."""

    op: str
    form: str
    field: str | None = None
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)
    message: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclass
class Plan:
    """Every step of a publish; `hash` identifies exactly this plan (PUT may require it)."""

    steps: list[Step]

    @property
    def hash(self) -> str:
        body = json.dumps(
            [asdict(s) for s in self.steps], sort_keys=True, ensure_ascii=False, default=str
        )
        return hashlib.sha256(body.encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {"steps": [asdict(s) for s in self.steps], "plan_hash": self.hash}


@dataclass
class Recorded:
    """What the platform recorded about an app's physical schema."""

    forms: dict[str, Any]  # rows of `forms`
    fields: dict[
        tuple[int, int | None], dict[str, Any]
    ]  # live `form_fields` rows, by (form id, parent id)
    retired: dict[tuple[int, int | None], dict[str, list[Any]]]


def recorded(conn: Connection, app_id: int | None) -> Recorded:
    """The recorded forms and fields of an app (none for a new app)."""
    forms: dict[str, Any] = {}
    fields: dict[tuple[int, int | None], dict[str, Any]] = {}
    retired: dict[tuple[int, int | None], dict[str, list[Any]]] = {}
    if app_id is None:
        return Recorded(forms, fields, retired)
    for row in conn.execute(
        select(Form.__table__).where(Form.app_id == app_id, Form.retired_at.is_(None))
    ):
        forms[row.key] = row
    form_ids = [f.id for f in forms.values()]
    if form_ids:
        for row in conn.execute(
            select(FormField.__table__)
            .where(FormField.form_id.in_(form_ids))
            .order_by(FormField.id)
        ):
            where = (row.form_id, row.parent_id)
            if row.retired_at is None:
                fields.setdefault(where, {})[row.key] = row
            else:
                retired.setdefault(where, {}).setdefault(row.key, []).append(row)
    return Recorded(forms, fields, retired)


def _message(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


class _Names(NamedTuple):
    """A label as each language's messages show it (the other language's text when one is missing)."""

    zh: str
    en: str


def _names(label: Label | None, key: str) -> _Names:
    if isinstance(label, LocalizedText):
        return _Names(label.zh or label.en or key, label.en or label.zh or key)
    return _Names(label or key, label or key)


def _label(spec: FieldSpecBase) -> _Names:
    return _names(spec.label, spec.key)


def ids_of(spec: AppSpec, rec: Recorded) -> dict[tuple[str, ...], int]:
    """Ids for every form and field of `spec`: recorded ones, negative placeholders for new ones."""
    ids: dict[tuple[str, ...], int] = {}
    placeholder = 0

    def fresh() -> int:
        nonlocal placeholder
        placeholder -= 1
        return placeholder

    for form in spec.forms:
        row = rec.forms.get(form.key)
        form_id = row.id if row else fresh()
        ids[(form.key,)] = form_id
        live = rec.fields.get((form_id, None), {})
        for f in form.fields:
            found = live.get(f.key) or _restorable(rec, form_id, None, f)
            ids[(form.key, f.key)] = found.id if found else fresh()
            children = f.fields if isinstance(f, SubformField) else None
            if children:
                parent = ids[(form.key, f.key)]
                sub_live = rec.fields.get((form_id, parent), {})
                for sub in children:
                    hit = sub_live.get(sub.key) or _restorable(rec, form_id, parent, sub)
                    ids[(form.key, f.key, sub.key)] = hit.id if hit else fresh()
    return ids


def _restorable(rec: Recorded, form_id: int, parent: int | None, spec: FieldSpecBase) -> Any:
    """A retired field of the same key and type whose column still holds its values."""
    for row in reversed(rec.retired.get((form_id, parent), {}).get(spec.key, [])):
        if row.type == spec.type and row.storage is not None:
            return row
    return None


def make_plan(
    conn: Connection, app_id: int | None, spec: AppSpec, previous: AppLayout | None
) -> tuple[Plan, AppLayout]:
    """The plan that turns the recorded schema into `spec`'s, and `spec`'s provisional layout."""
    rec = recorded(conn, app_id)
    layout = AppLayout.build(spec, ids_of(spec, rec))
    steps: list[Step] = []
    for form in layout.forms.values():
        name = _names(form.spec.name, form.key)
        if form.id < 0:
            steps.append(
                Step(
                    "create_form",
                    form.key,
                    message=_message(f"新建表单「{name.zh}」", f'Create form "{name.en}"'),
                )
            )
            steps.extend(_index_steps(conn, form, rec))
            continue
        steps.extend(_field_steps(conn, form, form, rec, previous, None))
        steps.extend(_index_steps(conn, form, rec, previous))
    desired = {f.key for f in spec.forms}
    for key in rec.forms:
        if key not in desired:
            steps.append(
                Step(
                    "retire_form",
                    key,
                    message=_message(
                        f"停用表单 {key}（数据保留）", f"Retire form {key} (its data is kept)"
                    ),
                )
            )
    return Plan(steps), layout


def _field_steps(
    conn: Connection,
    form: FormLayout,
    container: Container,
    rec: Recorded,
    previous: AppLayout | None,
    parent: FieldLayout | None,
) -> Iterator[Step]:
    parent_id = parent.id if parent else None
    live = rec.fields.get((form.id, parent_id), {})
    prefix = f"{parent.key}." if parent else ""
    before = _previous_container(previous, form.key, parent.key if parent else None)
    for layout in container.fields.values():
        path = prefix + layout.key
        label = _label(layout.spec)
        row = live.get(layout.key)
        if layout.id < 0:
            yield Step(
                "add_field",
                form.key,
                path,
                {"type": layout.spec.type},
                _message(f"新增字段「{label.zh}」", f'Add field "{label.en}"'),
            )
        elif row is None:
            count = _count_values(conn, form, container, layout)
            yield Step(
                "restore_field",
                form.key,
                path,
                {"values": count},
                _message(
                    f"恢复已删除的字段「{label.zh}」及其 {count} 个值",
                    f'Restore the deleted field "{label.en}" with its {count} values',
                ),
            )
        elif row.type != layout.spec.type or row.storage != layout.storage:
            yield _change_step(conn, form, container, layout, row, before, path)
        if row is not None and layout.source == "column":
            old = before.fields.get(layout.key) if before else None
            was_unique = old is not None and old.unique
            if layout.unique and not was_unique:
                duplicates = (
                    _duplicates(conn, container, layout) if row.storage == layout.storage else 0
                )
                if duplicates:
                    raise ServiceError(
                        422,
                        "invalid_definition",
                        [
                            Issue(
                                path,
                                "unique_duplicates",
                                f"字段「{label.zh}」已有 {duplicates} 个重复的值，不能设为唯一",
                                f'Field "{label.en}" already has {duplicates} duplicated values; it cannot be made unique',
                            )
                        ],
                    )
                yield Step(
                    "add_unique",
                    form.key,
                    path,
                    message=_message(f"「{label.zh}」不允许重复", f'"{label.en}" becomes unique'),
                )
            elif was_unique and not layout.unique:
                yield Step(
                    "drop_unique",
                    form.key,
                    path,
                    message=_message(f"「{label.zh}」允许重复", f'"{label.en}" may repeat'),
                )
        if layout.rows is not None and layout.id > 0:
            yield from _field_steps(conn, form, layout.rows, rec, previous, layout)
    for key, row in live.items():
        if key not in container.fields:
            count = _count_recorded(conn, form, container, row)
            yield Step(
                "retire_field",
                form.key,
                prefix + key,
                {"values": count},
                _message(
                    f"删除字段 {key}：{count} 个值保留在回收站，可恢复或彻底清除",
                    f"Delete field {key}: its {count} values are kept, restorable until purged",
                ),
            )


def _containers(form: FormLayout) -> Iterator[tuple[FieldLayout | None, Container]]:
    """The form's table and each subform's row table, with the subform field (None: the form)."""
    yield None, form
    for layout in form.fields.values():
        if layout.rows is not None:
            yield layout, layout.rows


_SYSTEM_NAMES = {"_created_at": _Names("创建时间", "Created at")}
"""System columns an index plan names by label (the default newest-first index)."""


def _index_names(
    container: Container, keys: tuple[str, ...] | list[str], before: Container | None = None
) -> _Names:
    """An index's fields by label; a field this publish removes by its label `before` it."""
    parts_zh, parts_en = [], []
    for raw in keys:
        key = raw.lstrip("-")
        found = container.fields.get(key)
        if found is None and before is not None:
            found = before.fields.get(key)
        label = (
            _label(found.spec) if found is not None else _SYSTEM_NAMES.get(key, _Names(key, key))
        )
        parts_zh.append(label.zh + ("（降序）" if raw.startswith("-") else ""))
        parts_en.append(label.en + (" (descending)" if raw.startswith("-") else ""))
    return _Names("、".join(parts_zh), ", ".join(parts_en))


def _index_steps(
    conn: Connection, form: FormLayout, rec: Recorded, previous: AppLayout | None = None
) -> Iterator[Step]:
    """Indexes to add and drop so each table has exactly the `idx_` indexes its layout wants
    (`engine.forms.indexes`); an index over a column this publish converts is rebuilt."""
    for parent, container in _containers(form):
        path = parent.key if parent is not None else None
        new_table = form.id < 0 or (parent is not None and parent.id < 0)
        have = set() if new_table else existing_indexes(conn, container.table.name)
        live = rec.fields.get((form.id, parent.id if parent else None), {})
        changing = {
            layout.column
            for layout in container.fields.values()
            if (row := live.get(layout.key)) is not None
            and (row.type != layout.spec.type or row.storage != layout.storage)
        }
        wanted = {d.name: d for d in container.indexes}
        rebuilt = {name for name in have if index_columns_of(name, container.table.name) & changing}
        for name in sorted((have - wanted.keys()) | rebuilt):
            where = (form.id, parent.id if parent else None)
            by_column = {f"f{row.id}": row.key for row in live.values()}
            for retired in rec.retired.get(where, {}).values():
                by_column.update({f"f{row.id}": row.key for row in retired})
            keys = [
                ("-" if descending else "") + by_column.get(column, column)
                for column, descending in index_tokens(name, container.table.name)
                if not is_key_column(column)  # a text field's sort key: named by its field
            ]
            before = _previous_container(previous, form.key, path)
            names = _index_names(container, keys, before)
            yield Step(
                "drop_index",
                form.key,
                path,
                {"index": name, "fields": keys},
                _message(f"取消索引：{names.zh}", f"Drop the index on {names.en}"),
            )
        for name, definition in wanted.items():
            if name in have and name not in rebuilt:
                continue
            names = _index_names(container, definition.keys)
            yield Step(
                "add_index",
                form.key,
                path,
                {"fields": list(definition.keys)},
                _message(f"为 {names.zh} 建拼音排序索引", f"Index {names.en} for sorting by pinyin")
                if definition.pinyin
                else _message(
                    f"为 {names.zh} 建索引（常用于筛选和排序）",
                    f"Index {names.en} (used often to filter and sort)",
                ),
            )


def _previous_container(
    previous: AppLayout | None, form_key: str, subform: str | None
) -> Container | None:
    if previous is None or form_key not in previous.forms:
        return None
    form = previous.forms[form_key]
    if subform is None:
        return form
    found = form.fields.get(subform)
    return found.rows if found is not None else None


def _table_of(form: FormLayout, container: Container) -> Table:
    return container.table


def _count_values(
    conn: Connection, form: FormLayout, container: Container, layout: FieldLayout
) -> int:
    if layout.column_type is None:
        return 0
    table = container.table
    name = layout.column
    return int(conn.execute(text(f"SELECT COUNT({name}) FROM {table.name}")).scalar_one())


def _count_recorded(conn: Connection, form: FormLayout, container: Container, row: Any) -> int:
    if row.storage is None:
        return 0
    return int(
        conn.execute(text(f"SELECT COUNT(f{row.id}) FROM {container.table.name}")).scalar_one()
    )


def _duplicates(conn: Connection, container: Container, layout: FieldLayout) -> int:
    table = container.table.name
    live = "" if "_parent_id" in container.table.c else "WHERE _deleted_at IS NULL"
    sql = f"SELECT COUNT(*) FROM (SELECT {layout.column} FROM {table} {live} GROUP BY {layout.column} HAVING COUNT(*) > 1 AND {layout.column} IS NOT NULL) d"
    return int(conn.execute(text(sql)).scalar_one())


def _change_step(
    conn: Connection,
    form: FormLayout,
    container: Container,
    layout: FieldLayout,
    row: Any,
    before: Container | None,
    path: str,
) -> Step:
    label = _label(layout.spec)
    old = before.fields.get(layout.key) if before else None
    if (
        isinstance(layout.spec, RelationField)
        and row.type == "relation"
        and (row.storage is None) != (layout.storage is None)
    ):
        raise ServiceError(
            422,
            "invalid_definition",
            [
                Issue(
                    path,
                    "relation_cardinality",
                    "不能在单选和多选关联之间切换；请新增一个关联字段",
                    "A relation cannot switch between one and many; add a new relation field instead",
                )
            ],
        )
    detail: dict[str, Any] = {
        "from": row.type,
        "to": layout.spec.type,
        "from_storage": row.storage,
        "to_storage": layout.storage,
    }
    if row.storage is not None and layout.storage is not None and old is not None:
        failed = list(_conversion_failures(conn, container, old, layout, row))
        detail["values"] = _count_recorded(conn, form, container, row)
        detail["not_converted"] = len(failed)
        detail["not_converted_ids"] = failed[:FAILED_IDS_SHOWN]
        detail["not_converted_samples"] = failure_samples(
            conn, container, before, old, row.id, failed[:FAILED_SAMPLES_SHOWN]
        )
        zh = f"字段「{label.zh}」从{_title(row.type, 0)}改为{_title(layout.spec.type, 0)}：{detail['values']} 个值中 {len(failed)} 个无法转换（原值保留在备份列，可恢复）"
        en = (
            f'Change field "{label.en}" from {_title(row.type, 1)} to {_title(layout.spec.type, 1)}: {len(failed)} of {detail["values"]} values '
            "cannot convert (the original values are kept in a backup column)"
        )
        return Step("convert_field", form.key, path, detail, _message(zh, en))
    if row.storage is not None:
        zh = f"字段「{label.zh}」改为{_title(layout.spec.type, 0)}：原有的值保留在备份列"
        en = f'Field "{label.en}" becomes {_title(layout.spec.type, 1)}: its stored values are kept in a backup column'
        return Step("convert_field", form.key, path, detail, _message(zh, en))
    zh = f"字段「{label.zh}」改为{_title(layout.spec.type, 0)}"
    en = f'Field "{label.en}" becomes {_title(layout.spec.type, 1)}'
    return Step("convert_field", form.key, path, detail, _message(zh, en))


def _title(type_name: str, language: int) -> str:
    """A field type as users call it (0: zh, 1: en), e.g. 数字 / Number."""
    kind = FIELD_TYPES.get(type_name)
    return kind.title[language] if kind is not None else type_name


def convert_value(old: FieldLayout, new: FieldLayout, value: Any) -> tuple[Any, bool]:
    """A stored value of `old` as `new` stores it, via record JSON; (None, False) if it cannot."""
    if value is None:
        return None, True
    raw = (
        old.kind.to_json(old.spec, value)
        if old.source == "column" and old.spec.type != "formula"
        else generic_json(value)
    )
    if isinstance(raw, dict) and "id" in raw:
        raw = raw["id"]
    raw = new.kind.convert_from(new.spec, raw)
    converted, issues = new.kind.coerce(new.spec, raw)
    if issues:
        return None, False
    return converted, True


def _conversion_failures(
    conn: Connection, container: Container, old: FieldLayout, new: FieldLayout, row: Any
) -> Iterator[int]:
    table = container.table
    source = Column(f"f{row.id}", old.column_type)
    reader = Table(
        table.name, MetaData(), Column("_id", physical.RecordId, primary_key=True), source
    )
    for record_id, value in conn.execute(
        select(reader.c._id, reader.c[source.name]).where(reader.c[source.name].is_not(None))
    ):
        _, ok = convert_value(old, new, value)
        if not ok:
            yield record_id


def failure_samples(
    conn: Connection,
    container: Container,
    before: Container | None,
    old: FieldLayout,
    field_id: int,
    ids: list[int],
) -> list[dict[str, Any]]:
    """The records `ids` as the plan names them: id, title (the title field's stored value,
    when the form has one kept in its own table) and the stored value of field `field_id` that
    does not convert, as text."""
    if not ids:
        return []
    source = Column(f"f{field_id}", old.column_type)
    columns: list[Column[Any]] = [Column("_id", physical.RecordId, primary_key=True), source]
    title_key = container.title_field if isinstance(container, FormLayout) else None
    title = before.fields.get(title_key) if before is not None and title_key else None
    if (
        title is not None
        and title.source == "column"
        and title.column_type is not None
        and title.id != field_id
    ):
        columns.append(Column(title.column, title.column_type))
    else:
        title = None
    reader = Table(container.table.name, MetaData(), *columns)
    found = {
        row[0]: row for row in conn.execute(select(*reader.c).where(reader.c._id.in_(ids))).all()
    }
    samples = []
    for record_id in ids:
        row = found.get(record_id)
        if row is None:
            continue
        value = generic_json(row[1])
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        named = generic_json(row[2]) if title is not None else None
        samples.append(
            {
                "id": record_id,
                "title": named if isinstance(named, str) else None,
                "value": shown[:200],
            }
        )
    return samples


# --- applying ------------------------------------------------------------------------------


def apply_plan(
    conn: Connection,
    app_id: int,
    plan: Plan,
    layout: AppLayout,
    previous: AppLayout | None,
    *,
    tz: str,
) -> AppLayout:
    """Execute `plan` (made by `make_plan` for `layout`) and return the final layout with real
    ids; stored formulas are recomputed in time zone `tz` (the organisation's, as on save)."""
    rec = recorded(conn, app_id)
    now = dt.datetime.now(dt.UTC)
    ids = _assign_ids(conn, app_id, layout, rec)
    final = AppLayout.build(layout.spec, ids)
    created = {s.form for s in plan.steps if s.op == "create_form"}
    for form in final.forms.values():
        if form.key in created:
            _create_form_tables(conn, form)
            _record_storage(conn, form)
    for step in plan.steps:
        if step.op == "drop_index":  # first: a converted column is renamed with its indexes
            conn.execute(text(f"DROP INDEX IF EXISTS {step.detail['index']}"))
    recompute: set[str] = set()
    for step in plan.steps:
        if step.op in ("add_index", "drop_index"):
            continue
        if step.op == "create_form":
            recompute.add(step.form)
            continue
        if step.op == "retire_form":
            conn.execute(
                update(Form)
                .where(Form.app_id == app_id, Form.key == step.form)
                .values(retired_at=now)
            )
            continue
        form = final.forms[step.form]
        if step.op == "retire_field":
            parent = (step.field or "").split(".")[0] if "." in (step.field or "") else None
            rows = form.fields[parent].rows if parent else None
            _retire(conn, form, rows or form, step.field or "", rec, now)
            continue
        container, layout_field = _locate(form, step.field)
        if step.op == "add_field" or step.op == "restore_field":
            _add_storage(
                conn, form, container, layout_field, rec, restoring=step.op == "restore_field"
            )
            recompute.add(form.key)
        elif step.op == "convert_field":
            old_container = _previous_container(
                previous,
                form.key,
                step.field.split(".")[0] if step.field and "." in step.field else None,
            )
            old = old_container.fields.get(layout_field.key) if old_container else None
            _convert(conn, container, layout_field, old, step.field or "")
            recompute.add(form.key)
        elif step.op == "add_unique":
            _add_unique(conn, container, layout_field, step.field or "")
        elif step.op == "drop_unique":
            conn.execute(
                text(
                    f"DROP INDEX IF EXISTS {physical.unique_index_name(container.table.name, layout_field.column)}"
                )
            )
    for form in final.forms.values():
        if any(s.op == "add_index" and s.form == form.key for s in plan.steps):
            create_indexes(conn, form)
        _record_storage(conn, form)
        if form.key in recompute or _formulas_changed(form, previous):
            recompute_formulas(conn, final, form, tz=tz)
    # Every table gets its count-cache triggers and a fresh token (engine.forms.count_cache).
    count_cache.watch(conn, [name for form in final.forms.values() for name in _tables_of(form)])
    return final


def _tables_of(form: FormLayout) -> Iterator[str]:
    """The names of a form's record table, its subform row tables and its link tables."""
    yield form.table.name
    for f in form.fields.values():
        if f.rows is not None:
            yield f.rows.table.name
            yield from (sub.link.name for sub in f.rows.fields.values() if sub.link is not None)
        if f.link is not None:
            yield f.link.name


def create_indexes(conn: Connection, form: FormLayout) -> None:
    """Create every `idx_` index the form's tables want that the database lacks."""
    for _, container in _containers(form):
        for definition in container.indexes:
            conn.execute(text(definition.create_sql(conn.dialect.name)))


def _add_unique(conn: Connection, container: Container, layout: FieldLayout, path: str) -> None:
    """The unique index of a field; a 422 when its values repeat (the plan counts duplicates
    only of values that are not converted in the same publish)."""
    try:
        physical.unique_index(
            Table(container.table.name, MetaData(), *_columns_for_index(container, layout)),
            layout.column,
        ).create(conn)
    except IntegrityError:
        label = _label(layout.spec)
        raise ServiceError(
            422,
            "invalid_definition",
            [
                Issue(
                    path,
                    "unique_duplicates",
                    f"字段「{label.zh}」有重复的值，不能设为唯一",
                    f'Field "{label.en}" has duplicated values; it cannot be made unique',
                )
            ],
        ) from None


def _columns_for_index(container: Container, layout: FieldLayout) -> list[Column[Any]]:
    return [
        Column("_id", physical.RecordId, primary_key=True),
        Column("_deleted_at", container.table.c._deleted_at.type),
        Column(layout.column, layout.column_type),
    ]


def _locate(form: FormLayout, path: str | None) -> tuple[Container, FieldLayout]:
    assert path is not None
    parts = path.split(".")
    if len(parts) == 1:
        return form, form.fields[parts[0]]
    rows = form.fields[parts[0]].rows
    assert rows is not None
    return rows, rows.fields[parts[1]]


def _assign_ids(
    conn: Connection, app_id: int, layout: AppLayout, rec: Recorded
) -> dict[tuple[str, ...], int]:
    ids: dict[tuple[str, ...], int] = {}
    for form in layout.forms.values():
        form_id = form.id
        if form_id < 0:
            form_id = conn.execute(
                sa_insert(Form).values(app_id=app_id, key=form.key).returning(Form.id)
            ).scalar_one()
        ids[(form.key,)] = form_id
        for f in form.fields.values():
            field_id = f.id if f.id > 0 else _new_field(conn, form_id, None, f)
            ids[(form.key, f.key)] = field_id
            if f.rows is not None:
                for sub in f.rows.fields.values():
                    ids[(form.key, f.key, sub.key)] = (
                        sub.id if sub.id > 0 else _new_field(conn, form_id, field_id, sub)
                    )
    return ids


def _new_field(conn: Connection, form_id: int, parent_id: int | None, layout: FieldLayout) -> int:
    return int(
        conn.execute(
            sa_insert(FormField)
            .values(form_id=form_id, parent_id=parent_id, key=layout.key, type=layout.spec.type)
            .returning(FormField.id)
        ).scalar_one()
    )


def _create_form_tables(conn: Connection, form: FormLayout) -> None:
    form.table.create(conn)
    for f in form.fields.values():
        if f.rows is not None:
            f.rows.table.create(conn)
            for sub in f.rows.fields.values():
                if sub.link is not None:
                    sub.link.create(conn)
        if f.link is not None:
            f.link.create(conn)


def _record_storage(conn: Connection, form: FormLayout) -> None:
    for f in form.fields.values():
        _set_row(conn, f, form.id)
        if f.rows is not None:
            for sub in f.rows.fields.values():
                _set_row(conn, sub, form.id)


def _set_row(conn: Connection, layout: FieldLayout, form_id: int) -> None:
    conn.execute(
        update(FormField)
        .where(FormField.id == layout.id)
        .values(type=layout.spec.type, storage=layout.storage, retired_at=None)
    )


def _add_column(conn: Connection, table: str, name: str, type_: Any) -> None:
    compiled = type_.compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {compiled}"))


def _add_storage(
    conn: Connection,
    form: FormLayout,
    container: Container,
    layout: FieldLayout,
    rec: Recorded,
    *,
    restoring: bool,
) -> None:
    if restoring:
        if layout.unique:
            physical.unique_index(
                Table(container.table.name, MetaData(), *_columns_for_index(container, layout)),
                layout.column,
            ).create(conn)
        if layout.keyed:  # kept with the field; one retired before keys existed gets them now
            ensure_key_column(conn, container.table.name, layout.column)
            backfill(conn, container.table.name, layout.column)
        return
    if layout.column_type is not None:
        _add_column(conn, container.table.name, layout.column, layout.column_type)
        if layout.keyed:
            ensure_key_column(conn, container.table.name, layout.column)
        if layout.unique:
            physical.unique_index(
                Table(container.table.name, MetaData(), *_columns_for_index(container, layout)),
                layout.column,
            ).create(conn)
    if layout.rows is not None:
        layout.rows.table.create(conn)
        for sub in layout.rows.fields.values():
            if sub.link is not None:
                sub.link.create(conn)
    if layout.link is not None:
        layout.link.create(conn)


def _retire(
    conn: Connection,
    form: FormLayout,
    container: Container,
    path: str,
    rec: Recorded,
    now: dt.datetime,
) -> None:
    key = path.split(".")[-1]
    parent = None
    if "." in path:
        parent = form.fields[path.split(".")[0]].id
    row = rec.fields.get((form.id, parent), {}).get(key)
    if row is None:
        return
    conn.execute(
        text(
            f"DROP INDEX IF EXISTS {physical.unique_index_name(container.table.name, f'f{row.id}')}"
        )
    )
    conn.execute(update(FormField).where(FormField.id == row.id).values(retired_at=now))


def _convert(
    conn: Connection, container: Container, new: FieldLayout, old: FieldLayout | None, path: str
) -> None:
    row = conn.execute(select(FormField.__table__).where(FormField.id == new.id)).one()
    table = container.table.name
    backups = list(row.backups or [])
    if row.storage is not None:
        backup = f"{new.column}_b{len(backups) + 1}"
        conn.execute(text(f"DROP INDEX IF EXISTS {physical.unique_index_name(table, new.column)}"))
        conn.execute(text(f"ALTER TABLE {table} RENAME COLUMN {new.column} TO {backup}"))
        backups.append(
            {
                "column": backup,
                "type": row.type,
                "storage": row.storage,
                "at": dt.datetime.now(dt.UTC).isoformat(),
            }
        )
        conn.execute(update(FormField).where(FormField.id == new.id).values(backups=backups))
    if new.column_type is None:
        return
    _add_column(conn, table, new.column, new.column_type)
    if row.storage is not None and old is not None and old.column_type is not None:
        source = Column(backups[-1]["column"], old.column_type)
        target = Column(new.column, new.column_type)
        mirror = Table(
            table, MetaData(), Column("_id", physical.RecordId, primary_key=True), source, target
        )
        rows = conn.execute(
            select(mirror.c._id, mirror.c[source.name]).where(mirror.c[source.name].is_not(None))
        ).all()
        changes = []
        for record_id, value in rows:
            converted, ok = convert_value(old, new, value)
            if ok and converted is not None:
                changes.append({"rid": record_id, "v": converted})
        if changes:
            from sqlalchemy import bindparam

            statement = (
                update(mirror)
                .where(mirror.c._id == bindparam("rid"))
                .values({new.column: bindparam("v", type_=new.column_type)})
            )
            for start in range(0, len(changes), CONVERT_BATCH):
                conn.execute(statement, changes[start : start + CONVERT_BATCH])
    if new.keyed:  # the converted values' keys (a key column left by an earlier text type is reset)
        added = ensure_key_column(conn, table, new.column)
        backfill(conn, table, new.column, reset=not added)
    if (
        new.unique and old is not None and old.unique
    ):  # a field that becomes unique gets its own add_unique step
        _add_unique(conn, container, new, path)


def _formulas_changed(form: FormLayout, previous: AppLayout | None) -> bool:
    if previous is None or form.key not in previous.forms:
        return True
    before = previous.forms[form.key]
    for container, old in [(form, before)] + [
        (f.rows, before.fields[f.key].rows)
        for f in form.fields.values()
        if f.rows is not None and f.key in before.fields
    ]:
        if container is None or old is None:
            continue
        for layout in container.stored_formulas():
            was = old.fields.get(layout.key)
            if was is None or was.spec != layout.spec or was.source != "column":
                return True
    return False


def recompute_formulas(conn: Connection, app: AppLayout, form: FormLayout, *, tz: str) -> None:
    """Recompute every stored formula of a form (and its subform rows) from its stored columns,
    in time zone `tz` (a formula may format a date and time, e.g. `TEXT(due, "YYYY-MM-DD")`)."""
    from sqlalchemy import bindparam

    from engine import expr

    now = dt.datetime.now(dt.UTC)
    for container in [form] + [f.rows for f in form.fields.values() if f.rows is not None]:
        assert container is not None
        formulas = container.stored_formulas()
        if not formulas:
            continue
        table = container.table
        stored = [
            f
            for f in container.fields.values()
            if f.source == "column" and f.column_type is not None
        ]
        rows = conn.execute(
            select(table.c._id, *[table.c[f.column].label(f.key) for f in stored])
        ).all()
        ctx = expr.EvalContext.create(now, tz)
        changes = []
        for row in rows:
            values = dict(row._mapping)
            for layout in formulas:
                assert isinstance(layout.spec, FormulaField)
                compiled = expr.compile_formula(layout.spec.expr, container.schema, trusted=True)
                from engine.forms.records import _fits

                values[layout.key] = _fits(compiled(values, ctx), layout)
            change = {
                "rid": values["_id"],
                **{f"p{i}": values[f.key] for i, f in enumerate(formulas)},
            }
            for i, f in enumerate(formulas):  # a text result's pinyin sort key beside it
                if f.sort_column is not None:
                    change[f"k{i}"] = sort_key(values[f.key])
            changes.append(change)
        if changes:
            written: dict[str, Any] = {
                f.column: bindparam(f"p{i}", type_=f.column_type) for i, f in enumerate(formulas)
            }
            for i, f in enumerate(formulas):
                if f.sort_column is not None:
                    written[f.sort_column] = bindparam(f"k{i}")
            statement = update(table).where(table.c._id == bindparam("rid")).values(written)
            for start in range(0, len(changes), CONVERT_BATCH):
                conn.execute(statement, changes[start : start + CONVERT_BATCH])


def purge_field(conn: Connection, form: FormLayout, row: Any, container_table: str) -> int:
    """Drop what a retired field (or a live field's backups) keeps; returns the columns dropped."""
    dropped = 0
    columns = [b["column"] for b in row.backups or []]
    if row.retired_at is not None and row.storage is not None:
        columns.append(f"f{row.id}")
        if has_column(conn, container_table, key_column(f"f{row.id}")):  # goes with its values
            conn.execute(
                text(f"ALTER TABLE {container_table} DROP COLUMN {key_column(f'f{row.id}')}")
            )
    for column in columns:
        conn.execute(text(f"ALTER TABLE {container_table} DROP COLUMN {column}"))
        dropped += 1
    values: dict[str, Any] = {"backups": None}
    if row.retired_at is not None:
        values["storage"] = None
        if row.type == "subform":
            conn.execute(text(f"DROP TABLE IF EXISTS {physical.child_table_name(form.id, row.id)}"))
        if row.type == "relation":
            conn.execute(text(f"DROP TABLE IF EXISTS {physical.link_table_name(row.id)}"))
    conn.execute(update(FormField).where(FormField.id == row.id).values(values))
    return dropped


__all__ = [
    "Plan",
    "Step",
    "apply_plan",
    "convert_value",
    "make_plan",
    "purge_field",
    "recompute_formulas",
]
