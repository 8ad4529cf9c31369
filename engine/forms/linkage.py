"""Data linkage (数据联动) defaults: a field filled from a matching record of another form.

`"default": {"linkage": {"form": "customer", "when": [{"field": "_id", "equals": "customer"}],
"take": "level"}}` fills the field, on create and when the input leaves it out, with `level` of
the `customer` record whose `_id` equals this record's `customer` (every `when` must hold).

This module owns the rules of a linkage definition (`linkage_issues`, called by
`engine.forms.checks`) and the lookup (`Linker`): one SQL statement per linkage field per batch,
which reads the source form **as the actor**: the actor's view scope on the source form is part
of the WHERE, and a source field hidden from the actor (as `take` or in a condition) copies
nothing. Several matches: the most recently updated record wins (then the highest `_id`); no
match: the field stays empty. A value that does not convert to this field's type stays empty too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from engine.core.context import ExecutionContext
from engine.core.errors import invalid
from engine.core.issues import Issue
from engine.forms.access import Access
from engine.forms.cache import on_layout
from engine.forms.common import DefaultLinkage, FieldSpecBase, Linkage, ValueFieldSpec
from engine.forms.field_types import FIELD_TYPES
from engine.forms.field_types.base import Scope
from engine.forms.field_types.links import RelationField
from engine.forms.field_types.values import coerce_id
from engine.forms.layout import AppLayout, FieldLayout, FormLayout
from engine.forms.messages import issue
from engine.forms.query import Reader

# Which values a linkage default may copy into a field, and which fields a condition may compare,
# are the field types' own facts (`traits.linkage_from`, `traits.compare_family`); a relation
# copies and compares relations to the same form. Conversions are the engine's own (`to_json` of
# the source, `coerce` of this field, as a type change does); a value that does not convert
# leaves the field empty.


def _linkage_from(type_name: str) -> frozenset[str]:
    return FIELD_TYPES[type_name].traits.linkage_from


def _family(type_name: str) -> str | None:
    return FIELD_TYPES[type_name].traits.compare_family


SourceAccess = Callable[[Connection, FormLayout], Access | None]
"""The actor's access on a source form (None: unrestricted, as for administrators)."""


def linkage_of(spec: FieldSpecBase) -> Linkage | None:
    """The field's linkage default, if it has one."""
    default = getattr(spec, "default", None)
    return default.linkage if isinstance(default, DefaultLinkage) else None


# --- definition rules ------------------------------------------------------------------------
def linkage_issues(field: FieldSpecBase, linkage: Linkage, scope: Scope) -> list[Issue]:
    """Problems of one field's linkage default; paths relative to the field."""
    base = "default.linkage"
    if scope.in_subform:
        return [issue(base, "linkage_in_subform")]
    if not _linkage_from(field.type) and not _single_relation(field):
        return [issue(base, "linkage_target_type", type=field.type)]
    source = scope.form_named(linkage.form)
    if source is None:
        return [issue(f"{base}.form", "unknown_form", key=linkage.form)]
    theirs = {f.key: f for f in source.fields}
    mine = {f.key: f for f in scope.fields}
    issues: list[Issue] = []
    for index, condition in enumerate(linkage.when):
        where = f"{base}.when[{index}]"
        other = theirs.get(condition.field)
        if condition.field != "_id" and other is None:
            issues.append(issue(f"{where}.field", "unknown_field", key=condition.field))
        own = mine.get(condition.equals)
        if own is None:
            issues.append(issue(f"{where}.equals", "unknown_field", key=condition.equals))
        elif own.key == field.key:
            issues.append(issue(f"{where}.equals", "linkage_self"))
        elif not isinstance(own, ValueFieldSpec) or (
            _family(own.type) is None and not _single_relation(own)
        ):
            issues.append(
                issue(f"{where}.equals", "linkage_equals_type", key=own.key, type=own.type)
            )
        elif linkage_of(own) is not None:
            issues.append(issue(f"{where}.equals", "linkage_chain", key=own.key))
        elif (other is not None or condition.field == "_id") and not _comparable(
            other, own, source.key
        ):
            names = ("_id", "_id") if other is None else (other.key, other.type)
            issues.append(
                issue(
                    f"{where}.equals",
                    "linkage_compare",
                    field=names[0],
                    field_type=names[1],
                    key=own.key,
                    type=own.type,
                )
            )
    take = theirs.get(linkage.take)
    if take is None:
        issues.append(issue(f"{base}.take", "unknown_field", key=linkage.take))
    elif not _fills(take, field):
        issues.append(
            issue(
                f"{base}.take",
                "linkage_take_type",
                key=take.key,
                source_type=take.type,
                type=field.type,
            )
        )
    return issues


def _single_relation(spec: FieldSpecBase | None) -> bool:
    return isinstance(spec, RelationField) and not spec.many


