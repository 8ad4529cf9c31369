"""Building the SQL engines and the Node evaluator the expression tests run formulas on.

Shared by the conformance suite and tests/expr/test_properties.py. The harness modules
(``tests.expr.sql_harness``, ``tests.expr.js_harness``) own how a formula is run; this only finds
them and prepares engines the way they expect. A missing harness skips the test with the reason.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import sqlalchemy as sa


def harness(name: str) -> Any:
    try:
        return importlib.import_module(f"tests.expr.{name}")
    except ModuleNotFoundError as exc:
        if exc.name and (
            exc.name.startswith("tests.expr") or exc.name.startswith("engine.expr.backends")
        ):
            pytest.skip(f"tests.expr.{name} is not available: {exc}")
        raise


def make_engine(url: str) -> sa.Engine:
    """An engine prepared for compiled formulas, built as tests/expr/conftest.py builds it:
    SQLite gets the ``jimu_*`` functions on every connection, PostgreSQL gets them installed."""
    harness("sql_harness")
    from engine.expr.backends.sql import create_engine, install_postgres_functions

    engine = create_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            install_postgres_functions(conn)
    return engine
