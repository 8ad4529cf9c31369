"""Creates per second through HTTP, two checkouts of Jimu side by side (issue 12, creates).

Each round starts ``jimu serve --workers N`` on SQLite (write queue on, durability settings
as shipped) in a fresh data directory, once from the baseline checkout and once from the
candidate, alternately, and has C clients post records for D seconds after a short warm-up.
The baseline is usually a ``git worktree`` of ``main`` (``git worktree add /tmp/jimu-base
main``); the candidate defaults to this checkout. Prints every round and the medians: on a
shared machine only the ratio within one run means anything.

Usage: ``python bench/creates_bench.py --baseline /tmp/jimu-base [--rounds 3] [--duration 8]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlite_writers_bench import APP, RECORDS, TOKEN, _free_port, request  # bench/ is on the path

ROOT = Path(__file__).resolve().parents[1]
BODY = json.dumps({"title": "新订单 new order", "amount": 12.5, "note": "bench"})


def start(root: Path, directory: str, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    """`jimu serve` of the checkout `root` on a fresh data directory; it and its port."""
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "JIMU_DATA_DIR": directory,
        "JIMU_ADMIN_TOKEN": TOKEN,
        "JIMU_ADMIN_PASSWORD": "bench-admin-password-1",
    }
    env.pop("JIMU_DATABASE_URL", None)
    log = open(Path(directory) / "server.log", "wb")  # noqa: SIM115 (the server's for life)
    command = ["serve", "--port", str(port), "--data-dir", directory, "--workers", str(workers)]
    process = subprocess.Popen(
        [sys.executable, "-c", "from engine.cli import app; app()", *command],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            if request(port, "GET", "/api/v1/health")[0] == 200:
                return process, port
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((Path(directory) / "server.log").read_text(errors="replace"))
        time.sleep(0.2)


def load(port: int, clients: int, seconds: float) -> float:
    """Creates per second of `clients` keep-alive connections posting for `seconds`."""
    stop = time.monotonic() + seconds
    counts = [0] * clients
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port)
        while time.monotonic() < stop:
            connection.request("POST", RECORDS, BODY, headers)
            answer = connection.getresponse()
            answer.read()
            if answer.status != 201:
                raise RuntimeError(f"create answered {answer.status}")
            counts[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="checkout to compare with")
    parser.add_argument("--candidate", type=Path, default=ROOT)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of load per round")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    roots = {"baseline": args.baseline.resolve(), "candidate": args.candidate.resolve()}
    rates: dict[str, list[float]] = {name: [] for name in roots}
    for round_no in range(args.rounds):
        for name, root in roots.items():
            with tempfile.TemporaryDirectory(prefix="jimu-creates-") as directory:
                process, port = start(root, directory, args.workers)
                try:
                    status, body = request(port, "POST", "/api/v1/apps", APP)
                    if status != 201:
                        raise RuntimeError(f"app install answered {status}: {body}")
                    load(port, args.clients, 2.0)  # warm up: caches, statements
                    rates[name].append(load(port, args.clients, args.duration))
                finally:
                    process.terminate()
                    process.wait()
            print(f"round {round_no + 1} {name}: {rates[name][-1]:.0f} creates/s", flush=True)
    print(
        f"{args.clients} clients, jimu serve --workers {args.workers} on SQLite, "
        f"{args.duration:g} s per round"
    )
    for name, values in rates.items():
        print(f"{name:10} {statistics.median(values):7.0f} creates/s (median of {len(values)})")
    ratio = statistics.median(rates["candidate"]) / statistics.median(rates["baseline"])
    print(f"candidate / baseline: {ratio:.2f}x")


if __name__ == "__main__":
    main()
