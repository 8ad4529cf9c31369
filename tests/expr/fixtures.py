"""Session fixtures every formula test shares (a pytest plugin loaded by tests/conftest.py).

``formula_engine_sqlite`` / ``formula_engine_postgresql``: SQLAlchemy engines ready for
compiled formulas (SQLite gets the ``jimu_*`` functions on every connection, PostgreSQL gets
them installed once). ``node_evaluator``: one long-lived Node process running the JS backend.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from engine.expr.backends.sql import create_engine, install_postgres_functions
from tests.expr.js_harness import NodeEvaluator


@pytest.fixture(scope="session")
def formula_engine_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('formulas') / 'expr.db'}")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def formula_engine_postgresql(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        install_postgres_functions(conn)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def node_evaluator() -> Iterator[NodeEvaluator]:
    """One NodeEvaluator for the whole test session."""
    with NodeEvaluator() as evaluator:
        yield evaluator
