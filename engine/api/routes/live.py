"""`GET /apps/{app}/forms/{form}/live`: the form's formulas and show/hide and read-only rules as
JavaScript for the fill page (compiled by `engine.forms.live` for the fields the caller may see)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from engine.api.deps import DbEngine, read_only
from engine.api.routes.records import _open
from engine.api.schemas.records import LiveScripts
from engine.api.security import CurrentUser
from engine.forms.live import live_scripts

router = APIRouter(prefix="/apps/{app}/forms/{form}", tags=["records"])


@router.get("/live", response_model=LiveScripts)
def form_live_scripts(
    app: str, form: str, engine: DbEngine, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    """The form's formulas and show/hide rules as JavaScript for the browser's formula runtime
    (builder_ui/src/formula/runtime.js), plus the business time zone they evaluate in and the
    member they evaluate as (`user`, `departments`: CURRENT_USER(), CURRENT_DEPARTMENTS())."""
    with read_only(engine) as conn:
        opened = _open(conn, app, form, principal, request)
    hidden = opened.access.hidden() if opened.access is not None else frozenset()
    return {
        "tz": request.app.state.settings.timezone,
        "user": opened.who.user,
        "departments": list(opened.who.departments),
        **live_scripts(opened.form, hidden),
    }
