"""Reading records, the JSON half: rows of a page statement -> DESIGN §12 record JSON.

`RecordJson` turns the rows of a page statement (`engine.forms.sql.FormSql.page_statements`)
into record JSON, reading each column by its label (system columns by name, fields by key, a
relation's title and restriction as ``key#title`` / ``key#restricted``), never by position, so
a statement whose columns come in another order reads the same. The multi-valued parts of a
page — subform rows, to-many relations, many-relation lookups — and people names and file
metadata are each fetched by one more query for the whole page (statements built by
`FormSql`), so the number of statements never grows with the page size. It also writes single
values (`value_json`) and a record's history as the caller may read it (`history_json`).
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, select
from sqlalchemy.engine import Connection, Dialect

from engine import expr
from engine.core.moments import datetime_json
from engine.core.sqltypes import Text, UtcDateTime
from engine.forms.cache import lru_on_layout, on_layout
from engine.forms.field_types.base import same
from engine.forms.field_types.computed import FormulaField
from engine.forms.field_types.links import LookupField, RelationField, RollupField
from engine.forms.layout import Container, FieldLayout, RowsLayout
from engine.forms.sql import FormSql, reaches_other_forms, ref_paths
from engine.store.driver_exec import driver_rows
from engine.store.models import Department, StoredFile, User
from engine.store.records import SYSTEM_FIELDS

# What a page column becomes in record JSON (`RecordJson.slots`).
_VALUE, _RELATION, _PEOPLE, _FILES, _EXTRA = range(5)

# The system columns that hold moments (written as ISO text); the others are written as read.
_MOMENT = frozenset({"_created_at", "_updated_at", "_deleted_at"})


@dataclass(frozen=True)
class _Slot:
    """How one visible field of the form becomes record JSON: its key (also its column's
    label), its kind, and the kind's writer (a value writer; for people, (kind, writer))."""

    key: str
    kind: int
    writer: Any


