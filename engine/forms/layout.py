"""An app version bound to its physical tables: which field is which column, and how.

`AppLayout.build(spec, ids)` takes a validated definition and the numeric ids the platform
assigned (``("customer",)`` -> form id, ``("customer", "phone")`` -> field id,
``("contract", "items", "qty")`` -> a subform field's id) and gives, per form and subform, the
Core table, every field's column, and how each field gets its value:

- ``column``: typed in, or a stored formula or serial (in its own column);
- ``formula`` (read time): a formula that reads TODAY/NOW, a relation, a subform, a lookup, a
  rollup or another read-time formula is compiled to SQL when read, so it is never stale;
- ``lookup`` / ``rollup``: SQL through the relation or subform at read time;
- ``system``: created/updated by/at read the record's `_` columns;
- ``rows`` (subform), ``links`` (many relation), ``none`` (section).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import Column, MetaData, Table
from sqlalchemy.types import TypeEngine

from engine import expr
from engine.core.sqltypes import Boolean, Date, ExactDecimal, Text, Time, UtcDateTime
from engine.expr import ast
from engine.forms.common import FieldSpecBase, ValueFieldSpec
from engine.forms.field_types import FIELD_TYPES, FieldType
from engine.forms.field_types.base import Source
from engine.forms.field_types.computed import FormulaField
from engine.forms.field_types.links import RelationField
from engine.forms.field_types.structure import SubformField
from engine.forms.indexes import IndexDef, wanted_form_indexes, wanted_row_indexes
from engine.forms.schema import form_schemas, row_schema
from engine.forms.sortkey import KEYED_TYPES, SORT_KEY_TYPE, key_column
from engine.forms.spec import AppSpec, FormSpec
from engine.store import records as physical

FORMULA_SCALE = 6
"""Decimal places a stored formula keeps when it declares no precision."""

SYSTEM_SOURCES = {
    "created_at": "_created_at",
    "created_by": "_created_by",
    "updated_at": "_updated_at",
    "updated_by": "_updated_by",
}
# Functions whose value is not the record's own: the clock, and the member evaluating it (a
# formula calling them is computed when read, and SQL holding their value is not kept).
VOLATILE = frozenset({"TODAY", "NOW", "CURRENT_USER", "CURRENT_DEPARTMENTS"})


def formula_column_type(kind: str, precision: int | None) -> TypeEngine[Any] | None:
    """The column a stored formula of result `kind` needs (None: cannot be stored)."""
    if kind == "number":
        return ExactDecimal(precision if precision is not None else FORMULA_SCALE)
    makers: dict[str, type[TypeEngine[Any]]] = {
        "text": Text,
        "boolean": Boolean,
        "date": Date,
        "datetime": UtcDateTime,
        "time": Time,
    }
    maker = makers.get(kind)
    return maker() if maker is not None else None


@dataclass(eq=False)
class FieldLayout:
    """One field of a form or subform row, bound to its id and where its value comes from."""

    spec: FieldSpecBase
    kind: FieldType
    id: int
    source: Source
    column_type: TypeEngine[Any] | None = None
    rows: RowsLayout | None = None
    link: Table | None = None
    keyed: bool = False  # a form's text field or stored text formula: its pinyin sort key beside it

    # A layout belongs to one immutable app revision, so what is derived from it once (column
    # name, coercer, JSON writer) can be kept on it and never goes stale.
    @cached_property
    def key(self) -> str:
        return self.spec.key

    @cached_property
    def column(self) -> str:
        return physical.column_name(self.id)

    @cached_property
    def sort_column(self) -> str | None:
        """The column holding the value's pinyin sort key (`engine.forms.sortkey`), or None."""
        return key_column(self.column) if self.keyed else None

    @cached_property
    def coerce(self) -> Callable[[Any], tuple[Any, list[Any]]]:
        """The field type's `coerce` for this field, resolved once (see `FieldType.coercer`)."""
        return self.kind.coercer(self.spec)

    @cached_property
    def write_json(self) -> Callable[[Any], Any]:
        """The field type's `to_json` for this field, resolved once (see `FieldType.json_writer`)."""
        return self.kind.json_writer(self.spec)

    @property
    def storage(self) -> str | None:
        return physical.storage_of(self.column_type)

    @cached_property
    def writable(self) -> bool:
        return self.source in ("column", "rows", "links") and not self.kind.traits.computed

    @cached_property
    def unique(self) -> bool:
        return (
            isinstance(self.spec, ValueFieldSpec) and self.spec.unique and self.source == "column"
        )


