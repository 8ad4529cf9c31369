"""Place field types: address (province/city/district/detail) and location (lat/lng)."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar, Literal

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from engine.core.issues import Issue
from engine.forms.common import FieldSpecBase, ValueFieldSpec
from engine.forms.field_types.base import FieldType, Traits, register
from engine.forms.field_types.cells import (
    Cell,
    CellReader,
    CellWriter,
    address_text,
    parse_address,
)
from engine.forms.field_types.values import Result, fail
from engine.forms.messages import issue

PLACE = Traits(
    computed=False,
    portable=True,
    sortable=False,
    many_valued=False,
    is_file=False,
    refers_to=None,
    publicly_fillable=True,
    link_key=False,
    importable=True,
    live_scalar=False,
    source="column",
    linkage_from=frozenset(),
    compare_family=None,
)
"""A place as a JSON object."""

REGION_CODE = re.compile(r"[0-9]{6}")


class AddressField(ValueFieldSpec):
    """A postal address down to `level` (province, city, district or detail)."""

    type: Literal["address"]
    level: Literal["province", "city", "district", "detail"] = "detail"


class LocationField(ValueFieldSpec):
    """A point on the map with its address."""

    type: Literal["location"]


class _JsonType(FieldType):
    group = "place"
    parts: ClassVar[tuple[str, ...]] = ()

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return sa.JSON()

    def unknown(self, raw: dict[Any, Any]) -> list[Issue]:
        """An issue per property that is not one of `parts`."""
        return [issue(str(k), "unknown_property", key=str(k)) for k in raw if k not in self.parts]

    def to_json(self, field: FieldSpecBase, value: Any) -> Any:
        """The stored object with every part (None for a missing one)."""
        return None if value is None else {part: value.get(part) for part in self.parts}


@register
class AddressType(_JsonType):
    """`address`: a JSON object {province, city, district, detail, code}."""

    name = "address"
    title = ("地址", "Address")
    spec = AddressField
    traits = replace(PLACE, linkage_from=frozenset({"address"}))
    parts = ("province", "city", "district", "detail", "code")

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """省市区 + detail."""
        return address_text(value), None

    def from_cell(self, field: FieldSpecBase, raw: Any, sheet: CellReader) -> Result:
        """省市区 + detail, split back into its parts."""
        return parse_address(str(raw)), []

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """An object of text parts ("" is a missing part); `code` is a 6-digit region code;
        an object without any part is blank."""
        if raw is None:
            return None, []
        if not isinstance(raw, dict):
            return fail("expected_object")
        issues = self.unknown(raw)
        value: dict[str, str | None] = {}
        for part in self.parts:
            text = raw.get(part)
            if text is not None and not isinstance(text, str):
                issues.append(issue(part, "expected_text"))
            elif text and "\x00" in text:
                issues.append(issue(part, "nul_character"))
            elif part == "code" and text and not REGION_CODE.fullmatch(text):
                issues.append(issue(part, "invalid_region_code"))
            else:
                value[part] = text or None
        if issues:
            return None, issues
        return (value if any(value.values()) else None), []


def _coordinate(raw: Any, part: str, limit: int) -> tuple[float | None, list[Issue]]:
    if raw is None:
        return None, [issue(part, "missing")]
    if isinstance(raw, bool) or not isinstance(raw, (int, float, Decimal)):
        return None, [issue(part, "expected_number")]
    try:
        number = float(raw)
    except OverflowError:  # an integer beyond any float
        number = math.inf
    if not math.isfinite(number):
        return None, [issue(part, "expected_number")]
    if not -limit <= number <= limit:
        return None, [issue(part, "out_of_range", min=-limit, max=limit)]
    return number, []


@register
class LocationType(_JsonType):
    """`location`: a JSON object {lat, lng, address}."""

    name = "location"
    title = ("定位", "Location")
    spec = LocationField
    traits = replace(PLACE, importable=False, linkage_from=frozenset({"location"}))
    parts = ("lat", "lng", "address")

    def to_cell(self, field: FieldSpecBase, value: Any, sheet: CellWriter) -> Cell:
        """The place's address, else `lat,lng`."""
        return (value.get("address") or f"{value.get('lat')},{value.get('lng')}"), None

    def coerce(self, field: FieldSpecBase, raw: Any) -> tuple[Any, list[Issue]]:
        """`lat` in -90..90 and `lng` in -180..180 (JSON numbers, both required) and an
        optional `address` text."""
        if raw is None:
            return None, []
        if not isinstance(raw, dict):
            return fail("expected_object")
        issues = self.unknown(raw)
        lat, lat_issues = _coordinate(raw.get("lat"), "lat", 90)
        lng, lng_issues = _coordinate(raw.get("lng"), "lng", 180)
        issues += lat_issues + lng_issues
        address = raw.get("address")
        if address is not None and not isinstance(address, str):
            issues.append(issue("address", "expected_text"))
        elif address and "\x00" in address:
            issues.append(issue("address", "nul_character"))
        if issues:
            return None, issues
        return {"lat": lat, "lng": lng, "address": address or None}, []
