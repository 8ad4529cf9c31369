"""Choice field types: select, multiselect (options with colours) and checkbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any, ClassVar, Literal

import sqlalchemy as sa
from pydantic import Field, StringConstraints
from sqlalchemy.types import TypeEngine

from engine.core.issues import Issue
from engine.core.sqltypes import Boolean, Text
from engine.forms.common import FieldSpecBase, Label, Spec, ValueFieldSpec
from engine.forms.field_types.base import FieldType, Scope, Traits, register, same
from engine.forms.field_types.cells import (
    Cell,
    CellReader,
    CellWriter,
    boolean_input,
    cell_text,
    label_in,
    labels_of,
    split_parts,
)
from engine.forms.field_types.values import Result, coerce_list, fail, generic_json, show
from engine.forms.messages import issue

Color = Annotated[str, StringConstraints(pattern=r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")]
OPTION = Traits(
    computed=False,
    portable=True,
    sortable=True,
    many_valued=False,
    is_file=False,
    refers_to=None,
    publicly_fillable=True,
    link_key=True,
    importable=True,
    live_scalar=True,
    source="column",
    linkage_from=frozenset({"select", "text", "textarea"}),
    compare_family="text",
)
"""One chosen option (copied from and compared with text)."""


class Option(Spec):
    """One choice: a stable `value` (what formulas compare), a label and a colour."""

    value: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    label: Label | None = None
    color: Color | None = None


Options = Annotated[list[Option], Field(min_length=1)]


SelectDisplay = Literal["auto", "dropdown", "buttons"]
"""How the fill page shows the options: `auto` (buttons up to 5 options, a dropdown beyond),
always a `dropdown`, or always `buttons`."""


class SelectField(ValueFieldSpec):
    """One value out of a list of options."""

    type: Literal["select"]
    options: Options
    display: SelectDisplay | None = Field(
        default=None, description="auto (default), dropdown or buttons"
    )


class MultiselectField(ValueFieldSpec):
    """Any number of values out of a list of options."""

    type: Literal["multiselect"]
    options: Options


class CheckboxField(ValueFieldSpec):
    """Yes or no."""

    type: Literal["checkbox"]


class _OptionsType(FieldType):
    group = "choice"
    example: ClassVar[dict[str, Any]] = {"options": [{"value": "a"}]}

    def validate(self, field: FieldSpecBase, scope: Scope) -> list[Issue]:
        issues = super().validate(field, scope)
        seen: set[str] = set()
        for index, option in enumerate(getattr(field, "options", [])):
            if option.value in seen:
                issues.append(
                    issue(f"options[{index}].value", "duplicate_option", value=option.value)
                )
            seen.add(option.value)
        default = getattr(field, "default", None)
        chosen = default if isinstance(default, list) else [default]
        for value in chosen:
            if isinstance(value, str) and value not in seen:
                issues.append(issue("default", "unknown_option", value=value))
        return issues

    @staticmethod
    def option(field: FieldSpecBase, raw: Any) -> Result:
        """One option value of the field."""
        if isinstance(raw, str) and any(o.value == raw for o in getattr(field, "options", [])):
            return raw, []
        return fail("not_an_option", value=show(raw))

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """The chosen options' labels in the export's language."""
        labels = {o.value: label_in(o.label, o.value, sheet.lang) for o in field.options}  # type: ignore[attr-defined]
        values = value if isinstance(value, list) else [value]
        return sheet.join(labels.get(v, str(v)) for v in values), None

    def from_cell(self, field: FieldSpecBase, raw: Any, sheet: CellReader) -> Result:
        """Option labels (either language) or values, case-insensitive; several separated
        by 、,; for a multiselect. What matches nothing stays as typed (an issue later)."""
        options: dict[str, str] = {}
        for option in getattr(field, "options", []):
            for name in (option.value, *labels_of(option.label)):
                options.setdefault(name.strip().casefold(), option.value)
        text = cell_text(raw) or ""
        if not self.traits.many_valued:
            return options.get(text.casefold(), text), []
        if text.casefold() in options:
            return [options[text.casefold()]], []
        return [options.get(p.casefold(), p) for p in split_parts(text)], []


@register
class SelectType(_OptionsType):
    """`select`: the chosen option's value as TEXT; may be a title."""

    name = "select"
    title = ("单选", "Single select")
    spec = SelectField
    traits = OPTION
    titleable = True

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return Text()

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """One of the option values ("" is blank)."""
        return (None, []) if raw is None or raw == "" else self.option(field, raw)

    def coercer(self, field: FieldSpecBase) -> Callable[[Any], Result]:
        """Accepts an option value at once; the rest goes to `coerce`."""
        values = frozenset(o.value for o in getattr(field, "options", []))

        def coerce(raw: Any) -> Result:
            if type(raw) is str and raw in values:
                return raw, []
            return self.coerce(field, raw)

        return coerce

    def json_writer(self, field: FieldSpecBase) -> Callable[[Any], Any]:
        return same


@register
class MultiselectType(_OptionsType):
    """`multiselect`: a JSON array of option values."""

    name = "multiselect"
    title = ("多选", "Multiple select")
    spec = MultiselectField
    traits = replace(
        OPTION,
        sortable=False,
        many_valued=True,
        link_key=False,
        linkage_from=frozenset({"multiselect"}),
        compare_family=None,
    )

    def convert_from(self, field: FieldSpecBase, raw: Any) -> Any:
        """Text split on commas (, or ，) into option values."""
        if isinstance(raw, str):
            return [part.strip() for part in raw.replace("，", ",").split(",") if part.strip()]
        return raw

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return sa.JSON()

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """A list of distinct option values ([] is blank); `min`/`max` bound its length."""
        if raw is None:
            return None, []
        return coerce_list(field, raw, lambda item: self.option(field, item))

    def coercer(self, field: FieldSpecBase) -> Callable[[Any], Result]:
        """Accepts a list of distinct option values at once (without count bounds); the rest
        goes to `coerce`."""
        if getattr(field, "min", None) is not None or getattr(field, "max", None) is not None:
            return super().coercer(field)
        values = frozenset(o.value for o in getattr(field, "options", []))

        def coerce(raw: Any) -> Result:
            if (
                type(raw) is list
                and all(type(v) is str and v in values for v in raw)
                and len(set(raw)) == len(raw)
            ):
                return (list(raw) or None), []
            return self.coerce(field, raw)

        return coerce

    def json_writer(self, field: FieldSpecBase) -> Callable[[Any], Any]:
        return _values_list


def _values_list(value: Any) -> Any:
    """A stored list of option values as record JSON (a copy)."""
    if isinstance(value, list) and all(type(v) is str for v in value):
        return list(value)
    return generic_json(value)


@register
class CheckboxType(FieldType):
    """`checkbox`: BOOLEAN."""

    name = "checkbox"
    title = ("复选框", "Checkbox")
    group = "choice"
    spec = CheckboxField
    traits = replace(
        OPTION, link_key=False, linkage_from=frozenset({"checkbox"}), compare_family="checkbox"
    )

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return Boolean()

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """JSON true or false only."""
        if raw is None or isinstance(raw, bool):
            return raw, []
        return fail("expected_boolean")

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """是/否 (Yes/No)."""
        return sheet.yes_no(bool(value)), None

    def from_cell(self, field: FieldSpecBase, raw: Any, sheet: CellReader) -> Result:
        """是/否, yes/no, ✓/✗ and their kin."""
        return boolean_input(raw), []
