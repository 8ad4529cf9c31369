"""Reverse geocoding (issue 16): the readable place of a device position, asked of an
AMap-compatible `regeo` provider configured in settings (`JIMU_GEOCODER_URL`, `JIMU_GEOCODER_KEY`).

The request is `GET {url}?key={key}&location={lng},{lat}&output=JSON` and the answer
`{"status": "1", "regeocode": {"formatted_address": "…"}}`, the shape of AMap's
`/v3/geocode/regeo`. Any failure (no provider, unreachable, slow past the timeout, an error
status, an answer without a place) is a `PlaceAnswer` with no address and the reason, never an
exception: the location field then keeps the coordinates and the user types the place.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Literal

from engine.settings import Settings

MAX_ANSWER_BYTES = 256 * 1024
MAX_ADDRESS_CHARS = 500

Reason = Literal["not_configured", "provider_failed", "no_place"]

# code -> (zh, en): why no place came back.
REASONS: dict[Reason, tuple[str, str]] = {
    "not_configured": (
        "未配置地址解析服务，请手动填写地点",
        "No reverse-geocoding provider is configured; type the place",
    ),
    "provider_failed": (
        "地址解析服务暂不可用，请手动填写地点",
        "The reverse-geocoding provider did not answer; type the place",
    ),
    "no_place": (
        "地址解析服务没有找到这个位置的地点，请手动填写",
        "The reverse-geocoding provider knows no place here; type it",
    ),
}


@dataclass(frozen=True, slots=True)
class PlaceAnswer:
    """The place found at a position (`address`), or None and the `reason` code (`REASONS`)."""

    address: str | None
    reason: Reason | None = None


def reverse_geocode(settings: Settings, lat: float, lng: float) -> PlaceAnswer:
    """The readable place at (`lat`, `lng`) from the configured provider, within
    `settings.geocoder_timeout` seconds."""
    if not settings.geocoder_url:
        return PlaceAnswer(None, "not_configured")
    key = settings.geocoder_key.get_secret_value() if settings.geocoder_key else ""
    query = urllib.parse.urlencode(
        {"key": key, "location": f"{lng:.6f},{lat:.6f}", "output": "JSON"}
    )
    glue = "&" if urllib.parse.urlsplit(settings.geocoder_url).query else "?"
    request = urllib.request.Request(
        f"{settings.geocoder_url}{glue}{query}", headers={"Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.geocoder_timeout) as response:
            body = response.read(MAX_ANSWER_BYTES + 1)
    except (OSError, ValueError):  # URLError, HTTPError, timeouts, a malformed URL
        return PlaceAnswer(None, "provider_failed")
    if len(body) > MAX_ANSWER_BYTES:
        return PlaceAnswer(None, "provider_failed")
    try:
        answer: Any = json.loads(body)
    except ValueError:
        return PlaceAnswer(None, "provider_failed")
    if not isinstance(answer, dict) or str(answer.get("status")) != "1":
        return PlaceAnswer(None, "provider_failed")
    regeocode = answer.get("regeocode")
    address = regeocode.get("formatted_address") if isinstance(regeocode, dict) else None
    # AMap answers `[]` rather than "" where it knows no place (the open sea, say).
    if not isinstance(address, str) or not address.strip():
        return PlaceAnswer(None, "no_place")
    return PlaceAnswer(address.strip()[:MAX_ADDRESS_CHARS])
