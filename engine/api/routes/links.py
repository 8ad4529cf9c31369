"""`/apps/{app}/forms/{form}/links`: builders manage a form's public links (thin router).

Only administrators and holders of the `links` action on the form may list or change its links
(non-administrators only the links they own); the rules live in `engine.auth.links`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from engine.api.deps import DbEngine, read_only
from engine.api.schemas.records import LinkOut
from engine.api.security import SAFE_METHODS, CurrentUser, client_ip
from engine.auth import links
from engine.auth.principal import Principal
from engine.core.errors import ServiceError, not_found
from engine.forms import apps
from engine.forms.layout import FormLayout

router = APIRouter(prefix="/apps/{app}/forms/{form}/links", tags=["links"])

LinkId = Annotated[int, Path(ge=1, le=2**31 - 1)]
FieldKeys = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=500)]


class LinkFields(BaseModel):
    """Link properties a builder sets (see `engine.auth.links`)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    fields: FieldKeys | None = None
    key_fields: FieldKeys | None = None
    password: Annotated[str, Field(max_length=256)] | None = None
    expires_at: dt.datetime | None = None
    enabled: bool | None = None
    owner_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    rate_limit: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = (
        None  # at most links.MAX_RATE_LIMIT (422)
    )


class NewLink(LinkFields):
    """A new link: `fill` (anonymous people create records) or `query` (they find their own)."""

    kind: Literal["fill", "query"]


class LinkChange(LinkFields):
    """Changed properties only; `password: null` removes the password, `rotate_token` gives the
    link a new URL."""

    rotate_token: bool = False


def _open(
    conn: Connection, app: str, form: str, principal: Principal, request: Request
) -> tuple[apps.LoadedApp, FormLayout]:
    if not principal.may_use_app(app):
        raise not_found()
    loaded = apps.load(conn, app)
    layout = loaded.form(form)
    links.may_manage(conn, principal, loaded, layout)
    if not principal.can_write and request.method not in SAFE_METHODS:
        raise ServiceError(
            403, "forbidden", message_zh="该令牌只读", message_en="This token is read-only"
        )
    return loaded, layout


def _given(body: LinkFields) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True, exclude={"kind", "rotate_token"})
    for name in ("enabled", "rate_limit", "fields", "key_fields"):
        if name in given and given[name] is None:
            del given[name]  # null for a property that needs a value: leave it as it is
    return given


@router.get("", response_model=list[LinkOut])
def list_links(
    app: str, form: str, engine: DbEngine, principal: CurrentUser, request: Request
) -> list[dict[str, Any]]:
    """The form's public links (with their tokens and URLs)."""
    with read_only(engine) as conn:
        loaded, layout = _open(conn, app, form, principal, request)
        return links.list_links(conn, loaded, layout, only_of=links.manager_filter(principal))


@router.post("", status_code=201, response_model=LinkOut)
def create_link(
    app: str, form: str, body: NewLink, engine: DbEngine, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    """A new public link; 422 with field-level issues for fields that do not fit its kind."""
    with engine.begin() as conn:
        loaded, layout = _open(conn, app, form, principal, request)
        return links.create_link(
            conn, loaded, layout, body.kind, _given(body), manager=principal, ip=client_ip(request)
        )


@router.get("/{link_id}", response_model=LinkOut)
def get_link(
    app: str, form: str, link_id: LinkId, engine: DbEngine, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    with read_only(engine) as conn:
        loaded, layout = _open(conn, app, form, principal, request)
        return links.get_link(
            conn, loaded, layout, link_id, only_of=links.manager_filter(principal)
        )


@router.patch("/{link_id}", response_model=LinkOut)
def update_link(
    app: str,
    form: str,
    link_id: LinkId,
    body: LinkChange,
    engine: DbEngine,
    principal: CurrentUser,
    request: Request,
) -> dict[str, Any]:
    """Change a link: disable it (`enabled: false`), its fields, password, expiry, owner, limit."""
    with engine.begin() as conn:
        loaded, layout = _open(conn, app, form, principal, request)
        return links.update_link(
            conn,
            loaded,
            layout,
            link_id,
            _given(body),
            rotate_token=body.rotate_token,
            manager=principal,
            ip=client_ip(request),
        )


@router.delete("/{link_id}", status_code=204)
def delete_link(
    app: str, form: str, link_id: LinkId, engine: DbEngine, principal: CurrentUser, request: Request
) -> None:
    """Remove a link; its URL answers 404 from then on."""
    with engine.begin() as conn:
        loaded, layout = _open(conn, app, form, principal, request)
        links.delete_link(conn, loaded, layout, link_id, manager=principal, ip=client_ip(request))
