"""The record pipeline (DESIGN §7): every write of every entry point goes through `Writer`.

coerce by field type -> references exist (relations, people, files, subform rows) -> defaults
-> stored formulas and serials -> unique -> write the row, its subform rows and links ->
required (unless hidden by `visible_when`) and cross-field validations, computed by SQL on the
written row so they may read lookups and rollups -> history with the field-level diff. All of
it runs in the caller's transaction; any issue raises `ServiceError` (422) before commit, so a
bad record writes nothing. Updates carry `_version`; a stale one is a 409.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from engine import expr
from engine.core.context import CHANNELS, Actor, ExecutionContext
from engine.core.errors import ServiceError, forbidden, invalid, not_found
from engine.core.issues import Issue, format_path
from engine.core.moments import datetime_json
from engine.core.sqltypes import INT64_MAX
from engine.forms.access import Access
from engine.forms.cache import on_layout
from engine.forms.changes import Change, ChangePath
from engine.forms.common import DefaultExpr, DefaultLinkage, ValueFieldSpec
from engine.forms.field_types.computed import (
    SERIAL_COUNTER,
    SERIAL_TOKEN,
    FormulaField,
    SerialField,
)
from engine.forms.field_types.files import mime_problem
from engine.forms.field_types.links import RelationField
from engine.forms.field_types.structure import SubformField
from engine.forms.field_types.values import coerce_id
from engine.forms.layout import AppLayout, Container, FieldLayout, FormLayout, RowsLayout
from engine.forms.linkage import Linker, SourceAccess, linked_fields
from engine.forms.messages import issue
from engine.forms.query import FILE_TYPES, PEOPLE, Reader
from engine.forms.resolve import Who
from engine.store.models import Counter, Department, RecordHistory, StoredFile, User
from engine.store.records import bulk_insert, reserve_ids

_T = TypeVar("_T")
SYSTEM_WRITABLE_ON_IMPORT = (
    "_id",
    "_created_at",
    "_created_by",
    "_updated_at",
    "_updated_by",
    "_owner",
    "_version",
)


@dataclass
class Prepared:
    """One record's coerced values: columns by key, subform rows and links, and the issues."""

    values: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    links: dict[str, list[int]] = field(default_factory=dict)
    system: dict[str, Any] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)


def _fits(value: Any, layout: FieldLayout) -> Any:
    """A computed value as its column holds it (None when it does not fit the column)."""
    scale = getattr(layout.column_type, "scale", None)
    if isinstance(value, Decimal) and scale is not None:
        rounded = value.quantize(Decimal(1).scaleb(-scale))
        if abs(int(rounded.scaleb(scale))) > INT64_MAX:
            return None
        return rounded
    return value


