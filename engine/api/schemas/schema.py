"""Response models of `/schema` (`engine.api.routes.schema`): the definition format's JSON Schema
and the field-type palette with each type's traits (`engine.forms.field_types.base.Traits`)."""

from __future__ import annotations

from pydantic import Field

from engine.api.schemas.common import Answer, Json, Localized, OpenAnswer


class JsonSchemaDocument(OpenAnswer):
    """A JSON Schema (draft 2020-12) document: open, as JSON Schema is."""

    schema_: str = Field(alias="$schema")
    id: str = Field(alias="$id")
    title: str


class TypeTraits(Answer):
    """What the engine knows about a field type, which the UI reads instead of keeping lists."""

    computed: bool
    portable: bool
    sortable: bool
    many_valued: bool
    is_file: bool
    refers_to: str | None
    publicly_fillable: bool
    link_key: bool
    importable: bool
    live_scalar: bool
    source: str
    linkage_from: list[str]
    compare_family: str | None


class PaletteType(Answer):
    """A field type as the builder's palette shows it, with a minimal field of the type."""

    type: str
    title: Localized
    example: dict[str, Json]
    titleable: bool
    traits: TypeTraits


class PaletteGroup(Answer):
    """A group of field types (DESIGN §4)."""

    group: str
    title: Localized
    types: list[PaletteType]
