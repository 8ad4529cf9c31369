"""Loading and validating the expression conformance cases (tests/conformance/expr/*.json).

A case file::

    {"description": "...", "schema": {...}, "record": {...}, "now": "...Z", "tz": "Asia/Shanghai",
     "user": 7, "departments": [3, 5],
     "cases": [{"id": "...", "expr": "...", "expected": ...}, {"id": "...", "expr": "...",
                "error": "code", "line": 1, "column": 1}, ...]}

``user`` and ``departments`` are the acting member (``CURRENT_USER()``, ``CURRENT_DEPARTMENTS()``;
default: nobody). A case may override ``record`` and ``schema`` (merged key by key over the
file's), ``now``, ``tz``, ``user`` and ``departments``, and restrict itself to some ``backends``. ``expected`` is the JSON encoding of the result
(``engine.expr.runtime.encode``); records are given in the API's JSON form and decoded with the
schema's types. Anything else in a file is a format error, and so is a duplicate id.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.expr.runtime import COERCE
from engine.expr.types import FieldInfo, normalize_schema

CASE_DIR = Path(__file__).parent / "expr"
BACKENDS = ("python", "sqlite", "postgresql", "js")
FILE_KEYS = {"description", "schema", "record", "now", "tz", "user", "departments", "cases"}
CASE_KEYS = {
    "id",
    "expr",
    "expected",
    "error",
    "line",
    "column",
    "record",
    "schema",
    "backends",
    "now",
    "tz",
    "user",
    "departments",
    "note",
}
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*")
_MISSING = object()


class CaseFormatError(ValueError):
    """A case file does not follow the format described in this module."""


@dataclass(frozen=True)
class Case:
    file: str
    id: str
    expr: str
    schema: dict[str, Any]
    record: dict[str, Any]
    now: dt.datetime
    tz: str
    backends: tuple[str, ...]
    expected: Any = None
    error: str | None = None
    line: int | None = None
    column: int | None = None
    user: int | None = None
    departments: tuple[int, ...] = ()
    note: str = field(default="", compare=False)

    @property
    def name(self) -> str:
        return f"{self.file}::{self.id}"


def parse_now(text: str, where: str) -> dt.datetime:
    if not isinstance(text, str) or not re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text
    ):
        raise CaseFormatError(f"{where}: now must look like 2024-06-15T02:30:00.000Z, got {text!r}")
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _fail(where: str, message: str) -> None:
    raise CaseFormatError(f"{where}: {message}")


def _actor(
    raw: Mapping[str, Any], inherited: Any, where: str
) -> tuple[int | None, tuple[int, ...]]:
    """The acting member of a file or case: ``user`` (an id or null) and ``departments``."""
    user = raw.get("user", inherited[0])
    departments = raw.get("departments", list(inherited[1]))
    if user is not None and (isinstance(user, bool) or not isinstance(user, int) or user < 1):
        _fail(where, "user must be a positive id or null")
    if not isinstance(departments, list) or any(
        isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in departments
    ):
        _fail(where, "departments must be a list of positive ids")
    return user, tuple(departments)


def load_file(path: Path) -> list[Case]:
    where = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CaseFormatError(f"{where}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        _fail(where, "the top level must be an object")
    if unknown := set(data) - FILE_KEYS:
        _fail(where, f"unknown keys {sorted(unknown)}")
    for key in ("description", "cases"):
        if key not in data:
            _fail(where, f"missing {key!r}")
    if not isinstance(data["description"], str) or not data["description"].strip():
        _fail(where, "description must be a non-empty text")
    schema = data.get("schema", {})
    record = data.get("record", {})
    if not isinstance(schema, dict) or not isinstance(record, dict):
        _fail(where, "schema and record must be objects")
    now = parse_now(data.get("now", "2024-06-15T02:30:00.000Z"), where)
    tz = data.get("tz", "Asia/Shanghai")
    actor = _actor(data, (None, ()), where)
    if not isinstance(data["cases"], list) or not data["cases"]:
        _fail(where, "cases must be a non-empty list")
    seen: set[str] = set()
    cases: list[Case] = []
    for index, raw in enumerate(data["cases"]):
        cwhere = f"{where} case #{index + 1}"
        if not isinstance(raw, dict):
            _fail(cwhere, "a case must be an object")
        if unknown := set(raw) - CASE_KEYS:
            _fail(cwhere, f"unknown keys {sorted(unknown)}")
        case_id = raw.get("id")
        if not isinstance(case_id, str) or not ID_PATTERN.fullmatch(case_id):
            _fail(cwhere, f"id must match {ID_PATTERN.pattern}, got {case_id!r}")
        cwhere = f"{where}::{case_id}"
        if case_id in seen:
            _fail(cwhere, "duplicate id")
        seen.add(case_id)
        if not isinstance(raw.get("expr"), str):
            _fail(cwhere, "expr must be a text")
        has_expected, has_error = "expected" in raw, "error" in raw
        if has_expected == has_error:
            _fail(cwhere, "give exactly one of expected and error")
        if has_error:
            if not isinstance(raw["error"], str):
                _fail(cwhere, "error must be an error code")
            if "backends" in raw or "record" in raw:
                _fail(
                    cwhere,
                    "an error case has no record or backends: errors come before any backend",
                )
        elif "line" in raw or "column" in raw:
            _fail(cwhere, "line/column belong to error cases")
        for key in ("line", "column"):
            if key in raw and (not isinstance(raw[key], int) or raw[key] < 1):
                _fail(cwhere, f"{key} must be a positive integer")
        backends = raw.get("backends", list(BACKENDS))
        if (
            not isinstance(backends, list)
            or not backends
            or any(b not in BACKENDS for b in backends)
            or len(set(backends)) != len(backends)
        ):
            _fail(cwhere, f"backends must be a non-empty list drawn from {BACKENDS}")
        case_schema = raw.get("schema", {})
        case_record = raw.get("record", {})
        if not isinstance(case_schema, dict) or not isinstance(case_record, dict):
            _fail(cwhere, "schema and record overrides must be objects")
        merged_schema = {**schema, **case_schema}
        merged_record = {**record, **case_record}
        try:
            fields = normalize_schema(merged_schema)
        except ValueError as exc:
            raise CaseFormatError(f"{cwhere}: bad schema: {exc}") from exc
        if unknown := set(merged_record) - set(fields):
            _fail(cwhere, f"record keys not in the schema: {sorted(unknown)}")
        case_user, case_departments = _actor(raw, actor, cwhere)
        case_tz = raw.get("tz", tz)
        if not isinstance(case_tz, str):
            _fail(cwhere, "tz must be a time zone name")
        cases.append(
            Case(
                file=path.name,
                id=case_id,
                expr=raw["expr"],
                schema=merged_schema,
                record=merged_record,
                now=parse_now(raw["now"], cwhere) if "now" in raw else now,
                tz=case_tz,
                backends=tuple(backends),
                expected=raw.get("expected"),
                error=raw.get("error"),
                line=raw.get("line"),
                column=raw.get("column"),
                user=case_user,
                departments=case_departments,
                note=raw.get("note", ""),
            )
        )
    return cases


def load_cases(directory: Path = CASE_DIR) -> list[Case]:
    """Every case of every file, in file and case order; raises CaseFormatError on a bad file."""
    files = sorted(directory.glob("*.json"))
    if not files:
        raise CaseFormatError(f"no case files in {directory}")
    cases: list[Case] = []
    for path in files:
        cases.extend(load_file(path))
    return cases


# --- records: the API's JSON form -> Python values ----------------------------------------------


def decode_record(record: Mapping[str, Any], fields: Mapping[str, FieldInfo]) -> dict[str, Any]:
    """A record in the API's JSON form as Python values of the schema's types.

    Text stays text as given (so "" reaches the backends as "", which they must read as blank).
    """
    return {key: decode_field(value, fields[key]) for key, value in record.items()}


def decode_field(value: Any, info: FieldInfo) -> Any:
    if value is None:
        return None
    if info.is_container:
        if info.many:
            if not isinstance(value, list):
                raise CaseFormatError(f"{info.key} needs a list of rows, got {value!r}")
            return [decode_record(row, info.fields) for row in value]
        if not isinstance(value, dict):
            raise CaseFormatError(f"{info.key} needs an object, got {value!r}")
        return decode_record(value, info.fields)
    assert info.kind is not None, info
    coerce = COERCE[info.kind]
    if info.is_list:
        return [v if isinstance(v, str) and info.kind == "text" else coerce(v) for v in value]
    if info.kind == "text" and isinstance(value, str):
        return value
    decoded = coerce(value)
    if decoded is None and value != "":
        raise CaseFormatError(f"{info.key}: {value!r} is not a valid {info.kind}")
    return decoded


def same_value(actual: Any, expected: Any) -> bool:
    """Exact equality of decoded values: blank is only blank, the Python type must match."""
    if expected is None or actual is None:
        return actual is None and expected is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, Decimal):
        return isinstance(actual, Decimal) and actual.is_finite() and actual == expected
    if isinstance(expected, dt.datetime):
        return (
            isinstance(actual, dt.datetime)
            and actual.tzinfo is not None
            and actual.utcoffset() is not None
            and actual == expected
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same_value(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return type(actual) is type(expected) and actual == expected
