"""The forms engine: the app definition format, its field types and their validation.

Public API::

    validate_app(data) -> AppSpec          # raises DefinitionError with every issue
    app_json_schema() -> dict              # the published JSON Schema of jimu.app/1
    FIELD_TYPES                            # Registry[FieldType] of every field type
"""

from __future__ import annotations

from engine.core.issues import DefinitionError, Issue
from engine.forms.compile import validate_app
from engine.forms.field_types import FIELD_TYPES, FieldType
from engine.forms.spec import FORMAT, AppSpec, FormSpec, app_json_schema

__all__ = [
    "FIELD_TYPES",
    "FORMAT",
    "AppSpec",
    "DefinitionError",
    "FieldType",
    "FormSpec",
    "Issue",
    "app_json_schema",
    "validate_app",
]
