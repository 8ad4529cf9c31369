"""SQLite writers under load: 32 clients creating records through HTTP against a real
``jimu serve`` on SQLite, with the write queue (engine/store/write_queue.py) and, as the
baseline in the same run, without it (``JIMU_SQLITE_WRITE_QUEUE=0``: waiting writers sleep and
retry on the busy timeout). Rounds alternate off/on, each on a fresh data directory and server.

Prints per mode the create latencies over all rounds — mean, p50, p99, max, p99/p50 — and the
throughput (median of the rounds); then the latency of plain GETs (a list page of 20) while another connection holds
SQLite's write lock for 1.5 s (``BEGIN IMMEDIATE`` from outside), next to the same GETs with no
lock held.

Usage: ``python bench/sqlite_writers_bench.py [--clients 32] [--creates 25] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "sqlite-writers-bench-token"
APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "bench_w",
    "name": "写入基准 / writers bench",
    "version": "1",
    "forms": [
        {
            "key": "order",
            "name": "订单",
            "title_field": "title",
            "fields": [
                {"key": "title", "type": "text", "required": True, "max": 100},
                {"key": "amount", "type": "number", "precision": 2},
                {"key": "note", "type": "textarea"},
            ],
        }
    ],
}
RECORDS = "/api/v1/apps/bench_w/forms/order/records"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`jimu serve` in a subprocess on a fresh data directory."""

    def __init__(self, directory: Path, queue: bool) -> None:
        self.directory = directory
        self.port = _free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "JIMU_DATA_DIR": str(directory),
            "JIMU_ADMIN_TOKEN": TOKEN,
            "JIMU_ADMIN_PASSWORD": "bench-admin-password-1",
            "JIMU_SQLITE_WRITE_QUEUE": "1" if queue else "0",
        }
        env.pop("JIMU_DATABASE_URL", None)
        self.log = open(directory / "server.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from engine.cli import app; app()",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(directory),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                if request(self.port, "GET", "/api/v1/health")[0] == 200:
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((directory / "server.log").read_text(errors="replace"))
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    own = conn is None
    connection = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        if own:
            connection.close()


def creates(port: int, clients: int, per_client: int) -> tuple[list[float], float, list[str]]:
    """Every create's seconds, the wall time, and the failures."""
    latencies: list[float] = []
    failures: list[str] = []
    start = threading.Barrier(clients + 1)

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        start.wait()
        for i in range(per_client):
            began = time.perf_counter()
            status, body = request(
                port,
                "POST",
                RECORDS,
                {"title": f"c{n}-{i}", "amount": i, "note": "x" * 200},
                conn,
            )
            mine.append(time.perf_counter() - began)
            if status != 201:
                failures.append(f"{status} {body[:200]!r}")
        conn.close()
        latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - began, failures


def reads(port: int, database: Path, hold: float) -> tuple[list[float], bool]:
    """Seconds per GET (a list page of 20) issued one after another for about a second while
    an outside connection holds the write lock for `hold` seconds (0: no lock), and whether
    the lock was still held after the last answer (GETs that wait for the lock get their
    answer only once it is let go, after `hold` seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    holder = None
    if hold:
        holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(hold, holder.execute, args=("ROLLBACK",))
        release.start()
    began = time.perf_counter()
    latencies = []
    try:
        while time.perf_counter() - began < max(hold - 0.3, 0.7):
            t0 = time.perf_counter()
            status, _ = request(port, "GET", f"{RECORDS}?limit=20", conn=conn)
            latencies.append(time.perf_counter() - t0)
            assert status == 200, status
        held = holder is not None and holder.in_transaction
    finally:
        if holder is not None:
            release.join()
            holder.close()
        conn.close()
    return latencies, held


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(value: float) -> str:
    return f"{value * 1000:8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--creates", type=int, default=25, help="creates per client per round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    modes = {"baseline (queue off)": False, "write queue (on)": True}
    results: dict[str, dict[str, list[float]]] = {
        name: {"lat": [], "rate": [], "locked": [], "free": []} for name in modes
    }
    failures: dict[str, list[str]] = {name: [] for name in modes}
    held_every_time = True
    for round_no in range(args.rounds):
        for name, queue in modes.items():
            with tempfile.TemporaryDirectory(prefix="jimu-writers-") as tmp:
                server = Server(Path(tmp), queue)
                try:
                    status, body = request(server.port, "POST", "/api/v1/apps", APP)
                    assert status == 201, body
                    for i in range(20):  # warm up: caches, statements
                        request(server.port, "POST", RECORDS, {"title": f"w{i}"})
                    lat, wall, failed = creates(server.port, args.clients, args.creates)
                    results[name]["lat"] += lat
                    results[name]["rate"].append(len(lat) / wall)
                    failures[name] += failed
                    database = Path(tmp) / "jimu.db"
                    free, _ = reads(server.port, database, 0)
                    locked, held = reads(server.port, database, 1.5)
                    held_every_time = held_every_time and held
                    results[name]["free"] += free
                    results[name]["locked"] += locked
                finally:
                    server.stop()
            print(f"round {round_no + 1}: {name} done", file=sys.stderr)
    print(
        f"{args.clients} clients x {args.creates} creates x {args.rounds} rounds per mode "
        f"(HTTP, one `jimu serve` on SQLite WAL), latency in ms"
    )
    print(
        f"{'mode':22} {'mean':>8} {'p50':>8} {'p99':>8} {'max':>8} {'p99/p50':>8} "
        f"{'creates/s':>10} failed"
    )
    for name in modes:
        lat = results[name]["lat"]
        p50, p99 = statistics.median(lat), pct(lat, 0.99)
        rate = statistics.median(results[name]["rate"])
        print(
            f"{name:22} {ms(statistics.mean(lat))} {ms(p50)} {ms(p99)} {ms(max(lat))} {p99 / p50:8.1f} {rate:10.0f} "
            f"{len(failures[name])}"
        )
    print()
    print("GET list page of 20, one client, ms:")
    print(f"{'mode':22} {'lock':>10} {'n':>5} {'p50':>8} {'max':>8}")
    for name in modes:
        for kind, label in (("free", "none"), ("locked", "held 1.5s")):
            values = results[name][kind]
            print(
                f"{name:22} {label:>10} {len(values):5d} {ms(statistics.median(values))} "
                f"{ms(max(values))}"
            )
    print(f"outside writer still held the lock after the last GET: {held_every_time}")
    for name, failed in failures.items():
        for failure in failed[:3]:
            print(f"{name} failure: {failure}")


if __name__ == "__main__":
    main()
