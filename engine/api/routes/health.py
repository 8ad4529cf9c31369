"""Liveness probe for load balancers and the test harness."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["system"])


@router.get("/health")
def health() -> dict[str, str]:
    """Answers as long as the process serves requests."""
    return {"status": "ok"}
