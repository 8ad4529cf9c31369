"""API fixtures: a client on a fresh database (SQLite and PostgreSQL), and one with the CRM installed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.api.records_client import API, api_client


@pytest.fixture
def client(store_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """A client with the admin token on an empty, migrated database."""
    with api_client(store_engine, tmp_path) as test_client:
        yield test_client


@pytest.fixture
def crm(client: TestClient) -> TestClient:
    """The same client with the CRM pack and its sample data installed."""
    response = client.post(f"{API}/catalog/crm/install", json={"sample_data": True})
    assert response.status_code == 201, response.text
    return client
