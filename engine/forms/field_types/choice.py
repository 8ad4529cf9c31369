"""Choice field types: select, multiselect (options with colours) and checkbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

import sqlalchemy as sa
from pydantic import Field, StringConstraints
from sqlalchemy.types import TypeEngine

from engine.core.issues import Issue
from engine.core.sqltypes import Boolean, Text
from engine.forms.common import FieldSpecBase, Label, Spec, ValueFieldSpec
from engine.forms.field_types.base import FieldType, Scope, register, same
from engine.forms.field_types.values import Result, coerce_list, fail, generic_json, show
from engine.forms.messages import issue

Color = Annotated[str, StringConstraints(pattern=r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")]


class Option(Spec):
    """One choice: a stable `value` (what formulas compare), a label and a colour."""

    value: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    label: Label | None = None
    color: Color | None = None


Options = Annotated[list[Option], Field(min_length=1)]


class SelectField(ValueFieldSpec):
    """One value out of a list of options."""

    type: Literal["select"]
    options: Options


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


@register
class SelectType(_OptionsType):
    """`select`: the chosen option's value as TEXT; may be a title."""

    name = "select"
    title = ("单选", "Single select")
    spec = SelectField
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

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return Boolean()

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """JSON true or false only."""
        if raw is None or isinstance(raw, bool):
            return raw, []
        return fail("expected_boolean")
