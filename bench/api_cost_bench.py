"""The records API's own cost over the bare HTTP stack (issue 12): one ``jimu serve``, one
keep-alive client, the same server answering ``GET /api/v1/health`` as the baseline.

A form with title, status (select), amount (money), a date, a count and a Chinese note holds N
rows (default 50,000, loaded through the bulk path and ANALYZEd) and declares the composite
index ``(status, -amount)``. Each round sends, in an order that rotates round by round:

- ``health``: ``GET /api/v1/health`` (the bare stack: routing, middleware, JSON);
- ``page``: ``GET …/records?filter=status = "won"&sort=-amount&limit=25&count=none``;
- ``get``: ``GET …/records/{id}`` (a random live id);
- ``count``: ``GET …/records?filter=status = "won"&limit=0`` (the total alone).

Printed per request: median, mean and p99 in ms and the median's ratio to health's median
(targets: page ≤ 2.5×, get ≤ 2×). The server runs as shipped (its job worker on); the
client authenticates with the admin token (``--auth session`` signs in as admin and uses the
session token instead, ``--auth member`` a member whose role sees their own rows, half of
them).
``--profile FILE`` samples the server with py-spy while the timed rounds run (``pip install
py-spy``; not a dependency of Jimu) and writes its flame graph / speedscope file.

Usage: ``python bench/api_cost_bench.py [--rows 50000] [--rounds 2000] [--db sqlite|postgresql|both]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from engine.core.context import Actor, ExecutionContext  # noqa: E402
from engine.forms import apps  # noqa: E402
from engine.store import engine_for_url, prepare_database  # noqa: E402
from engine.store.records import bulk_insert  # noqa: E402

TOKEN = "api-cost-bench-admin-token"
PASSWORD = "bench-admin-password-1"
STATUSES = ["open", "won", "lost", "paused"]
APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "bench_api",
    "name": {"zh": "接口开销基准", "en": "API cost bench"},
    "version": "1",
    "forms": [
        {
            "key": "deal",
            "name": {"zh": "商机", "en": "Deals"},
            "title_field": "title",
            "indexes": [["status", "-amount"]],
            "fields": [
                {"key": "title", "type": "text", "label": "标题"},
                {
                    "key": "status",
                    "type": "select",
                    "label": "状态",
                    "options": [{"value": v, "label": v} for v in STATUSES],
                },
                {"key": "amount", "type": "money", "label": "金额"},
                {"key": "closing", "type": "date", "label": "预计成交"},
                {"key": "seats", "type": "integer", "label": "席位"},
                {"key": "note", "type": "textarea", "label": "备注"},
            ],
        }
    ],
    "roles": [
        {
            "key": "sales",
            "name": {"zh": "销售", "en": "Sales"},
            "forms": {"deal": {"actions": ["view"], "scope": "own"}},
        }
    ],
}
BASE = "/api/v1/apps/bench_api/forms/deal/records"
PAGE = (
    BASE
    + "?"
    + urllib.parse.urlencode(
        {"filter": 'status = "won"', "sort": "-amount", "limit": 25, "count": "none"}
    )
)
COUNT = BASE + "?" + urllib.parse.urlencode({"filter": 'status = "won"', "limit": 0})
HEALTH = "/api/v1/health"
REQUESTS = ("health", "page", "get", "count")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def load(url: str, rows: int) -> None:
    """The app and `rows` records, loaded before the server starts."""
    engine = engine_for_url(url)
    prepare_database(engine)
    ctx = ExecutionContext.create(Actor(None, "api"), "Asia/Shanghai")
    with engine.begin() as conn:
        apps.create(conn, APP, ctx)
        layout = apps.load(conn, "bench_api").form("deal")
    column = {key: layout.fields[key].column for key in layout.fields}
    rng = random.Random(12)
    now = dt.datetime.now(dt.UTC)
    day = dt.date(2026, 1, 1)
    for start in range(0, rows, 20_000):
        chunk = [
            {
                "_created_at": now,
                "_updated_at": now,
                "_version": 1,
                "_owner": 1 + n % 2,
                column["title"]: f"商机 {n} · Deal {n}",
                column["status"]: rng.choice(STATUSES),
                column["amount"]: None
                if rng.random() < 0.05
                else Decimal(rng.randint(0, 10_000_000)) / 100,
                column["closing"]: day + dt.timedelta(days=rng.randint(0, 700)),
                column["seats"]: rng.randint(1, 500),
                column["note"]: "客户希望下季度签约，需要法务审核。" * rng.randint(0, 3),
            }
            for n in range(start, min(rows, start + 20_000))
        ]
        with engine.begin() as conn:
            assert bulk_insert(conn, layout.table, chunk)
    with engine.begin() as conn:
        conn.execute(text(f"ANALYZE {layout.table.name}"))
    engine.dispose()


class Server:
    """`jimu serve` (one process, as shipped) in a subprocess."""

    def __init__(self, directory: Path, url: str | None, root: Path = ROOT) -> None:
        self.port = _free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(root),  # the code it runs (bench/api_cost_ab.py: two checkouts)
            "JIMU_DATA_DIR": str(directory),
            "JIMU_ADMIN_TOKEN": TOKEN,
            "JIMU_ADMIN_PASSWORD": PASSWORD,
        }
        env.pop("JIMU_DATABASE_URL", None)
        if url is not None:
            env["JIMU_DATABASE_URL"] = url
        self.log_path = directory / "server.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
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
            cwd=root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", HEALTH)
                if connection.getresponse().status == 200:
                    connection.close()
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(self.log_path.read_text(errors="replace"))
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Client:
    """One keep-alive connection with a bearer token."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"}

    def get(self, path: str) -> tuple[int, bytes]:
        self.connection.request("GET", path, headers=self.headers)
        response = self.connection.getresponse()
        return response.status, response.read()

    def post(self, path: str, body: Any) -> tuple[int, bytes]:
        headers = {**self.headers, "Content-Type": "application/json"}
        self.connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        response = self.connection.getresponse()
        return response.status, response.read()


