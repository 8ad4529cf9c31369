"""The formula schema of a form still being designed (a draft that may not be valid yet).

The designer checks formulas while the user edits: some fields of the draft may be half-set
(a relation without a target, an empty option list). Each field is parsed on its own and a
field that does not parse is left out, so every other field can still be referenced. A field
whose `default` does not parse (for instance a kind of default this engine does not know) is
kept without it: the default plays no part in the schema.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from engine.forms.common import FieldSpecBase
from engine.forms.field_types.structure import SubformField
from engine.forms.schema import form_schemas, row_schema
from engine.forms.spec import AnyField, AppSpec, FormSpec

LOOSE_PROPERTIES = ("default", "visible_when", "readonly_when", "min", "max", "pattern")
MAX_DRAFT_FIELDS = 5000  # the check is open to anyone: bound the work one request can ask for


class DraftError(ValueError):
    """The draft names a form or subform it does not have (`path` says which property), or is
    larger than any real app (`path` "app")."""

    def __init__(self, path: str, key: str) -> None:
        super().__init__(key)
        self.path = path
        self.key = key


@cache
def _field_adapter() -> TypeAdapter[Any]:
    return TypeAdapter(AnyField)


def _parse_field(raw: Any, in_subform: bool = False) -> FieldSpecBase | None:
    """One field of the draft, or None when it cannot be made valid by dropping loose properties."""
    if not isinstance(raw, dict):
        return None
    data = dict(raw)
    if data.get("type") == "subform":
        if (
            in_subform
        ):  # never valid, and not followed further down (a hostile draft may nest deeply)
            return None
        inner = data.get("fields")
        data["fields"] = (
            [_loose(sub) for sub in inner if _parse_field(sub, True)]
            if isinstance(inner, list)
            else []
        )
    for candidate in (data, _loose(data)):
        try:
            parsed: FieldSpecBase = _field_adapter().validate_python(candidate)
            return parsed
        except (ValidationError, TypeError, ValueError):
            continue
    return None


def _loose(raw: Any) -> Any:
    """A field without the properties that play no part in the schema."""
    if not isinstance(raw, dict):
        return raw
    return {k: v for k, v in raw.items() if k not in LOOSE_PROPERTIES}


def _parse_form(raw: Any) -> FormSpec | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("key"), str):
        return None
    raw_fields = raw.get("fields")
    fields = (
        [f for f in (_parse_field(x) for x in raw_fields) if f is not None]
        if isinstance(raw_fields, list)
        else []
    )
    # model_construct: the draft's form-level properties (name, title field) may still be invalid
    return FormSpec.model_construct(
        key=raw["key"], name=raw.get("name") or raw["key"], fields=fields
    )


def draft_schema(app: dict[str, Any], form: str, subform: str | None = None) -> dict[str, Any]:
    """The schema formulas of form `form` (or of a row of its subform `subform`) see in `app`."""
    found = app.get("forms")
    raw_forms: list[Any] = found if isinstance(found, list) else []
    sizes = [
        1 + (len(f["fields"]) if isinstance(f, dict) and isinstance(f.get("fields"), list) else 0)
        for f in raw_forms
    ]
    if sum(sizes) > MAX_DRAFT_FIELDS:
        raise DraftError("app", str(MAX_DRAFT_FIELDS))
    forms = [f for f in (_parse_form(x) for x in raw_forms) if f is not None]
    spec = AppSpec.model_construct(
        format="jimu.app/1", key="draft", name="draft", version="0", forms=forms
    )
    schemas = form_schemas(spec)
    if form not in schemas:
        raise DraftError("form", form)
    schema = schemas[form]
    if subform is None:
        return schema
    found = next(
        (f for f in next(x for x in forms if x.key == form).fields if f.key == subform), None
    )
    if not isinstance(found, SubformField):
        raise DraftError("subform", subform)
    return row_schema(schema, found)
