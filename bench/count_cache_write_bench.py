"""What the count cache's triggers cost bulk writers on SQLite (issue 12,
`engine.forms.count_cache`): the record pipeline's batches (999 rows per transaction, as the
batch API and imports write) and a publish that recomputes a stored formula over every row,
each with the triggers in place and with them dropped, alternately, on one database. Prints
microseconds per row and the ratio; on a shared machine only the ratio within one run means
anything.

Usage: ``python bench/count_cache_write_bench.py [--batches 20] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.core.context import Actor, ExecutionContext
from engine.forms import apps, count_cache
from engine.forms.service import open_form, system_caller
from engine.store import prepare_database
from engine.store.session import engine_for_url

APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "bulk",
    "name": "bulk",
    "version": "1",
    "forms": [
        {
            "key": "orders",
            "name": "orders",
            "title_field": "title",
            "fields": [
                {"key": "title", "type": "text"},
                {
                    "key": "status",
                    "type": "select",
                    "options": [{"value": s, "label": s} for s in ("won", "lost", "open")],
                },
                {"key": "amount", "type": "money", "precision": 2},
                {"key": "twice", "type": "formula", "expr": "amount * 2"},
            ],
        }
    ],
}


def context() -> ExecutionContext:
    return ExecutionContext.create(Actor(None, "import"), "UTC")


def set_triggers(engine: Any, on: bool) -> None:
    with engine.begin() as conn:
        table = apps.load(conn, "bulk").form("orders").table.name
        if on:
            count_cache.watch(conn, [table])
        else:
            for name in count_cache.trigger_names(table):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def batches(engine: Any, count: int, rng: random.Random) -> float:
    """Microseconds per row of `count` batches of 999 creates, one transaction each."""
    rows = 0
    began = time.perf_counter()
    for _ in range(count):
        batch = [
            {
                "title": f"order {rng.randrange(10**8)}",
                "status": rng.choice(["won", "lost", "open"]),
                "amount": round(rng.uniform(10, 100000), 2),
            }
            for _ in range(999)
        ]
        with engine.begin() as conn:
            service = open_form(context(), conn, "bulk", "orders", system_caller(via="import"))
            rows += len(service.create_many(batch))
    return (time.perf_counter() - began) / rows * 1e6


def recompute(engine: Any, factor: int) -> float:
    """Microseconds per row of a publish that changes the stored formula (every row rewritten)."""
    with engine.connect() as conn:
        loaded = apps.load(conn, "bulk")
        live = int(
            conn.execute(
                text(f"SELECT count(*) FROM {loaded.form('orders').table.name}")
            ).scalar_one()
        )
    definition = {**APP, "forms": [dict(APP["forms"][0])]}
    fields = [dict(f) for f in APP["forms"][0]["fields"]]
    fields[-1]["expr"] = f"amount * {factor}"
    definition["forms"][0]["fields"] = fields
    began = time.perf_counter()
    with engine.begin() as conn:
        apps.publish(
            conn, "bulk", definition, revision=loaded.revision, plan_hash=None, ctx=context()
        )
    return (time.perf_counter() - began) / live * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=20, help="batches of 999 per measure")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        engine = engine_for_url(f"sqlite:///{tmp}/bench.db")
        prepare_database(engine)
        with engine.begin() as conn:
            apps.create(conn, APP, context())
        found: dict[str, dict[bool, list[float]]] = {"batch": {}, "recompute": {}}
        factor = 3
        for round_no in range(args.rounds):
            for on in (True, False) if round_no % 2 == 0 else (False, True):
                set_triggers(engine, on)
                found["batch"].setdefault(on, []).append(batches(engine, args.batches, rng))
                set_triggers(engine, on)  # a publish renews them; put the state back
                found["recompute"].setdefault(on, []).append(recompute(engine, factor))
                factor += 1
                name = "triggers" if on else "none"
                print(
                    f"round {round_no + 1} {name:8} batch {found['batch'][on][-1]:6.1f} us/row"
                    f"  recompute {found['recompute'][on][-1]:6.1f} us/row",
                    flush=True,
                )
        engine.dispose()
    for kind, values in found.items():
        on, off = statistics.median(values[True]), statistics.median(values[False])
        print(f"{kind:9}: {off:6.1f} us/row without, {on:6.1f} with triggers ({on / off:.2f}x)")


if __name__ == "__main__":
    main()
