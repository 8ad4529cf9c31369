"""A throwaway PostgreSQL cluster for one test session: initdb, start, wait, stop, remove.

PostgreSQL refuses to run as root, so under root the server runs as the `postgres` OS user;
the process is started with `subprocess.Popen(user=...)`, so the PID we hold is the
postmaster's own, not a wrapper's (runuser/su would fork and keep it as a child).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

SERVER_USER = "postgres"
DATABASE = "jimu_test"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
_PR_SET_PDEATHSIG = 1


class PostgresHarnessError(RuntimeError):
    """The throwaway server could not be set up; the message says what to install or check."""


def find_bindir() -> Path:
    """The directory holding `initdb` and `postgres`: $JIMU_TEST_PG_BINDIR, pg_config, Debian's."""
    candidates: list[Path] = []
    if override := os.environ.get("JIMU_TEST_PG_BINDIR"):
        candidates.append(Path(override))
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            ).stdout
            candidates.append(Path(out.strip()))
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(Path(p) for p in debian)
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    raise PostgresHarnessError(
        "PostgreSQL server binaries (initdb, postgres) not found; install the Debian package "
        "`postgresql` (./scripts/test.sh does), set JIMU_TEST_PG_BINDIR, or set "
        "JIMU_TEST_POSTGRES_URL to use an existing server"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _reachable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _die_with_parent() -> None:
    """In the child: ask the kernel for SIGINT (fast shutdown) if the test process dies first."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGINT)


class PostgresServer:
    """One throwaway cluster in a temporary directory, serving on 127.0.0.1 only."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.as_root = os.geteuid() == 0
        self.root = self._make_root()
        self.data_dir = self.root / "data"
        self.log_file = self.root / "postgres.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _make_root(self) -> Path:
        base = Path(tempfile.gettempdir())
        # Under root, the postgres user must reach the directory, and socket paths are short.
        if self.as_root and (not _reachable_by_others(base) or len(str(base)) > 60):
            base = Path("/tmp")
        root = Path(tempfile.mkdtemp(prefix="jimu-pg-", dir=base))
        if self.as_root:
            try:
                account = pwd.getpwnam(SERVER_USER)
            except KeyError:
                shutil.rmtree(root, ignore_errors=True)
                raise PostgresHarnessError(
                    f"running as root but there is no {SERVER_USER!r} OS user to run the server"
                ) from None
            os.chown(root, account.pw_uid, account.pw_gid)
        return root

    def _spawn(self, args: list[str], **options: Any) -> subprocess.Popen[bytes]:
        """Start `args` in the cluster directory, as the postgres OS user when we are root."""
        if self.as_root:
            account = pwd.getpwnam(SERVER_USER)
            home = {"HOME": str(self.root), "USER": SERVER_USER, "LOGNAME": SERVER_USER}
            options.update(
                user=account.pw_uid,
                group=account.pw_gid,
                extra_groups=[],
                env={**os.environ, **home},
            )
        return subprocess.Popen(args, cwd=self.root, stdin=subprocess.DEVNULL, **options)

    def start(self) -> None:
        """initdb, start the postmaster on a free port, wait for it, create the test database."""
        try:
            self._initdb()
            last_error = ""
            for _ in range(3):
                self.port = _free_port()
                last_error = self._start_postmaster()
                if not last_error:
                    break
            else:
                raise PostgresHarnessError(f"PostgreSQL did not start: {last_error}")
            with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
        except BaseException:
            self.stop()
            raise

    def _dsn(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={SERVER_USER} dbname={dbname}"

    def _initdb(self) -> None:
        args = [
            str(self.bindir / "initdb"),
            *("-D", str(self.data_dir), "-E", "UTF8", "--locale=C.UTF-8"),
            *("-U", SERVER_USER, "--auth=trust", "--no-sync"),
        ]
        process = self._spawn(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output, _ = process.communicate()
        if process.returncode != 0:
            raise PostgresHarnessError(f"initdb failed:\n{output.decode(errors='replace')}")

    def _start_postmaster(self) -> str:
        """Start and wait; return "" when the server accepts connections, else why it did not."""
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
            "TimeZone": "UTC",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "100",
        }
        args = [str(self.bindir / "postgres"), "-D", str(self.data_dir)]
        for name, value in settings.items():
            args += ["-c", f"{name}={value}"]
        preexec: Callable[[], None] | None = _die_with_parent if sys.platform == "linux" else None
        with self.log_file.open("ab") as log:
            self.process = self._spawn(
                args, stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return f"postgres exited early; log:\n{self._log_tail()}"
            try:
                with psycopg.connect(self._dsn("postgres"), connect_timeout=2):
                    return ""
            except psycopg.OperationalError:
                time.sleep(0.1)
        self._stop_process()
        return f"no connection within {START_TIMEOUT:.0f} s; log:\n{self._log_tail()}"

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _stop_process(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in (
            (signal.SIGINT, STOP_TIMEOUT),
            (signal.SIGQUIT, 5.0),
            (signal.SIGKILL, 5.0),
        ):
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster), wait for it to exit, remove the directory."""
        self._stop_process()
        shutil.rmtree(self.root, ignore_errors=True)
