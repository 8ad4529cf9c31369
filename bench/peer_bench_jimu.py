"""Jimu's target for the shared peer harness (``../shared/peerbench/peer_bench.py``).

This module owns how the harness's workload maps onto Jimu's records API; the harness owns the
data set, the phases, the timing and the result file. The harness folder is read-only and lives
outside the repository: this file finds it through ``$PEERBENCH_DIR`` (default
``../shared/peerbench`` beside the repository root), or uses the ``peer_bench`` module already
loaded when the harness loads this file itself (``--target bench/peer_bench_jimu.py:JimuTarget``).

Mapping of the workload (issue 12):

- **setup**: publishes an app ``peerbench`` with the form ``orders``: ``title`` (text, the title
  field), ``owner`` and ``region`` (text), ``status`` (select of the harness's four values),
  ``amount`` (money, 2 places), ``signed_at`` (datetime; the harness's ``2024-01-02
  03:04:05+00:00`` is accepted as is). With ``--jimu-index`` (or ``JIMU_PEER_INDEX=1``) the form
  also declares ``indexes: [["status", "-amount"]]``. Then it creates a long-lived API token
  for ``admin`` with write access (``POST /api/v1/tokens``), as the harness does for NocoDB
  (``xc-token``); ``JIMU_PEER_AUTH=admin`` uses the admin token instead.
- **bulk insert**: ``POST …/records/batch`` (all or nothing, at most 1,000 rows per request).
- **list**: ``GET …/records?filter=status = "won"&sort=-amount&limit=25`` *with the total*
  (``count=exact``, the default), because NocoDB's list answer carries ``pageInfo.totalRows``,
  which it counts on every request; ``JIMU_PEER_LIST_COUNT=none`` asks for the page alone.
- **count**: ``GET …/records?filter=status = "won"&limit=0`` (no rows, the exact total): Jimu
  has no separate count endpoint.
- **create**: ``POST …/records`` with one random row of the harness's data set.

Setup needs the server's admin token: ``JIMU_PEER_ADMIN_TOKEN`` (``jimu serve`` prints it, and
takes it from ``JIMU_ADMIN_TOKEN``). Run through the harness, from its scratch copy::

    JIMU_PEER_ADMIN_TOKEN=… python3 peer_bench.py all --url http://127.0.0.1:8000 --batch 999 \\
        --target /path/to/repo/bench/peer_bench_jimu.py:JimuTarget

or through this file, which adds its own flags and hands the rest to the harness::

    python bench/peer_bench_jimu.py all --jimu-index --admin-token … --url http://127.0.0.1:8000

``bench/peer_compare.py`` runs this target and NocoDB side by side.
"""

from __future__ import annotations

import json
import os
import random
import sys
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HARNESS = ROOT.parent / "shared" / "peerbench"


def harness_dir() -> Path:
    """Where the shared harness lives (``$PEERBENCH_DIR`` or ``../shared/peerbench``)."""
    return Path(os.environ.get("PEERBENCH_DIR") or DEFAULT_HARNESS).resolve()


if "peer_bench" not in sys.modules:  # run or imported directly, not loaded by the harness
    sys.path.insert(0, str(harness_dir()))
import peer_bench as pb  # noqa: E402  (the harness module; see the module docstring)