def session_token(port: int) -> str:
    """A session token of admin, from signing in."""
    client = Client(port, "none")
    client.headers = {}
    status, body = client.post("/api/v1/auth/login", {"username": "admin", "password": PASSWORD})
    assert status == 200, body
    token: str = json.loads(body)["token"]
    return token


def member_token(port: int) -> str:
    """A session token of a member holding the role `sales` (view, row scope "own": the half of
    the rows owned by user 2)."""
    admin = Client(port, TOKEN)
    status, body = admin.post(
        "/api/v1/users",
        {"username": "seller", "display_name": "销售一", "password": "seller-password-1"},
    )
    assert status == 201, body
    user = json.loads(body)["id"]
    assert user == 2, f"the member is user {user}, the rows are owned by 1 and 2"
    status, body = admin.get("/api/v1/roles?app=bench_api")
    assert status == 200, body
    role = next(r["id"] for r in json.loads(body) if r["key"] == "sales")
    status, body = admin.post(f"/api/v1/roles/{role}/members", {"user_id": user})
    assert status == 201, body
    client = Client(port, "none")
    client.headers = {}
    status, body = client.post(
        "/api/v1/auth/login", {"username": "seller", "password": "seller-password-1"}
    )
    assert status == 200, body
    token: str = json.loads(body)["token"]
    return token


def measure(
    client: Client,
    rows: int,
    rounds: int,
    warmup: int,
    *,
    even: bool = False,
    names: list[str] | None = None,
) -> dict[str, list[float]]:
    """Interleaved rounds; the seconds of every timed request by name (`even`: only even ids
    are read by id, the member's own)."""
    rng = random.Random(7)
    names = names or list(REQUESTS)
    samples: dict[str, list[float]] = {name: [] for name in names}
    paths = {"health": HEALTH, "page": PAGE, "count": COUNT}
    for n in range(warmup + rounds):
        order = names[n % len(names) :] + names[: n % len(names)]
        for name in order:
            path = (
                paths.get(name)
                or f"{BASE}/{rng.randint(1, rows // 2) * 2 if even else rng.randint(1, rows)}"
            )
            began = time.perf_counter()
            status, body = client.get(path)
            elapsed = time.perf_counter() - began
            assert status == 200, (name, status, body[:300])
            if n >= warmup:
                samples[name].append(elapsed)
    return samples


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def report(samples: dict[str, list[float]]) -> None:
    health = statistics.median(samples["health"])
    print(f"  {'request':8} {'median':>9} {'mean':>9} {'p99':>9} {'× health':>9}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(
            f"  {name:8} {median * 1000:7.3f}ms {statistics.fmean(values) * 1000:7.3f}ms"
            f" {p99(values) * 1000:7.3f}ms {median / health:8.2f}×"
        )


def run_database(name: str, url: str | None, args: argparse.Namespace, directory: Path) -> None:
    print(f"\n===== {name}: {args.rows:,} rows, {args.rounds} rounds, auth {args.auth} =====")
    began = time.perf_counter()
    load(url or f"sqlite:///{directory / 'jimu.db'}", args.rows)
    print(f"  loaded in {time.perf_counter() - began:.1f} s", flush=True)
    server = Server(directory, url)
    try:
        token = TOKEN
        if args.auth == "session":
            token = session_token(server.port)
        elif args.auth == "member":
            token = member_token(server.port)
        client = Client(server.port, token)
        status, body = client.get(PAGE)
        assert status == 200 and len(json.loads(body)["items"]) == 25, body[:300]
        spy = None
        if args.profile:
            spy = subprocess.Popen(
                [shutil.which("py-spy") or "py-spy", "record", "--pid", str(server.process.pid)]
                + ["--rate", "500", "--format", args.profile_format, "-o", args.profile]
                + ["--subprocesses"]  # `jimu serve`'s HTTP workers are its children
                + (["--idle"] if args.idle else []),
            )
            time.sleep(1.0)
        samples = measure(
            client,
            args.rows,
            args.rounds,
            args.warmup,
            even=args.auth == "member",
            names=args.requests.split(","),
        )
        if spy is not None:
            spy.send_signal(2)
            spy.wait(timeout=60)
        report(samples)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2000, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=100, help="untimed rounds first")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--auth", choices=["admin", "session", "member"], default="admin")
    parser.add_argument(
        "--requests", default=",".join(REQUESTS), help="which requests (health is the baseline)"
    )
    parser.add_argument("--profile", help="py-spy output file (the timed rounds only)")
    parser.add_argument("--profile-format", default="speedscope", help="py-spy --format")
    parser.add_argument("--idle", action="store_true", help="py-spy --idle")
    args = parser.parse_args()
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run_database("SQLite", None, args, Path(tmp))
    if args.db in ("postgresql", "both"):
        from tests.postgres_server import PostgresServer

        pg = PostgresServer()
        pg.start()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                run_database("PostgreSQL", pg.url, args, Path(tmp))
        finally:
            pg.stop()


if __name__ == "__main__":
    main()
