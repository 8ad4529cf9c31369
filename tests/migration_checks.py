"""Checks shared by the tests of migrations that add tables: the tables appear with the
revision, leave with its downgrade, and come back with a rerun to head that matches the models."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from engine.store.session import alembic_config


def table_names(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def previous_revision(engine: Engine, revision: str) -> str:
    with engine.connect() as conn:
        script = ScriptDirectory.from_config(alembic_config(conn))
    previous = script.get_revision(revision).down_revision
    assert isinstance(previous, str), f"{revision} has no single previous revision"
    return previous


def check_adds_tables(
    engine: Engine, revision: str, tables: set[str], index: tuple[str, str] | None = None
) -> None:
    """`revision` adds exactly `tables` (and `index` = (table, index name)), its downgrade
    removes them, and upgrading to head again leaves the schema as the models say."""
    previous = previous_revision(engine, revision)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), previous)
    before = table_names(engine)
    assert not tables & before
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)
    assert table_names(engine) == before | tables
    if index is not None:
        table, name = index
        assert name in {i["name"] for i in sa.inspect(engine).get_indexes(table)}
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), previous)
    assert table_names(engine) == before
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        command.check(alembic_config(conn))
    assert table_names(engine) >= tables