class Writer:
    """Creates, changes, deletes and restores records of one form (see the module docstring)."""

    def __init__(
        self,
        app: AppLayout,
        app_id: int,
        form: FormLayout,
        ctx: ExecutionContext,
        *,
        access: Access | None = None,
        source_access: SourceAccess | None = None,
        who: Who | None = None,
    ) -> None:
        self.app = app
        self.app_id = app_id
        self.form = form
        self.ctx = ctx  # the clock and time zone of defaults, formulas, serials and stamps
        self.now = ctx.now
        self.tz = ctx.tz
        self.access = access
        # History and record events of every write (the one change path, engine.forms.changes).
        self.changes = ChangePath(app, app_id, form, ctx)
        self.reader = Reader(app, form, ctx, access=access)  # what the caller gets back
        # History diffs see every field; validations and rules read through it as the saver
        # (CURRENT_USER(): `who`, else the holder of `access`, else the context's actor).
        who = who if who is not None else (Who.of(access) if access is not None else None)
        self._full = Reader(app, form, ctx, who=who)
        self.who = self._full.who
        # Data linkage defaults read their source forms as the actor (`source_access`).
        self.linker = Linker(app, form, ctx, access=access, source_access=source_access)
        # Pack import writes forms one after another, so links are checked once all exist.
        self.defer_links = False
        self.deferred: list[tuple[str, int, str]] = []
        self.preserve_ids = False
        # Pack loads (administrators installing or moving an app with its data) keep the file
        # references they carry; every other writer may only reference its own uploads.
        self.trust_files = False
        self._ctx = expr.EvalContext.create(
            self.now, self.tz, user=self.who.user, departments=self.who.departments
        )
        # What each input key may do for this caller, resolved once per writer (not per record).
        self._allowed = {
            key: access.access(key) if access is not None else "editable" for key in form.fields
        }
        # Keys `prepare` may coerce directly: editable fields stored in their own column.
        self._simple = {
            key: layout.coerce
            for key, layout in form.fields.items()
            if self._allowed[key] == "editable"
            and layout.source == "column"
            and layout.writable
            and not isinstance(layout.spec, RelationField)
            and layout.spec.type not in FILE_TYPES
        }

    # --- coerce ---------------------------------------------------------------------------
    def prepare(self, data: Any, *, creating: bool, preserve: bool = False) -> Prepared:
        """Coerce a record's input (JSON) by field type; collect every issue."""
        prepared = Prepared()
        if not isinstance(data, Mapping):
            prepared.issues.append(issue("", "expected_record"))
            return prepared
        simple = self._simple
        values = prepared.values
        for key, raw in data.items():
            coerce = simple.get(key)
            if coerce is not None and _no_surrogates(raw):
                value, found = coerce(raw)
                if found:
                    prepared.issues.extend(i.under(key) for i in found)
                values[key] = value
            else:
                self._prepare_key(key, raw, prepared, preserve)
        if creating:
            self._defaults(
                self.form,
                data if isinstance(data, Mapping) else {},
                prepared.values,
                prepared.issues,
            )
        return prepared

    def _prepare_key(self, key: Any, raw: Any, prepared: Prepared, preserve: bool) -> None:
        """One input key the fast path of `prepare` does not take, with every check."""
        if not isinstance(key, str):
            prepared.issues.append(issue("", "unknown_field", key=key))
            return
        if key.startswith("_"):
            if preserve and key in SYSTEM_WRITABLE_ON_IMPORT:
                self._system_value(key, raw, prepared)
            return  # other system keys are read-only and ignored (clients echo records back)
        found = self.form.fields.get(key)
        if found is None:
            prepared.issues.append(issue(key, "unknown_field", key=key))
            return
        if (
            raw is not None
            and (type(raw) is not str or not raw.isascii())
            and (bad := lone_surrogates(raw, (key,)))
        ):
            prepared.issues.extend(lone_surrogate_issue(path) for path in bad)
            return
        allowed = self._allowed[key]
        if allowed == "hidden":
            prepared.issues.append(issue(key, "unknown_field", key=key))  # as if it did not exist
            return
        if allowed == "read_only" and found.writable:
            prepared.issues.append(issue(key, "read_only_field"))
            return
        if not found.writable:
            if preserve and found.spec.type == "serial" and isinstance(raw, str):
                prepared.system["#serial:" + key] = raw  # an imported serial keeps its number
            return  # computed values are read-only; an echoed value is ignored
        self._coerce_into(
            self.form,
            found,
            raw,
            prepared.values,
            prepared.rows,
            prepared.links,
            prepared.issues,
            key,
        )

    @staticmethod
    def _system_value(key: str, raw: Any, prepared: Prepared) -> None:
        """An imported system value, checked so that it fits its column."""
        if raw is None or key in ("_created_at", "_updated_at"):
            prepared.system[key] = raw  # moments that do not parse fall back to now
            return
        if key == "_version":
            if isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw <= INT64_MAX:
                prepared.system[key] = raw
            else:
                prepared.issues.append(issue(key, "expected_version"))
            return
        value, found = coerce_id(raw)  # _id and the people columns
        prepared.issues.extend(i.under(key) for i in found)
        prepared.system[key] = value

    def _coerce_into(
        self,
        container: Container,
        layout: FieldLayout,
        raw: Any,
        values: dict[str, Any],
        rows: dict[str, list[dict[str, Any]]],
        links: dict[str, list[int]],
        issues: list[Issue],
        path: str,
    ) -> None:
        spec = layout.spec
        if layout.source == "rows":
            rows[spec.key] = self._coerce_rows(layout, raw, issues, path)
            return
        if isinstance(spec, RelationField):
            ids = self._coerce_relation(spec, raw, issues, path)
            if spec.many:
                links[spec.key] = ids
            else:
                values[spec.key] = ids[0] if ids else None
            return
        if spec.type in FILE_TYPES:
            values[spec.key] = self._coerce_files(raw, issues, path)
            return
        value, found = layout.coerce(raw)
        if found:
            issues.extend(i.under(path) for i in found)
        values[spec.key] = value

    def _coerce_relation(
        self, spec: RelationField, raw: Any, issues: list[Issue], path: str
    ) -> list[int]:
        if raw is None or raw == []:
            return []
        items = raw if spec.many else [raw]
        if spec.many and not isinstance(raw, list):
            issues.append(issue(path, "expected_list"))
            return []
        ids: list[int] = []
        for index, item in enumerate(items):
            candidate = item.get("_id") if isinstance(item, Mapping) else item
            value, found = coerce_id(candidate)
            where = f"{path}[{index}]" if spec.many else path
            issues.extend(i.under(where) for i in found)
            if value is not None and value not in ids:
                ids.append(value)
        return ids

    def _coerce_files(self, raw: Any, issues: list[Issue], path: str) -> list[int] | None:
        if raw is None or raw == []:
            return None
        if not isinstance(raw, list):
            issues.append(issue(path, "expected_list"))
            return None
        ids: list[int] = []
        for index, item in enumerate(raw):
            candidate = item.get("file_id") if isinstance(item, Mapping) else item
            value, found = coerce_id(candidate)
            issues.extend(i.under(f"{path}[{index}]") for i in found)
            if value is not None and value not in ids:
                ids.append(value)
        return ids

    def _coerce_rows(
        self, layout: FieldLayout, raw: Any, issues: list[Issue], path: str
    ) -> list[dict[str, Any]]:
        assert layout.rows is not None and isinstance(layout.spec, SubformField)
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            issues.append(issue(path, "expected_list"))
            return []
        spec = layout.spec
        if spec.max is not None and len(raw) > spec.max:
            issues.append(issue(path, "too_many_rows", max=spec.max))
        if spec.min is not None and len(raw) < spec.min:
            issues.append(issue(path, "too_few_rows", min=spec.min))
        result: list[dict[str, Any]] = []
        for index, item in enumerate(raw):
            where = f"{path}[{index}]"
            if not isinstance(item, Mapping):
                issues.append(issue(where, "expected_object"))
                continue
            row: dict[str, Any] = {}
            row_links: dict[str, list[int]] = {}
            if "_id" in item and item["_id"] is not None:
                row_id, found = coerce_id(item["_id"])
                issues.extend(i.under(f"{where}._id") for i in found)
                row["_id"] = row_id
            for key, value in item.items():
                if key.startswith("_"):
                    continue
                sub = layout.rows.fields.get(key)
                if sub is None:
                    issues.append(issue(f"{where}.{key}", "unknown_field", key=key))
                    continue
                if not sub.writable:
                    continue
                self._coerce_into(
                    layout.rows, sub, value, row, {}, row_links, issues, f"{where}.{key}"
                )
            if "_id" not in row:
                self._defaults(layout.rows, item, row, issues, prefix=f"{where}.")
            row["#links"] = row_links
            result.append(row)
        return result

    def _defaults(
        self,
        container: Container,
        given: Mapping[str, Any],
        values: dict[str, Any],
        issues: list[Issue],
        prefix: str = "",
    ) -> None:
        for layout in _with_defaults(container):
            spec = layout.spec
            assert isinstance(spec, ValueFieldSpec)
            if spec.key in given or isinstance(spec.default, DefaultLinkage):
                continue  # linkage defaults are filled for the whole batch (`fill_linkage`)
            if isinstance(spec.default, DefaultExpr):
                raw = expr.encode(self.evaluate(spec.default.expr, container, values))
            else:
                raw = spec.default
            if isinstance(spec, RelationField):
                continue  # relation defaults need data linkage, which is not modelled yet
            value, found = layout.coerce(raw)
            issues.extend(i.under(prefix + spec.key) for i in found)
            values[spec.key] = value

    def fill_linkage(
        self, conn: Connection, records: Sequence[Any], prepared: Sequence[Prepared]
    ) -> None:
        """Data linkage defaults of the fields each record leaves out (one query per linkage
        field for the batch; see `engine.forms.linkage`). A value that does not convert to the
        field's type leaves it empty rather than failing the record."""
        fields = linked_fields(self.form)
        if not fields:
            return
        wants = [
            {f.key for f in fields if isinstance(data, Mapping) and f.key not in data}
            for data in records
        ]
        found = self.linker.fill(conn, [one.values for one in prepared], wants)
        for one, filled in zip(prepared, found, strict=True):
            for key, raw in filled.items():
                values: dict[str, Any] = {}
                links: dict[str, list[int]] = {}
                problems: list[Issue] = []
                self._coerce_into(
                    self.form, self.form.fields[key], raw, values, {}, links, problems, key
                )
                one.values[key] = None if problems else values.get(key)

    def evaluate(self, source: str, container: Container, values: Mapping[str, Any]) -> Any:
        """A formula over a record's own stored values, in Python (trusted: values are typed)."""
        return _trusted_formula(container, source).run(values, self._ctx)

    # --- computed -------------------------------------------------------------------------
    def compute(self, container: Container, values: dict[str, Any]) -> None:
        """Stored formulas of one record (or subform row), in dependency order."""
        for layout in container.stored_formulas():
            assert isinstance(layout.spec, FormulaField)
            values[layout.key] = _fits(self.evaluate(layout.spec.expr, container, values), layout)

    def next_serial(self, conn: Connection, layout: FieldLayout) -> str:
        """The next serial number of `layout`, unique under concurrent inserts (a counter row)."""
        assert isinstance(layout.spec, SerialField)
        local = self.now.astimezone(ZoneInfo(self.tz))
        parts = {
            "YYYY": f"{local.year:04d}",
            "YY": f"{local.year % 100:02d}",
            "MM": f"{local.month:02d}",
            "DD": f"{local.day:02d}",
        }
        period = SERIAL_TOKEN.sub(lambda m: parts.get(m.group(1), "{n}"), layout.spec.pattern)
        key = f"serial:{layout.id}:{period}"
        value = _increment(conn, key)
        return SERIAL_TOKEN.sub(
            lambda m: (
                str(value).zfill(len(m.group(1)))
                if SERIAL_COUNTER.match(m.group(1))
                else parts[m.group(1)]
            ),
            layout.spec.pattern,
        )

    # --- checks that need the database ------------------------------------------------------
    def check_references(
        self,
        conn: Connection,
        prepared: Sequence[Prepared],
        paths: Sequence[str],
        actor: Actor | None = None,
        kept: frozenset[tuple[str, int]] = frozenset(),
    ) -> None:
        """Linked records, people and files must exist (one query per kind for the whole batch).

        A linked record must also be inside the caller's `view` scope of its form (else the same
        issue as a missing one, so a write is no oracle for records the caller cannot read), and
        a file the `actor`'s to use (see `_may_use_file`) and of a type its field accepts.
        `kept` are the record's (field slot, id) pairs of relations and files before a change:
        those stay allowed in place whoever may read them (clients echo records back)."""
        wanted: dict[tuple[str, str], set[int]] = {}
        uses: list[tuple[int, tuple[str, str], int, str]] = []
        file_uses: dict[str, tuple[str, str]] = {}  # issue path -> (field slot, field type)
        slots: dict[str, str] = {}  # issue path -> field slot, of relation values

        def visit(
            n: int,
            container: Container,
            values: Mapping[str, Any],
            links: Mapping[str, list[int]],
            path: str,
            slot: str = "",
        ) -> None:
            for layout in _references(container):
                spec = layout.spec
                where = f"{path}{spec.key}"
                found: list[tuple[tuple[str, str], int, str]] = []
                if isinstance(spec, RelationField):
                    ids = (
                        links.get(spec.key, [])
                        if spec.many
                        else [values[spec.key]]
                        if values.get(spec.key)
                        else []
                    )
                    found = [
                        (("form", spec.target), v, f"{where}[{i}]" if spec.many else where)
                        for i, v in enumerate(ids)
                    ]
                    slots.update({at: f"{slot}{spec.key}" for _, _, at in found})
                elif spec.type in PEOPLE and values.get(spec.key) is not None:
                    raw = values[spec.key]
                    kind = (PEOPLE[spec.type], "")
                    if isinstance(raw, list):
                        found = [(kind, v, f"{where}[{i}]") for i, v in enumerate(raw)]
                    else:
                        found = [(kind, raw, where)]
                elif spec.type in FILE_TYPES and values.get(spec.key):
                    found = [
                        (("file", ""), v, f"{where}[{i}]") for i, v in enumerate(values[spec.key])
                    ]
                    file_uses.update({at: (f"{slot}{spec.key}", spec.type) for _, _, at in found})
                for kind, value, at in found:
                    wanted.setdefault(kind, set()).add(value)
                    uses.append((n, kind, value, at))

        for n, (one, path) in enumerate(zip(prepared, paths, strict=True)):
            visit(n, self.form, one.values, one.links, path)
            for key, rows in one.rows.items():
                rows_layout = self.form.fields[key].rows
                assert rows_layout is not None
                for index, row in enumerate(rows):
                    visit(
                        n,
                        rows_layout,
                        row,
                        row.get("#links", {}),
                        f"{path}{key}[{index}].",
                        f"{key}.",
                    )
        existing = {
            kind: self._existing(conn, kind, ids)
            for kind, ids in wanted.items()
            if not (self.defer_links and kind[0] == "form") and kind[0] != "file"
        }
        readable = {
            kind: self._readable(conn, kind[1], ids)
            for kind, ids in existing.items()
            if kind[0] == "form" and self.access is not None
        }
        files = self._files(conn, wanted.get(("file", ""), set()))
        if self.trust_files:
            actor = None
        codes = {
            "form": "record_not_found",
            "user": "user_not_found",
            "department": "department_not_found",
            "file": "file_not_found",
        }
        for n, kind, value, at in uses:
            if kind[0] == "form" and self.defer_links:
                self.deferred.append((kind[1], value, at))
                continue
            if kind[0] == "file":
                slot, field_type = file_uses[at]
                upload = files.get(value)
                if upload is None or not ((slot, value) in kept or _may_use_file(upload, actor)):
                    prepared[n].issues.append(issue(at, "file_not_found", id=value))
                elif problem := mime_problem(field_type, upload.mime):
                    prepared[n].issues.append(issue(at, problem))
                continue
            if value not in existing[kind] or (
                kind in readable and value not in readable[kind] and (slots[at], value) not in kept
            ):
                prepared[n].issues.append(issue(at, codes[kind[0]], id=value))

    def _existing(self, conn: Connection, kind: tuple[str, str], ids: set[int]) -> set[int]:
        if kind[0] == "form":
            table = self.app.forms[kind[1]].table
            query = select(table.c._id).where(table.c._id.in_(ids), table.c._deleted_at.is_(None))
        elif kind[0] == "user":
            query = select(User.id).where(User.id.in_(ids))
        elif kind[0] == "department":
            query = select(Department.id).where(Department.id.in_(ids))
        else:
            raise AssertionError(kind)
        return set(conn.execute(query).scalars())

    def _readable(self, conn: Connection, form_key: str, ids: set[int]) -> set[int]:
        """Those of `ids` (live records of form `form_key`) the caller may view: the target
        form's row scope, read through `Access.on` (everything for an unrestricted caller)."""
        assert self.access is not None
        if not ids:
            return set()
        target = self.app.forms[form_key]
        rights = self.access.on(target)
        if rights is None:
            return ids
        if not rights.allows("view"):
            return set()
        reader = Reader(self.app, target, self.ctx, access=rights)
        table = target.table
        query = select(table.c._id).where(table.c._id.in_(ids), reader.visible(reader.resolver()))
        return set(conn.execute(query).scalars())

    @staticmethod
    def _files(conn: Connection, ids: set[int]) -> dict[int, Any]:
        """Uploads by id with what deciding their use needs (type, uploader, public link)."""
        if not ids:
            return {}
        query = select(
            StoredFile.id, StoredFile.mime, StoredFile.created_by, StoredFile.link_id
        ).where(StoredFile.id.in_(ids))
        if (
            conn.dialect.name == "postgresql"
        ):  # the orphan sweep cannot remove them while this write is open
            query = query.with_for_update(read=True)
        return {row.id: row for row in conn.execute(query)}

    def check_unique(
        self,
        conn: Connection,
        prepared: Sequence[Prepared],
        paths: Sequence[str],
        ids: Sequence[int | None],
    ) -> None:
        """Unique fields: no live record (other than itself) and no other row of the batch has the value.

        A value taken by a record outside the caller's view scope (or of a field hidden from
        the caller) is refused without echoing it: the caller learns only that it is taken."""
        table = self.form.table
        for layout in self.form.fields.values():
            if not layout.unique:
                continue
            values = [one.values.get(layout.key) for one in prepared]
            present = {v for v in values if v is not None}
            if not present:
                continue
            taken: dict[Any, set[int]] = {}
            query = select(table.c[layout.column], table.c._id).where(
                table.c[layout.column].in_(present), table.c._deleted_at.is_(None)
            )
            for value, record_id in conn.execute(query):
                taken.setdefault(value, set()).add(record_id)
            seen: set[Any] = set()
            for one, path, value, record_id in zip(prepared, paths, values, ids, strict=True):
                if value is None:
                    continue
                others = taken.get(value, set()) - {record_id}
                if others and (
                    self._allowed[layout.key] == "hidden" or not self._may_view(conn, others)
                ):
                    one.issues.append(
                        Issue(
                            f"{path}{layout.key}",
                            "unique",
                            "该取值已被使用，不能重复",
                            "This value is already taken; it must be unique",
                        )
                    )
                elif others or value in seen:
                    shown = layout.kind.to_json(layout.spec, value)
                    one.issues.append(issue(f"{path}{layout.key}", "unique", value=shown))
                seen.add(value)

    def _may_view(self, conn: Connection, record_ids: set[int]) -> bool:
        """Whether the caller may view every one of these live records."""
        if self.access is None:
            return True
        resolver = self.reader.resolver()
        table = self.form.table
        query = (
            select(func.count())
            .select_from(table)
            .where(table.c._id.in_(record_ids), self.reader.visible(resolver))
        )
        return int(conn.execute(query).scalar_one()) == len(record_ids)

    def check_after_write(
        self,
        conn: Connection,
        prepared: Sequence[Prepared],
        paths: Sequence[str],
        ids: Sequence[int],
    ) -> None:
        """Required (unless hidden) and cross-field validations, computed in SQL on the written rows."""
        form = self.form
        conditional = [layout for layout in self._required() if layout.spec.visible_when]
        required = conditional
        validations = form.spec.validations
        if not required and not validations:
            return
        columns: list[Any] = [form.table.c._id]
        if conditional or validations:
            # The builder's rules hold whoever saves: they read the record as stored, including
            # fields and related records the caller may not see (a credit limit hidden from a rep
            # must still stop an order over it). Only the rule's fixed message reaches the caller.
            resolver = self._full.resolver()
            columns += [
                resolver.formula(layout.spec.visible_when).label(f"v{i}")  # type: ignore[arg-type]
                for i, layout in enumerate(conditional)
            ]
            columns += [
                resolver.formula(rule.expr).label(f"c{i}") for i, rule in enumerate(validations)
            ]
        results: dict[int, dict[str, Any]] = {
            found._mapping["_id"]: dict(found._mapping)
            for found in conn.execute(select(*columns).where(form.table.c._id.in_(ids)))
        }
        for one, path, record_id in zip(prepared, paths, ids, strict=True):
            row = results.get(record_id, {})
            hidden = {layout.key for i, layout in enumerate(conditional) if not row.get(f"v{i}")}
            for layout in required:
                if layout.key not in hidden and _blank(one, layout):
                    one.issues.append(issue(f"{path}{layout.key}", "required"))
            for i, rule in enumerate(validations):
                if not row.get(f"c{i}"):
                    message = rule.message
                    one.issues.append(
                        Issue(
                            path.rstrip(".") if path else "",
                            "validation",
                            message.zh or message.en or "校验未通过",
                            message.en or message.zh or "Validation failed",
                        )
                    )

    def _required(self) -> list[FieldLayout]:
        return [
            layout
            for layout in self.form.fields.values()
            if isinstance(layout.spec, (ValueFieldSpec, SubformField)) and layout.spec.required
        ]

    def check_required(self, prepared: Sequence[Prepared], paths: Sequence[str]) -> None:
        """Required fields that are always shown (conditional ones are checked after the write)."""
        always = [layout for layout in self._required() if not layout.spec.visible_when]
        for one, path in zip(prepared, paths, strict=True):
            for layout in always:
                if _blank(one, layout):
                    one.issues.append(issue(f"{path}{layout.key}", "required"))
            for key, rows in one.rows.items():
                rows_layout = self.form.fields[key].rows
                assert rows_layout is not None
                row_required = [
                    f
                    for f in rows_layout.fields.values()
                    if isinstance(f.spec, ValueFieldSpec)
                    and f.spec.required
                    and not f.spec.visible_when
                ]
                for index, row in enumerate(rows):
                    if row.get("#unchanged"):
                        continue  # rows a PATCH did not send were valid when they were saved
                    for f in row_required:
                        blank = (
                            not row.get("#links", {}).get(f.key)
                            if f.source == "links"
                            else row.get(f.key) is None
                        )
                        if blank:
                            one.issues.append(issue(f"{path}{key}[{index}].{f.key}", "required"))

    # --- writing ----------------------------------------------------------------------------
    def create_many(
        self,
        conn: Connection,
        records: Sequence[Any],
        actor: Actor,
        *,
        preserve: bool = False,
        paths: Sequence[str] | None = None,
    ) -> list[int]:
        """Create records (all or nothing): returns their ids; raises 422 with every issue."""
        paths = (
            list(paths)
            if paths is not None
            else ([""] if len(records) == 1 else [f"[{i}]." for i in range(len(records))])
        )
        self.require("create")
        self.preserve_ids = preserve
        prepared = [self.prepare(data, creating=True, preserve=preserve) for data in records]
        for one, path in zip(prepared, paths, strict=True):
            if one.issues:
                one.issues = [i.under(path.rstrip(".")) for i in one.issues]
        self.fill_linkage(conn, records, prepared)
        self.check_references(conn, prepared, paths, actor)
        for one in prepared:
            self.compute(self.form, one.values)
            for key, rows in one.rows.items():
                rows_layout = self.form.fields[key].rows
                assert rows_layout is not None
                for row in rows:
                    self.compute(rows_layout, row)
        self.check_unique(conn, prepared, paths, [None] * len(prepared))
        self.check_required(prepared, paths)
        issues = [i for one in prepared for i in one.issues]
        if issues:
            raise invalid(issues)
        serials = [f for f in self.form.fields.values() if isinstance(f.spec, SerialField)]
        table = self.form.table
        main_rows: list[dict[str, Any]] = []
        columns_of = _columns(self.form)
        for one in prepared:
            row = {columns_of[key]: value for key, value in one.values.items()}
            for layout in serials:
                given = one.system.get("#serial:" + layout.key)
                row[layout.column] = given or self.next_serial(conn, layout)
            row.update(self._system_values(one, actor))
            main_rows.append(row)
        columns = {name for row in main_rows for name in row}
        if any(len(row) != len(columns) for row in main_rows):  # executemany needs one shape
            main_rows = [{name: row.get(name) for name in columns} for row in main_rows]
        ids = self._unique_guard(
            conn,
            lambda: self._insert(conn, table, main_rows, preserve),
            prepared,
            paths,
            [None] * len(prepared),
        )
        for one, record_id in zip(prepared, ids, strict=True):
            self._write_children(conn, one, record_id, creating=True)
        if preserve:
            for layout in self.form.fields.values():
                if layout.rows is not None:
                    reset_sequence(conn, layout.rows.table.name)
        self.check_after_write(conn, prepared, paths, ids)
        self.check_create_scope(conn, prepared, paths, ids)
        issues = [i for one in prepared for i in one.issues]
        if issues:
            raise invalid(issues)
        self.changes.record(
            conn,
            [
                Change("created", record_id, row["_version"], self._created_diff(one), actor, path)
                for one, record_id, row, path in zip(prepared, ids, main_rows, paths, strict=True)
            ],
        )
        return ids

    def check_create_scope(
        self,
        conn: Connection,
        prepared: Sequence[Prepared],
        paths: Sequence[str],
        ids: Sequence[int],
    ) -> None:
        """A created record must fall in the caller's create scope (a formula scope can leave it out)."""
        if self.access is None or not ids:
            return
        table = self.form.table
        inside = self.access.where("create", table, self.reader.resolver())
        found = set(
            conn.execute(select(table.c._id).where(table.c._id.in_(list(ids)), inside)).scalars()
        )
        for one, path, record_id in zip(prepared, paths, ids, strict=True):
            if record_id not in found:
                one.issues.append(issue(path.rstrip("."), "out_of_scope"))

    def _system_values(self, one: Prepared, actor: Actor) -> dict[str, Any]:
        system = one.system
        if not system:
            return {
                "_created_at": self.now,
                "_created_by": actor.user_id,
                "_updated_at": self.now,
                "_updated_by": actor.user_id,
                "_owner": actor.user_id if actor.owner is None else actor.owner,
                "_version": 1,
            }
        created = _moment(system.get("_created_at")) or self.now
        updated = _moment(system.get("_updated_at")) or created if system else self.now
        values = {
            "_created_at": created,
            "_created_by": system.get("_created_by", actor.user_id),
            "_updated_at": updated,
            "_updated_by": system.get("_updated_by", actor.user_id),
            "_owner": system.get("_owner", actor.user_id if actor.owner is None else actor.owner),
            "_version": int(system.get("_version") or 1),
        }
        if isinstance(system.get("_id"), int) and system["_id"] > 0:
            values["_id"] = system["_id"]
        return values

    def _insert(
        self, conn: Connection, table: Any, rows: list[dict[str, Any]], preserve: bool
    ) -> list[int]:
        if not rows:
            return []
        if preserve and all("_id" in row for row in rows):
            if not bulk_insert(conn, table, rows):
                conn.execute(insert(table), rows)
            reset_sequence(conn, table.name)
            return [row["_id"] for row in rows]
        if len(rows) == 1:
            return [conn.execute(insert(table).values(rows[0]).returning(table.c._id)).scalar_one()]
        ids = reserve_ids(conn, table, len(rows))
        if ids is None:
            result = conn.execute(
                insert(table).returning(table.c._id, sort_by_parameter_order=True), rows
            )
            return [row[0] for row in result]
        for row, record_id in zip(rows, ids, strict=True):
            row["_id"] = record_id
        if not bulk_insert(conn, table, rows):
            conn.execute(insert(table), rows)
        return ids

    def _unique_guard(
        self,
        conn: Connection,
        write: Callable[[], _T],
        prepared: Sequence[Prepared],
        paths: Sequence[str],
        ids: Sequence[int | None],
    ) -> _T:
        """Run `write`; a unique value a concurrent writer took after `check_unique` (PostgreSQL's
        unique index refuses the second one) is reported as `check_unique` reports it: a 422 at
        the field. A savepoint keeps the transaction usable for that second check; forms without
        unique fields need neither."""
        if not any(layout.unique for layout in self.form.fields.values()):
            return write()
        try:
            with conn.begin_nested():
                return write()
        except IntegrityError as exc:
            self.check_unique(
                conn, prepared, paths, ids
            )  # the winner has committed: it is seen now
            issues = [i for one in prepared for i in one.issues]
            if issues:
                raise invalid(issues) from exc
            raise ServiceError(
                409,
                "validation_failed",
                [Issue("", "unique", "取值已存在，不能重复", "A unique value already exists")],
            ) from exc

    def _write_children(
        self, conn: Connection, one: Prepared, record_id: int, *, creating: bool
    ) -> None:
        for key, ids in one.links.items():
            link = self.form.fields[key].link
            assert link is not None
            if not creating:
                conn.execute(delete(link).where(link.c._source_id == record_id))
            if ids:
                conn.execute(
                    insert(link),
                    [
                        {"_source_id": record_id, "_target_id": t, "_seq": i}
                        for i, t in enumerate(ids)
                    ],
                )
        for key, rows in one.rows.items():
            layout = self.form.fields[key]
            assert layout.rows is not None
            self._write_rows(conn, layout.rows, record_id, rows, creating=creating, path=key)

    def _write_rows(
        self,
        conn: Connection,
        rows_layout: RowsLayout,
        record_id: int,
        rows: list[dict[str, Any]],
        *,
        creating: bool,
        path: str,
    ) -> None:
        table = rows_layout.table
        kept: set[int] = set()
        if not creating:
            existing = set(
                conn.execute(select(table.c._id).where(table.c._parent_id == record_id)).scalars()
            )
            issues = [
                issue(f"{path}[{i}]._id", "row_not_found", id=row["_id"])
                for i, row in enumerate(rows)
                if row.get("_id") is not None and row["_id"] not in existing
            ]
            if issues:
                raise invalid(issues)
            kept = {row["_id"] for row in rows if row.get("_id") is not None}
            removed = existing - kept
            if removed:
                self._drop_row_links(conn, rows_layout, removed)
                conn.execute(delete(table).where(table.c._id.in_(removed)))
        for seq, row in enumerate(rows):
            values = {
                rows_layout.fields[k].column: v
                for k, v in row.items()
                if not k.startswith(("_", "#"))
            }
            values.update(_parent_id=record_id, _seq=seq)
            if creating and self.preserve_ids and row.get("_id") is not None:
                values["_id"] = row["_id"]
                conn.execute(insert(table).values(values))
                row_id = row["_id"]
            elif not creating and row.get("_id") is not None:
                conn.execute(update(table).where(table.c._id == row["_id"]).values(values))
                row_id = row["_id"]
            else:
                row_id = conn.execute(
                    insert(table).values(values).returning(table.c._id)
                ).scalar_one()
            for key, ids in row.get("#links", {}).items():
                link = rows_layout.fields[key].link
                assert link is not None
                conn.execute(delete(link).where(link.c._source_id == row_id))
                if ids:
                    conn.execute(
                        insert(link),
                        [
                            {"_source_id": row_id, "_target_id": t, "_seq": i}
                            for i, t in enumerate(ids)
                        ],
                    )

    @staticmethod
    def _drop_row_links(conn: Connection, rows_layout: RowsLayout, row_ids: set[int]) -> None:
        for layout in rows_layout.fields.values():
            if layout.link is not None:
                conn.execute(delete(layout.link).where(layout.link.c._source_id.in_(row_ids)))

    def update(self, conn: Connection, record_id: int, data: Any, actor: Actor) -> int:
        """Change a record; `data["_version"]` must be its current version (else 409)."""
        if not isinstance(data, Mapping):
            raise invalid([issue("", "expected_record")])
        version = data.get("_version")
        if version is None:
            raise invalid([issue("_version", "version_required")])
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise invalid([issue("_version", "expected_version")])
        self.require("edit")
        self.in_scope(conn, record_id, "edit")
        before = self._full.get(conn, record_id)
        if before["_version"] != version:
            raise ServiceError(409, "stale_version")
        prepared = self.prepare(data, creating=False)
        self.check_references(conn, [prepared], [""], actor, self._kept(before))
        locked = self.locked_fields(
            conn, record_id, [*prepared.values, *prepared.rows, *prepared.links]
        )
        table = self.form.table
        stored = self._stored_values(conn, record_id)
        merged = {**stored, **prepared.values}
        self.compute(self.form, merged)
        prepared.values = {
            k: v
            for k, v in merged.items()
            if k in prepared.values or self.form.fields[k].spec.type == "formula"
        }
        for key, rows in prepared.rows.items():
            rows_layout = self.form.fields[key].rows
            assert rows_layout is not None
            for row in rows:
                self.compute(rows_layout, row)  # rows that keep their _id are sent whole
        self.check_unique(conn, [prepared], [""], [record_id])
        whole = Prepared(values=merged, rows=prepared.rows, links=prepared.links)
        if not prepared.rows:
            whole.rows = {
                k: [{"#unchanged": True}] * len(before.get(k) or [])
                for k, f in self.form.fields.items()
                if f.source == "rows"
            }
        if not prepared.links:
            whole.links = {
                k: [0] * len(before.get(k) or [])
                for k, f in self.form.fields.items()
                if f.source == "links"
            }
        self.check_required([whole], [""])
        prepared.issues.extend(whole.issues)
        if prepared.issues:
            raise invalid(prepared.issues)
        values = {self.form.fields[key].column: value for key, value in prepared.values.items()}
        values.update(_updated_at=self.now, _updated_by=actor.user_id, _version=version + 1)
        statement = (
            update(table)
            .where(
                table.c._id == record_id, table.c._version == version, table.c._deleted_at.is_(None)
            )
            .values(values)
        )
        result = self._unique_guard(
            conn, lambda: conn.execute(statement), [prepared], [""], [record_id]
        )
        if result.rowcount != 1:
            raise ServiceError(409, "stale_version")
        self._write_children(conn, prepared, record_id, creating=False)
        whole.issues = []
        self.check_after_write(conn, [whole], [""], [record_id])
        if whole.issues:
            raise invalid(whole.issues)
        after = self._full.get(conn, record_id)
        diff = {
            key: [before.get(key), after.get(key)]
            for key in self.form.fields
            if key in after and before.get(key) != after.get(key)
        }
        if changed_locked := [key for key in locked if key in diff]:
            raise invalid([issue(key, "locked_field") for key in changed_locked])
        self.changes.record(conn, [Change("updated", record_id, version + 1, diff, actor)])
        return version + 1

    def locked_fields(self, conn: Connection, record_id: int, keys: Sequence[str]) -> list[str]:
        """Those of `keys` whose `readonly_when` holds for the record as stored, before the change
        (so closing a record and setting its final amount in one save is allowed); computed in SQL,
        as the condition may read lookups and rollups. Sending such a field unchanged is fine:
        clients echo whole records back."""
        conditional = [
            self.form.fields[key] for key in keys if self.form.fields[key].spec.readonly_when
        ]
        if not conditional:
            return []
        # The builder's rule, read unrestricted like the validations.
        resolver = self._full.resolver()
        columns = [
            resolver.formula(layout.spec.readonly_when).label(f"r{i}")  # type: ignore[arg-type]
            for i, layout in enumerate(conditional)
        ]
        row = conn.execute(select(*columns).where(self.form.table.c._id == record_id)).one()
        return [layout.key for i, layout in enumerate(conditional) if row[i]]

    def _kept(self, before: Mapping[str, Any]) -> frozenset[tuple[str, int]]:
        """(field slot, id) of the files and linked records a record holds: a change may keep
        them in place whoever uploaded them or may read them, but not move them into another
        field."""
        kept: set[tuple[str, int]] = set()

        def collect(container: Container, values: Mapping[str, Any], slot: str) -> None:
            for layout in container.fields.values():
                if layout.spec.type in FILE_TYPES:
                    kept.update(
                        (f"{slot}{layout.key}", ref["file_id"])
                        for ref in values.get(layout.key) or []
                    )
                elif isinstance(layout.spec, RelationField):
                    value = values.get(layout.key)
                    refs = value if isinstance(value, list) else [value] if value else []
                    kept.update(
                        (f"{slot}{layout.key}", ref["_id"])
                        for ref in refs
                        if isinstance(ref, Mapping) and "_id" in ref
                    )
                elif layout.rows is not None:
                    for row in values.get(layout.key) or []:
                        collect(layout.rows, row, f"{layout.key}.")

        collect(self.form, before, "")
        return frozenset(kept)

    def _stored_values(self, conn: Connection, record_id: int) -> dict[str, Any]:
        table = self.form.table
        columns = [
            table.c[f.column].label(f.key)
            for f in self.form.fields.values()
            if f.source == "column"
        ]
        if not columns:
            return {}
        row = conn.execute(select(*columns).where(table.c._id == record_id)).first()
        if row is None:
            raise not_found()
        return dict(row._mapping)

    def delete(self, conn: Connection, record_id: int, actor: Actor) -> None:
        """Move a record to the recycle bin (soft delete)."""
        self._set_deleted(conn, record_id, actor, deleted=True)

    def restore(self, conn: Connection, record_id: int, actor: Actor) -> None:
        """Bring a record back from the recycle bin (a 422 if a unique value was taken since)."""
        self._set_deleted(conn, record_id, actor, deleted=False)

    def transfer(
        self, conn: Connection, record_ids: Sequence[int], owner: int, actor: Actor
    ) -> int:
        """Give records to `owner` (all or nothing): each must be editable by the caller."""
        self.require("edit")
        if owner not in self._existing(conn, ("user", ""), {owner}):
            raise invalid([issue("owner", "user_not_found", id=owner)])
        ids = list(dict.fromkeys(record_ids))
        for record_id in ids:
            self.in_scope(conn, record_id, "edit")
        table = self.form.table
        rows = conn.execute(
            select(table.c._id, table.c._owner, table.c._version).where(table.c._id.in_(ids))
        ).all()
        changes = []
        for record_id, before, version in rows:
            conn.execute(
                update(table)
                .where(table.c._id == record_id)
                .values(
                    _owner=owner,
                    _version=version + 1,
                    _updated_at=self.now,
                    _updated_by=actor.user_id,
                )
            )
            changes.append(
                Change("transferred", record_id, version + 1, {"_owner": [before, owner]}, actor)
            )
        self.changes.record(conn, changes)
        return len(rows)

    def require(self, action: str) -> None:
        """403 unless the caller may `action` records of this form at all."""
        if self.access is not None and not self.access.allows(action):
            raise forbidden()

    def in_scope(
        self, conn: Connection, record_id: int, action: str, *, deleted: bool = False
    ) -> None:
        """404 when the caller cannot see the record, 403 when they see it but may not `action` it."""
        if self.access is None:
            return
        table = self.form.table
        resolver = self.reader.resolver()
        found = conn.execute(
            select(self.access.where(action, table, resolver)).where(
                table.c._id == record_id, self.reader.visible(resolver, deleted=deleted)
            )
        ).first()
        if found is None:
            raise not_found()
        if not found[0]:
            raise forbidden()

    def _set_deleted(
        self, conn: Connection, record_id: int, actor: Actor, *, deleted: bool
    ) -> None:
        self.require("delete")
        self.in_scope(conn, record_id, "delete", deleted=not deleted)
        table = self.form.table
        current = conn.execute(
            select(table.c._version).where(
                table.c._id == record_id,
                table.c._deleted_at.is_(None) if deleted else table.c._deleted_at.is_not(None),
            )
        ).first()
        if current is None:
            raise not_found()
        if not deleted:
            stored = self._stored_values(conn, record_id)
            one = Prepared(values=stored)
            self.check_unique(conn, [one], [""], [record_id])
            if one.issues:
                raise invalid(one.issues)
        version = current[0] + 1
        conn.execute(
            update(table)
            .where(table.c._id == record_id)
            .values(
                _deleted_at=self.now if deleted else None,
                _version=version,
                _updated_at=self.now,
                _updated_by=actor.user_id,
            )
        )
        kind = "deleted" if deleted else "restored"
        self.changes.record(conn, [Change(kind, record_id, version, {}, actor)])

    def _created_diff(self, one: Prepared) -> dict[str, Any]:
        """A new record's history diff: `[None, value]` for every value it was created with."""
        if one.links or one.rows:
            return {
                key: [None, value]
                for key, value in self._json(one).items()
                if value not in (None, [])
            }
        writers = _history_writers(self.form)
        diff: dict[str, Any] = {}
        for key, value in one.values.items():
            if value is not None:
                written = writers[key](value)
                if written is not None and written != []:
                    diff[key] = (
                        None,
                        written,
                    )  # a JSON array, like [None, value]; tuples of atoms stay out of the GC's way
        return diff

    def _json(self, one: Prepared) -> dict[str, Any]:
        """A prepared record's values as record JSON (what a create's history diff holds)."""
        writers = _history_writers(self.form)
        result = {key: writers[key](value) for key, value in one.values.items()}
        for key, ids in one.links.items():
            result[key] = [{"_id": v} for v in ids]
        for key, rows in one.rows.items():
            rows_layout = self.form.fields[key].rows
            assert rows_layout is not None
            result[key] = [
                {
                    k: rows_layout.fields[k].write_json(v)
                    for k, v in row.items()
                    if not k.startswith(("_", "#"))
                }
                for row in rows
            ]
        return result


