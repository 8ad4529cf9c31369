"""`GET /geo/regeo`: the readable place of a position, for a location field after 定位
(issue 16). The server asks the configured provider (engine.geocode) so its key never reaches
the browser; without one, or when it fails, the answer says why and the user types the place."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from engine.api.errors import pick_language
from engine.api.security import CurrentUser
from engine.geocode import REASONS, Reason, reverse_geocode
from engine.settings import Settings

router = APIRouter(prefix="/geo", tags=["geo"])


class PlaceOut(BaseModel):
    """The place found, or no address and why (a code and a message in the caller's language)."""

    address: str | None = Field(description="The readable place, e.g. 上海市浦东新区世纪大道100号")
    configured: bool = Field(description="Whether a reverse-geocoding provider is configured")
    reason: Reason | None = None
    message: str | None = Field(default=None, description="Why there is no address")


@router.get("/regeo", response_model=PlaceOut)
def regeo(
    request: Request,
    principal: CurrentUser,
    lat: Annotated[
        float,
        Query(ge=-90, le=90, description="Latitude (WGS-84 / GCJ-02 as the provider expects)"),
    ],
    lng: Annotated[float, Query(ge=-180, le=180, description="Longitude")],
) -> PlaceOut:
    """The place at (`lat`, `lng`) from the configured provider (a timeout bounds the wait)."""
    settings: Settings = request.app.state.settings
    found = reverse_geocode(settings, lat, lng)
    message = None
    if found.reason is not None:
        zh, en = REASONS[found.reason]
        message = en if pick_language(request).startswith("en") else zh
    return PlaceOut(
        address=found.address,
        configured=bool(settings.geocoder_url),
        reason=found.reason,
        message=message,
    )
