"""The process model of `jimu serve`: one process, or a supervisor and N HTTP worker processes.

- `serve(settings, host=…, port=…, workers=N)` runs uvicorn on httptools and uvloop. With one
  worker the application is built here and served in this process, as before. With more,
  uvicorn's supervisor (this process) binds the socket once and spawns N worker processes
  that each build the application with `worker_app`, the factory uvicorn imports by name;
  the settings reach them through the environment (`JIMU_DATA_DIR` and `JIMU_DATABASE_URL`
  are set from this process's settings before they start, everything else is `JIMU_*` as
  this process read it).
- Start-up work (migrations, the administrator, the orphan-file sweep, the printed admin
  login) stays in the `jimu serve` process and runs once, before any worker starts
  (`engine.cli`), and so does the one job worker: a thread of the supervisor (see
  docs/decisions.md, "A server that uses every core").
- Every response of a served process names it: `X-Jimu-Worker: <pid>` (`WorkerHeader`), so
  a client (and the tests) can tell the workers apart.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

import uvicorn

from engine.settings import Settings, get_settings

if TYPE_CHECKING:  # the supervisor of several workers never imports FastAPI
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

WORKER_HEADER = b"x-jimu-worker"
FACTORY = "engine.api.server:worker_app"


class WorkerHeader:
    """ASGI middleware adding `X-Jimu-Worker: <pid of this process>` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.value = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = self.value

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (WORKER_HEADER, value)]
            await send(message)

        await self.app(scope, receive, marked)


def served_app(settings: Settings) -> FastAPI:
    """The application as `jimu serve` runs it in one process: `create_app`, marked with
    `X-Jimu-Worker`, and what exists after building it kept out of the garbage collector's full
    collections (it lives as long as the process; otherwise every few thousand objects a
    request allocates would rescan it)."""
    from engine.api.main import create_app
    from engine.store import make_engine

    app = create_app(settings)
    app.state.engine = make_engine(settings)  # not on the event loop at the first request
    app.add_middleware(WorkerHeader)
    gc.freeze()
    return app


ORPHAN_CHECK_SECONDS = 0.5


def _end_when_orphaned(supervisor: int) -> None:
    """Stop this worker (SIGTERM to itself: uvicorn finishes the requests in flight) once its
    supervisor is gone. A supervisor that is killed outright (SIGKILL, the OOM killer) cannot
    stop its workers, and they would go on serving from an orphaned socket with no job worker."""
    while os.getppid() == supervisor:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)


def worker_app() -> FastAPI:
    """The application of one HTTP worker process (uvicorn calls this factory in each worker):
    the settings from this process's environment, no job worker and no start-up work. The
    worker ends when its supervisor dies (`_end_when_orphaned`)."""
    threading.Thread(
        target=_end_when_orphaned, args=(os.getppid(),), name="jimu-orphan-check", daemon=True
    ).start()
    return served_app(get_settings())


def worker_count(settings: Settings, given: int | None) -> int:
    """How many HTTP worker processes to run: `--workers`, else `JIMU_WORKERS`, else one per
    CPU core."""
    if given is not None:
        return given
    if settings.workers is not None:
        return settings.workers
    return os.cpu_count() or 1


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve HTTP until stopped (SIGINT/SIGTERM), on `workers` processes. Uvicorn's own
    proxy-header handling is off: `JIMU_TRUSTED_PROXIES` decides (engine/api/headers.py)."""
    loop = "auto" if sys.platform == "win32" else "uvloop"  # uvloop has no Windows build
    if workers <= 1:
        uvicorn.run(
            served_app(settings),
            host=host,
            port=port,
            proxy_headers=False,
            http="httptools",
            loop=loop,
        )
        return
    # The workers are spawned (a fresh interpreter each, also when uvicorn replaces one): they
    # read their settings from the environment they inherit, so what this process was told on
    # its command line goes there while they run (and is taken back after).
    given = {"JIMU_DATA_DIR": str(settings.data_dir), "JIMU_DATABASE_URL": settings.database_url}
    before = {name: os.environ.get(name) for name in given}
    os.environ.update(given)
    try:
        uvicorn.run(
            FACTORY,
            factory=True,
            workers=workers,
            host=host,
            port=port,
            proxy_headers=False,
            http="httptools",
            loop=loop,
        )
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


__all__ = [
    "FACTORY",
    "WORKER_HEADER",
    "WorkerHeader",
    "serve",
    "served_app",
    "worker_app",
    "worker_count",
]
