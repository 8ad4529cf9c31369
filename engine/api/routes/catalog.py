"""`/catalog`: the packs Jimu ships (CRM, ...) and their one-call installation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from engine import catalog
from engine.api.deps import AdminActor, AdminContext, DbEngine
from engine.api.schemas.admin import Installed, PackOut

router = APIRouter(prefix="/catalog", tags=["catalog"])


class InstallRequest(BaseModel):
    """Whether to load the pack's sample records too."""

    sample_data: bool = False


@router.get("", response_model=list[PackOut])
def list_packs(actor: AdminActor) -> list[dict[str, Any]]:
    """Packs available for installation."""
    return catalog.available()


@router.post("/{pack}/install", status_code=201, response_model=Installed)
def install_pack(
    pack: str, engine: DbEngine, ctx: AdminContext, body: InstallRequest | None = None
) -> dict[str, Any]:
    """Install a pack as a new app, optionally with its sample data."""
    with engine.begin() as conn:
        app = catalog.install(conn, pack, sample_data=bool(body and body.sample_data), ctx=ctx)
    return {"key": app.key, "_revision": app.revision}
