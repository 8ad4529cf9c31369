"""Two checkouts of Jimu side by side on one PostgreSQL database, their requests interleaved
round by round (issue 12): the records API's own cost of
`bench/api_cost_bench.py` as an A/B under the very same load, which separate runs on a shared
machine cannot give (their medians moved by ±20% from run to run at load 9–15).

One `jimu serve` per checkout (as shipped) on the same 50,000-row form, one keep-alive client
each; every round sends health, page and get to both, in an order that rotates. ``--lag S``
puts both servers behind a TCP proxy that delivers every chunk S seconds after it arrived, in
each direction: a database a network away (the proxy's own forwarding, in Python, adds to it).

Usage: ``python bench/api_cost_ab.py --baseline DIR [--auth admin|member] [--rounds 1500]
[--lag 0.00025]`` (DIR: the other checkout, e.g. ``git archive main | tar -x -C DIR``)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import api_cost_bench as bench

from tests.postgres_server import PostgresServer

KINDS = ("health", "page", "get")


async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, lag: float) -> None:
    """Every chunk from `reader` to `writer`, `lag` seconds after it arrived, in order."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                writer.close()
                return
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    task = asyncio.create_task(deliver())
    while True:
        data = await reader.read(65536)
        queue.put_nowait((time.monotonic() + lag, data))
        if not data:
            break
    await task


async def _proxy(listen: int, target: int, lag: float) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(
            _forward(client_r, server_w, lag),
            _forward(server_r, client_w, lag),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run(baseline: Path, auth: str, rounds: int, warmup: int, lag: float) -> None:
    pg = PostgresServer()
    pg.start()
    proxy: subprocess.Popen[bytes] | None = None
    try:
        bench.load(pg.url, 50_000)
        url = pg.url
        if lag > 0:
            found = re.search(r":(\d+)/", pg.url)
            assert found is not None, pg.url
            port, listen = int(found.group(1)), _free_port()
            proxy = subprocess.Popen(
                [sys.executable, __file__, "--proxy", f"{listen}:{port}", "--lag", str(lag)],
                stdout=subprocess.PIPE,
            )
            assert proxy.stdout is not None and proxy.stdout.readline().strip() == b"ready"
            url = pg.url.replace(f":{port}/", f":{listen}/")
        roots = {"baseline": baseline.resolve(), "this": bench.ROOT}
        with tempfile.TemporaryDirectory() as tmp:
            servers: dict[str, bench.Server] = {}
            for name, root in roots.items():
                (Path(tmp) / name).mkdir()
                servers[name] = bench.Server(Path(tmp) / name, url, root)
            try:
                any_port = servers["baseline"].port
                token = bench.TOKEN if auth == "admin" else bench.member_token(any_port)
                clients = {name: bench.Client(s.port, token) for name, s in servers.items()}
                samples = measure(clients, auth == "member", rounds, warmup)
            finally:
                for server in servers.values():
                    server.stop()
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"auth {auth}, {rounds} rounds, one-way lag {lag * 1000:g} ms, load {load}")
        print(f"  {'checkout':9} " + " ".join(f"{k:>18}" for k in KINDS))
        for name in servers:
            health = statistics.median(samples[(name, "health")])
            cells = []
            for kind in KINDS:
                median = statistics.median(samples[(name, kind)])
                cells.append(f"{median * 1000:8.3f}ms {median / health:6.2f}×")
            print(f"  {name:9} " + " ".join(f"{c:>18}" for c in cells))
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait()
        pg.stop()


def measure(
    clients: dict[str, bench.Client], even: bool, rounds: int, warmup: int
) -> dict[tuple[str, str], list[float]]:
    """Interleaved rounds over both servers; the seconds of every timed request."""
    rng = random.Random(7)
    jobs = [(name, kind) for name in clients for kind in KINDS]
    samples: dict[tuple[str, str], list[float]] = {job: [] for job in jobs}
    for n in range(warmup + rounds):
        for name, kind in jobs[n % len(jobs) :] + jobs[: n % len(jobs)]:
            record = rng.randint(1, 25_000) * 2 if even else rng.randint(1, 50_000)
            path = {"health": bench.HEALTH, "page": bench.PAGE}.get(kind, f"{bench.BASE}/{record}")
            began = time.perf_counter()
            status, body = clients[name].get(path)
            elapsed = time.perf_counter() - began
            assert status == 200, (name, kind, status, body[:300])
            if n >= warmup:
                samples[(name, kind)].append(elapsed)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="the other checkout (its root directory)")
    parser.add_argument("--auth", choices=["admin", "member"], default="admin")
    parser.add_argument("--rounds", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--lag", type=float, default=0.0, help="seconds each way (a proxy)")
    parser.add_argument("--proxy", help=argparse.SUPPRESS)  # LISTEN:TARGET, run as the proxy
    args = parser.parse_args()
    if args.proxy:
        listen, target = (int(part) for part in args.proxy.split(":"))
        asyncio.run(_proxy(listen, target, args.lag))
        return
    if args.baseline is None:
        parser.error("--baseline is required")
    run(args.baseline, args.auth, args.rounds, args.warmup, args.lag)


if __name__ == "__main__":
    main()
