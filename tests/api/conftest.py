"""API fixtures: a client on a fresh database (SQLite and PostgreSQL), and one with the CRM installed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.api.records_client import api_client


@pytest.fixture
def client(migrated_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """A client with the admin token on an empty, migrated database."""
    with api_client(migrated_engine, tmp_path) as test_client:
        yield test_client


@pytest.fixture
def crm(crm_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """A client with the admin token on a database with the CRM pack and its sample data."""
    with api_client(crm_engine, tmp_path) as test_client:
        yield test_client
