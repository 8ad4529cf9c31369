"""Bytecode for the Python processes the tests start, kept in one cache outside the source tree.

With `PYTHONDONTWRITEBYTECODE` set (as in this project's CI environment) every interpreter a test
starts — `jimu serve` and its HTTP workers, the crash tests' job workers, the CLI — compiles
the engine from source again: about 0.3 s of CPU each on the shared 2-core machine. The session
drops that variable and points `PYTHONPYCACHEPREFIX` at `PYCACHE` instead, before pytest-xdist
starts its workers, so every process of the run (and of later runs) compiles a module once.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

PYCACHE = Path(tempfile.gettempdir()) / "jimu-test-pycache"
"""Where the test processes and the processes they start keep their bytecode."""


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
        os.environ.setdefault("PYTHONPYCACHEPREFIX", str(PYCACHE))
