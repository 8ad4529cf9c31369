"""Checks of the record pipeline: rights and row scopes (`require`, `in_scope`, the create
scope), references (linked records, people, files), unique values, required fields,
`readonly_when` locks and the validations computed in SQL on the written rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select, bindparam, case, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import BindParameter

from engine import expr
from engine.core.context import Actor
from engine.core.errors import forbidden, not_found
from engine.core.issues import Issue
from engine.forms.cache import calls_clock, lru_on_layout, reads_clock
from engine.forms.common import ValueFieldSpec
from engine.forms.field_types.files import mime_problem
from engine.forms.field_types.links import RelationField
from engine.forms.field_types.structure import SubformField
from engine.forms.layout import Container, FieldLayout
from engine.forms.messages import issue
from engine.forms.query import Reader
from engine.forms.writing.base import _layout_cache
from engine.forms.writing.convert import Converting, Prepared
from engine.store.models import Department, StoredFile, User

# The ids a kept check statement reads (an expanding parameter: one statement for any count).
_IDS: BindParameter[Any] = bindparam("checked_ids", expanding=True)


def _kept(owner: Container, key: Any, build: Callable[[], Select[Any]]) -> Select[Any]:
    """A check statement over `_IDS`, built once per `key` and kept on the layout `owner`
    (a statement built per call costs more than its execution); `key` None: built now."""
    if key is None:
        return build()
    cache = lru_on_layout(owner, "checks")
    found: Select[Any] | None = cache.get(key)
    if found is None:
        found = build()
        cache.put(key, found)
    return found


def _rights_key(access: Any) -> Any:
    """What SQL built with `access` depends on: its fingerprint (caller, departments, roles),
    None when it has none or its scopes read the clock (then nothing is kept)."""
    return getattr(access, "fingerprint", None)


class Checking(Converting):
    """The checks a write must pass before it commits (see the module docstring)."""

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
                elif (people := layout.kind.traits.people) and values.get(spec.key) is not None:
                    raw = values[spec.key]
                    kind = (people, "")
                    if isinstance(raw, list):
                        found = [(kind, v, f"{where}[{i}]") for i, v in enumerate(raw)]
                    else:
                        found = [(kind, raw, where)]
                elif layout.kind.traits.is_file and values.get(spec.key):
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
            target = self.app.forms[kind[1]]
            table = target.table
            query = _kept(
                target,
                ("existing",),
                lambda: select(table.c._id).where(
                    table.c._id.in_(_IDS), table.c._deleted_at.is_(None)
                ),
            )
            return set(conn.execute(query, {"checked_ids": sorted(ids)}).scalars())
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
        fingerprint = _rights_key(rights)
        query = _kept(
            target,
            None if fingerprint is None else ("readable", self.tz, fingerprint),
            lambda: select(table.c._id).where(
                table.c._id.in_(_IDS), reader.visible(reader.resolver())
            ),
        )
        return set(conn.execute(query, {"checked_ids": sorted(ids)}).scalars())

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
        *,
        create_scope: bool = False,
    ) -> None:
        """Required (unless hidden) and cross-field validations, computed in SQL on the written
        rows; with `create_scope`, also `check_create_scope` in the same statement (after the
        validations' issues, as when it ran on its own)."""
        form = self.form
        conditional = [layout for layout in self._required() if layout.spec.visible_when]
        required = conditional
        validations = form.spec.validations
        access, reader = self.access, self.reader
        scoped = create_scope and access is not None and bool(ids)
        if not required and not validations and not scoped:
            return
        sources = [layout.spec.visible_when for layout in conditional] + [
            rule.expr for rule in validations
        ]

        def build() -> Select[Any]:
            # The builder's rules hold whoever saves: they read the record as stored, including
            # fields and related records the caller may not see (a credit limit hidden from a rep
            # must still stop an order over it). Only the rule's fixed message reaches the caller.
            resolver = self._full.resolver()
            columns: list[Any] = [form.table.c._id]
            columns += [
                resolver.formula(layout.spec.visible_when).label(f"v{i}")  # type: ignore[arg-type]
                for i, layout in enumerate(conditional)
            ]
            columns += [
                resolver.formula(rule.expr).label(f"c{i}") for i, rule in enumerate(validations)
            ]
            if scoped:
                assert access is not None
                inside = access.where("create", form.table, reader.resolver())
                # 1/0 as the WHERE of `check_create_scope` would take it (NULL is outside)
                columns.append(case((inside, 1), else_=0).label("in_scope"))
            return select(*columns).where(form.table.c._id.in_(_IDS))

        # kept unless a formula reads the clock or the member (its SQL holds them), or the
        # rights have no fingerprint
        volatile = reads_clock(self.app) or any(_volatile(s) for s in sources if s)
        rights = _rights_key(access) if scoped else ()
        key = (
            None
            if volatile or rights is None
            else ("after_write", self.tz, tuple(sources), scoped, rights)
        )
        query = _kept(form, key, build)
        results: dict[int, dict[str, Any]] = {
            found._mapping["_id"]: dict(found._mapping)
            for found in conn.execute(query, {"checked_ids": list(ids)})
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
        if scoped:
            for one, path, record_id in zip(prepared, paths, ids, strict=True):
                if not results.get(record_id, {}).get("in_scope"):
                    one.issues.append(issue(path.rstrip("."), "out_of_scope"))

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
        access, reader = self.access, self.reader
        fingerprint = _rights_key(access)
        query = _kept(
            self.form,
            None if fingerprint is None else ("create_scope", self.tz, fingerprint),
            lambda: select(table.c._id).where(
                table.c._id.in_(_IDS), access.where("create", table, reader.resolver())
            ),
        )
        found = set(conn.execute(query, {"checked_ids": list(ids)}).scalars())
        for one, path, record_id in zip(prepared, paths, ids, strict=True):
            if record_id not in found:
                one.issues.append(issue(path.rstrip("."), "out_of_scope"))

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
                if layout.kind.traits.is_file:
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
            or f.kind.traits.people is not None
            or f.kind.traits.is_file
        ],
    )


def _blank(one: Prepared, layout: FieldLayout) -> bool:
    if layout.source == "rows":
        return not one.rows.get(layout.key)
    if layout.source == "links":
        return not one.links.get(layout.key)
    return one.values.get(layout.key) is None


def _volatile(source: str) -> bool:
    """Whether a formula's SQL holds the moment or the member (never kept); True when it does
    not parse (it is compiled per call, which reports it)."""
    try:
        return calls_clock(expr.parse(source))
    except expr.ExprError:
        return True
