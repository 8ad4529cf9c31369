"""Jimu and NocoDB side by side on the shared peer harness (issue 12), in one command.

This script owns the orchestration: it prepares a scratch copy of the read-only harness
(``../shared/peerbench``; NocoDB is installed there by its ``install_nocodb.sh`` when missing),
loads each data set once, then runs the harness's three phases (list, count, create) against
NocoDB and Jimu **alternately**, for several rounds, and prints min/median ratios per phase
against issue 12's targets. The workload, the data set and the load engine are the harness's
(``peer_bench.run_load``, ``do_setup``, ``verify``); Jimu's side of it is
``bench/peer_bench_jimu.py``.

Systems, each on SQLite in a fresh data directory of its own:

- ``nocodb``: ``start_nocodb.sh`` with ``FRESH=1`` for the load (999 rows per request: on
  SQLite a 1,000-row request fails after committing).
- ``jimu-pk``: Jimu with primary keys only: no declared index, and the indexes Jimu adds to
  every form by default (``_owner``, the title field) dropped from the table after the schema
  is created, so both sides have exactly their primary key (configuration **a**).
- ``jimu-index``: Jimu as shipped (its default indexes) plus the composite index
  ``indexes: [["status", "-amount"]]`` declared in the definition (configuration **b**).

``jimu serve`` gets ``--workers N`` (default: the number of cores) when its ``--help`` lists
that option; before it did, Jimu runs as one process.

Each data set is loaded once (the bulk phase is timed then), the server stopped and its data
directory kept as a snapshot; every round restores the snapshot and starts the server afresh, so
every round sees exactly the loaded rows (the harness's answer check passes each round) and the
creates of one round do not pile up in the next. The server's memory is the resident set summed
over its whole process tree (NocoDB's node process; Jimu's parent and workers), sampled every
0.25 s; the harness itself samples only one pid.

Usage (about 14 minutes with the defaults on 2 busy cores)::

    .venv/bin/python bench/peer_compare.py [--rows 100000] [--clients 8] [--duration 20]
        [--rounds 3] [--configs pk,index] [--workers N] [--scratch ../peerbench-run]
        [--reuse-nocodb] [--jimu-root PATH] [--out peer_compare.json]

Prints a table per configuration and writes every measurement to ``--out`` (JSON).
"""

from __future__ import annotations

import abc
import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT.parent / "shared" / "peerbench"
JIMU_ROOT = ROOT  # the checkout whose `jimu serve` is measured (--jimu-root)
HARNESS_FILES = (
    "peer_bench.py",
    "install_nocodb.sh",
    "start_nocodb.sh",
    "start_nocodb.js",
    "example_target.py",
    "README.md",
)
ADMIN_TOKEN = "peer-compare-admin-token-7f3c"
PHASES = ("list", "count", "create")
# issue 12's targets: Jimu's req/s over NocoDB's, per configuration
TARGETS: dict[str, dict[str, float]] = {
    "index": {"list": 5.0, "count": 5.0, "create": 3.0},
    "pk": {"list": 2.0, "count": 1.0},
}


# ---------------------------------------------------------------------------------------------
# The scratch copy of the harness
# ---------------------------------------------------------------------------------------------
def prepare_scratch(scratch: Path, harness: Path) -> None:
    """Copy the harness into `scratch` (the harness folder is read-only) and install NocoDB
    there unless it is installed already."""
    scratch.mkdir(parents=True, exist_ok=True)
    for name in HARNESS_FILES:
        if not (scratch / name).exists():
            shutil.copy2(harness / name, scratch / name)
    for script in ("install_nocodb.sh", "start_nocodb.sh"):
        (scratch / script).chmod(0o755)
    if not (scratch / "node_modules" / "nocodb").is_dir():
        print("installing NocoDB into", scratch, "(about 3 minutes) ...", flush=True)
        with open(scratch / "install.log", "wb") as log:
            subprocess.run(
                [str(scratch / "install_nocodb.sh")],
                cwd=scratch,
                stdout=log,
                stderr=log,
                check=True,
            )


