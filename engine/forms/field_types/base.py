"""The field type contract (`FieldType`) and the registry of every field type by name.

One class per field type (Baserow's `FieldType` is the model), owning its spec model, the
entry formulas see (`expr_schema`), its record column (`column_type`) and its own definition
rules (`validate`). Adding a field type is one new class registered with `@register`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from engine.core.issues import Issue
from engine.core.registry import Registry
from engine.forms.common import FieldSpecBase, ValueFieldSpec, label_value
from engine.forms.field_types.cells import Cell, CellReader, CellWriter, cell_text
from engine.forms.field_types.values import CTX, Result, decimal_json, generic_json
from engine.forms.messages import issue

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect
    from sqlalchemy.types import TypeEngine

    from engine.forms.spec import AppSpec, FormSpec

Source = Literal["column", "formula", "lookup", "rollup", "system", "rows", "links", "none"]
"""Where a field's value comes from: its own column, a formula, another record (lookup,
rollup), the record's system columns, a child table (subform rows), a link table (a relation
to many) or nowhere (layout only)."""
Refers = Literal["user", "department", "record"]


@dataclass(frozen=True)
class Traits:
    """The facts about a field type that code outside the registry asks, declared by each type.

    No field has a default: a type that leaves one out does not construct, so a new type can
    never be, say, silently not a file. They are published in the palette (`GET
    /schema/field-types`) for the builder UI. What each one answers:
    """

    computed: bool
    """The engine computes the value; it is never typed in (formula, serial, created/updated,
    lookup, rollup)."""
    portable: bool
    """An app pack's export carries the value (computed values are recomputed, except serial
    numbers, which are kept)."""
    sortable: bool
    """Records can be ordered by the value (lookups and rollups: by the type they show)."""
    many_valued: bool
    """The value is a list (options, people, files, rows); a relation says per field (`many`),
    see `FieldType.is_many`."""
    is_file: bool
    """The value is a list of uploaded file references (`POST /files`)."""
    refers_to: Refers | None
    """The value names members, departments or records by id (shown by name or title)."""
    publicly_fillable: bool
    """Anonymous people may fill it in through a fill link (they cannot pick members,
    departments or records; a subform is checked field by field)."""
    link_key: bool
    """A query link may match records on it exactly."""
    importable: bool
    """A spreadsheet cell can hold it on import (not files, rows, map points or layout)."""
    live_scalar: bool
    """Its record JSON is a scalar the browser's formula runtime reads as the server does."""
    source: Source
    """Where the value comes from (a relation decides per field, see `FieldType.source_of`)."""
    linkage_from: frozenset[str]
    """The types whose values a linkage default may copy into it (empty: none; relations copy
    relations to the same form, see `engine.forms.linkage`)."""
    compare_family: str | None
    """Linkage conditions compare values within one family (text-like, numbers, or the type
    itself); None: it cannot be a condition."""

    @property
    def people(self) -> str | None:
        """'user' or 'department' for a member or department value someone picks (a stored
        reference the engine checks on write and names on read); None otherwise, including the
        computed created-by/updated-by fields, which the engine fills itself."""
        if self.computed or self.refers_to not in ("user", "department"):
            return None
        return self.refers_to

    @property
    def named(self) -> str | None:
        """'user' or 'department' for a value that names members or departments, as record
        JSON shows it (`{"id", "name"}`): the people a user picks and the computed
        created-by/updated-by fields alike (issue 16); None otherwise."""
        return self.refers_to if self.refers_to in ("user", "department") else None

    def json(self) -> dict[str, Any]:
        """The traits as the palette publishes them."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            out[item.name] = sorted(value) if isinstance(value, frozenset) else value
        return out


TRAIT_NAMES = tuple(item.name for item in fields(Traits))


@dataclass(frozen=True)
class Scope:
    """Where a field sits: its app, its form and its siblings (the form's fields or a row's).

    `entries` maps form keys to the formula schema entries resolved so far (see
    `engine.forms.schema`), so computed fields can take the type of what they read.
    """

    app: AppSpec
    form: FormSpec
    fields: tuple[FieldSpecBase, ...]
    in_subform: bool = False
    entries: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def sibling(self, key: str) -> FieldSpecBase | None:
        """The field of this form (or subform row) with `key`."""
        return next((f for f in self.fields if f.key == key), None)

    def form_named(self, key: str) -> FormSpec | None:
        """The form of the app with `key`."""
        return next((f for f in self.app.forms if f.key == key), None)


class FieldType:
    """One kind of field: its spec model and the hooks the forms engine calls."""

    name: ClassVar[str]
    title: ClassVar[tuple[str, str]]  # what users call it (zh, en): the builder's palette, messages
    group: ClassVar[str]
    spec: ClassVar[type[FieldSpecBase]]
    example: ClassVar[dict[str, Any]] = {}  # the smallest valid options besides key and type
    titleable: ClassVar[bool] = False  # may be a form's title field
    traits: ClassVar[Traits]  # declared by every registered type itself (see `register`)

    def is_many(self, field: FieldSpecBase) -> bool:
        """Whether `field`'s value is a list (`traits.many_valued`; a relation reads `many`)."""
        return self.traits.many_valued

    def source_of(self, field: FieldSpecBase) -> Source:
        """Where `field`'s value comes from (`traits.source`; a relation to many: `links`)."""
        return self.traits.source

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """A non-blank record JSON value as an export cell: (value, xlsx number format).

        The default writes the value as it is."""
        return value, None

    def from_cell(self, field: FieldSpecBase, raw: Any, sheet: CellReader) -> Result:
        """A non-blank import cell as record input for `coerce` (never raising; the record
        pipeline checks it). References (`traits.refers_to`) are resolved by the importer
        before this is asked. The default reads text, a whole float as its digits (a phone
        number or code Excel stored as a number)."""
        if isinstance(raw, float) and raw.is_integer():
            return str(int(raw)), []
        return (raw if isinstance(raw, str) else cell_text(raw)), []

    def convert_from(self, field: FieldSpecBase, raw: Any) -> Any:
        """Record JSON of a field of another type -> input for this type's `coerce`, when a
        field's type changes (`engine.forms.migrate.convert_value`). The default passes it on."""
        return raw

    def expr_schema(
        self, field: FieldSpecBase, scope: Scope | None = None
    ) -> dict[str, Any] | None:
        """The entry formulas see for this field (`engine.expr` schema), or None if unknown yet."""
        entry: dict[str, Any] = {"type": self.name, "label": label_value(field.label)}
        precision = vars(field).get(
            "precision"
        )  # not getattr: a missing attribute is slow on Pydantic models
        if isinstance(precision, int):
            entry["precision"] = precision
        return entry

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        """The record table column type, or None when the value is not stored in a column."""
        return None

    def validate(self, field: FieldSpecBase, scope: Scope) -> list[Issue]:
        """Rules of this type beyond the JSON Schema; paths are relative to the field."""
        if not isinstance(field, ValueFieldSpec):
            return []
        issues: list[Issue] = []
        if field.min is not None and field.max is not None and field.min > field.max:
            issues.append(issue("min", "min_max", min=_num(field.min), max=_num(field.max)))
        if field.pattern is not None:
            from engine.forms.patterns import PatternError, compile_pattern

            try:
                re.compile(field.pattern)
            except re.error as exc:
                issues.append(issue("pattern", "invalid_pattern", error=str(exc)))
            else:
                try:
                    compile_pattern(field.pattern)  # what records are matched with (RE2)
                except PatternError as exc:
                    issues.append(issue("pattern", "unsupported_pattern", error=str(exc)))
        return issues

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """API input (JSON) -> the Python value stored (None for blank), never raising.

        Bad input gives None and issues with paths relative to the field ("" for the field
        itself). The default stores the input as it is; types with rules override it.
        """
        return raw, []

    def to_json(self, field: FieldSpecBase, value: Any) -> Any:
        """A stored value -> its record JSON (DESIGN §12); None for blank.

        The default writes decimals with the field's `precision` when it has one (else as the
        shortest text), datetimes as UTC with milliseconds and `Z`, dates and times ISO.
        """
        if value is None:
            return None
        precision = vars(field).get(
            "precision"
        )  # not getattr: a missing attribute is slow on Pydantic models
        if isinstance(value, Decimal) and isinstance(precision, int):
            return decimal_json(value, precision)
        return generic_json(value)

    # The record pipeline and reader call these once per layout revision and keep the result,
    # so nothing about the field (precision, options, bounds) is looked up again per value.
    def coercer(self, field: FieldSpecBase) -> Callable[[Any], Result]:
        """`coerce` of `field` as a one-argument function (same results, field resolved once).

        Types override it with a fast path that accepts only what `coerce` would accept
        unchanged, and hands everything else to `coerce`."""
        return partial(self.coerce, field)

    def json_writer(self, field: FieldSpecBase) -> Callable[[Any], Any]:
        """`to_json` of `field` as a one-argument function (same results, field resolved once)."""
        if type(self).to_json is not FieldType.to_json:
            return partial(self.to_json, field)
        precision = vars(field).get("precision")
        if not isinstance(precision, int):
            return generic_json
        quantum = Decimal(1).scaleb(-precision)

        def write(value: Any) -> Any:
            if isinstance(value, Decimal):
                return format(value.quantize(quantum, ROUND_HALF_UP, CTX), "f")
            return generic_json(value)

        return write

    def raw_json_reader(
        self,
        field: FieldSpecBase,
        column_type: TypeEngine[Any],
        dialect: Dialect,
        fallback: Callable[[Any], Any],
    ) -> Callable[[Any], Any] | None:
        """Record JSON straight from the database driver's value of a page column of
        `column_type` holding `field`'s values, skipping the column type's conversion to a
        Python value: a function of values that are not NULL, giving exactly what
        `json_writer(field)` gives for the converted value. `fallback` is that general path
        (convert, then write), for a value in a form the shortcut does not expect. None: no
        shortcut (the reader composes the conversion and `json_writer`). Types whose JSON is
        text the driver's value maps to directly (decimals, moments) override it."""
        return None


def same(value: Any) -> Any:
    """A JSON writer for values stored as their JSON (text, select values)."""
    return value


def none_or(write: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`write` for values that are not None; None stays None."""

    def writer(value: Any) -> Any:
        return None if value is None else write(value)

    return writer


class ComputedType(FieldType):
    """A type whose value is computed (formula, serial, created/updated, lookup, rollup)."""

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """Always `not_writable`: computed values are never typed in."""
        return None, [issue("", "not_writable")]


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


FIELD_TYPES: Registry[FieldType] = Registry("field type")

F = TypeVar("F", bound=type[FieldType])


def register(cls: F) -> F:
    """Class decorator: register one instance of a field type under its name.

    The class must declare its own `traits` (not inherit them from a group's base class by
    accident): a type that does not is refused at import time."""
    if not isinstance(cls.__dict__.get("traits"), Traits):
        raise TypeError(f"field type {cls.name!r} must declare its own `traits`")
    FIELD_TYPES.register(cls.name, cls())
    return cls
