"""`GET /schema/app.json`: the published JSON Schema of the app definition format (jimu.app/1)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from engine.forms import app_json_schema

router = APIRouter(prefix="/schema", tags=["schema"])


@router.get("/app.json", response_model=None)
def app_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every app definition must satisfy."""
    return app_json_schema()