class RecordJson:
    """Turns rows read with `sql` (one form, one caller) into record JSON."""

    def __init__(self, sql: FormSql):
        self.sql = sql
        self.app = sql.app
        self.form = sql.form
        self.hidden = sql.hidden

    # --- a page -------------------------------------------------------------------------
    def slots(self) -> builtins.list[_Slot]:
        """Per visible field, in form order, how its record JSON is made (kept per layout and
        the caller's hidden fields)."""
        cache = lru_on_layout(self.form, "record_json")
        found: list[_Slot] | None = cache.get(self.hidden)
        if found is None:
            found = self._build_slots()
            cache.put(self.hidden, found)
        return found

    def _build_slots(self) -> builtins.list[_Slot]:
        slots: list[_Slot] = []
        for field in self.form.fields.values():
            if field.source == "none" or field.key in self.hidden:
                continue
            spec = field.spec
            if field.source in ("rows", "links") or self.sql.many_lookup(self.form, field):
                slots.append(_Slot(field.key, _EXTRA, None))
            elif isinstance(spec, RelationField):
                slots.append(_Slot(field.key, _RELATION, None))
            elif people := self.names_of(self.form, field):
                slots.append(
                    _Slot(field.key, _PEOPLE, (people, self.value_writer(self.form, field)))
                )
            elif field.kind.traits.is_file:
                slots.append(_Slot(field.key, _FILES, None))
            else:
                slots.append(_Slot(field.key, _VALUE, self.value_writer(self.form, field)))
        return slots

    def page(self, conn: Connection, rows: Sequence[Any]) -> builtins.list[dict[str, Any]]:
        """Rows of a page statement (`FormSql.page_columns`, in any order) -> record JSON, with
        batched extras. Columns are found by their labels in the rows' keys."""
        if not rows:
            return []
        at = {name: index for index, name in enumerate(rows[0]._fields)}
        record = at["_id"]
        system = [(name, at[name], name in _MOMENT) for name in SYSTEM_FIELDS]
        slots = self.slots()
        plan: list[tuple[str, int, int, int | None, Any]] = []
        extras_wanted = False
        for slot in slots:
            if slot.kind == _EXTRA:
                extras_wanted = True
                plan.append((slot.key, _EXTRA, -1, None, None))
            elif slot.kind == _RELATION:
                plan.append(
                    (
                        slot.key,
                        _RELATION,
                        at[slot.key],
                        at.get(f"{slot.key}#restricted"),
                        at[f"{slot.key}#title"],
                    )
                )
            else:
                plan.append((slot.key, slot.kind, at[slot.key], None, slot.writer))
        extras = (
            self._extras(conn, self.form, [row[record] for row in rows]) if extras_wanted else {}
        )
        people = _PeopleNames()
        files = _FileInfo()
        items = []
        for row in rows:
            item: dict[str, Any] = {}
            for name, index, moment in system:
                value = row[index]
                item[name] = datetime_json(value) if moment and value is not None else value
            for key, kind, index, aux, extra in plan:
                if kind == _VALUE:
                    item[key] = extra(row[index])
                elif kind == _RELATION:
                    raw = row[index]
                    if raw is None:
                        item[key] = None
                    elif aux is not None and row[aux]:
                        item[key] = {"_id": raw, "title": None, "restricted": True}
                    else:
                        item[key] = {"_id": raw, "title": _title(row[extra])}
                elif kind == _PEOPLE:
                    value = extra[1](row[index])
                    people.add(extra[0], value)
                    item[key] = value
                elif kind == _FILES:
                    item[key] = files.add(row[index])
                else:
                    item[key] = self._extra_json(
                        self.form.fields[key], extras[key].get(row[record], []), people, files
                    )
            items.append(item)
        people.fill(conn)
        files.fill(conn)
        return items

    def read_page(
        self, conn: Connection, statement: Select[Any], params: dict[str, Any]
    ) -> builtins.list[dict[str, Any]]:
        """Run a page statement (`FormSql.page_statements`) and write its rows as record JSON:
        the same items as ``page(conn, conn.execute(statement, params).all())``, written
        straight from the driver's values. The rows are fetched as the driver returns them
        (`engine.store.driver_exec.driver_rows`: after the statement's first run, sent to the
        driver's cursor directly; errors are translated as SQLAlchemy translates them) without
        the column types' per-value conversions, and a row writer made once per form, the caller's hidden
        fields and rights, and column labels turns each row into its record in one dict
        display: decimals and moments go from the driver's value to their JSON text directly
        (`FieldType.raw_json_reader`), other values through their column type's conversion and
        their field's writer, composed once. Columns are found by label, as in `page`."""
        result = driver_rows(conn, statement, params)
        keys = result.keys
        # A label's column type can depend on the caller's rights (a title hidden from them is a
        # typed NULL): plans are kept per rights fingerprint, as page shapes are, or else per
        # the columns' types.
        scope = self.sql._scope_key
        if scope is None:
            scope = tuple(
                (type(c.type), getattr(c.type, "scale", None)) for c in statement.selected_columns
            )
        cache = lru_on_layout(self.form, "row_writers")
        plan: _RowPlan | None = cache.get((self.hidden, scope, keys))
        if plan is None:
            plan = self._row_plan(conn.dialect, statement, keys, result.description)
            cache.put((self.hidden, scope, keys), plan)
        rows = result.rows
        if not rows:
            return []
        people = _PeopleNames()
        files = _FileInfo()
        extras = (
            self._extras(conn, self.form, [row[plan.record] for row in rows]) if plan.extras else {}
        )

        def person(kind: str, value: Any) -> Any:
            people.add(kind, value)
            return value

        def extra(key: str, record_id: Any) -> Any:
            return self._extra_json(
                self.form.fields[key], extras[key].get(record_id, []), people, files
            )

        write = plan.bind(person, files.add, extra)
        items = [write(row) for row in rows]
        people.fill(conn)
        files.fill(conn)
        return items

    def _row_plan(
        self,
        dialect: Dialect,
        statement: Select[Any],
        keys: tuple[str, ...],
        description: Any,
    ) -> _RowPlan:
        """The row writer of pages whose columns are labelled `keys` (see `read_page`)."""
        columns = list(statement.selected_columns)
        if len(columns) != len(keys):  # pragma: no cover - SQLAlchemy selects what it is given
            raise ValueError("a page statement's rows do not match its columns")
        at = {name: index for index, name in enumerate(keys)}
        code = _RowCode()

        def general(index: int, writer: Callable[[Any], Any]) -> Callable[[Any], Any]:
            """The column's own conversion, then `writer`: what `page` does per value."""
            processor = (
                columns[index]
                .type.dialect_impl(dialect)
                .result_processor(dialect, description[index][1])
            )
            if processor is None:
                return writer
            if writer is same:
                return cast(Callable[[Any], Any], processor)
            return lambda value: writer(processor(value))

        def value(index: int, owner: FieldLayout | None, writer: Callable[[Any], Any]) -> str:
            fallback = general(index, writer)
            column_type = columns[index].type
            fast = None
            if owner is not None:
                fast = owner.kind.raw_json_reader(owner.spec, column_type, dialect, fallback)
            if fast is not None:
                return code.unless_null(index, fast)
            if writer is same and isinstance(column_type, Text):
                return f"(row[{index}] or None)"  # Text's own conversion: "" is blank
            return code.call(fallback, f"row[{index}]")

        record = at["_id"]
        entries: list[tuple[str, str]] = []
        for name in SYSTEM_FIELDS:
            index = at[name]
            if name in _MOMENT:
                fallback = general(index, _moment_json)
                column_type = columns[index].type
                fast = (
                    column_type.json_reader(dialect, fallback)
                    if isinstance(column_type, UtcDateTime)
                    else None
                )
                entries.append((name, code.unless_null(index, fast or fallback)))
            else:
                entries.append((name, code.call(general(index, same), f"row[{index}]")))
        extras_wanted = False
        for slot in self.slots():
            if slot.kind == _EXTRA:
                extras_wanted = True
                entries.append((slot.key, f"extra({code.constant(slot.key)}, row[{record}])"))
            elif slot.kind == _RELATION:
                index = at[slot.key]
                title = at[f"{slot.key}#title"]
                restricted = at.get(f"{slot.key}#restricted")
                title_code = (
                    f"(row[{title}] or None)"
                    if isinstance(columns[title].type, Text)
                    else code.call(general(title, _title), f"row[{title}]")
                )
                known = f'{{"_id": v, "title": {title_code}}}'
                if restricted is not None:
                    hidden = '{"_id": v, "title": None, "restricted": True}'
                    known = f"({hidden} if row[{restricted}] else {known})"
                target = code.call(general(index, same), f"row[{index}]")
                entries.append((slot.key, f"(None if (v := {target}) is None else {known})"))
            elif slot.kind == _PEOPLE:
                kind, writer = slot.writer
                index = at[slot.key]
                owned = code.call(general(index, writer), f"row[{index}]")
                entries.append((slot.key, f"person({code.constant(kind)}, {owned})"))
            elif slot.kind == _FILES:
                index = at[slot.key]
                entries.append(
                    (slot.key, f"add_files({code.call(general(index, same), f'row[{index}]')})")
                )
            else:
                index = at[slot.key]
                owner = self.sql.value_owner(self.form, self.form.fields[slot.key])
                entries.append((slot.key, value(index, owner, slot.writer)))
        return _RowPlan(code.compile(entries), record, extras_wanted)

    def _extra_json(
        self, field: FieldLayout, value: Any, people: _PeopleNames, files: _FileInfo
    ) -> Any:
        if field.source == "rows":
            assert field.rows is not None
            return [
                {
                    "_id": sub["_id"],
                    **self._fields_json(field.rows, sub, sub.pop("#extras", {}), people, files),
                }
                for sub in value
            ]
        if field.source != "links" and (kind := self.names_of(self.form, field)):
            # A many-relation lookup of a people field: each looked-up value gets its name.
            for item in value:
                people.add(kind, item)
        return value

    def names_of(self, container: Container, field: FieldLayout) -> str | None:
        """'user' or 'department' when `field`'s values name members or departments (a people
        field, created/updated by, or a lookup or rollup of one): they are read as
        `{"id", "name"}`; None otherwise."""
        if isinstance(field.spec, RelationField) or field.source in ("rows", "links", "none"):
            return None
        owner = self.sql.value_owner(container, field)
        return owner.kind.traits.named if owner is not None else None

    def _fields_json(
        self,
        container: Container,
        row: dict[str, Any],
        extras: dict[str, dict[int, Any]],
        people: _PeopleNames,
        files: _FileInfo,
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        record_id = row["_id"]
        for field in container.fields.values():
            spec = field.spec
            if field.source == "none" or (container is self.form and field.key in self.hidden):
                continue
            if field.key in extras:
                value = extras[field.key].get(record_id, [])
                if field.source == "rows":
                    assert field.rows is not None
                    value = [
                        {
                            "_id": sub["_id"],
                            **self._fields_json(
                                field.rows, sub, sub.pop("#extras", {}), people, files
                            ),
                        }
                        for sub in value
                    ]
                result[field.key] = value
                continue
            raw = row.get(field.key)
            if isinstance(spec, RelationField):
                if raw is None:
                    result[field.key] = None
                elif row.get(f"{field.key}#restricted"):
                    result[field.key] = {"_id": raw, "title": None, "restricted": True}
                else:
                    result[field.key] = {"_id": raw, "title": _title(row.get(f"{field.key}#title"))}
                continue
            value = self.value_json(container, field, raw)
            if kind := self.names_of(container, field):
                people.add(kind, value)
            elif field.kind.traits.is_file:
                value = files.add(raw)
            result[field.key] = value
        return result

    # --- the multi-valued parts ---------------------------------------------------------
    def _extras(
        self, conn: Connection, container: Container, ids: builtins.list[int]
    ) -> dict[str, dict[int, Any]]:
        """Subform rows, relation lists and many-relation lookups of the records `ids`."""
        extras: dict[str, dict[int, Any]] = {}
        if not ids:
            return extras
        for field in container.fields.values():
            if container is self.form and field.key in self.hidden:
                continue
            if field.source == "rows":
                assert field.rows is not None
                extras[field.key] = self._rows(conn, field.rows, ids)
            elif field.source == "links":
                extras[field.key] = self._links(conn, field, ids)
            elif self.sql.many_lookup(container, field):
                extras[field.key] = self._lookups(conn, container, field, ids)
        return extras

    def _rows(self, conn: Connection, rows: RowsLayout, ids: builtins.list[int]) -> dict[int, Any]:
        found: dict[int, list[dict[str, Any]]] = defaultdict(list)
        result = [dict(row._mapping) for row in conn.execute(self.sql.rows_select(rows, ids))]
        sub_extras = self._extras(conn, rows, [row["_id"] for row in result])
        for row in result:
            row["#extras"] = sub_extras
            found[row["_parent_id"]].append(row)
        return found

    def _links(
        self, conn: Connection, field: FieldLayout, ids: builtins.list[int]
    ) -> dict[int, Any]:
        found: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in conn.execute(self.sql.links_select(field, ids)):
            source, target_id = row._mapping["_source_id"], row._mapping["_target_id"]
            if row._mapping["restricted"]:
                found[source].append({"_id": target_id, "title": None, "restricted": True})
            else:
                found[source].append({"_id": target_id, "title": _title(row._mapping["title"])})
        return found

    def _lookups(
        self, conn: Connection, container: Container, field: FieldLayout, ids: builtins.list[int]
    ) -> dict[int, Any]:
        spec = field.spec
        assert isinstance(spec, LookupField)
        via = container.fields[spec.relation]
        assert isinstance(via.spec, RelationField)
        target = self.app.forms[via.spec.target]
        owner = self.sql.value_owner(target, target.fields[spec.field])
        found: dict[int, list[Any]] = defaultdict(list)
        for row in conn.execute(self.sql.lookups_select(container, field, ids)):
            source, raw = row._mapping["_source_id"], row._mapping["v"]
            found[source].append(owner.kind.to_json(owner.spec, raw) if owner else expr.encode(raw))
        return found

    # --- single values ------------------------------------------------------------------
    def value_json(self, container: Container, field: FieldLayout, raw: Any) -> Any:
        """A value read from SQL as record JSON, written by the field that owns the value."""
        return self.value_writer(container, field)(raw)

    def value_writer(self, container: Container, field: FieldLayout) -> Callable[[Any], Any]:
        """How `value_json` writes `field`'s values (resolved once per field layout)."""

        def build() -> Callable[[Any], Any]:
            owner = self.sql.value_owner(container, field)
            return _encode if owner is None else owner.write_json

        return on_layout(field, "value_writer", build)

    # --- history ------------------------------------------------------------------------
    def history_json(
        self, conn: Connection, entries: builtins.list[dict[str, Any]]
    ) -> builtins.list[dict[str, Any]]:
        """A record's history entries (`engine.forms.records.history`) as the caller may read
        them. A diff holds values as they were read, with every right, when the change was
        made; so for a caller with restricted rights each related record's title is read again
        with their rights now (restricted when outside them, blank when since deleted), and
        values read through a relation (lookups, rollups and formulas over one) are left out."""
        if self.sql.access is None or not reaches_other_forms(self.form):
            return entries
        relations = {
            k: f.spec.target
            for k, f in self.form.fields.items()
            if isinstance(f.spec, RelationField)
        }
        through = {
            k
            for k in self.form.fields
            if k not in relations and _reads_relation(self.form, k, set())
        }
        wanted: dict[str, set[int]] = defaultdict(set)
        for entry in entries:
            for key, change in entry["changes"].items():
                if key in relations and isinstance(change, list):
                    wanted[relations[key]].update(_related_ids(change))
        titles: dict[tuple[str, int], dict[str, Any]] = {}
        for form_key, found in wanted.items():
            statement = self.sql.titles_select(form_key, sorted(found))
            for row in conn.execute(statement):
                record_id = row._mapping["_id"]
                titles[(form_key, record_id)] = (
                    {"_id": record_id, "title": None, "restricted": True}
                    if row._mapping["restricted"]
                    else {"_id": record_id, "title": _title(row._mapping["title"])}
                )

        def retitled(form_key: str, value: Any) -> Any:
            if isinstance(value, list):
                return [retitled(form_key, item) for item in value]
            if isinstance(value, dict) and type(value.get("_id")) is int:
                return titles.get((form_key, value["_id"]), {"_id": value["_id"], "title": None})
            return value

        for entry in entries:
            changes = entry["changes"]
            entry["changes"] = {
                key: [retitled(relations[key], side) for side in change]
                if key in relations and isinstance(change, list)
                else change
                for key, change in changes.items()
                if key not in through
            }
        return entries


def _moment_json(value: Any) -> Any:
    return None if value is None else datetime_json(value)


@dataclass(frozen=True)
class _RowPlan:
    """How rows of one page shape become records: `bind(person, add_files, extra)` gives the
    row writer for one page (with that page's people, files and multi-valued parts), `record`
    is the index of `_id` and `extras` whether the page has multi-valued parts to fetch."""

    bind: Callable[..., Callable[[Sequence[Any]], dict[str, Any]]]
    record: int
    extras: bool


class _RowCode:
    """Writes the source of one row writer: a function returning one dict display, whose
    values are index reads of the row and calls of functions and constants held in its
    namespace under generated names (no field key or label ever becomes source text)."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {}

    def _name(self, thing: Any) -> str:
        name = f"c{len(self.names)}"
        self.names[name] = thing
        return name

    def constant(self, value: Any) -> str:
        return self._name(value)

    def call(self, function: Callable[[Any], Any], argument: str) -> str:
        if function is same:
            return argument
        return f"{self._name(function)}({argument})"

    def unless_null(self, index: int, function: Callable[[Any], Any]) -> str:
        """`function` of the value at `index`, NULL staying None (not called for it)."""
        return f"(None if (v := row[{index}]) is None else {self._name(function)}(v))"

    def compile(self, entries: builtins.list[tuple[str, str]]) -> Callable[..., Any]:
        body = ", ".join(f"{self.constant(key)}: {value}" for key, value in entries)
        source = (
            "def bind(person, add_files, extra):\n"
            "    def write(row):\n"
            f"        return {{{body}}}\n"
            "    return write\n"
        )
        namespace = dict(self.names)
        exec(compile(source, "<record row writer>", "exec"), namespace)
        bind: Callable[..., Any] = namespace["bind"]
        return bind


def _encode(raw: Any) -> Any:
    return expr.encode(raw) if raw is not None else None


def _related_ids(change: builtins.list[Any]) -> builtins.list[int]:
    """The record ids in a history diff's [before, after] of a relation field."""
    found: list[int] = []
    for side in change:
        for item in side if isinstance(side, list) else [side]:
            if isinstance(item, dict) and type(item.get("_id")) is int:
                found.append(item["_id"])
    return found


def _reads_relation(container: Container, key: str, seen: set[tuple[int, str]]) -> bool:
    """Whether field `key` of `container` is computed from something read through a relation."""
    if (id(container), key) in seen:
        return False
    seen.add((id(container), key))
    field = container.fields.get(key)
    if field is None:
        if isinstance(container, RowsLayout) and container.parent is not None:
            return _reads_relation(container.parent, key, seen)
        return False
    spec = field.spec
    if isinstance(spec, LookupField):
        return True
    if isinstance(spec, RollupField):
        via = container.fields.get(spec.relation)
        if via is None or via.rows is None:
            return True
        return _reads_relation(via.rows, spec.field, seen)
    source = spec.expr if isinstance(spec, FormulaField) else None
    if not isinstance(source, str):
        return False
    try:
        paths = ref_paths(expr.checked(source, container.schema))
    except (expr.ExprError, ValueError):
        return True
    for path in paths:
        ref = container.fields.get(path[0])
        if ref is not None and isinstance(ref.spec, RelationField) and len(path) > 1:
            return True
        if ref is not None and ref.rows is not None and len(path) > 1:
            if _reads_relation(ref.rows, path[1], seen):
                return True
        elif _reads_relation(container, path[0], seen):
            return True
    return False


def _title(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return expr.encode(value) if not isinstance(value, int) else str(value)


class _PeopleNames:
    """Collects the user and department references of a page; fills in names in two queries."""

    def __init__(self) -> None:
        self.refs: dict[str, list[dict[str, Any]]] = {"user": [], "department": []}

    def add(self, kind: str, value: Any) -> None:
        items = value if isinstance(value, list) else [value] if value is not None else []
        self.refs[kind].extend(item for item in items if isinstance(item, dict))

    def fill(self, conn: Connection) -> None:
        for kind, table, column in (
            ("user", User.__table__, "display_name"),
            ("department", Department.__table__, "name"),
        ):
            refs = self.refs[kind]
            if not refs:
                continue
            # Ids are whole numbers (checked on write), written into the statement as digits: a
            # bound expanding IN list costs more to prepare than this whole query takes to run.
            wanted = sorted({ref["id"] for ref in refs if type(ref["id"]) is int})
            names: dict[Any, Any] = {}
            if wanted:
                listed = ", ".join(str(int(i)) for i in wanted)
                names = dict(
                    conn.exec_driver_sql(
                        f"SELECT id, {column} FROM {table.name} WHERE id IN ({listed})"  # type: ignore[attr-defined]
                    ).all()
                )
            for ref in refs:
                ref["name"] = names.get(ref["id"])


class _FileInfo:
    """Collects file ids of a page; fills in their metadata in one query."""

    def __init__(self) -> None:
        self.refs: list[dict[str, Any]] = []

    def add(self, raw: Any) -> list[dict[str, Any]] | None:
        if not raw:
            return None
        items = [{"file_id": file_id} for file_id in raw]
        self.refs.extend(items)
        return items

    def fill(self, conn: Connection) -> None:
        if not self.refs:
            return
        wanted = {ref["file_id"] for ref in self.refs}
        rows = conn.execute(
            select(StoredFile.id, StoredFile.name, StoredFile.size, StoredFile.mime).where(
                StoredFile.id.in_(wanted)
            )
        ).all()
        info = {row.id: row for row in rows}
        for ref in self.refs:
            row = info.get(ref["file_id"])
            ref.update(
                name=row.name if row else None,
                size=row.size if row else None,
                mime=row.mime if row else None,
            )


__all__ = ["RecordJson"]