# ---------------------------------------------------------------------------------------------
# Process trees: memory and CPU summed over a server and everything it started
# ---------------------------------------------------------------------------------------------
def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def tree_pids(root: int) -> list[int]:
    """`root` and all its descendants that are alive now."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if _stat(pid) is not None:
            found.append(pid)
            todo.extend(children.get(pid, []))
    return found


def _status_kib(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(root: int) -> tuple[int, int]:
    """(summed VmRSS in KiB, number of processes) of the tree."""
    pids = tree_pids(root)
    return sum(_status_kib(pid, "VmRSS:") for pid in pids), len(pids)


def tree_cpu_s(root: int) -> float:
    """User + system CPU seconds of the tree's live processes (and their reaped children)."""
    total = 0
    for pid in tree_pids(root):
        fields = _stat(pid)
        if fields is not None:
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


class TreeSampler(threading.Thread):
    """Samples a process tree's summed RSS every `every` seconds until stopped."""

    def __init__(self, root: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.root, self.every = root, every
        self.samples: list[int] = []
        self.processes = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            rss, count = tree_rss_kib(self.root)
            if rss:
                self.samples.append(rss)
                self.processes = max(self.processes, count)
            self._halt.wait(self.every)

    def stop(self) -> dict[str, Any]:
        self._halt.set()
        self.join(timeout=5)
        if not self.samples:
            return {}
        return {
            "rss_mib_mean": round(statistics.fmean(self.samples) / 1024, 1),
            "rss_mib_peak": round(max(self.samples) / 1024, 1),
            "processes": self.processes,
        }


def measured(root: int, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`work()`'s result with the server tree's RSS (mean, peak) and CPU seconds added."""
    sampler = TreeSampler(root)
    cpu0 = tree_cpu_s(root)
    sampler.start()
    try:
        result = work()
    finally:
        memory = sampler.stop()
    result.update(memory)
    result["server_cpu_s"] = round(tree_cpu_s(root) - cpu0, 2)
    return result


# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, alive: Callable[[], bool], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if not alive():
            raise RuntimeError(f"the server died before {url} answered")
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def _end(pid: int, seconds: float = 30) -> None:
    """Stop one server process we started (SIGTERM, then SIGKILL) and wait until it is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.1)


class Server(abc.ABC):
    """A server on a data directory: started, measured by its process tree, stopped."""

    name = "server"
    pid = 0
    url = ""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    @abc.abstractmethod
    def start(self, fresh: bool) -> None:
        """Start the server on its data directory (`fresh`: an empty one)."""

    def stop(self) -> None:
        tree = tree_pids(self.pid)
        _end(self.pid)
        for pid in tree[1:]:  # children the parent did not take down with it
            if _alive(pid):
                _end(pid, 10)


class NocoServer(Server):
    """NocoDB through the harness's ``start_nocodb.sh`` (its SQLite file in `data`)."""

    name = "nocodb"

    def __init__(self, data: Path, scratch: Path) -> None:
        super().__init__(data)
        self.scratch = scratch

    def start(self, fresh: bool) -> None:
        env = {**os.environ, "DATA_DIR": str(self.data), "FRESH": "1" if fresh else "0"}
        subprocess.run(
            [str(self.scratch / "start_nocodb.sh"), str(self.port)],
            cwd=self.scratch,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.pid = int((self.scratch / "nocodb.pid").read_text().strip())


class JimuServer(Server):
    """``jimu serve`` from this checkout on a data directory of its own (SQLite)."""

    name = "jimu"

    def __init__(self, data: Path, workers: int | None) -> None:
        super().__init__(data)
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, fresh: bool) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        command = [*jimu_command(), "serve", "--port", str(self.port), "--data-dir", str(self.data)]
        if self.workers is not None:
            command += ["--workers", str(self.workers)]
        with open(self.data / "server.log", "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=JIMU_ROOT,
                env=jimu_env(self.data),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.pid = self.process.pid
        process = self.process
        wait_http(self.url + "/api/v1/health", lambda: process.poll() is None)

    def stop(self) -> None:
        super().stop()
        if self.process is not None:
            self.process.wait()


def jimu_command() -> list[str]:
    return [sys.executable, "-c", "from engine.cli import app; app()"]


def jimu_env(data: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(JIMU_ROOT),
        "JIMU_DATA_DIR": str(data),
        "JIMU_ADMIN_TOKEN": ADMIN_TOKEN,
        "JIMU_ADMIN_PASSWORD": "peer-compare-admin-1",
        "COLUMNS": "200",
    }
    env.pop("JIMU_DATABASE_URL", None)
    return env


def serve_has_workers() -> bool:
    """Whether this checkout's ``jimu serve`` takes ``--workers`` (another item of issue 12)."""
    out = subprocess.run(
        [*jimu_command(), "serve", "--help"],
        cwd=JIMU_ROOT,
        env=jimu_env(JIMU_ROOT / "data"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return re.search(r"--workers\b", out) is not None


# ---------------------------------------------------------------------------------------------
# Data sets
# ---------------------------------------------------------------------------------------------
def jimu_table(database: Path) -> str:
    """The record table of the ``orders`` form (``r<form id>``)."""
    with sqlite3.connect(database) as conn:
        row = conn.execute(
            "SELECT f.id FROM forms f JOIN apps a ON a.id = f.app_id WHERE a.key = ? AND f.key = ?",
            ("peerbench", "orders"),
        ).fetchone()
    return f"r{row[0]}"


def table_indexes(database: Path, table: str) -> list[str]:
    """The SQL of every index on `table` (automatic ones by name)."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
        ).fetchall()
    return sorted(sql or name for name, sql in rows)


def noco_table(database: Path) -> str:
    with sqlite3.connect(database) as conn:
        row = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%orders%'"
        ).fetchone()
    return str(row[0])


class Run:
    """One system's data set: loaded once, restored for each round."""

    def __init__(self, key: str, server: Server, target: Any, live: Path, snapshot: Path) -> None:
        self.key, self.server, self.target = key, server, target
        self.live, self.snapshot = live, snapshot


def harness_args(url: str, opts: argparse.Namespace, state: Path) -> argparse.Namespace:
    return argparse.Namespace(
        url=url,
        state=str(state),
        rows=opts.rows,
        batch=opts.batch,
        seed=opts.seed,
        server_pid=None,  # sampled here, over the whole process tree
        auth="token",
    )


SNAPSHOT_NOTE = "peer_compare.json"  # beside the data in a snapshot: what was loaded, how


def reusable(run: Run, opts: argparse.Namespace) -> dict[str, Any] | None:
    """The load result kept with an existing snapshot of the same data set, if any."""
    try:
        note: dict[str, Any] = json.loads((run.snapshot / SNAPSHOT_NOTE).read_text())
    except (OSError, ValueError):
        return None
    same = note.get("data") == {"rows": opts.rows, "seed": opts.seed, "batch": opts.batch}
    return note if same else None


def load(pb: Any, run: Run, opts: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Create the table and bulk-load the rows on a fresh server; keep the data as a snapshot
    (NocoDB's is reused with --reuse-nocodb when it holds the same data set)."""
    if isinstance(run.server, NocoServer) and opts.reuse_nocodb:
        note = reusable(run, opts)
        if note is not None:
            run.target.state.update(note["state"])
            print(f"[load] {run.key}: reusing the snapshot in {run.snapshot}", flush=True)
            return {**note["load"], "reused_snapshot": True}
    print(f"[load] {run.key}: {opts.rows:,} rows ...", flush=True)
    for path in (run.live, run.snapshot):
        shutil.rmtree(path, ignore_errors=True)
    run.live.mkdir(parents=True)
    run.server.start(fresh=True)
    try:
        args = harness_args(run.server.url, opts, work / f"{run.key}.state.json")
        result = measured(run.server.pid, lambda: pb.do_setup(args, run.target))
    finally:
        run.server.stop()
    shutil.copytree(run.live, run.snapshot)
    if isinstance(run.server, JimuServer):
        database = run.snapshot / "jimu.db"
        result["indexes"] = table_indexes(database, jimu_table(database))
    else:
        database = run.snapshot / "noco.db"
        result["indexes"] = table_indexes(database, noco_table(database))
    note = {
        "data": {"rows": opts.rows, "seed": opts.seed, "batch": opts.batch},
        "state": run.target.state,
        "load": result,
    }
    (run.snapshot / SNAPSHOT_NOTE).write_text(json.dumps(note, indent=1))
    print(f"[load] {run.key}: {json.dumps(result)}", flush=True)
    return result


def bench_round(pb: Any, run: Run, opts: argparse.Namespace) -> dict[str, Any]:
    """Restore the snapshot, start the server, check its answers, run the three phases."""
    shutil.rmtree(run.live, ignore_errors=True)
    shutil.copytree(run.snapshot, run.live)
    started = time.perf_counter()
    run.server.start(fresh=False)
    out: dict[str, Any] = {
        "start_s": round(time.perf_counter() - started, 1),
        "loadavg_before": [round(v, 2) for v in os.getloadavg()],
    }
    try:
        args = harness_args(run.server.url, opts, Path(os.devnull))
        out["idle_rss_mib"] = round(tree_rss_kib(run.server.pid)[0] / 1024, 1)
        out["verify"] = pb.verify(args, run.target)
        if not (out["verify"]["count_ok"] and out["verify"]["list_ok"]):
            print(f"[bench] {run.key}: WRONG ANSWERS {out['verify']}", flush=True)
        for phase in PHASES:

            def phase_load(phase: str = phase) -> dict[str, Any]:
                result: dict[str, Any] = pb.run_load(
                    run.server.url,
                    run.target,
                    f"{phase}_request",
                    opts.clients,
                    opts.duration,
                    opts.max_requests,
                    opts.warmup,
                    None,
                )
                return result

            out[phase] = measured(run.server.pid, phase_load)
            r = out[phase]
            print(
                f"[bench] {run.key:10} {phase:6} {r['ok_rps']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms"
                f"  p99 {r['p99_ms']:7.1f} ms  rss peak {r.get('rss_mib_peak', 0):6.1f} MiB"
                f" ({r.get('processes', 0)} proc)  non-2xx {r['requests'] - r['ok_2xx']}"
                f"  errors {r['errors']}",
                flush=True,
            )
            time.sleep(opts.pause)
        out["rss_mib_peak"] = max(out[p].get("rss_mib_peak", 0.0) for p in PHASES)
        out["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    finally:
        run.server.stop()
    return out


# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------
def _ratios(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 2), "median": round(statistics.median(values), 2)}


def summarize(config: str, jimu: str, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per phase: each round's req/s and p99 for both, Jimu/NocoDB ratios (min, median)."""
    summary: dict[str, Any] = {"jimu": jimu, "phases": {}}
    for phase in PHASES:
        noco = [r["nocodb"][phase] for r in rounds]
        mine = [r[jimu][phase] for r in rounds]
        speed = [m["ok_rps"] / n["ok_rps"] for m, n in zip(mine, noco, strict=True)]
        tail = [m["p99_ms"] / n["p99_ms"] for m, n in zip(mine, noco, strict=True)]
        entry: dict[str, Any] = {
            "nocodb_rps": [n["ok_rps"] for n in noco],
            "jimu_rps": [m["ok_rps"] for m in mine],
            "nocodb_p50_ms": [n["p50_ms"] for n in noco],
            "jimu_p50_ms": [m["p50_ms"] for m in mine],
            "nocodb_p99_ms": [n["p99_ms"] for n in noco],
            "jimu_p99_ms": [m["p99_ms"] for m in mine],
            "speed_ratio": _ratios(speed),
            "p99_ratio": {"max": round(max(tail), 2), "median": round(statistics.median(tail), 2)},
        }
        goal = TARGETS[config].get(phase)
        if goal is not None:
            entry["target_speed"] = goal
            entry["speed_met"] = min(speed) >= goal
        if config == "index":
            entry["p99_met"] = max(tail) <= 1.0
        summary["phases"][phase] = entry
    rss = [r[jimu]["rss_mib_peak"] / r["nocodb"]["rss_mib_peak"] for r in rounds]
    summary["rss"] = {
        "nocodb_peak_mib": [r["nocodb"]["rss_mib_peak"] for r in rounds],
        "jimu_peak_mib": [r[jimu]["rss_mib_peak"] for r in rounds],
        "ratio": {"max": round(max(rss), 2), "median": round(statistics.median(rss), 2)},
    }
    if config == "index":
        summary["rss"]["met"] = max(rss) <= 1.0
    return summary


def print_summary(config: str, summary: dict[str, Any], loads: dict[str, Any]) -> None:
    title = {
        "pk": "(a) primary keys only on both",
        "index": "(b) Jimu as shipped + indexes: [[status, -amount]]",
    }[config]
    print(f"\n== {title} — Jimu ({summary['jimu']}) / NocoDB, per round ==")
    print(
        f"{'phase':7} {'NocoDB req/s':>22} {'Jimu req/s':>22} {'ratio min/med':>14}"
        f" {'target':>7} {'NocoDB p50/p99 ms (med)':>24} {'Jimu p50/p99 ms (med)':>22}"
        f" {'p99 ratio max/med':>18}"
    )
    for phase, e in summary["phases"].items():
        goal = e.get("target_speed")
        verdict = "" if goal is None else ("ok" if e["speed_met"] else "MISS")
        target = "" if goal is None else f"≥{goal:g}× {verdict}"
        print(
            f"{phase:7} {' '.join(f'{v:6.1f}' for v in e['nocodb_rps']):>22}"
            f" {' '.join(f'{v:6.1f}' for v in e['jimu_rps']):>22}"
            f" {e['speed_ratio']['min']:6.2f}/{e['speed_ratio']['median']:<6.2f}"
            f" {target:>9}"
            f" {statistics.median(e['nocodb_p50_ms']):10.1f}/{statistics.median(e['nocodb_p99_ms']):<10.1f}"
            f" {statistics.median(e['jimu_p50_ms']):10.1f}/{statistics.median(e['jimu_p99_ms']):<10.1f}"
            f" {e['p99_ratio']['max']:8.2f}/{e['p99_ratio']['median']:<6.2f}"
            + ("" if "p99_met" not in e else (" ok" if e["p99_met"] else " MISS"))
        )
    rss = summary["rss"]
    print(
        f"peak RSS (MiB, whole process tree): NocoDB {rss['nocodb_peak_mib']}, Jimu"
        f" {rss['jimu_peak_mib']}; ratio max {rss['ratio']['max']}, median {rss['ratio']['median']}"
        + ("" if "met" not in rss else (" ok" if rss["met"] else " MISS"))
    )
    noco, mine = loads["nocodb"], loads[summary["jimu"]]
    print(
        f"bulk load ({noco['batch']} rows per request, once): NocoDB {noco['bulk_rows_per_s']:,.0f}"
        f" rows/s, Jimu {mine['bulk_rows_per_s']:,.0f} rows/s:"
        f" {mine['bulk_rows_per_s'] / noco['bulk_rows_per_s']:.1f}×"
    )


# ---------------------------------------------------------------------------------------------
def git_commit() -> str:
    out = subprocess.run(
        ["git", "-C", str(JIMU_ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=999, help="rows per bulk request (both)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=20.0, help="measured seconds per phase")
    ap.add_argument("--warmup", type=float, default=2.0, help="discarded seconds per phase")
    ap.add_argument("--pause", type=float, default=2.0, help="idle seconds between phases")
    ap.add_argument("--max-requests", type=int, default=200_000, help="cap per phase")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--configs", default="pk,index", help="pk (a), index (b), or both")
    ap.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="jimu serve --workers, when it has that option (default: the number of cores)",
    )
    ap.add_argument("--harness", type=Path, default=HARNESS, help="the read-only harness")
    ap.add_argument(
        "--scratch",
        type=Path,
        default=Path(os.environ.get("PEERBENCH_DIR") or ROOT.parent / "peerbench-run"),
        help="scratch copy of the harness, with NocoDB installed (created when missing)",
    )
    ap.add_argument(
        "--jimu-root",
        type=Path,
        default=ROOT,
        help="the Jimu checkout to serve (default: this one), e.g. to measure another branch",
    )
    ap.add_argument(
        "--reuse-nocodb",
        action="store_true",
        help="reuse NocoDB's loaded snapshot from an earlier run with the same --rows/--batch",
    )
    ap.add_argument("--out", type=Path, default=Path("peer_compare.json"))
    opts = ap.parse_args()
    global JIMU_ROOT
    JIMU_ROOT = opts.jimu_root.resolve()
    configs = [c for c in opts.configs.split(",") if c]
    if not configs or set(configs) - set(TARGETS):
        ap.error("--configs takes pk, index or pk,index")
    opts.scratch = opts.scratch.resolve()

    prepare_scratch(opts.scratch, opts.harness.resolve())
    os.environ["PEERBENCH_DIR"] = str(opts.scratch)
    sys.path.insert(0, str(ROOT / "bench"))
    import peer_bench_jimu as jt  # the harness module comes along as jt.pb

    pb = jt.pb
    workers = opts.workers if serve_has_workers() else None
    work = opts.scratch / f"compare-{opts.rows}"  # data sets of another size stay apart
    work.mkdir(exist_ok=True)
    meta = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "jimu_commit": git_commit(),
        "jimu_root": str(JIMU_ROOT),
        "jimu_workers": workers if workers is not None else "1 (serve has no --workers)",
        "cores": os.cpu_count(),
        "rows": opts.rows,
        "clients": opts.clients,
        "duration_s": opts.duration,
        "warmup_s": opts.warmup,
        "rounds": opts.rounds,
        "batch": opts.batch,
        "loadavg_start": [round(v, 2) for v in os.getloadavg()],
        "list_with_total": "both: NocoDB's answer carries pageInfo.totalRows, Jimu's total",
    }
    print(json.dumps(meta), flush=True)

    class PkOnlyJimu(jt.JimuTarget):
        """Jimu with no index but the primary key: the default ones are dropped after setup."""

        def setup(self, http: Any) -> None:
            super().setup(http)
            database = runs["jimu-pk"].live / "jimu.db"
            table = jimu_table(database)
            with sqlite3.connect(database) as conn:
                names = conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
                    " AND sql IS NOT NULL",
                    (table,),
                ).fetchall()
                for (name,) in names:
                    conn.execute(f'DROP INDEX "{name}"')
            self.state["dropped_indexes"] = [name for (name,) in names]

    os.environ["JIMU_PEER_ADMIN_TOKEN"] = ADMIN_TOKEN
    runs: dict[str, Run] = {}
    noco_live = work / "nocodb-live"
    runs["nocodb"] = Run(
        "nocodb",
        NocoServer(noco_live, opts.scratch),
        pb.NocoTarget("", None, argparse.Namespace(auth="token")),
        noco_live,
        work / "nocodb-snapshot",
    )
    for config in configs:
        key = f"jimu-{config}"
        live = work / f"{key}-live"
        target_class = PkOnlyJimu if config == "pk" else jt.JimuTarget
        runs[key] = Run(
            key, JimuServer(live, workers), target_class("", None, None), live, work / f"{key}-snap"
        )

    loads: dict[str, Any] = {}
    for key, run in runs.items():  # the target reads JIMU_PEER_INDEX when it sets the form up
        os.environ["JIMU_PEER_INDEX"] = "1" if key == "jimu-index" else "0"
        loads[key] = load(pb, run, opts, work)
    results: dict[str, Any] = {"meta": meta, "load": loads, "rounds": []}

    order = list(runs)
    for n in range(opts.rounds):
        print(f"\n[round {n + 1}/{opts.rounds}]", flush=True)
        this = order if n % 2 == 0 else order[::-1]
        round_result = {key: bench_round(pb, runs[key], opts) for key in this}
        results["rounds"].append(round_result)
        opts.out.write_text(json.dumps(results, indent=1))

    results["summary"] = {
        config: summarize(config, f"jimu-{config}", results["rounds"]) for config in configs
    }
    meta["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    opts.out.write_text(json.dumps(results, indent=1))
    for config in configs:
        print_summary(config, results["summary"][config], loads)
    print(f"\nload average: start {meta['loadavg_start']}, end {meta['loadavg_end']}")
    print(f"results: {opts.out.resolve()}")


if __name__ == "__main__":
    main()