@dataclass(eq=False)
class Container:
    """What a form and a subform row have in common: a table, fields and a formula schema."""

    table: Table
    fields: dict[str, FieldLayout]
    schema: dict[str, Any]

    @cached_property
    def indexes(self) -> list[IndexDef]:
        """The `idx_` indexes this table should have (see `engine.forms.indexes`)."""
        columns = {
            f.key: f.column
            for f in self.fields.values()
            if f.source == "column" and f.column_type is not None
        }
        if isinstance(self, FormLayout):
            unique = {f.key for f in self.fields.values() if f.unique}
            keyed = {f.key: f.sort_column for f in self.fields.values() if f.sort_column}
            return wanted_form_indexes(self.table.name, self.spec, columns, unique, keyed)
        return wanted_row_indexes(
            self.table.name, [f.spec for f in self.fields.values() if not f.unique], columns
        )

    def stored_formulas(self) -> list[FieldLayout]:
        """Formulas kept in a column, in an order where each comes after what it reads."""
        return self._stored_formulas

    @cached_property
    def _stored_formulas(self) -> list[FieldLayout]:
        pending = {
            f.key: f
            for f in self.fields.values()
            if f.source == "column" and isinstance(f.spec, FormulaField)
        }
        ordered: list[FieldLayout] = []
        while pending:
            for key, layout in list(pending.items()):
                assert isinstance(layout.spec, FormulaField)
                if not (formula_refs(layout.spec.expr, self.schema) & pending.keys() - {key}):
                    ordered.append(pending.pop(key))
        return ordered


@dataclass(eq=False)
class RowsLayout(Container):
    """A subform: its row table and row fields; formulas in a row also see the form's fields."""

    parent: FormLayout | None = None


@dataclass(eq=False)
class FormLayout(Container):
    """A form bound to its table `r{id}`."""

    spec: FormSpec = field(default=None)  # type: ignore[assignment]
    id: int = 0

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def title_field(self) -> str | None:
        return self.spec.title_field


@dataclass
class AppLayout:
    """A whole app version: its forms' layouts on one MetaData."""

    spec: AppSpec
    forms: dict[str, FormLayout]
    metadata: MetaData

    @classmethod
    def build(cls, spec: AppSpec, ids: Mapping[tuple[str, ...], int]) -> AppLayout:
        """Bind `spec` to physical tables using the assigned `ids` (see the module docstring)."""
        schemas = form_schemas(spec)
        metadata = MetaData()
        forms: dict[str, FormLayout] = {}
        for form in spec.forms:
            forms[form.key] = _build_form(form, ids, schemas.get(form.key, {}), metadata)
        return cls(spec, forms, metadata)

    def form(self, key: str) -> FormLayout:
        return self.forms[key]


def _sources(
    fields: list[FieldSpecBase], schema: dict[str, Any], row_keys: frozenset[str]
) -> dict[str, Source]:
    """Where each field's value comes from; formulas are stored only when they read stored columns."""
    sources: dict[str, Source] = {}
    for spec in fields:
        sources[spec.key] = FIELD_TYPES[spec.type].source_of(spec)  # a formula's: decided below
    formulas = [f for f in fields if isinstance(f, FormulaField)]
    changed = True
    while changed:  # a formula over stored formulas is stored too; repeat until stable
        changed = False
        for spec in formulas:
            if sources[spec.key] == "column":
                continue
            if _storable(spec, schema, sources, row_keys):
                sources[spec.key] = "column"
                changed = True
    return sources


def layout_sources(
    fields: list[FieldSpecBase], schema: dict[str, Any], row_keys: frozenset[str]
) -> dict[str, Source]:
    """Where each field's value comes from (`_sources`; the definition checks ask it whether
    a field has a column to index)."""
    try:
        return _sources(fields, schema, row_keys)
    except (KeyError, ValueError):  # a definition with other problems: they are reported
        return {}


