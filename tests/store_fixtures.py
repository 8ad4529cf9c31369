"""Store fixtures: an empty database per test, on SQLite or in a fresh PostgreSQL schema.

The PostgreSQL database is shared by the whole session (the formula tests install their
functions in its ``public`` schema), so each test here gets its own schema as the only entry of
``search_path`` and drops it afterwards; nothing outside that schema is touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from engine.store.session import engine_for_url


@pytest.fixture
def store_engine(db_url: str) -> Iterator[Engine]:
    """An engine on an empty database (SQLite file, or a PostgreSQL schema of its own)."""
    if not db_url.startswith("postgresql"):
        engine = engine_for_url(db_url)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    schema = f"store_{uuid.uuid4().hex[:12]}"
    admin = engine_for_url(db_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine = engine_for_url(db_url, connect_args={"options": f"-c search_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@contextmanager
def module_database(
    request: pytest.FixtureRequest, directory: Path, prefix: str
) -> Iterator[Callable[[], Engine]]:
    """For a module fixture parametrized by "sqlite"/"postgres": a function that makes engines on
    one throwaway database — a SQLite file in `directory`, or a PostgreSQL schema of its own
    (named `prefix` + a random suffix) that is dropped at the end."""
    if request.param == "sqlite":
        yield lambda: engine_for_url(f"sqlite:///{directory / 'test.db'}")
        return
    url: str = request.getfixturevalue("postgres_url")
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = engine_for_url(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield lambda: engine_for_url(url, connect_args={"options": f"-c search_path={schema}"})
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
