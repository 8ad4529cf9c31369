"""The count cache through HTTP: the peer workload's list and count phases on the keys-only
100,000-row snapshot, two checkouts side by side (issue 12, `engine.forms.count_cache`).

Each round copies the snapshot ``bench/peer_compare.py`` keeps of Jimu's keys-only data set
(``../peerbench-run/compare-100000/jimu-pk-snap``: the harness's 100,000 ``orders``, no index
but the primary key) into a fresh directory, starts ``jimu serve --workers N`` on it from the
baseline checkout and then from the candidate (alternately, the order swapped every round), and
runs with C keep-alive clients, after a short warm-up each:

- **list**: ``GET …/records?filter=status = "won"&sort=-amount&limit=25`` with the total;
- **count**: ``GET …/records?filter=status = "won"&limit=0``;
- **mix P%**: every client sends a create (one random harness row) with probability P and
  the list otherwise — writes between reads, which is when a cached total must be counted again;
- **create**: creates only (req/s are creates/s; p50/p99 are not measured there), what the
  count cache's triggers cost a writer.

It prints each phase's requests/s and p50/p99 per checkout and round, the candidate/baseline
ratio per round (min and median), and for the mixes an estimate of the candidate's hit rate:
a list answered by worker W is counted as a miss when a create finished after W's previous list
started (each worker keeps its own cache), so the estimate errs toward misses. The machine's load
average is printed at the start and the end: on a shared machine only ratios within one run
mean anything.

Usage::

    git -C /work/main archive main | tar -x -C /tmp/jimu-base    # the baseline checkout
    .venv/bin/python bench/count_cache_bench.py --baseline /tmp/jimu-base [--rounds 3]
        [--duration 10] [--clients 8] [--workers 2] [--mixes 1,10]
"""

from __future__ import annotations

