"""The catalog: app packs shipped in `apps_catalog/<pack>/` (app.json, sample_data.json).

`install(conn, pack, sample_data=...)` installs a pack through the same import path as
`POST /apps/import`, so a catalog app is just configuration, never code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from engine.forms import apps
from engine.forms.errors import not_found
from engine.forms.records import Actor

CATALOG_DIR = Path(__file__).resolve().parents[1] / "apps_catalog"


def _pack_dir(key: str) -> Path:
    path = CATALOG_DIR / key
    if not key.isidentifier() or not (path / "app.json").is_file():
        raise not_found()
    return path


def available() -> list[dict[str, Any]]:
    """Every pack in the catalog: key, name, version, description, whether it has sample data."""
    packs = []
    for path in sorted(CATALOG_DIR.glob("*/app.json")):
        definition = json.loads(path.read_text(encoding="utf-8"))
        packs.append(
            {
                "key": definition["key"],
                "name": definition.get("name"),
                "version": definition.get("version"),
                "description": definition.get("description"),
                "sample_data": (path.parent / "sample_data.json").is_file(),
            }
        )
    return packs


def load_pack(key: str, *, sample_data: bool) -> dict[str, Any]:
    """A catalog pack as an import document (with its sample records when asked)."""
    path = _pack_dir(key)
    pack: dict[str, Any] = json.loads((path / "app.json").read_text(encoding="utf-8"))
    if sample_data and (path / "sample_data.json").is_file():
        pack["data"] = json.loads((path / "sample_data.json").read_text(encoding="utf-8"))
    return pack


def install(conn: Connection, key: str, *, sample_data: bool, actor: Actor) -> apps.LoadedApp:
    """Install catalog pack `key` (409 if an app with its key exists)."""
    app, _ = apps.import_pack(conn, load_pack(key, sample_data=sample_data), mode="create", actor=actor)
    return app
