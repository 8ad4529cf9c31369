"""Rule buttons over HTTP (issue 14, button trigger): the buttons a member may press on a form's
record page, and pressing one for a record.

A thin router over `engine.rules.button`. Pressing needs read access to the record (the same
check as reading it: 404 when the caller cannot see it) and, when the rule names `roles`, one
of them (403); an unknown rule or one that is not a button is 404, a switched-off rule 409.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from engine.api.deps import DbEngine, context_for
from engine.api.routes.records import open_form
from engine.api.routes.rules_runtime import RUNS, _run_json
from engine.api.schemas.rules import Fired, RuleButtons
from engine.api.security import CurrentUser
from engine.core.errors import not_found
from engine.forms import apps as forms_apps
from engine.rules import button

router = APIRouter(prefix="/apps", tags=["rules"])


class FireBody(BaseModel):
    """Press a rule's button for one record."""

    model_config = ConfigDict(extra="forbid")

    record_id: Annotated[int, Field(ge=1, le=2**63 - 1)]


@router.get("/{app}/forms/{form}/rule-buttons", response_model=RuleButtons)
def rule_buttons(
    app: str, form: str, engine: DbEngine, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    """The rule buttons of `form`'s record page the caller may press: `{buttons: [{rule,
    label: {zh, en}, mode}]}` (404 when the caller may not read the form)."""
    with engine.connect() as conn:
        if not principal.may_use_app(app):
            raise not_found()
        if open_form(conn, app, form, principal, request).fill_only:
            raise not_found()  # buttons act on a record page, which a fill-only caller has not
        loaded = forms_apps.load(conn, app)
        found = button.buttons(conn, loaded, form, principal.user_id, principal.is_admin)
    return {"buttons": found}


@router.post("/{app}/rules/{rule}/fire", response_model=Fired)
def fire_rule(
    app: str,
    rule: str,
    body: FireBody,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
) -> dict[str, Any]:
    """Press button rule `rule` for record `record_id`: `{condition, run}` — `condition` false
    and no run when the rule's condition does not hold; else the run (a sync rule's finished
    run; an async rule's queued run, whose `id` the run log shows when it is done). A sync
    rule's refusal is a 422 with its issues and nothing written."""
    ctx = context_for(request, principal.actor())
    with engine.begin() as conn:
        if not principal.may_use_app(app):
            raise not_found()
        loaded = forms_apps.load(conn, app)
        found = button.live_button(loaded, rule)
        service = open_form(conn, app, found.spec.form or "", principal, request, body.record_id)
        service.get(body.record_id)
        runs = button.press(conn, ctx, loaded, rule, body.record_id, is_admin=principal.is_admin)
        row = conn.execute(select(RUNS).where(RUNS.c.id == runs[-1])).one() if runs else None
    return {"condition": bool(runs), "run": _run_json(row) if row is not None else None}


__all__ = ["router"]