import argparse
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
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT.parent / "peerbench-run" / "compare-100000" / "jimu-pk-snap"
RECORDS = "/api/v1/apps/peerbench/forms/orders/records"
WON = 'status = "won"'
LIST = f"{RECORDS}?{urllib.parse.urlencode({'filter': WON, 'sort': '-amount', 'limit': 25})}"
COUNT = f"{RECORDS}?{urllib.parse.urlencode({'filter': WON, 'limit': 0})}"
STATUSES = ["won", "lost", "open", "negotiating"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _row(rng: random.Random) -> str:
    return json.dumps(
        {
            "title": f"Order {rng.randrange(10_000_000, 99_999_999)}",
            "owner": f"owner{rng.randrange(50):02d}",
            "region": rng.choice(["north", "south", "east", "west"]),
            "status": rng.choices(STATUSES, [0.25, 0.25, 0.30, 0.20])[0],
            "amount": round(rng.uniform(10, 100000), 2),
            "signed_at": "2024-01-02 03:04:05+00:00",
        }
    )


def start(root: Path, data: Path, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    """`jimu serve` of the checkout `root` on the data directory `data`; it and its port."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(root), "JIMU_DATA_DIR": str(data)}
    env.pop("JIMU_DATABASE_URL", None)
    log = open(data / "server.log", "ab")  # noqa: SIM115 (the server's for life)
    command = ["serve", "--port", str(port), "--data-dir", str(data), "--workers", str(workers)]
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
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/api/v1/health")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((data / "server.log").read_text(errors="replace"))
        time.sleep(0.2)


@dataclass
class Phase:
    """What one phase measured: requests/s, list latencies (ms) and the mix's hit estimate."""

    rate: float
    p50: float
    p99: float
    creates: int = 0
    hits: float | None = None
    lists: list[tuple[float, float, str]] = field(default_factory=list, repr=False)


def run(port: int, token: str, clients: int, seconds: float, path: str, writes: float) -> Phase:
    """`clients` keep-alive connections for `seconds`: GET `path`, or a create with
    probability `writes`. Every answer is checked."""
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    lists: list[tuple[float, float, str]] = []  # (start, end, worker)
    creates: list[float] = []  # end times
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def client(index: int) -> None:
        rng = random.Random(index)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < stop:
            began = time.monotonic()
            if writes and rng.random() < writes:
                connection.request("POST", RECORDS, _row(rng), headers)
                answer = connection.getresponse()
                answer.read()
                if answer.status != 201:
                    raise RuntimeError(f"create answered {answer.status}")
                with lock:
                    creates.append(time.monotonic())
                continue
            connection.request("GET", path, headers=headers)
            answer = connection.getresponse()
            body = json.loads(answer.read())
            if answer.status != 200 or body["total"] < 20_000:
                raise RuntimeError(f"list answered {answer.status}: {str(body)[:200]}")
            with lock:
                lists.append((began, time.monotonic(), answer.getheader("x-jimu-worker") or ""))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    latencies = sorted((end - start) * 1000 for start, end, _ in lists) or [0.0]
    phase = Phase(
        rate=(len(lists) if lists else len(creates)) / elapsed,
        p50=latencies[len(latencies) // 2],
        p99=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        creates=len(creates),
    )
    if 0 < writes < 1:
        phase.hits = _hit_estimate(lists, sorted(creates))
    return phase


def _hit_estimate(lists: list[tuple[float, float, str]], creates: list[float]) -> float:
    """The share of lists answered after no create finished since the same worker's previous
    list started (see the module docstring)."""
    import bisect

    previous: dict[str, float] = {}
    hits = 0
    for start, _, worker in sorted(lists):
        before = previous.get(worker)
        if before is not None:
            written = bisect.bisect_left(creates, start) - bisect.bisect_left(creates, before)
            hits += written == 0
        previous[worker] = start
    return hits / len(lists) if lists else 0.0


def measure(root: Path, snapshot: Path, token: str, args: argparse.Namespace) -> dict[str, Phase]:
    """One server of checkout `root` on a fresh copy of the snapshot, every phase."""
    results: dict[str, Phase] = {}
    with tempfile.TemporaryDirectory(prefix="jimu-countcache-") as directory:
        data = Path(directory) / "data"
        shutil.copytree(snapshot, data)
        process, port = start(root, data, args.workers)
        try:
            phases: list[tuple[str, str, float]] = [("list", LIST, 0.0), ("count", COUNT, 0.0)]
            phases += [(f"mix {m:g}%", LIST, m / 100) for m in args.mixes]
            phases.append(("create", LIST, 1.0))  # what the triggers cost a writer
            for name, path, writes in phases:
                run(port, token, args.clients, 2.0, path, writes)  # warm-up
                results[name] = run(port, token, args.clients, args.duration, path, writes)
        finally:
            process.terminate()
            process.wait()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="checkout to compare with")
    parser.add_argument("--candidate", type=Path, default=ROOT)
    parser.add_argument("--snapshot", type=Path, default=SNAPSHOT)
    parser.add_argument("--token", help="API token of the snapshot (default: its state file)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--mixes", type=lambda s: [float(x) for x in s.split(",") if x], default=[1.0, 10.0]
    )
    args = parser.parse_args()
    snapshot = args.snapshot.resolve()
    if not (snapshot / "jimu.db").is_file():
        raise SystemExit(f"no snapshot at {snapshot}: run bench/peer_compare.py once first")
    token = (
        args.token
        or json.loads((snapshot.parent / "jimu-pk.state.json").read_text(encoding="utf-8"))["token"]
    )
    roots = {"baseline": args.baseline.resolve(), "candidate": args.candidate.resolve()}
    print(f"load average at start: {os.getloadavg()}", flush=True)
    rounds: list[dict[str, dict[str, Phase]]] = []
    for round_no in range(args.rounds):
        order = list(roots) if round_no % 2 == 0 else list(reversed(roots))
        found: dict[str, dict[str, Phase]] = {}
        for name in order:
            found[name] = measure(roots[name], snapshot, token, args)
            for phase, result in found[name].items():
                hits = ""
                if result.hits is not None and name == "candidate":
                    hits = f", hit estimate {result.hits:.0%}"
                print(
                    f"round {round_no + 1} {name:9} {phase:9} {result.rate:7.1f} req/s  "
                    f"p50 {result.p50:6.1f} ms  p99 {result.p99:6.1f} ms"
                    f"{'' if not result.creates else f', {result.creates} creates'}{hits}",
                    flush=True,
                )
        rounds.append(found)
    print(f"load average at end: {os.getloadavg()}")
    print(
        f"{args.clients} clients, jimu serve --workers {args.workers}, SQLite, "
        f"{args.duration:g} s per phase, {args.rounds} rounds"
    )
    for phase in rounds[0]["baseline"]:
        ratios = [r["candidate"][phase].rate / r["baseline"][phase].rate for r in rounds]
        base = [r["baseline"][phase].rate for r in rounds]
        cand = [r["candidate"][phase].rate for r in rounds]
        hits = [r["candidate"][phase].hits for r in rounds]
        shown = "" if hits[0] is None else f"  hit estimate {statistics.median(hits):.0%}"  # type: ignore[type-var]
        print(
            f"{phase:9} baseline {', '.join(f'{b:.1f}' for b in base)}  candidate "
            f"{', '.join(f'{c:.1f}' for c in cand)}  ratio min {min(ratios):.2f}x / median "
            f"{statistics.median(ratios):.2f}x{shown}"
        )


if __name__ == "__main__":
    main()
