"""Rule engine costs (issue 14, "Benchmark"), in process, on SQLite and PostgreSQL.

**(a) A sync create-record rule per save.** Form `deal` has a sync rule on `record_created`
that creates a `project` from the deal (name, amount, a copied relation). Contenders,
alternating save by save on the same database, each save its own transaction through the
record service (`open_form(...).create_many`, what the API runs):

- *rule*: create a `deal` — the rule creates the `project` in that transaction;
- *by hand*: create a `lead` (the same fields as a deal, no rule) and then the same `project`
  through the record service, in one transaction.

Reported: the median milliseconds of each and their ratio (target ≤ 1.2), in wall-clock time
and in the saving thread's CPU time (`time.thread_time`: on a machine busy with other work the
wall clock of the longer save also counts the time slices others took in between).

**(b) Async delivery of an update-record action at a paced load.** Form `ping` has an async
rule on `record_created` that writes the ping's `n` into the `board` record its relation points
at (`update_records` with target `{"relation": "board"}`). `--producers` threads (default 4, each
its own connection) save pings at `--rate` per second together — ping i is due at
`start + i / rate` and goes to producer `i mod producers`, each save its own transaction; a
save that falls behind is sent at once and counted late — for `--seconds`; a job worker runs **in the same process** (a thread:
`engine.jobs.Worker.run`, as `jimu serve` runs it, with the default poll interval unless
`--poll` is given; `--workers N` runs N such threads, as `jimu worker --threads N` does on
PostgreSQL; `--worker-process`: the workers run in a process of their own instead, as the
job worker of `jimu serve --workers N` runs in the supervising process, apart from the HTTP
workers, and `jimu worker` does). Latency is event → effect: the producer notes the clock right after its
save commits, the worker right after the job's transaction (the action's write and the run's
log) commits. Reported: offered and delivered rate, throughput while draining, p50/p99/max
latency (target p99 < 1 s).

Usage: ``python bench/rules_bench.py [--db sqlite|postgresql|both] [--saves 300]
[--rate 200] [--seconds 10] [--poll SECONDS] [--workers 1] [--producers 4] [--worker-process]
[--skip-sync]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_databases import add_database_option, each_database
from engine import apps
from engine.core.context import Actor, ExecutionContext
from engine.core.registry import Registry
from engine.forms.service import open_form
from engine.jobs import JOB_KINDS, JobKind, Worker
from engine.rules import listeners
from engine.rules.models import RuleRun
from engine.rules.runtime import JOB_KIND
from engine.settings import Settings
from engine.store import engine_for_url, prepare_database

TIMEZONE = "Asia/Shanghai"
RUNS: Any = RuleRun.__table__


def _form(key: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"key": key, "name": {"zh": key, "en": key}, "title_field": "name", "fields": fields}


DEAL_FIELDS: list[dict[str, Any]] = [
    {"key": "name", "type": "text", "required": True},
    {"key": "amount", "type": "money"},
    {"key": "customer", "type": "relation", "target": "customer"},
    {"key": "note", "type": "text"},
]
APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "rb",
    "name": {"zh": "规则基准", "en": "Rules bench"},
    "version": "1",
    "forms": [
        _form("customer", [{"key": "name", "type": "text", "required": True}]),
        _form("deal", DEAL_FIELDS),
        _form("lead", DEAL_FIELDS),
        _form(
            "project",
            [
                {"key": "name", "type": "text", "required": True},
                {"key": "amount", "type": "money"},
                {"key": "customer", "type": "relation", "target": "customer"},
            ],
        ),
        _form(
            "board",
            [{"key": "name", "type": "text", "required": True}, {"key": "n", "type": "integer"}],
        ),
        _form(
            "ping",
            [
                {"key": "name", "type": "text", "required": True},
                {"key": "n", "type": "integer"},
                {"key": "board", "type": "relation", "target": "board"},
            ],
        ),
    ],
    "rules": [
        {
            "key": "deal_project",
            "name": {"zh": "商机建项目", "en": "Deal makes a project"},
            "form": "deal",
            "on": {"type": "record_created"},
            "mode": "sync",
            "actions": [
                {
                    "type": "create_record",
                    "form": "project",
                    "values": {
                        "name": 'name & " 项目"',
                        "amount": "amount",
                        "customer": {"copy": "customer"},
                    },
                }
            ],
        },
        {
            "key": "ping_board",
            "name": {"zh": "写看板", "en": "Ping the board"},
            "form": "ping",
            "on": {"type": "record_created"},
            "mode": "async",
            "actions": [
                {"type": "update_records", "target": {"relation": "board"}, "values": {"n": "n"}}
            ],
        },
    ],
}
BOARDS = 20  # pings spread over this many board records


def context() -> ExecutionContext:
    return ExecutionContext.create(Actor(None, "api"), TIMEZONE)


def setup(url: str) -> tuple[Engine, int, list[int]]:
    """A migrated database with the bench app; a customer and the board records."""
    engine = engine_for_url(url)
    prepare_database(engine)
    listeners.register()
    with engine.begin() as conn:
        apps.create(conn, APP, context())
        customer = open_form(context(), conn, "rb", "customer").create_many([{"name": "ACME"}])[0]
        boards = open_form(context(), conn, "rb", "board").create_many(
            [{"name": f"看板 {i}", "n": 0} for i in range(BOARDS)]
        )
    return engine, customer, boards


# --- (a) sync rule per save --------------------------------------------------------------


def sync_rule(engine: Engine, customer: int, saves: int, warmup: int = 30) -> dict[str, float]:
    """Median ms of a deal save with its sync rule, and of a lead save plus the project by
    hand; alternating save by save."""

    def with_rule(i: int) -> None:
        with engine.begin() as conn:
            record = {"name": f"商机 {i}", "amount": "1200.50", "customer": customer}
            open_form(context(), conn, "rb", "deal").create_many([record])

    def by_hand(i: int) -> None:
        with engine.begin() as conn:
            record = {"name": f"线索 {i}", "amount": "1200.50", "customer": customer}
            open_form(context(), conn, "rb", "lead").create_many([record])
            project = {"name": f"线索 {i} 项目", "amount": "1200.50", "customer": customer}
            open_form(context(), conn, "rb", "project").create_many([project])

    for i in range(warmup):
        with_rule(i)
        by_hand(i)
    times: dict[str, list[float]] = {"rule": [], "hand": [], "rule_cpu": [], "hand_cpu": []}
    for i in range(saves):
        pair = (("rule", with_rule), ("hand", by_hand))
        for name, save in pair if i % 2 == 0 else pair[::-1]:
            started, cpu = time.perf_counter(), time.thread_time()
            save(i)
            times[f"{name}_cpu"].append((time.thread_time() - cpu) * 1000)
            times[name].append((time.perf_counter() - started) * 1000)
    with engine.connect() as conn:
        logged = len(conn.execute(select(RUNS.c.id).where(RUNS.c.rule_key == "deal_project")).all())
    assert logged == saves + warmup, "every rule save logs its run"
    found = {f"{name}_ms": statistics.median(values) for name, values in times.items()}
    found["ratio"] = found["rule_ms"] / found["hand_ms"]
    found["cpu_ratio"] = found["rule_cpu_ms"] / found["hand_cpu_ms"]
    return found


# --- (b) async delivery --------------------------------------------------------------------


@dataclass
class Delivery:
    """Clocks of one async run: the save's commit (by record id) and the effect's commit (by
    job id)."""

    saved: dict[int, float] = field(default_factory=dict)
    done: dict[int, float] = field(default_factory=dict)


class TimedWorker(Worker):
    """The job worker, noting the clock right after each job's transaction committed (a
    batch's jobs: after the batch's one commit)."""

    def __init__(self, *args: Any, clocks: Delivery, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clocks = clocks

    def _completed(self, rows: Sequence[Any]) -> None:
        now = time.time()
        for row in rows:
            self.clocks.done[row.id] = now


def worker_threads(
    engine: Engine, clocks: Delivery, poll: float | None, workers: int, stop: threading.Event
) -> list[threading.Thread]:
    """`workers` job worker threads (unstarted) running the rules' jobs until `stop`."""
    kinds: Registry[JobKind] = Registry("job kind")
    kinds.register(JOB_KIND, JOB_KINDS[JOB_KIND])
    settings = Settings(timezone=TIMEZONE)
    if poll is not None:
        settings = settings.model_copy(update={"job_poll_seconds": poll})
    return [
        threading.Thread(
            target=TimedWorker(engine, settings, kinds=kinds, clocks=clocks, name=f"bench-{i}").run,
            args=(stop,),
            name=f"bench-worker-{i}",
        )
        for i in range(workers)
    ]


