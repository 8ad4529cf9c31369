"""Store fixtures: an empty database per test, on SQLite or in a fresh PostgreSQL schema.

The PostgreSQL database is shared by the whole session (the formula tests install their
functions in its ``public`` schema), so each test here gets its own schema as the only entry of
``search_path`` and drops it afterwards; nothing outside that schema is touched.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.engine import Engine

from engine.store.session import engine_for_url, prepare_database


@pytest.fixture
def store_engine(db_url: str) -> Iterator[Engine]:
    """An engine on an empty database (SQLite file, or a PostgreSQL schema of its own)."""
    if not db_url.startswith("postgresql"):
        engine = engine_for_url(db_url)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    schema = f"store_{uuid.uuid4().hex[:12]}"
    admin = engine_for_url(db_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine = engine_for_url(db_url, connect_args={"options": f"-c search_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@contextmanager
def module_database(
    request: pytest.FixtureRequest, directory: Path, prefix: str
) -> Iterator[Callable[[], Engine]]:
    """For a module fixture parametrized by "sqlite"/"postgres": a function that makes engines on
    one throwaway database — a SQLite file in `directory`, or a PostgreSQL schema of its own
    (named `prefix` + a random suffix) that is dropped at the end."""
    if request.param == "sqlite":
        yield lambda: engine_for_url(f"sqlite:///{directory / 'test.db'}")
        return
    url: str = request.getfixturevalue("postgres_url")
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = engine_for_url(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield lambda: engine_for_url(url, connect_args={"options": f"-c search_path={schema}"})
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


TemplateBuild = Callable[[Engine, Path], dict[str, Any]]
"""Builds one database state: gets an engine on an empty database and the data directory that
goes with it, and answers what the tests need to know about the state (JSON-like: tokens, ids)."""


class DatabaseTemplates:
    """Database states built once per session (per xdist worker) and handed out as copies.

    A test or module that needs, say, the CRM installed gets a database of its own that starts
    as a copy of that state, so it may change anything; only the building is shared. SQLite: the
    template is a directory (database file, checkpointed, plus the data directory's files) that
    each copy duplicates. PostgreSQL: the template is a database of its own, and each copy is
    `CREATE DATABASE … TEMPLATE` (PostgreSQL copies it block by block), dropped after use. The
    engines that built a template are disposed and any connection left on it is ended first,
    since PostgreSQL copies only a database nobody is connected to; copies get new engines,
    hence new pools and empty per-database caches (engine.forms.cache.PerDatabase)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._postgres_url = ""
        self._built: dict[tuple[str, str], dict[str, Any]] = {}

    @contextmanager
    def copy(
        self,
        request: pytest.FixtureRequest,
        name: str,
        build: TemplateBuild,
        directory: Path,
        dialect: str | None = None,
    ) -> Iterator[tuple[Callable[[], Engine], dict[str, Any]]]:
        """A copy of the state `name` on `dialect` ("sqlite"/"postgres", by default the
        `request.param` of a fixture parametrized by database), with its template's files in
        `directory` (and there the SQLite database `test.db`): a function making engines on the
        copy, and what `build` answered. The PostgreSQL copy is dropped at the end."""
        dialect = dialect or request.param
        if dialect != "sqlite" and not self._postgres_url:
            self._postgres_url = request.getfixturevalue("postgres_url")
        facts = self._template(name, dialect, build)
        source = self._root / f"{name}-{dialect}"
        shutil.copytree(source, directory, dirs_exist_ok=True, ignore=_SQLITE_SIDE_FILES)
        if dialect == "sqlite":
            yield lambda: engine_for_url(f"sqlite:///{directory / 'test.db'}"), facts
            return
        database = f"copy_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{database}" TEMPLATE "{_template_database(name)}"')
        url = _database_url(self._postgres_url, database)
        try:
            yield lambda: engine_for_url(url), facts
        finally:
            self._admin(f'DROP DATABASE "{database}" WITH (FORCE)')

    def _template(self, name: str, dialect: str, build: TemplateBuild) -> dict[str, Any]:
        key = (name, dialect)
        if key in self._built:
            return self._built[key]
        directory = self._root / f"{name}-{dialect}"
        directory.mkdir(parents=True)
        if dialect == "sqlite":
            path = directory / "test.db"
            engine = engine_for_url(f"sqlite:///{path}")
            try:
                facts = build(engine, directory)
            finally:
                engine.dispose()
            with closing(sqlite3.connect(path)) as conn:  # everything into the main file
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            database = _template_database(name)
            self._admin(f'CREATE DATABASE "{database}"')
            engine = engine_for_url(_database_url(self._postgres_url, database))
            try:
                facts = build(engine, directory)
            finally:
                engine.dispose()
            self._admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
            )
        self._built[key] = facts
        return facts

    def _admin(self, statement: str) -> None:
        admin = engine_for_url(self._postgres_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(statement))
        finally:
            admin.dispose()


