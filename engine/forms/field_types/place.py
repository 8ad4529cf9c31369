"""Place field types: address (province/city/district/detail) and location (lat/lng)."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from engine.forms.common import FieldSpecBase, ValueFieldSpec
from engine.forms.field_types.base import FieldType, register


class AddressField(ValueFieldSpec):
    """A postal address down to `level` (province, city, district or detail)."""

    type: Literal["address"]
    level: Literal["province", "city", "district", "detail"] = "detail"


class LocationField(ValueFieldSpec):
    """A point on the map with its address."""

    type: Literal["location"]


class _JsonType(FieldType):
    group = "place"

    def column_type(self, field: FieldSpecBase) -> TypeEngine[Any] | None:
        return sa.JSON()


@register
class AddressType(_JsonType):
    """`address`: a JSON object {province, city, district, detail, code}."""

    name = "address"
    spec = AddressField


@register
class LocationType(_JsonType):
    """`location`: a JSON object {lat, lng, address}."""

    name = "location"
    spec = LocationField
