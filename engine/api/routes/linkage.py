"""`POST /apps/{app}/forms/{form}/linkage`: the values data linkage defaults would copy, so the
fill page can show them while the user types (the rules live in `engine.forms.linkage`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from engine.api.deps import DbEngine, read_only
from engine.api.routes.records import open_form
from engine.api.schemas.records import LinkageValues
from engine.api.security import CurrentUser
from engine.core.errors import invalid
from engine.forms.records import lone_surrogate_issue, lone_surrogates

router = APIRouter(prefix="/apps/{app}/forms/{form}", tags=["records"])

Values = Annotated[
    dict[str, Any], Body(embed=True, description="This form's current values (record JSON)")
]


@router.post("/linkage", response_model=LinkageValues)
def linkage_values(
    app: str, form: str, values: Values, engine: DbEngine, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    """`{"values": {field: value}}` for every linkage field whose conditions are filled (null when
    no source record matches), read as the caller: 403 without the right to create records."""
    if bad := lone_surrogates(values, ("values",)):
        raise invalid([lone_surrogate_issue(path) for path in bad])  # valid JSON no database stores
    with read_only(engine) as conn:
        return {"values": open_form(conn, app, form, principal, request).linkage_preview(values)}
