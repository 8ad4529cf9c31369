"""`jimu serve` processes forked from one that has imported the engine once.

A new interpreter spent about 2.5 s of CPU before its server answered, most of it importing the
engine and building its models; the browser tests start some 44 servers on two busy cores. A
multiprocessing forkserver imports `PRELOAD` once per test process, and each server is a fork
of it that runs the same CLI entry point as `jimu serve` (about 0.65 s of CPU until it
answers). Starting a real interpreter with the CLI is tested in tests/test_cli.py and
tests/api/test_workers.py.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from multiprocessing.process import BaseProcess
from pathlib import Path

PRELOAD = [
    "engine.cli",
    "engine.api.main",
    "engine.api.server",
    "engine.auth.credentials",
    "engine.jobs",
    "engine.forms.jobs",
    "engine.rules.listeners",
    "alembic.command",
    "uvicorn",
]
"""What `jimu serve` imports before it answers, imported once by the forkserver."""

_FORKS = multiprocessing.get_context("forkserver")
_FORKS.set_forkserver_preload(PRELOAD)


def start(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> BaseProcess:
    """`jimu <args>` in a new process and session, with exactly the environment `env`, in
    `cwd`, its output in `log` (started anew). The process is daemonic: one still running when
    the test process exits is terminated (so it cannot start multiprocessing HTTP workers;
    `JIMU_WORKERS=1`)."""
    process = _FORKS.Process(target=_run, args=(args, env, str(cwd), str(log)), daemon=True)
    process.start()
    return process


def _run(args: list[str], env: dict[str, str], cwd: str, log: str) -> None:
    os.setsid()
    output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.argv = ["jimu", *args]
    from engine.cli import app

    app()
