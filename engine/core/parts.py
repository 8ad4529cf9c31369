"""The registry of definition parts: the lists of an app definition that an engine owns.

An app definition (DESIGN §4) is composed of parts: the forms engine's forms, roles and menu,
and one list per further engine (`flows`, `rules`, `reports`, `dashboards`). Each engine
registers its part here with the model of one item and three hooks the publish pipeline
(`engine.apps`) calls:

- `check(app, items)`: the part's issues against the rest of the app (a flow naming a form or a
  field that does not exist), with definition paths such as `flows[0].form`;
- `plan(app, item)`: what the engine will execute for one item, as JSON stored with the
  revision (`load_revision` returns it, so a running flow instance keeps its plan);
- `warnings(conn, app_id, old, new)`: publish-time warnings, e.g. a running flow instance
  still references a node the new revision drops. The default has none; the flow engine fills
  it when instances exist.

And one after-publish hook, `published(conn, app, ctx)`: run in the publishing transaction once
the new revision is live (a publish, an install, a pack import), e.g. the rule engine plans the
jobs of its time triggers. The default does nothing.

The registry lives in `core` so that engines register without importing `engine.apps`, and
`engine.apps` composes whatever is registered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.engine import Connection

from engine.core.context import ExecutionContext
from engine.core.issues import Issue
from engine.core.registry import Registry

Check = Callable[[Any, Sequence[Any]], list[Issue]]
Planner = Callable[[Any, Any], dict[str, Any]]
Warner = Callable[[Connection, int, Sequence[Any], Sequence[Any]], list[Issue]]
Publisher = Callable[[Connection, Any, ExecutionContext], None]


def no_warnings(
    conn: Connection, app_id: int, old: Sequence[Any], new: Sequence[Any]
) -> list[Issue]:
    """The default publish warnings of a part: none."""
    return []


def nothing_published(conn: Connection, app: Any, ctx: ExecutionContext) -> None:
    """The default after-publish hook of a part: nothing to do."""


@dataclass(frozen=True)
class DefinitionPart:
    """One engine's list in the app definition and its publish hooks.

    `item` is the Pydantic model of one entry, `title` what people call the part (zh, en).
    `builder_may_edit`: whether holders of a builder role (not only administrators) may save
    it through its own endpoint; the roles themselves are never such a part.
    """

    name: str
    item: type[BaseModel]
    title: tuple[str, str]
    check: Check
    plan: Planner
    warnings: Warner = no_warnings
    published: Publisher = nothing_published
    builder_may_edit: bool = True


PARTS: Registry[DefinitionPart] = Registry("definition part")


def register_part(part: DefinitionPart) -> DefinitionPart:
    """Add an engine's part to the registry (once, at import of the engine's spec module)."""
    return PARTS.register(part.name, part)


__all__ = ["PARTS", "DefinitionPart", "no_warnings", "nothing_published", "register_part"]
