"""`/public/{token}`: anonymous use of a public link — no sign-in, rate-limited (thin router).

`GET` returns what a page needs to render the link (only its fields); `POST` submits a fill
link's record or a query link's key values. A password-protected link needs the
`X-Link-Password` header on both. `POST /{token}/files?field=key` uploads a file for one of a
fill link's attachment, image or signature fields (counted like a submission). The rules live in `engine.auth.public`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Header, Path, Query, Request, UploadFile

from engine.api.deps import DbEngine, context_for
from engine.api.routes.files import file_store, upload_json, upload_size
from engine.api.schemas.records import (
    FileOut,
    PublicLinkPage,
    PublicLiveScripts,
    PublicSubmitted,
)
from engine.api.security import client_ip
from engine.auth import public
from engine.core.context import Actor

router = APIRouter(prefix="/public", tags=["public"])

Token = Annotated[
    str, Path(min_length=1, max_length=64, description="The link's token (from its URL)")
]
LinkPassword = Annotated[
    str | None,
    Header(
        alias="X-Link-Password", max_length=256, description="The link's password, if it has one"
    ),
]
PublicBody = Annotated[
    dict[str, Any],
    Body(
        description="Fill link: field key -> value. Query link: key field -> the exact value to match."
    ),
]


def _password(header: str | None) -> str | None:
    """The header as text: HTTP carries bytes, which Starlette reads as Latin-1; a UTF-8
    password (密码) arrives as its bytes and is read back as UTF-8."""
    if header is None:
        return None
    try:
        return header.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return header


@router.get("/{token}", response_model=PublicLinkPage, response_model_exclude_unset=True)
def describe_link(
    token: Token, engine: DbEngine, request: Request, password: LinkPassword = None
) -> dict[str, Any]:
    """The link's kind, name and fields (and key fields of a query link), nothing else."""
    link = public.open_link(engine, token, _password(password), ip=client_ip(request))
    return public.describe(engine, link)


@router.get("/{token}/live", response_model=PublicLiveScripts)
def link_live_scripts(
    token: Token, engine: DbEngine, request: Request, password: LinkPassword = None
) -> dict[str, Any]:
    """A fill link's show/hide and read-only rules as JavaScript for the public fill page (only
    rules over the link's own fields; see `engine.auth.public.live`)."""
    link = public.open_link(engine, token, _password(password), ip=client_ip(request))
    return {"tz": request.app.state.settings.timezone, **public.live(engine, link)}


@router.post("/{token}", response_model=PublicSubmitted, response_model_exclude_unset=True)
def use_link(
    token: Token,
    body: PublicBody,
    engine: DbEngine,
    request: Request,
    password: LinkPassword = None,
) -> dict[str, Any]:
    """Fill link: create a record (`{"submitted": true}`). Query link: the records matching every
    key field exactly (`{"items": [...]}`, at most 20, only the link's fields)."""
    link = public.open_link(engine, token, _password(password), ip=client_ip(request))
    # An anonymous writer; engine.auth.public makes the link's owner own the record.
    ctx = context_for(request, Actor(None, public.CHANNEL))
    return public.submit(engine, link, body, ip=client_ip(request), ctx=ctx)


@router.post("/{token}/files", status_code=201, response_model=FileOut)
def upload_to_link(
    token: Token,
    engine: DbEngine,
    request: Request,
    field: Annotated[
        str,
        Query(min_length=1, max_length=64, description="The link's file field the upload is for"),
    ],
    file: Annotated[UploadFile, File()],
    password: LinkPassword = None,
) -> dict[str, Any]:
    """Store a file for a fill link's field; submit its `{"file_id": ...}` in that field."""
    link = public.open_link(engine, token, _password(password), ip=client_ip(request))
    info = public.upload(
        engine,
        link,
        field,
        file_store(request),
        file.file,
        file.filename or "file",
        file.content_type or "",
        ip=client_ip(request),
        size=upload_size(file),
        settings=request.app.state.settings,
    )
    return upload_json(info)
