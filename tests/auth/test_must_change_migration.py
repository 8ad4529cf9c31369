"""Migration 0018_mustchange: `users.must_change_password` (false for users already there) comes
and goes with it, and a rerun after a `stamp` back keeps its values, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from engine.store.models import User, utcnow
from engine.store.session import alembic_config

REVISION = "0018_mustchange"


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("users")}


def test_0018_adds_drops_and_reruns(store_engine: Engine) -> None:
    with store_engine.begin() as conn:
        config = alembic_config(conn)
        previous = ScriptDirectory.from_config(config).get_revision(REVISION).down_revision
        assert isinstance(previous, str)
        command.upgrade(config, previous)
        users = sa.table(  # the table as it was before
            "users",
            sa.column("username"),
            sa.column("display_name"),
            sa.column("is_active"),
            sa.column("is_admin"),
            sa.column("created_at", User.__table__.c.created_at.type),
        )
        conn.execute(
            sa.insert(users).values(
                username="li",
                display_name="李四",
                is_active=True,
                is_admin=False,
                created_at=utcnow(),
            )
        )
    assert "must_change_password" not in _columns(store_engine)
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), REVISION)
    assert "must_change_password" in _columns(store_engine)
    with store_engine.begin() as conn:
        assert conn.execute(sa.text("SELECT must_change_password FROM users")).scalar_one() in (
            False,
            0,
        )
        conn.execute(sa.text("UPDATE users SET must_change_password = true"))
    with store_engine.begin() as conn:  # a rerun after a stamp back keeps the values
        command.stamp(alembic_config(conn), previous)
    with store_engine.begin() as conn:
        command.upgrade(alembic_config(conn), REVISION)
    with store_engine.begin() as conn:
        assert conn.execute(sa.text("SELECT must_change_password FROM users")).scalar_one() in (
            True,
            1,
        )
        command.downgrade(alembic_config(conn), previous)  # with the user row still there
    assert "must_change_password" not in _columns(store_engine)
    with store_engine.begin() as conn:
        assert conn.execute(sa.text("SELECT username FROM users")).scalar_one() == "li"
        command.upgrade(alembic_config(conn), "head")
        command.check(alembic_config(conn))
    assert "must_change_password" in _columns(store_engine)