def _storable(
    spec: FormulaField, schema: dict[str, Any], sources: dict[str, Source], row_keys: frozenset[str]
) -> bool:
    try:
        tree = expr.checked(spec.expr, schema)
    except (expr.ExprError, ValueError):
        return False
    if tree.type is None or tree.type.is_list or formula_column_type(tree.type.kind, None) is None:
        return False
    stack: list[ast.Node] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call) and node.name in VOLATILE:
            return False
        if isinstance(node, ast.Ref):
            path = node.path or node.names
            if len(path) != 1 or path[0] == spec.key:
                return False
            if row_keys and path[0] not in row_keys:
                return False  # a row formula reading the form's fields is computed at read time
            if sources.get(path[0]) != "column":
                return False
        stack.extend(ast.children(node))
    return True


def formula_refs(source: str, schema: dict[str, Any]) -> set[str]:
    """The first keys of every field path a formula reads."""
    tree = expr.checked(source, schema)
    found: set[str] = set()
    stack: list[ast.Node] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Ref):
            found.add((node.path or node.names)[0])
        stack.extend(ast.children(node))
    return found


def _field_layout(
    spec: FieldSpecBase,
    source: Source,
    schema: dict[str, Any],
    ids: Mapping[tuple[str, ...], int],
    path: tuple[str, ...],
) -> FieldLayout:
    kind = FIELD_TYPES[spec.type]
    column_type: TypeEngine[Any] | None = None
    if source == "column":
        if isinstance(spec, FormulaField):
            tree = expr.checked(spec.expr, schema)
            assert tree.type is not None
            column_type = formula_column_type(tree.type.kind, spec.precision)
        else:
            column_type = kind.column_type(spec)
    return FieldLayout(spec, kind, ids[path], source, column_type)


def keyed_field(f: FieldLayout) -> bool:
    """Whether a stored field keeps a pinyin sort key beside its value: text and textarea, and
    a stored formula whose result is text (`engine.forms.sortkey`)."""
    if f.spec.type in KEYED_TYPES:
        return True
    return isinstance(f.spec, FormulaField) and type(f.column_type) is Text


def _build_form(
    form: FormSpec, ids: Mapping[tuple[str, ...], int], schema: dict[str, Any], metadata: MetaData
) -> FormLayout:
    form_id = ids[(form.key,)]
    fields = list(form.fields)
    sources = _sources(fields, schema, frozenset())
    layouts: dict[str, FieldLayout] = {}
    for spec in fields:
        layouts[spec.key] = _field_layout(
            spec, sources[spec.key], schema, ids, (form.key, spec.key)
        )
    columns = [
        Column(f.column, f.column_type) for f in layouts.values() if f.column_type is not None
    ]
    for f in layouts.values():  # text sorts by pinyin: a key column beside the value
        if f.source == "column" and f.column_type is not None and keyed_field(f):
            f.keyed = True
            columns.append(Column(key_column(f.column), SORT_KEY_TYPE))
    unique = [f.column for f in layouts.values() if f.unique]
    table = physical.record_table(metadata, form_id, columns, unique)
    layout = FormLayout(table=table, fields=layouts, schema=schema, spec=form, id=form_id)
    for spec in fields:
        current = layouts[spec.key]
        if isinstance(spec, SubformField):
            current.rows = _build_rows(layout, spec, current.id, ids, metadata)
        elif isinstance(spec, RelationField) and spec.many:
            current.link = physical.link_table(metadata, current.id)
    return layout


def _build_rows(
    form: FormLayout,
    spec: SubformField,
    field_id: int,
    ids: Mapping[tuple[str, ...], int],
    metadata: MetaData,
) -> RowsLayout:
    schema = row_schema(form.schema, spec)
    fields = list(spec.fields)
    sources = _sources(fields, schema, frozenset(f.key for f in fields))
    layouts = {
        sub.key: _field_layout(sub, sources[sub.key], schema, ids, (form.key, spec.key, sub.key))
        for sub in fields
    }
    columns = [
        Column(f.column, f.column_type) for f in layouts.values() if f.column_type is not None
    ]
    table = physical.child_table(metadata, form.id, field_id, columns)
    for sub in fields:
        if isinstance(sub, RelationField) and sub.many:
            layouts[sub.key].link = physical.link_table(metadata, layouts[sub.key].id)
    return RowsLayout(table=table, fields=layouts, schema=schema, parent=form)


__all__ = [
    "FORMULA_SCALE",
    "AppLayout",
    "Container",
    "FieldLayout",
    "FormLayout",
    "RowsLayout",
    "formula_column_type",
]