def _comparable(theirs: FieldSpecBase | None, own: FieldSpecBase, source_form: str) -> bool:
    if theirs is None:  # the source record's _id against a relation to the source form
        return isinstance(own, RelationField) and not own.many and own.target == source_form
    if _single_relation(theirs) or _single_relation(own):
        return (
            isinstance(theirs, RelationField)
            and isinstance(own, RelationField)
            and not theirs.many
            and not own.many
            and theirs.target == own.target
        )
    family = _family(theirs.type)
    return family is not None and family == _family(own.type)


def _fills(take: FieldSpecBase, field: FieldSpecBase) -> bool:
    if _single_relation(field):
        return _single_relation(take) and take.target == field.target  # type: ignore[attr-defined]
    return take.type in _linkage_from(field.type)


# --- lookups ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Match:
    """The source record a linkage picked: its id and the raw SQL value of `take`."""

    record_id: int
    raw: Any


def linked_fields(form: FormLayout) -> list[FieldLayout]:
    """The writable fields of `form` with a linkage default, in definition order."""
    return on_layout(
        form,
        "linkage:fields",
        lambda: [f for f in form.fields.values() if f.writable and linkage_of(f.spec) is not None],
    )


class Linker:
    """Finds linkage values for records of one form, reading source forms as the actor.

    `access` is the actor's access on this form (None: the engine or an administrator, who
    read every source unrestricted); `source_access` gives their access on a source form. A
    restricted actor without `source_access` gets nothing copied.
    """

    def __init__(
        self,
        app: AppLayout,
        form: FormLayout,
        ctx: ExecutionContext,
        *,
        access: Access | None,
        source_access: SourceAccess | None,
    ) -> None:
        self.app = app
        self.form = form
        self.ctx = ctx
        self.access = access
        self.source_access = source_access

    def source_reader(self, conn: Connection, layout: FieldLayout) -> Reader | None:
        """A reader of the field's source form as the actor, or None when they cannot read it."""
        linkage = linkage_of(layout.spec)
        assert linkage is not None
        source = self.app.forms[linkage.form]
        access: Access | None = None
        if self.access is not None:
            if self.source_access is None:
                return None
            access = self.source_access(conn, source)
        if access is not None and not access.allows("view"):
            return None
        reader = Reader(self.app, source, self.ctx, access=access)
        if linkage.take in reader.hidden or any(c.field in reader.hidden for c in linkage.when):
            return None  # a value (or a match on a value) the actor may not see is not copied
        return reader

    def keys(self, layout: FieldLayout, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """This record's condition values as the source stores them; None when one is blank or
        does not convert (then nothing matches)."""
        linkage = linkage_of(layout.spec)
        assert linkage is not None
        source = self.app.forms[linkage.form]
        key: list[Any] = []
        for condition in linkage.when:
            value = values.get(condition.equals)
            if value is None:
                return None
            own = self.form.fields[condition.equals]
            if condition.field == "_id" or isinstance(own.spec, RelationField):
                key.append(value)
                continue
            converted, problems = source.fields[condition.field].coerce(own.write_json(value))
            if problems or converted is None:
                return None
            key.append(converted)
        return tuple(key)

    def find(
        self, conn: Connection, layout: FieldLayout, wanted: Iterable[tuple[Any, ...]]
    ) -> dict[tuple[Any, ...], Match]:
        """The newest visible source record per wanted key (one statement for all keys)."""
        keys = list(dict.fromkeys(wanted))
        if not keys:
            return {}
        reader = self.source_reader(conn, layout)
        if reader is None:
            return {}
        linkage = linkage_of(layout.spec)
        assert linkage is not None
        table = reader.form.table
        resolver = reader.resolver()
        conditions = [
            table.c._id if c.field == "_id" else resolver.value(c.field) for c in linkage.when
        ]
        if len(conditions) == 1:
            match = conditions[0].in_([key[0] for key in keys])
        else:
            match = or_(
                *(and_(*(c == v for c, v in zip(conditions, key, strict=True))) for key in keys)
            )
        rank = func.row_number().over(
            partition_by=conditions, order_by=(table.c._updated_at.desc(), table.c._id.desc())
        )
        inner = (
            select(
                *(c.label(f"k{i}") for i, c in enumerate(conditions)),
                table.c._id.label("record_id"),
                self._take_sql(reader, resolver, linkage.take).label("take"),
                rank.label("rank"),
            )
            .where(reader.visible(resolver), match)
            .subquery()
        )
        found: dict[tuple[Any, ...], Match] = {}
        width = len(conditions)
        for row in conn.execute(select(inner).where(inner.c.rank == 1)):
            found[tuple(row[:width])] = Match(row.record_id, row.take)
        return found

    def _take_sql(self, reader: Reader, resolver: Any, take: str) -> Any:
        """The value of `take`; a relation's id only while its record is live (a link to a
        deleted record is not copied)."""
        spec = reader.form.fields[take].spec
        column = resolver.value(take)
        if not isinstance(spec, RelationField):
            return column
        target = self.app.forms[spec.target].table.alias()
        return (
            select(target.c._id)
            .where(target.c._id == column, target.c._deleted_at.is_(None))
            .scalar_subquery()
        )

    def json(self, layout: FieldLayout, raw: Any) -> Any:
        """A source value (as SQL returns it) as record JSON of the source field."""
        linkage = linkage_of(layout.spec)
        assert linkage is not None
        source = self.app.forms[linkage.form]
        take = source.fields[linkage.take]
        if raw is None:
            return None
        if isinstance(take.spec, RelationField) or isinstance(raw, Decimal):
            return (
                raw  # an id as relations are given; a number exact (so 12.00 may fill an integer)
            )
        return Reader(self.app, source, self.ctx).value_json(source, take, raw)

    def fill(
        self, conn: Connection, records: Sequence[Mapping[str, Any]], wants: Sequence[set[str]]
    ) -> list[dict[str, Any]]:
        """For each record (stored values by key), the source JSON value of each linkage field in
        its `wants` (None when nothing matched): one statement per linkage field for the batch."""
        result: list[dict[str, Any]] = [{} for _ in records]
        for layout in linked_fields(self.form):
            positions = [
                (n, self.keys(layout, values))
                for n, values in enumerate(records)
                if layout.key in wants[n]
            ]
            if not positions:
                continue
            found = self.find(conn, layout, [key for _, key in positions if key is not None])
            for n, key in positions:
                match = found.get(key) if key is not None else None
                result[n][layout.key] = None if match is None else self.json(layout, match.raw)
        return result


def preview(conn: Connection, linker: Linker, data: Any) -> dict[str, Any]:
    """What the fill page shows while a record is being created: for every linkage field the
    caller may see whose conditions are all filled in `data` (this form's values as record JSON),
    the value the pipeline would copy (record JSON as the source's reader writes it, so relations
    carry titles and people names; None when nothing matched). Bad condition values are a 422
    at `values.<key>`; other keys of `data` are ignored (the page sends the whole record)."""
    if not isinstance(data, Mapping):
        raise invalid([issue("values", "expected_object")])
    form = linker.form
    hidden = linker.access.hidden() if linker.access is not None else frozenset()
    fields = [f for f in linked_fields(form) if f.key not in hidden]
    values: dict[str, Any] = {}
    problems: list[Issue] = []
    for key in sorted({c.equals for f in fields for c in _when(f)} - hidden):
        raw = data.get(key)
        layout = form.fields[key]
        if raw is None or raw == "":
            continue
        if isinstance(layout.spec, RelationField):
            value, found = coerce_id(raw.get("_id") if isinstance(raw, Mapping) else raw)
        else:
            value, found = layout.coerce(raw)
        problems += [i.under(f"values.{key}") for i in found]
        values[key] = value
    if problems:
        raise invalid(problems)
    result: dict[str, Any] = {}
    for layout in fields:
        if any(values.get(c.equals) is None for c in _when(layout)):
            continue
        key = linker.keys(layout, values)
        match = linker.find(conn, layout, [key]).get(key) if key is not None else None
        result[layout.key] = (
            None if match is None or match.raw is None else _shown(conn, linker, layout, match)
        )
    return result


def _when(layout: FieldLayout) -> list[Any]:
    linkage = linkage_of(layout.spec)
    assert linkage is not None
    return list(linkage.when)


def _shown(conn: Connection, linker: Linker, layout: FieldLayout, match: Match) -> Any:
    """The matched value as the fill page shows it, or None when it does not fit the field."""
    reader = linker.source_reader(conn, layout)
    linkage = linkage_of(layout.spec)
    assert reader is not None and linkage is not None
    items = reader.list(conn, ids=[match.record_id], limit=1, count=False).items
    if not items:
        return None
    shown = items[0].get(linkage.take)
    if isinstance(layout.spec, RelationField):
        return shown
    value, found = layout.coerce(linker.json(layout, match.raw))
    if found or value is None:
        return None
    take = reader.form.fields[linkage.take]
    return shown if take.spec.type == layout.spec.type else layout.write_json(value)


def needed_keys(form: FormLayout) -> set[str]:
    """This form's fields some linkage reads (the `equals` of every condition)."""
    return {c.equals for layout in linked_fields(form) for c in linkage_of(layout.spec).when}  # type: ignore[union-attr]


__all__ = [
    "Linker",
    "Match",
    "SourceAccess",
    "linkage_issues",
    "linkage_of",
    "linked_fields",
    "needed_keys",
    "preview",
]
