"""Liveness probe for load balancers and the test harness."""

from __future__ import annotations

from fastapi import APIRouter

from engine.api.schemas.admin import Health

router = APIRouter(tags=["system"])


@router.get("/health", response_model=Health)
def health() -> dict[str, str]:
    """Answers as long as the process serves requests."""
    return {"status": "ok"}
