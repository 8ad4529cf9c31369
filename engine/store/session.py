"""Engines, sessions and database preparation (migrations, PostgreSQL formula functions).

SQLite connections get the formula functions, WAL, a busy timeout and foreign keys, and every
transaction starts with ``BEGIN IMMEDIATE``, so a transaction takes the write lock up front
instead of failing with SQLITE_BUSY when it first writes. Read-only work may opt out with
``engine.execution_options(jimu_read_only=True)`` (plain deferred ``BEGIN``). On a SQLite file,
write transactions first wait their turn in the write queue (engine.store.write_queue), so
Jimu's writers queue fairly across threads and processes instead of spinning on the busy
timeout.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.expr.backends.sql import create_engine, install_postgres_functions
from engine.settings import Settings
from engine.store import write_queue
from engine.store.limits import restart_deadlines

if TYPE_CHECKING:
    from alembic.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = REPO_ROOT / "alembic.ini"
MIGRATIONS_DIR = REPO_ROOT / "migrations"
READ_ONLY = "jimu_read_only"
CONNECT_ARGS = "_jimu_connect_args"
_MIGRATION_LOCK = 7406170002


def make_engine(settings: Settings, **options: Any) -> Engine:
    """The engine of `settings.database_url` (SQLite in the data dir unless JIMU_DATABASE_URL)."""
    return engine_for_url(settings.database_url, **options)


def engine_for_url(url: str, **options: Any) -> Engine:
    """An engine for `url`; on SQLite with foreign keys on and ``BEGIN IMMEDIATE`` transactions
    behind the write queue (unless ``JIMU_SQLITE_WRITE_QUEUE=0``)."""
    engine = create_engine(url, **options)
    # The options' connect_args are nowhere else on the engine: the PostgreSQL read pool
    # (engine.store.read_pool) connects with them too.
    engine.__dict__[CONNECT_ARGS] = dict(options.get("connect_args", {}))
    if engine.dialect.name == "sqlite":
        write_queue.install(engine)
        _use_immediate_transactions(engine)
        restart_deadlines(engine)  # statement time limits (engine.store.limits)
    return engine


def _use_immediate_transactions(engine: Engine) -> None:
    # pysqlite would otherwise emit its own deferred BEGIN lazily, before the first write.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        if read_only:
            connection.exec_driver_sql("BEGIN")
        else:
            write_queue.begin_write(connection)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """ORM sessions on `engine`; objects stay readable after commit (no expire on commit)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of ``alembic.ini``, bound to `connection` when given.

    Alembic (with Mako and Pygments, about 11 MB per process) is imported only here: HTTP
    worker processes never migrate."""
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def prepare_database(engine: Engine) -> None:
    """Bring the platform tables to the newest migration and install the formula functions.

    Idempotent, and safe when several processes start at once: the whole upgrade is one
    transaction, serialised by ``BEGIN IMMEDIATE`` on SQLite and an advisory lock on PostgreSQL.
    """
    from alembic import command

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
        command.upgrade(alembic_config(connection), "head")
        if connection.dialect.name == "postgresql":
            install_postgres_functions(connection)
