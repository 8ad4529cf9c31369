"""Alembic environment of Jimu's platform tables (``Base.metadata``).

The connection is the caller's (``config.attributes["connection"]``, as
``engine.store.prepare_database`` and the tests pass it) or a new one to the database of
Jimu's settings. Record tables are created at run time and never seen by autogenerate.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from alembic.runtime.environment import NameFilterParentNames, NameFilterType
from sqlalchemy.engine import Connection

from engine.flows import models as flow_models  # noqa: F401 - the flow runtime's tables
from engine.rules import counters as rule_counters  # noqa: F401 - rule_counters
from engine.rules import models as rule_models  # noqa: F401 - the rule runtime's tables
from engine.settings import Settings
from engine.store import models  # noqa: F401 - registers every table on Base.metadata
from engine.store.base import Base, is_record_table
from engine.store.session import make_engine

config = context.config
target_metadata = Base.metadata


def include_name(
    name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames
) -> bool:
    """Leave record tables (``r12``, ``r12_s34``, ``l56``) out of every comparison."""
    return not (type_ == "table" and name is not None and is_record_table(name))


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=include_name,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,  # also on SQLite: pysqlite no longer commits before DDL (session.py)
        compare_type=True,
        compare_server_default=True,
    )


def run_offline() -> None:
    """Emit the SQL of the migrations for Jimu's database without connecting."""
    context.configure(
        url=Settings().database_url,
        target_metadata=target_metadata,
        include_name=include_name,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the caller's connection, or on a new one to Jimu's database."""
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    engine = make_engine(Settings())
    try:
        with engine.connect() as new_connection:
            _configure(new_connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
