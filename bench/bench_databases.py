"""The databases a benchmark runs on: a temporary SQLite file and a throwaway PostgreSQL server
(the tests' `PostgresServer`), chosen by one `--db` option shared by the benchmarks."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator


def add_database_option(parser: argparse.ArgumentParser) -> None:
    """`--db sqlite|postgresql|both` (default both)."""
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")


def each_database(choice: str, filename: str = "bench.db") -> Iterator[tuple[str, str]]:
    """(name, URL) of each chosen database, in order; each exists only until the next one is
    asked for (the SQLite file's folder is removed, the PostgreSQL server stopped)."""
    if choice in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            yield "SQLite", f"sqlite:///{tmp}/{filename}"
    if choice in ("postgresql", "both"):
        from tests.postgres_server import PostgresServer

        server = PostgresServer()
        server.start()
        try:
            yield "PostgreSQL", server.url
        finally:
            server.stop()
