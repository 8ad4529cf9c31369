"""A Jimu API client on a test database: the app factory with the admin token set."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from engine.api.main import create_app
from engine.settings import Settings
from tests.store_fixtures import prepare_fresh

TOKEN = "test-admin-token"
API = "/api/v1"


def api_client(engine: Engine, tmp_path: Any) -> TestClient:
    """A client whose app uses `engine` (migrated here) and requires the admin token."""
    prepare_fresh(engine)
    app = create_app(Settings(data_dir=tmp_path, admin_token=SecretStr(TOKEN)))
    app.state.engine = engine
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    return client