APP_KEY = "peerbench"
FORM_KEY = "orders"
RECORDS = f"/api/v1/apps/{APP_KEY}/forms/{FORM_KEY}/records"
COMPOSITE_INDEX = ["status", "-amount"]
WON = 'status = "won"'


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def app_definition(indexed: bool) -> dict[str, Any]:
    """The ``orders`` app in Jimu's definition format, with or without the composite index."""
    form: dict[str, Any] = {
        "key": FORM_KEY,
        "name": {"zh": "订单", "en": "Orders"},
        "title_field": "title",
        "fields": [
            {"key": "title", "type": "text", "label": "title", "max": 200},
            {"key": "owner", "type": "text", "label": "owner", "max": 200},
            {"key": "region", "type": "text", "label": "region", "max": 200},
            {
                "key": "status",
                "type": "select",
                "label": "status",
                "options": [{"value": s, "label": s} for s in pb.STATUSES],
            },
            {"key": "amount", "type": "money", "label": "amount", "precision": 2},
            {"key": "signed_at", "type": "datetime", "label": "signed_at"},
        ],
    }
    if indexed:
        form["indexes"] = [COMPOSITE_INDEX]
    return {
        "format": "jimu.app/1",
        "key": APP_KEY,
        "name": {"zh": "同行对比", "en": "Peer benchmark"},
        "version": "1",
        "forms": [form],
    }


class JimuTarget(pb.Target):
    """The harness's workload against Jimu's records API (see the module docstring)."""

    name = "jimu"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.state['token']}"}

    def setup(self, http: Any) -> None:
        admin = os.environ.get("JIMU_PEER_ADMIN_TOKEN") or self.state.get("admin_token")
        if not admin:
            raise SystemExit("set JIMU_PEER_ADMIN_TOKEN to the server's admin token")
        auth = {"Authorization": f"Bearer {admin}"}
        indexed = _flag("JIMU_PEER_INDEX")
        http.json("POST", "/api/v1/apps", app_definition(indexed), auth)
        self.state["indexed"] = indexed
        if os.environ.get("JIMU_PEER_AUTH", "token") == "admin":
            self.state["token"] = admin
            self.state["auth"] = "admin token"
        else:
            token = http.json(
                "POST",
                "/api/v1/tokens",
                {"name": "peer-bench", "can_write": True},
                auth,
            )
            self.state["token"] = token["token"]
            self.state["auth"] = "API token"
        self.state["list_count"] = os.environ.get("JIMU_PEER_LIST_COUNT", "exact")

    def bulk_insert_request(self, rows: list[dict[str, Any]]) -> Any:
        return pb.Req("POST", RECORDS + "/batch", rows)

    def list_request(self, rng: random.Random) -> Any:
        query = {"filter": WON, "sort": "-amount", "limit": 25, "offset": 0}
        if self.state.get("list_count", "exact") != "exact":
            query["count"] = "none"
        return pb.Req("GET", f"{RECORDS}?{urllib.parse.urlencode(query)}")

    def count_request(self, rng: random.Random) -> Any:
        query = urllib.parse.urlencode({"filter": WON, "limit": 0})
        return pb.Req("GET", f"{RECORDS}?{query}")

    def create_request(self, rng: random.Random) -> Any:
        return pb.Req("POST", RECORDS, pb.make_row(rng, rng.randrange(10_000_000, 99_999_999)))

    def parse_count(self, body: bytes) -> int:
        return int(json.loads(body)["total"])

    def parse_list_amounts(self, body: bytes) -> list[float]:
        return [float(r["amount"]) for r in json.loads(body)["items"]]


def main(argv: list[str]) -> None:
    """``peer_bench.py``'s command line for this target, plus ``--jimu-index`` and
    ``--admin-token T``."""
    rest = []
    args = iter(argv)
    for arg in args:
        if arg == "--jimu-index":
            os.environ["JIMU_PEER_INDEX"] = "1"
        elif arg == "--admin-token":
            os.environ["JIMU_PEER_ADMIN_TOKEN"] = next(args)
        elif arg.startswith("--admin-token="):
            os.environ["JIMU_PEER_ADMIN_TOKEN"] = arg.partition("=")[2]
        else:
            rest.append(arg)
    if not any(a == "--target" or a.startswith("--target=") for a in rest):
        rest += ["--target", f"{Path(__file__).resolve()}:JimuTarget"]
    sys.argv = ["peer_bench.py", *rest]
    pb.main()


if __name__ == "__main__":
    main(sys.argv[1:])