def history(
    conn: Connection, form: FormLayout, record_id: int, *, hidden: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """A record's changes, oldest first: version, event, who, through what, when, field diff
    (without the fields in `hidden`)."""
    rows = conn.execute(
        select(RecordHistory.__table__, User.display_name)
        .join(User, User.id == RecordHistory.actor_id, isouter=True)
        .where(RecordHistory.form_id == form.id, RecordHistory.record_id == record_id)
        .order_by(RecordHistory.id)
    ).all()
    return [
        {
            "version": entry.version,
            "event": entry.diff.get("event"),
            "actor": None
            if entry.actor_id is None
            else {"id": entry.actor_id, "name": entry.display_name},
            "channel": entry.channel,
            "at": datetime_json(entry.created_at),
            "changes": {k: v for k, v in entry.diff.get("fields", {}).items() if k not in hidden},
        }
        for entry in rows
    ]


def reset_sequence(conn: Connection, table: str) -> None:
    """After rows were inserted with explicit ids, make PostgreSQL's next id follow them."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', '_id'), (SELECT COALESCE(MAX(_id), 1) FROM {table}))"
        )


# Per-layout facts the pipeline needs for every record, computed once per layout revision and
# kept on the layout (see engine.forms.cache).
def _layout_cache(container: Container, name: str, build: Callable[[], _T]) -> _T:
    return on_layout(container, "pipeline:" + name, build)


def _with_defaults(container: Container) -> list[FieldLayout]:
    """Writable fields that declare a default."""
    return _layout_cache(
        container,
        "defaults",
        lambda: [
            f
            for f in container.fields.values()
            if isinstance(f.spec, ValueFieldSpec) and f.spec.default is not None and f.writable
        ],
    )


def _may_use_file(row: Any, actor: Actor | None) -> bool:
    """Whether `actor` may put an upload into a record (which lets the record's readers
    download it): an anonymous public-link writer only what was uploaded through that link,
    a signed-in user only their own uploads; system writers (no user: pack install, rules,
    flows) anything."""
    if actor is None:
        return True
    if actor.channel == "public_link":
        return actor.link_id is not None and row.link_id == actor.link_id
    return actor.user_id is None or row.created_by == actor.user_id


def _references(container: Container) -> list[FieldLayout]:
    """Fields whose values name other rows: relations, people and files."""
    return _layout_cache(
        container,
        "references",
        lambda: [
            f
            for f in container.fields.values()
            if isinstance(f.spec, RelationField)
            or f.spec.type in PEOPLE
            or f.spec.type in FILE_TYPES
        ],
    )


def _columns(container: Container) -> dict[str, str]:
    """Field key -> column name."""
    return _layout_cache(
        container, "columns", lambda: {key: f.column for key, f in container.fields.items()}
    )


def _history_writers(form: FormLayout) -> dict[str, Callable[[Any], Any]]:
    """Field key -> how a prepared value is written into a create's history diff."""

    def writer(layout: FieldLayout) -> Callable[[Any], Any]:
        if isinstance(layout.spec, RelationField):
            return lambda value: None if value is None else {"_id": value}
        if layout.spec.type in FILE_TYPES:
            return lambda value: None if not value else [{"file_id": v} for v in value]
        return layout.write_json

    return _layout_cache(
        form, "history_writers", lambda: {key: writer(f) for key, f in form.fields.items()}
    )


def _trusted_formula(container: Container, source: str) -> expr.CompiledFormula:
    """A formula of the container compiled for typed values (once per layout and source)."""
    compiled: dict[str, expr.CompiledFormula] = _layout_cache(container, "formulas", dict)
    found = compiled.get(source)
    if found is None:
        found = compiled[source] = expr.compile_formula(source, container.schema, trusted=True)
    return found


def _blank(one: Prepared, layout: FieldLayout) -> bool:
    if layout.source == "rows":
        return not one.rows.get(layout.key)
    if layout.source == "links":
        return not one.links.get(layout.key)
    return one.values.get(layout.key) is None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _no_surrogates(raw: Any) -> bool:
    """A quick "certainly no lone surrogate" for common values (False: ask `lone_surrogates`)."""
    kind = type(raw)
    if kind is str:
        return raw.isascii() or _encodes(raw)
    if raw is None or kind is int or kind is float or kind is bool:
        return True
    if kind is list:
        return all(type(v) is str and (v.isascii() or _encodes(v)) for v in raw)
    return False


def lone_surrogates(value: Any, path: tuple[int | str, ...] = ()) -> list[tuple[int | str, ...]]:
    """Where JSON input holds text with a lone UTF-16 surrogate (``"\\ud800"``): valid JSON,
    but no database stores it, so it is refused like any other bad value."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return [path]
        return []
    found: list[tuple[int | str, ...]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            found += lone_surrogates(key, path) + lone_surrogates(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += lone_surrogates(item, (*path, index))
    return found


def lone_surrogate_issue(path: Sequence[int | str]) -> Issue:
    return Issue(
        format_path(path),
        "invalid_character",
        "包含无效字符（不成对的 UTF-16 代理项，如 \\ud800）",
        "Contains an invalid character (an unpaired UTF-16 surrogate such as \\ud800)",
    )


def _moment(raw: Any) -> dt.datetime | None:
    if isinstance(raw, str):
        try:
            value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            # in UTC, as it is stored: a moment whose UTC date is outside years 1-9999 does not parse
            return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
        except (ValueError, OverflowError):
            return None
    return None


def _increment(conn: Connection, key: str) -> int:
    """Add one to counter `key` in this transaction and return the new value (one statement)."""
    table = Counter.__table__
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(key=key, value=1)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key], set_={"value": table.c.value + 1}
    )
    return int(conn.execute(statement.returning(table.c.value)).scalar_one())


__all__ = [
    "CHANNELS",
    "Actor",
    "Prepared",
    "Writer",
    "history",
    "lone_surrogate_issue",
    "lone_surrogates",
]
