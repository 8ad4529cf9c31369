"""Database fixtures shared by every test: a SQLite file per test and one PostgreSQL server.

The harness owns the PostgreSQL server: unless JIMU_TEST_POSTGRES_URL points at an existing
database, the first test that asks for PostgreSQL starts a throwaway cluster, and the end of
the session stops it and removes its directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres_server import PostgresServer

DATABASES = ["sqlite", "postgres"]


pytest_plugins = [
    "tests.expr.fixtures",
    "tests.store_fixtures",
    "tests.response_guard",
    "tests.file_order",
    "tests.bytecode_cache",
]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of an empty `jimu_test` database on a PostgreSQL server for this session."""
    if external := os.environ.get("JIMU_TEST_POSTGRES_URL"):
        yield external
        return
    server = PostgresServer()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of a new SQLite file in this test's temporary directory."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=DATABASES, ids=DATABASES)
def db_url(request: pytest.FixtureRequest) -> str:
    """The test runs once on SQLite and once on PostgreSQL; this is that run's database URL."""
    name: str = request.param
    url: str = request.getfixturevalue(f"{name}_url")
    return url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that touches PostgreSQL `postgres`, so `-m "not postgres"` skips them."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        callspec = getattr(item, "callspec", None)
        on_postgres = "postgres_url" in fixtures or (
            callspec is not None and callspec.params.get("db_url") == "postgres"
        )
        if on_postgres:
            item.add_marker(pytest.mark.postgres)
