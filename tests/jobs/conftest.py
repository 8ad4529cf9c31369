"""Fixtures of the job tests: a migrated database with the effects table, settings, a clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from engine.jobs import load_kinds
from engine.settings import Settings
from tests.jobs import handlers
from tests.store_fixtures import prepare_fresh

T0 = dt.datetime(2030, 1, 1, 2, 30, tzinfo=dt.UTC)  # after any real "now" of enqueue


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def jobs_engine(migrated_engine: Engine) -> Iterator[Engine]:
    """A migrated database (`migrated_engine`) with the test effects table."""
    load_kinds()
    prepare_fresh(migrated_engine)
    handlers.EFFECTS_META.create_all(migrated_engine)
    handlers.OVERLAPS.clear()
    handlers.CALLS.clear()
    yield migrated_engine


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, job_lease_seconds=60, job_poll_seconds=0.05)


@pytest.fixture
def clock() -> Clock:
    return Clock()
