"""The whole app definition `jimu.app/1`, composed from each engine's typed part, and its
JSON Schema.

`AppDefinition` is the forms engine's `AppSpec` (forms, roles, menu) with the parts the other
engines own typed by their own models: `flows` (`engine.flows.spec`), `rules`
(`engine.rules.spec`), `reports` and `dashboards` (`engine.reports.spec`). The forms engine
keeps seeing those parts as opaque lists, so it never imports the engines above it; this
module is where they meet. `app_json_schema()` (`jimu schema`, `GET /schema/app.json`) is
generated from it.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic import Field

from engine.core.parts import PARTS
from engine.flows.spec import FlowSpec
from engine.forms.spec import SCHEMA_ID, AppSpec
from engine.reports.spec import DashboardSpec, ReportSpec
from engine.rules.spec import RuleSpec


class AppDefinition(AppSpec):
    """A whole app ("pack"): the forms engine's forms, roles and menu, and the flows, rules,
    reports and dashboards of their engines."""

    flows: list[FlowSpec] = Field(default_factory=list)  # type: ignore[assignment]
    rules: list[RuleSpec] = Field(default_factory=list)  # type: ignore[assignment]
    reports: list[ReportSpec] = Field(default_factory=list)  # type: ignore[assignment]
    dashboards: list[DashboardSpec] = Field(default_factory=list)  # type: ignore[assignment]


PART_NAMES: tuple[str, ...] = tuple(
    name for name in AppDefinition.model_fields if name in PARTS.names()
)
"""The parts registered by the engines, in document order (`flows`, `rules`, `reports`,
`dashboards`)."""

assert set(PART_NAMES) == set(PARTS.names()), PARTS.names()


def app_json_schema() -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of `jimu.app/1`, generated from the models."""
    return copy.deepcopy(_app_json_schema())


@cache
def _app_json_schema() -> dict[str, Any]:
    schema = AppDefinition.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Jimu app definition (jimu.app/1)",
        **{k: v for k, v in schema.items() if k != "title"},
    }


__all__ = ["PART_NAMES", "AppDefinition", "app_json_schema"]
