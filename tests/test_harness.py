"""The test harness itself: both databases really answer, PostgreSQL as configured."""

from __future__ import annotations

import sqlalchemy as sa

from tests.postgres_server import DATABASE


def test_every_database_answers(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_sqlite_url_is_a_file_in_tmp(sqlite_url: str, tmp_path: object) -> None:
    assert sqlite_url == f"sqlite:///{tmp_path}/test.db"


def test_postgres_is_utf8_with_c_utf8_collation(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("show server_encoding")).scalar_one() == "UTF8"
            # SHOW lc_collate is gone since PostgreSQL 16; pg_database has it in every version.
            collate, ctype = conn.execute(
                sa.text(
                    "select datcollate, datctype from pg_database where datname = current_database()"
                )
            ).one()
            assert (collate, ctype) == ("C.UTF-8", "C.UTF-8")
            assert conn.execute(sa.text("select current_database()")).scalar_one() == DATABASE
    finally:
        engine.dispose()


def test_postgres_url_uses_psycopg3(postgres_url: str) -> None:
    assert sa.make_url(postgres_url).drivername == "postgresql+psycopg"