def worker_process(url: str, poll: float | None, workers: int, stop: Any, out: Any) -> None:
    """`--worker-process`: the job workers in a process of their own. Says "ready" through
    `out` once connected, works until `stop` (a multiprocessing event) is set, then sends the
    clocks of the jobs it completed."""
    engine = engine_for_url(url)
    listeners.register()
    clocks = Delivery()
    halt = threading.Event()
    threads = worker_threads(engine, clocks, poll, workers, halt)
    with engine.connect():
        pass
    for thread in threads:
        thread.start()
    out.send("ready")
    stop.wait()
    halt.set()
    for thread in threads:
        thread.join()
    out.send(clocks.done)
    engine.dispose()


def succeeded(engine: Engine) -> int:
    """How many runs of the ping rule succeeded so far."""
    with engine.connect() as conn:
        query = select(func.count()).where(
            RUNS.c.rule_key == "ping_board", RUNS.c.state == "succeeded"
        )
        return int(conn.execute(query).scalar_one())


def async_delivery(
    engine: Engine,
    boards: list[int],
    rate: float,
    seconds: float,
    poll: float | None,
    workers: int = 1,
    producers: int = 4,
    url: str | None = None,
) -> dict[str, float]:
    """Save pings at `rate`/s for `seconds` from `producers` threads while `workers` workers
    run their rule: threads of this process, or with `url` threads of a process of their own
    on that database."""
    clocks = Delivery()
    stop = threading.Event()
    threads = [] if url is not None else worker_threads(engine, clocks, poll, workers, stop)
    spawn = multiprocessing.get_context("spawn")
    process_stop = spawn.Event()
    mine, theirs = spawn.Pipe()
    process = None
    if url is not None:
        process = spawn.Process(
            target=worker_process, args=(url, poll, workers, process_stop, theirs)
        )
        process.start()
        assert mine.recv() == "ready"
    total = int(rate * seconds)
    late = [0] * producers

    def produce(slot: int, started: float) -> None:
        for i in range(slot, total, producers):
            wait = started + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            elif wait < -0.05:
                late[slot] += 1
            with engine.begin() as conn:
                record = {"name": f"ping {i}", "n": i, "board": boards[i % len(boards)]}
                [record_id] = open_form(context(), conn, "rb", "ping").create_many([record])
            clocks.saved[record_id] = time.time()

    for thread in threads:
        thread.start()
    started = time.monotonic()
    senders = [
        threading.Thread(target=produce, args=(slot, started), name=f"bench-producer-{slot}")
        for slot in range(producers)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    sent = time.monotonic() - started
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process is None and len(clocks.done) >= total:
            break
        if process is not None and succeeded(engine) >= total:
            break
        time.sleep(0.05)
    drained = time.monotonic() - started
    stop.set()
    for thread in threads:
        thread.join()
    if process is not None:
        process_stop.set()
        clocks.done.update(mine.recv())
        process.join()
    with engine.connect() as conn:
        runs = conn.execute(
            select(RUNS.c.job_id, RUNS.c.record_id, RUNS.c.state).where(
                RUNS.c.rule_key == "ping_board"
            )
        ).all()
    assert len(runs) == total and {r.state for r in runs} == {"succeeded"}, "every run succeeded"
    latencies = sorted(clocks.done[r.job_id] - clocks.saved[r.record_id] for r in runs)
    return {
        "events": total,
        "offered": total / sent,
        "late": sum(late),
        "throughput": total / drained,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "max_ms": latencies[-1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_option(parser)
    parser.add_argument("--saves", type=int, default=300, help="saves per contender in (a)")
    parser.add_argument("--rate", type=float, default=200, help="events per second in (b)")
    parser.add_argument("--seconds", type=float, default=10, help="how long (b) produces")
    parser.add_argument("--poll", type=float, default=None, help="the worker's idle poll (s)")
    parser.add_argument(
        "--workers", type=int, default=1, help="job workers (threads of this process) in (b)"
    )
    parser.add_argument(
        "--producers", type=int, default=4, help="threads saving the events of (b) together"
    )
    parser.add_argument(
        "--worker-process",
        action="store_true",
        help="run (b)'s workers in a process of their own (threads of it)",
    )
    parser.add_argument("--skip-sync", action="store_true", help="run (b) only")
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, url in each_database(args.db, "rules_bench.db"):
        engine, customer, boards = setup(url)
        try:
            sync = None if args.skip_sync else sync_rule(engine, customer, args.saves)
            if sync is not None:
                print(
                    f"[{name}] (a) sync create-record rule: {sync['rule_ms']:.2f} ms per save "
                    f"({sync['rule_cpu_ms']:.2f} ms CPU), plain save + create by hand "
                    f"{sync['hand_ms']:.2f} ms ({sync['hand_cpu_ms']:.2f} ms CPU); ratio "
                    f"{sync['ratio']:.2f}, in CPU time {sync['cpu_ratio']:.2f} (target ≤ 1.2)"
                )
            delivery = async_delivery(
                engine,
                boards,
                args.rate,
                args.seconds,
                args.poll,
                args.workers,
                args.producers,
                url if args.worker_process else None,
            )
            where = " in a process of their own" if args.worker_process else ""
            print(
                f"[{name}] (b) async update-record, {args.workers} worker(s){where}, "
                f"{args.producers} producer(s): "
                f"{delivery['events']:.0f} events offered at "
                f"{delivery['offered']:.0f}/s ({delivery['late']:.0f} saves late), delivered "
                f"{delivery['throughput']:.0f}/s; event→effect p50 {delivery['p50_ms']:.0f} ms, "
                f"p99 {delivery['p99_ms']:.0f} ms, max {delivery['max_ms']:.0f} ms "
                "(target p99 < 1000 ms)"
            )
        finally:
            engine.dispose()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
