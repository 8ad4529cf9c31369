"""App assembly: the whole app definition, composed from each engine's typed part, and the
publish pipeline every engine plugs into (DESIGN §2, §4; issue 11, item 5).

Public API::

    AppDefinition                             # forms, roles, menu + flows, rules, reports, dashboards
    app_json_schema() -> dict                 # the published JSON Schema of jimu.app/1
    validated(data) -> AppDefinition          # 422 invalid_definition with every issue
    create / publish / publish_part / import_pack -> Published   # in the caller's transaction
    plan(conn, key, data) -> (Plan, warnings)
    load_revision(conn, key, n) -> AppRevision   # revision n's definition and plans
    PARTS (engine.core.parts)                 # the registered parts and their hooks

An engine plugs in by registering a `DefinitionPart` (engine.core.parts) from its spec module;
importing this package imports every engine's spec, so its part is registered.
"""

from __future__ import annotations

from engine.apps.definition import PART_NAMES, AppDefinition, app_json_schema
from engine.apps.pipeline import (
    AppRevision,
    LoadedApp,
    Published,
    create,
    import_pack,
    load_revision,
    part_issues,
    plan,
    plans_of,
    publish,
    publish_part,
    validated,
)
from engine.core.parts import PARTS, DefinitionPart

__all__ = [
    "PARTS",
    "PART_NAMES",
    "AppDefinition",
    "AppRevision",
    "DefinitionPart",
    "LoadedApp",
    "Published",
    "app_json_schema",
    "create",
    "import_pack",
    "load_revision",
    "part_issues",
    "plan",
    "plans_of",
    "publish",
    "publish_part",
    "validated",
]
