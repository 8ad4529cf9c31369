"""`GET /schema/app.json`: the published JSON Schema of the app definition format (jimu.app/1);
`GET /schema/field-types`: every field type with its zh/en name and traits, for the builder's palette
and every screen that treats types differently (sorting, files, public links)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from engine.api.schemas.schema import JsonSchemaDocument, PaletteGroup
from engine.apps import app_json_schema
from engine.forms.field_types import palette

router = APIRouter(prefix="/schema", tags=["schema"])


@router.get("/app.json", response_model=JsonSchemaDocument)
def app_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every app definition must satisfy."""
    return app_json_schema()


@router.get("/field-types", response_model=list[PaletteGroup])
def field_types() -> list[dict[str, Any]]:
    """Every field type, grouped as DESIGN §4 lists them, with zh/en names and a minimal example."""
    return palette()
