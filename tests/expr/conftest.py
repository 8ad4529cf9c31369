"""Fixtures of the expression tests: an SQL engine per dialect, ready for formulas.

``sql_engine`` is session-scoped and parametrized (``sqlite``, ``postgres``): SQLite gets the
``jimu_*`` functions registered on every connection (``create_engine``), PostgreSQL gets them
installed once. Tests on PostgreSQL are marked ``postgres``.
"""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

SQL_DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session", params=SQL_DIALECTS)
def sql_engine(request: pytest.FixtureRequest) -> Engine:
    """The session's formula engine on SQLite or on PostgreSQL (tests/expr/fixtures.py)."""
    engine: Engine = request.getfixturevalue(f"formula_engine_{request.param}")
    return engine
