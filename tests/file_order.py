"""Longest test files first: the order files are handed to pytest-xdist workers.

With `--dist loadfile` a worker runs whole files, taken in collection order as it runs out of
work (`--no-loadscope-reorder` keeps that order; by default xdist sorts files by how many tests
they hold, which says little about how long they take). Starting with the files that took
longest and ending with the short ones keeps both workers busy until the end, instead of one
idling while the other runs a long file it picked up last.

What each file took comes from tests/file_seconds.json, measured seconds per file (set-up, call
and teardown of its tests), written by a run with `--record-file-seconds`. A file missing
there (new, or renamed) counts as taking no time and keeps its place among the others that
took none. Within a file the tests keep their order, so module fixtures are built once.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

FILE_SECONDS = Path(__file__).with_name("file_seconds.json")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-file-seconds",
        action="store_true",
        help="write the seconds each test file took to tests/file_seconds.json (the files "
        "this run did not collect keep their entries)",
    )


def file_seconds() -> dict[str, float]:
    """Measured seconds per test file (paths relative to the repository), or none at all."""
    if not FILE_SECONDS.is_file():
        return {}
    measured: dict[str, float] = json.loads(FILE_SECONDS.read_text(encoding="utf-8"))
    return measured


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files in descending measured time, each file's tests together and in their order."""
    seconds = file_seconds()
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(_file_of(item.nodeid), index)
    # A stable sort: files that took equally long (or are not measured) keep collection order.
    items.sort(
        key=lambda item: (
            -seconds.get(_file_of(item.nodeid), 0.0),
            first_seen[_file_of(item.nodeid)],
        )
    )


class FileTimer:
    """Adds up the seconds of every test phase per file (on the xdist controller, from the
    workers' reports) and writes them at the end of the session."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[_file_of(report.nodeid)] += report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.seconds:
            return
        merged = {**file_seconds(), **{k: round(v, 1) for k, v in self.seconds.items()}}
        ordered = dict(sorted(merged.items(), key=lambda entry: (-entry[1], entry[0])))
        FILE_SECONDS.write_text(json.dumps(ordered, indent=1) + "\n", encoding="utf-8")


def pytest_configure(config: pytest.Config) -> None:
    # Only the process that sees every report records: the controller, or a run without xdist.
    if config.getoption("record_file_seconds") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(FileTimer(), "file_timer")


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]
