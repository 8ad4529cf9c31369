"""Backends for the expression conformance suite: SQLite and PostgreSQL engines, one Node process.

The SQL engines are built the way ``tests/expr`` builds them (``tests.expr.sql_harness``), once
per session; the PostgreSQL server comes from the ``postgres_url`` fixture of tests/conftest.py.
A backend whose harness is not importable is skipped with the reason, never silently passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conformance.backends import harness as _harness
from tests.conformance.backends import make_engine as _make_engine


@pytest.fixture(scope="session")
def conformance_sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    path: Path = tmp_path_factory.mktemp("conformance") / "expr.db"
    engine = _make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def conformance_postgresql_engine(postgres_url: str) -> Iterator[sa.Engine]:
    engine = _make_engine(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def conformance_node() -> Iterator[Any]:
    harness = _harness("js_harness")
    evaluator = harness.NodeEvaluator()
    try:
        yield evaluator
    finally:
        close = getattr(evaluator, "close", None)
        if callable(close):
            close()
