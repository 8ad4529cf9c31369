"""Every built-in field type, registered in `FIELD_TYPES` group by group (DESIGN §4's order)."""

from __future__ import annotations

from importlib import import_module

from engine.forms.field_types.base import FIELD_TYPES, FieldType, Scope, register

GROUPS = ("text", "number", "choice", "time", "people", "place", "files", "computed", "links", "structure")

for _group in GROUPS:
    import_module(f"engine.forms.field_types.{_group}")

__all__ = ["FIELD_TYPES", "GROUPS", "FieldType", "Scope", "register"]
