"""`jimu serve --workers 1` against `--workers 2` in the same run: 8 HTTP clients listing and
creating on a form of 100,000 rows (SQLite WAL, or PostgreSQL with ``--database-url``).

The data is loaded once (batches of 1,000 through the API); then rounds alternate the two
server modes on that database, each a fresh `jimu serve` process tree. Per mode: requests per
second (median of the rounds) and p50/p99 over all rounds of

- list: ``status = "won"`` sorted by ``-amount``, 25 rows, with the total (the form declares the
  index ``(status, -amount)``, as a builder would);
- page: the same page without the total (``count=none``);
- create: one record.

and the memory of the whole server: the summed RSS of every process of the tree (the `jimu
serve` process — with several workers their supervisor, which also runs the job worker —,
its HTTP workers and multiprocessing's resource tracker) idle after start and after the run,
the summed peak (each process's high-water mark) and the summed PSS (shared library and
file pages divided among the processes sharing them). Clients keep their connection (the
kernel spreads the 8 connections over the workers; the split is printed).

Usage: ``python bench/workers_bench.py [--rows 100000] [--clients 8] [--seconds 10]
[--rounds 3] [--database-url URL]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "workers-bench-token"
SERVE = [sys.executable, "-m", "engine", "serve"]
STATUSES = ["new", "contacted", "won", "lost"]
REGIONS = ["华东", "华北", "华南", "西南", "东北"]
APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "bench_mp",
    "name": "多进程基准 / workers bench",
    "version": "1",
    "forms": [
        {
            "key": "orders",
            "name": "订单",
            "title_field": "title",
            "indexes": [["status", "-amount"]],
            "fields": [
                {"key": "title", "type": "text", "required": True, "max": 200},
                {"key": "owner", "type": "text", "max": 100},
                {"key": "region", "type": "text", "max": 50},
                {"key": "status", "type": "text", "max": 20},
                {"key": "amount", "type": "number", "precision": 2},
                {"key": "signed_at", "type": "date"},
            ],
        }
    ],
}
RECORDS = "/api/v1/apps/bench_mp/forms/orders/records"
LIST = RECORDS + "?filter=status%20%3D%20%22won%22&sort=-amount&limit=25"
PAGE = LIST + "&count=none"


def _row(i: int, rng: random.Random) -> dict[str, Any]:
    return {
        "title": f"订单 {i}",
        "owner": f"user{rng.randrange(50)}",
        "region": rng.choice(REGIONS),
        "status": rng.choice(STATUSES),
        "amount": round(rng.uniform(100, 100_000), 2),
        "signed_at": f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def request(
    conn: http.client.HTTPConnection, method: str, path: str, body: Any = None
) -> tuple[int, bytes, str]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    return response.status, response.read(), response.getheader("x-jimu-worker", "")


def tree(pid: int) -> list[int]:
    """`pid` and every process below it."""
    found = [pid]
    for one in found:
        try:
            for task in Path(f"/proc/{one}/task").iterdir():
                found.extend(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def memory(pids: list[int]) -> tuple[float, float, float]:
    """Summed RSS, summed peak RSS (VmHWM) and summed PSS (shared pages divided among the
    processes that share them: what the tree really occupies) of `pids`, MiB."""
    rss = peak = pss = 0
    for pid in pids:
        try:
            status = dict(
                line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            )
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        rss += int(status["VmRSS"].split()[0])
        peak += int(status["VmHWM"].split()[0])
        pss += sum(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
    return rss / 1024, peak / 1024, pss / 1024


class Server:
    """`jimu serve --workers N` in a subprocess."""

    def __init__(self, data_dir: Path, workers: int, database_url: str | None) -> None:
        self.port = _free_port()
        self.workers = workers
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "JIMU_DATA_DIR": str(data_dir),
            "JIMU_ADMIN_TOKEN": TOKEN,
            "JIMU_ADMIN_PASSWORD": "bench-admin-password-1",
        }
        env.pop("JIMU_DATABASE_URL", None)
        if database_url:
            env["JIMU_DATABASE_URL"] = database_url
        self.log = open(data_dir / f"server-{workers}.log", "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [*SERVE, "--port", str(self.port), "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        seen: set[str] = set()
        while len(seen) < workers:  # every worker has built its app and answers
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                status, _, worker = request(conn, "GET", "/api/v1/health")
                conn.close()
                if status == 200:
                    seen.add(worker)
            except OSError:
                time.sleep(0.2)
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start (see {data_dir})")

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def load(server: Server, rows: int) -> None:
    conn = server.connection()
    status, body, _ = request(conn, "POST", "/api/v1/apps", APP)
    if status != 201:
        raise RuntimeError(body.decode())
    rng = random.Random(12)
    started = time.perf_counter()
    for first in range(0, rows, 1000):
        batch = [_row(i, rng) for i in range(first, min(first + 1000, rows))]
        status, body, _ = request(conn, "POST", RECORDS + "/batch", batch)
        if status != 200:
            raise RuntimeError(body.decode()[:500])
    conn.close()
    print(f"loaded {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)


def phase(
    server: Server, kind: str, clients: int, seconds: float
) -> tuple[list[float], int, Counter[str]]:
    """Latencies (s) of every request `clients` threads made in `seconds`, failures, and
    requests per worker."""
    latencies: list[float] = []
    by_worker: Counter[str] = Counter()
    failures = 0
    lock = threading.Lock()
    start = threading.Barrier(clients)
    stop_at = [0.0]

    def client(n: int) -> None:
        nonlocal failures
        rng = random.Random(n)
        conn = server.connection()
        mine: list[float] = []
        workers: Counter[str] = Counter()
        bad = 0
        start.wait()
        if n == 0:
            stop_at[0] = time.perf_counter() + seconds
        while not stop_at[0]:
            time.sleep(0.001)
        i = 0
        while time.perf_counter() < stop_at[0]:
            began = time.perf_counter()
            if kind in ("list", "page"):
                status, _, worker = request(conn, "GET", LIST if kind == "list" else PAGE)
                ok = status == 200
            else:
                status, _, worker = request(conn, "POST", RECORDS, _row(10_000_000 + i, rng))
                ok = status == 201
            mine.append(time.perf_counter() - began)
            workers[worker] += 1
            bad += not ok
            i += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            by_worker.update(workers)
            failures += bad

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, failures, by_worker


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="jimu-workers-bench-"))
    print(f"data in {data_dir}; {os.cpu_count()} CPU cores", flush=True)
    server = Server(data_dir, 2, args.database_url)
    try:
        load(server, args.rows)
    finally:
        server.stop()
    results: dict[int, dict[str, Any]] = {
        n: {
            "list": [],
            "page": [],
            "create": [],
            "rps": {"list": [], "page": [], "create": []},
            "mem": [],
        }
        for n in (1, 2)
    }
    for round_no in range(args.rounds):
        for workers in (1, 2) if round_no % 2 == 0 else (2, 1):
            server = Server(data_dir, workers, args.database_url)
            try:
                pids = tree(server.process.pid)
                idle = memory(pids)
                workers_idle = [memory([p])[0] for p in pids[1:]]
                phase(server, "list", args.clients, 2)  # warm-up: caches, connections
                row = results[workers]
                splits = []
                for kind in ("list", "page", "create"):
                    latencies, failures, by_worker = phase(server, kind, args.clients, args.seconds)
                    row[kind].extend(latencies)
                    row["rps"][kind].append(len(latencies) / args.seconds)
                    splits.append(f"{kind} {dict(by_worker)} failed {failures}")
                after = memory(tree(server.process.pid))
                row["mem"].append((idle[0], after[0], after[1], after[2]))
                print(
                    f"round {round_no + 1} workers {workers}: processes {len(pids)}, "
                    f"idle RSS {idle[0]:.0f} MiB (each process {[round(m) for m in [memory([pids[0]])[0], *workers_idle]]}), "
                    f"after {after[0]:.0f} MiB (PSS {after[2]:.0f}), peak {after[1]:.0f} MiB; {'; '.join(splits)}",
                    flush=True,
                )
            finally:
                server.stop()
    print()
    print(
        f"{args.rows:,} rows, {args.clients} clients, {args.seconds:.0f} s per phase, "
        f"{args.rounds} rounds, {'PostgreSQL' if args.database_url else 'SQLite'}; ms"
    )
    print(
        "| workers | list req/s | list p50 | list p99 | page req/s | page p50 | page p99 "
        "| create req/s | create p50 | create p99 "
        "| RSS idle (sum) | RSS after (sum) | PSS after (sum) | peak RSS (sum) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for workers, row in results.items():
        mems = row["mem"]
        print(
            f"| {workers} | {statistics.median(row['rps']['list']):.0f} "
            f"| {percentile(row['list'], 0.5) * 1000:.1f} | {percentile(row['list'], 0.99) * 1000:.1f} "
            f"| {statistics.median(row['rps']['page']):.0f} "
            f"| {percentile(row['page'], 0.5) * 1000:.1f} | {percentile(row['page'], 0.99) * 1000:.1f} "
            f"| {statistics.median(row['rps']['create']):.0f} "
            f"| {percentile(row['create'], 0.5) * 1000:.1f} | {percentile(row['create'], 0.99) * 1000:.1f} "
            f"| {statistics.median(m[0] for m in mems):.0f} MiB | {statistics.median(m[1] for m in mems):.0f} MiB "
            f"| {statistics.median(m[3] for m in mems):.0f} MiB "
            f"| {max(m[2] for m in mems):.0f} MiB |"
        )


if __name__ == "__main__":
    main()
