"""Engines: SQLite transactions take the write lock up front; serve prepares the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.settings import Settings
from engine.store.session import READ_ONLY, engine_for_url, make_engine


def _try_write_lock(path: Path) -> None:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_sqlite_transactions_begin_immediate(tmp_path: Path) -> None:
    path = tmp_path / "jimu.db"
    engine = engine_for_url(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("SELECT 1"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                _try_write_lock(path)
        _try_write_lock(path)
        with engine.execution_options(**{READ_ONLY: True}).begin() as connection:
            connection.execute(sa.text("SELECT 1"))
            _try_write_lock(path)
    finally:
        engine.dispose()


def test_sqlite_foreign_keys_and_formula_functions(tmp_path: Path) -> None:
    engine = make_engine(Settings(data_dir=tmp_path))
    try:
        assert engine.url.database == str(tmp_path / "jimu.db")
        with engine.connect() as connection:
            assert connection.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
            functions = (
                connection.execute(sa.text("SELECT name FROM pragma_function_list")).scalars().all()
            )
            assert any(name.startswith("jimu_") for name in functions)
    finally:
        engine.dispose()


def test_make_engine_uses_the_database_url(postgres_url: str, tmp_path: Path) -> None:
    engine = make_engine(Settings(data_dir=tmp_path, database_url=postgres_url))
    try:
        assert engine.dialect.name == "postgresql"
    finally:
        engine.dispose()


def test_serve_migrates_the_database_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from engine.cli import app

    monkeypatch.delenv("JIMU_DATABASE_URL", raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    data_dir = tmp_path / "new" / "data"
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    engine = engine_for_url(f"sqlite:///{data_dir / 'jimu.db'}")
    try:
        assert {"apps", "users", "alembic_version"} <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
