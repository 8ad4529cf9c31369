"""What an HTTP worker process costs: in memory at start, building the application imports no
migration tooling (Alembic, Mako, Pygments) and computes no password hash (argon2id's 64 MB),
and the written-out dummy hash that sign-in verifies unknown users against has the hasher's
current parameters, so it takes as long as a real one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from engine.auth import credentials
from tests.api.records_client import API

ROOT = Path(__file__).resolve().parents[2]
APP_DEF: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "mem",
    "name": "内存 / memory",
    "version": "1",
    "forms": [
        {
            "key": "item",
            "name": "条目",
            "title_field": "title",
            "fields": [{"key": "title", "type": "text", "required": True}],
        }
    ],
}
PROBE = """
import json, sys
from engine.api.server import served_app
from engine.settings import Settings
served_app(Settings(data_dir=sys.argv[1]))
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({
    "modules": sorted(m for m in ("alembic", "mako", "pygments") if m in sys.modules),
    "rss_kb": int(status["VmRSS"].split()[0]),
    "peak_kb": int(status["VmHWM"].split()[0]),
}))
"""


def test_a_worker_app_imports_no_migration_tooling_and_hashes_no_password(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["modules"] == []
    # an argon2id hash at import would leave the peak 64 MB above what is resident now
    assert found["peak_kb"] - found["rss_kb"] < 32 * 1024, found


def test_the_dummy_hash_has_the_hashers_parameters() -> None:
    assert not credentials._hasher.check_needs_rehash(credentials._DUMMY_HASH)
    assert credentials.verify_password(None, "anything") is False


def _names(hops: list[Any]) -> list[str]:
    return [getattr(getattr(f, "func", f), "__name__", type(f).__name__) for f in hops]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_dependencies_that_do_not_block_stay_on_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI runs every plain `def` dependency in the thread pool, one hand-off each. The
    engine and the admin context are `async`: what is left there is the caller's credential (a
    database read), the endpoint and its response check (was get_engine and admin_context too);
    a records read reads the credential inside its endpoint."""
    hops: list[Any] = []
    original = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    created = client.post(f"{API}/apps", json=APP_DEF)  # AdminContext + DbEngine
    assert created.status_code == 201, created.text
    # the caller's credential, the endpoint, validating its answer
    assert _names(hops)[0] == "require_admin" and len(hops) == 3, _names(hops)
    hops.clear()
    response = client.get(f"{API}/apps/mem/forms/item/records")  # DbEngine
    assert response.status_code == 200, response.text
    # the endpoint alone: it reads the caller's credential in the statement that opens the
    # read (engine.api.opening), and a record page is sent as bytes, not checked
    assert _names(hops) == ["_run_sync_endpoint"], _names(hops)