def _SQLITE_SIDE_FILES(directory: str, names: list[str]) -> list[str]:
    """What a copy leaves out: SQLite's WAL and shared-memory files (the template's database
    file is checkpointed) and the write queue's lock file."""
    return [n for n in names if n.endswith(("-wal", "-shm", "-writequeue"))]


def _template_database(name: str) -> str:
    return f"template_{name}"


def _database_url(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_templates(tmp_path_factory: pytest.TempPathFactory) -> DatabaseTemplates:
    """This session's (this xdist worker's) database templates; PostgreSQL is started only
    when a PostgreSQL copy is asked for."""
    return DatabaseTemplates(tmp_path_factory.mktemp("templates"))


def migrated(engine: Engine, directory: Path) -> dict[str, Any]:
    """The template build of an empty database brought to the newest migration."""
    prepare_database(engine)
    return {}


def crm_sample(engine: Engine, directory: Path) -> dict[str, Any]:
    """The template build of a migrated database with the CRM pack and its sample data,
    installed by the admin token (no one signed in)."""
    from tests.api.records_client import API, api_client

    client = api_client(engine, directory)
    response = client.post(f"{API}/catalog/crm/install", json={"sample_data": True})
    assert response.status_code == 201, response.text
    return {}


_MIGRATED_SQLITE: list[Path] = []


def prepare_fresh(engine: Engine) -> None:
    """`prepare_database(engine)`, quicker on a new SQLite file: when `engine`'s file does not
    exist yet (so nothing has opened it), it starts as a copy of a database this process
    migrated once (checkpointed, in WAL mode like every Jimu database), and
    `prepare_database` then finds it at the newest revision and only checks. A PostgreSQL
    schema, an in-memory or an existing database is migrated as usual. Not for the tests of
    migrations themselves, which must run them."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if path and path != ":memory:" and not Path(path).exists():
        shutil.copyfile(_migrated_sqlite(), path)
    prepare_database(engine)


def _migrated_sqlite() -> Path:
    if not _MIGRATED_SQLITE:
        folder = Path(tempfile.mkdtemp(prefix="jimu-migrated-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "migrated.db"
        engine = engine_for_url(f"sqlite:///{path}")
        try:
            prepare_database(engine)
        finally:
            engine.dispose()
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _MIGRATED_SQLITE.append(path)
    return _MIGRATED_SQLITE[0]


@pytest.fixture
def migrated_engine(request: pytest.FixtureRequest, db_url: str) -> Iterator[Engine]:
    """An engine on a database of this test's own at the newest migration. SQLite: the test's
    `store_engine` file, `prepare_fresh`. PostgreSQL: a copy of the session's migrated template
    (`DatabaseTemplates`; a database, so other engines take its URL from this engine, never
    from `db_url`), which saves running every migration per test; a test that also asks for
    `store_engine` gets that schema migrated instead, so both name one database."""
    if db_url.startswith("sqlite") or "store_engine" in request.fixturenames:
        engine: Engine = request.getfixturevalue("store_engine")
        prepare_fresh(engine)
        yield engine
        return
    templates: DatabaseTemplates = request.getfixturevalue("database_templates")
    directory: Path = request.getfixturevalue("tmp_path")
    with templates.copy(request, "migrated", migrated, directory, "postgres") as (connect, _):
        engine = connect()
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture
def crm_engine(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database of this test's own holding the CRM pack and its sample data: a
    copy of the session's template (`DatabaseTemplates`), on SQLite in `tmp_path`."""
    templates: DatabaseTemplates = request.getfixturevalue("database_templates")
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgres"
    with templates.copy(request, "crm_sample", crm_sample, tmp_path, dialect) as (connect, _):
        engine = connect()
        try:
            yield engine
        finally:
            engine.dispose()
