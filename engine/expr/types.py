"""Expression types and the field schema a formula is checked against.

A schema maps field keys to a type name (``"number"``, or a form field type such as ``"money"``)
or to ``{"type": ..., "label": ..., "fields": {...}}``; ``fields`` describes a relation's
target form or a subform's rows. ``normalize_schema`` turns that into :class:`FieldInfo` trees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal[
    "number", "text", "boolean", "date", "datetime", "time", "blank", "record", "user", "department"
]
SCALAR_KINDS: tuple[Kind, ...] = ("number", "text", "boolean", "date", "datetime", "time")
# Kinds whose values are ids (a record of a relation's target form, a user, a department): they
# compare by id with `=`/`<>` (a number compares with an id), have no order and no arithmetic.
ID_KINDS: tuple[Kind, ...] = ("record", "user", "department")


@dataclass(frozen=True, slots=True)
class ExprType:
    """The static type of an expression: a scalar kind, or a list of one kind from one source.

    ``source`` names the subform or relation path a list comes from; element-wise operators
    only combine lists of the same source.
    """

    kind: Kind
    is_list: bool = False
    source: str | None = None

    @property
    def name(self) -> str:
        return f"list<{self.kind}>" if self.is_list else self.kind

    def element(self) -> ExprType:
        return ExprType(self.kind)

    def as_list(self, source: str) -> ExprType:
        return ExprType(self.kind, True, source)

    def __str__(self) -> str:
        return self.name


NUMBER = ExprType("number")
TEXT = ExprType("text")
BOOLEAN = ExprType("boolean")
DATE = ExprType("date")
DATETIME = ExprType("datetime")
TIME = ExprType("time")
BLANK = ExprType("blank")
RECORD = ExprType("record")
USER = ExprType("user")
DEPARTMENT = ExprType("department")

# Form field types (DESIGN §4) and expression kinds that a formula can read, by result kind.
FIELD_TYPE_KINDS: dict[str, Kind] = {
    **dict.fromkeys(
        ["text", "textarea", "rich_text", "email", "phone", "url", "select", "serial"], "text"
    ),
    **dict.fromkeys(["number", "integer", "money", "percent", "rating"], "number"),
    **dict.fromkeys(["boolean", "checkbox"], "boolean"),
    "date": "date",
    **dict.fromkeys(["datetime", "created_at", "updated_at"], "datetime"),
    "time": "time",
    "blank": "blank",
    # Ids: a record's own `_id` ("record"), people fields and the system user columns.
    "record": "record",
    **dict.fromkeys(["user", "created_by", "updated_by"], "user"),
    "department": "department",
}
LIST_FIELD_TYPES: dict[str, Kind] = {
    "multiselect": "text",
    "users": "user",
    "departments": "department",
}
CONTAINER_TYPES = frozenset({"relation", "subform"})


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """One field as the checker sees it: its key, labels, kind and (for containers) sub-fields."""

    key: str
    field_type: str
    labels: tuple[str, ...] = ()
    kind: Kind | None = None
    is_list: bool = False
    many: bool = False
    fields: Mapping[str, FieldInfo] = field(default_factory=dict)
    scale: int | None = None  # decimal places a number field holds, when declared

    @property
    def is_container(self) -> bool:
        return self.field_type in CONTAINER_TYPES


def _scale(field_type: str, spec: Mapping[str, Any]) -> int | None:
    """Decimal places of a number field: declared ``precision``, 0 for integers, else unknown."""
    if field_type in ("integer", "rating"):
        return 0
    declared = spec.get("precision")
    if isinstance(declared, int) and not isinstance(declared, bool) and 0 <= declared <= 10:
        return declared
    return None


def _labels(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, Mapping):
        return tuple(str(v) for v in raw.values() if v)
    return ()


def normalize_schema(schema: Mapping[str, Any] | None) -> dict[str, FieldInfo]:
    """Turn a user-supplied schema into FieldInfo trees; raise ValueError on a malformed one."""
    result: dict[str, FieldInfo] = {}
    for key, spec in (schema or {}).items():
        if isinstance(spec, str):
            spec = {"type": spec}
        if not isinstance(spec, Mapping) or not isinstance(spec.get("type"), str):
            raise ValueError(f"schema entry {key!r} needs a type")
        ftype: str = spec["type"]
        labels = _labels(spec.get("label"))
        if ftype in CONTAINER_TYPES:
            many = ftype == "subform" or bool(spec.get("many") or spec.get("multiple"))
            sub_spec = spec.get("fields") or {}
            if not isinstance(sub_spec, Mapping):
                raise ValueError(f"schema entry {key!r}: fields must be an object")
            sub = normalize_schema(sub_spec)
            result[key] = FieldInfo(key, ftype, labels, None, False, many, sub)
        elif ftype in LIST_FIELD_TYPES:
            result[key] = FieldInfo(key, ftype, labels, LIST_FIELD_TYPES[ftype], True)
        else:
            kind = FIELD_TYPE_KINDS.get(ftype)
            result[key] = FieldInfo(key, ftype, labels, kind, scale=_scale(ftype, spec))
    return result


def infer_schema(record: Mapping[str, Any]) -> dict[str, Any]:
    """A schema guessed from a record's Python values (for the CLI and quick evaluation)."""
    import datetime as dt
    from decimal import Decimal

    def guess(value: Any) -> Any:
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, (int, float, Decimal)):
            return "number"
        if isinstance(value, dt.datetime):
            return "datetime"
        if isinstance(value, dt.date):
            return "date"
        if isinstance(value, dt.time):
            return "time"
        if isinstance(value, Mapping):
            return {"type": "relation", "fields": infer_schema(value)}
        if isinstance(value, (list, tuple)):
            rows = [v for v in value if isinstance(v, Mapping)]
            if rows:
                merged: dict[str, Any] = {}
                for row in rows:
                    for k, v in infer_schema(row).items():
                        merged.setdefault(k, v)
                return {"type": "subform", "fields": merged}
            return "multiselect"
        return "text"

    return {k: "blank" if v is None else guess(v) for k, v in record.items()}
