"""The orphan-file sweep on SQLite and PostgreSQL: an upload survives while a live or deleted
record, a subform row, a retired or backup column or a record's history references it, or
while it is younger than 24 hours; anything else is removed, row and blob (the blob only when
no other row shares it). `jimu serve` runs the sweep at start-up."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from engine.cli import app as cli
from engine.core.context import Actor
from engine.forms import apps
from engine.forms.orphans import SweepResult, sweep_orphan_files
from engine.forms.records import Writer
from engine.settings import Settings
from engine.store import make_engine
from engine.store.files import FileStore
from engine.store.models import RecordHistory, StoredFile, utcnow
from tests.api.records_client import API, api_client
from tests.contexts import context
from tests.store_fixtures import prepare_fresh

APP: dict[str, Any] = {
    "format": "jimu.app/1",
    "key": "docs",
    "name": "文档",
    "version": "1",
    "forms": [
        {
            "key": "doc",
            "name": "文档",
            "title_field": "title",
            "fields": [
                {"key": "title", "type": "text"},
                {"key": "files", "type": "attachment"},
                {"key": "old", "type": "attachment"},
                {"key": "scan", "type": "image"},
                {
                    "key": "lines",
                    "type": "subform",
                    "fields": [{"key": "proof", "type": "attachment"}],
                },
            ],
        }
    ],
}
DOCS = f"{API}/apps/docs/forms/doc/records"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def client(store_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    with api_client(store_engine, tmp_path) as test_client:
        assert test_client.post(f"{API}/apps", json=APP).status_code == 201
        yield test_client


def upload(client: TestClient, content: bytes, mime: str = "application/pdf") -> int:
    response = client.post(f"{API}/files", files={"file": ("f", content, mime)})
    assert response.status_code == 201, response.text
    file_id: int = response.json()["file_id"]
    return file_id


def create(client: TestClient, values: dict[str, Any]) -> dict[str, Any]:
    response = client.post(DOCS, json=values)
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def age_everything(
    engine: Engine, root: Path, hours: float, except_ids: tuple[int, ...] = ()
) -> None:
    """Make every upload and blob `hours` old (but `except_ids`, which stay an hour old)."""
    then = utcnow() - dt.timedelta(hours=hours)
    with engine.begin() as conn:
        conn.execute(update(StoredFile).values(created_at=then))
        if except_ids:
            hour_ago = utcnow() - dt.timedelta(hours=1)
            conn.execute(
                update(StoredFile).where(StoredFile.id.in_(except_ids)).values(created_at=hour_ago)
            )
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (then.timestamp(), then.timestamp()))


def remaining(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(select(StoredFile.id)).scalars())


def blob(root: Path, content: bytes) -> Path:
    sha = hashlib.sha256(content).hexdigest()
    return root / sha[:2] / sha[2:4] / sha


def test_only_unreferenced_uploads_older_than_a_day_are_removed(
    client: TestClient, store_engine: Engine, tmp_path: Path
) -> None:
    root = tmp_path / "files"
    live = upload(client, b"%PDF live")
    shared = upload(client, b"%PDF live")  # the same bytes as `live`, referenced by nothing
    in_bin = upload(client, b"%PDF deleted record")
    in_row = upload(client, b"%PDF subform row")
    retired = upload(client, b"%PDF retired field")
    backup = upload(client, PNG, "image/png")
    old_orphan = upload(client, b"%PDF forgotten")
    new_orphan = upload(client, b"%PDF just uploaded")
    kept = create(
        client,
        {
            "title": "kept",
            "files": [live],
            "old": [retired],
            "scan": [backup],
            "lines": [{"proof": [in_row]}],
        },
    )
    binned = create(client, {"title": "binned", "files": [in_bin]})
    assert client.delete(f"{DOCS}/{binned['_id']}").status_code == 204
    # Retire `old` and turn `scan` into text: their columns stay, as a retired and a backup column.
    definition = client.get(f"{API}/apps/docs").json()
    fields = definition["forms"][0]["fields"]
    fields[:] = [f for f in fields if f["key"] != "old"]
    next(f for f in fields if f["key"] == "scan")["type"] = "text"
    published = client.put(f"{API}/apps/docs", json=definition)
    assert published.status_code == 200, published.text
    assert "old" not in client.get(f"{DOCS}/{kept['_id']}").json()
    with store_engine.begin() as conn:  # only the columns keep these files now, not the history
        conn.execute(delete(RecordHistory))
    stray = root / "ab" / "cd" / ("abcd" + "0" * 60)  # a blob whose upload never committed
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"lost")
    (root / ".upload-interrupted").write_bytes(b"half")
    age_everything(store_engine, root, hours=25, except_ids=(new_orphan,))

    result = sweep_orphan_files(store_engine, FileStore(root, 1 << 20))

    assert remaining(store_engine) == {live, in_bin, in_row, retired, backup, new_orphan}
    assert shared not in remaining(store_engine) and old_orphan not in remaining(store_engine)
    assert (result.files, result.blobs) == (
        2,
        2,
    )  # rows `shared` and `old_orphan`; blobs old_orphan's and the stray
    assert blob(root, b"%PDF live").exists()  # still `live`'s
    assert not blob(root, b"%PDF forgotten").exists()
    assert blob(root, b"%PDF just uploaded").exists()
    assert not stray.exists() and not (root / ".upload-interrupted").exists()
    download = client.get(f"{DOCS}/{kept['_id']}/files/{in_row}")
    assert download.status_code == 200 and download.content == b"%PDF subform row"
    assert client.post(f"{DOCS}/{binned['_id']}/restore").status_code == 200
    assert client.get(f"{DOCS}/{binned['_id']}").json()["files"][0]["file_id"] == in_bin
    assert sweep_orphan_files(store_engine, FileStore(root, 1 << 20)) == SweepResult(0, 0, 0)


def test_a_file_only_the_history_names_survives_until_the_history_is_gone(
    client: TestClient, store_engine: Engine, tmp_path: Path
) -> None:
    root = tmp_path / "files"
    earlier = upload(client, b"%PDF first version")
    record = create(client, {"title": "changed", "files": [earlier]})
    changed = client.patch(
        f"{DOCS}/{record['_id']}", json={"files": [], "_version": record["_version"]}
    )
    assert changed.status_code == 200, changed.text
    age_everything(store_engine, root, hours=25)

    assert sweep_orphan_files(store_engine, FileStore(root, 1 << 20)).files == 0
    assert remaining(store_engine) == {earlier}
    with store_engine.begin() as conn:
        conn.execute(delete(RecordHistory))
    assert sweep_orphan_files(store_engine, FileStore(root, 1 << 20)).files == 1
    assert remaining(store_engine) == set() and not blob(root, b"%PDF first version").exists()


def test_a_public_link_upload_no_submission_used_is_removed(
    client: TestClient, store_engine: Engine, tmp_path: Path
) -> None:
    link = client.post(
        f"{API}/apps/docs/forms/doc/links", json={"kind": "fill", "fields": ["title", "files"]}
    )
    assert link.status_code == 201, link.text
    anonymous = TestClient(client.app, raise_server_exceptions=False)
    url = f"{API}/public/{link.json()['token']}"
    used, unused = (
        anonymous.post(
            f"{url}/files",
            params={"field": "files"},
            files={"file": ("a.pdf", body, "application/pdf")},
        ).json()["file_id"]
        for body in (b"%PDF used", b"%PDF abandoned")
    )
    assert anonymous.post(url, json={"title": "from outside", "files": [used]}).status_code == 200
    age_everything(store_engine, tmp_path / "files", hours=25)
    sweep_orphan_files(store_engine, FileStore(tmp_path / "files", 1 << 20))
    assert remaining(store_engine) == {used} and unused != used


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_record_write_in_flight_keeps_its_file_on_postgresql(
    client: TestClient, store_engine: Engine, tmp_path: Path
) -> None:
    """On SQLite the sweep's write lock serialises it with writers; on PostgreSQL the sweep
    locks the probable orphans, which a writer holds `FOR SHARE` until it commits."""
    root = tmp_path / "files"
    file_id = upload(client, b"%PDF saved while sweeping")
    age_everything(store_engine, root, hours=25)
    outcome: dict[str, Any] = {}
    with store_engine.connect() as conn:
        transaction = conn.begin()
        loaded = apps.load(conn, "docs")
        writer = Writer(loaded.layout, loaded.id, loaded.form("doc"), context())
        [record_id] = writer.create_many(
            conn, [{"title": "in flight", "files": [file_id]}], Actor()
        )
        sweeper = threading.Thread(
            target=lambda: outcome.update(
                result=sweep_orphan_files(store_engine, FileStore(root, 1 << 20))
            )
        )
        sweeper.start()
        with (
            store_engine.connect() as probe
        ):  # wait until the sweep waits for this write (or has finished)
            waiting = 0
            while not waiting and sweeper.is_alive():
                waiting = probe.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                ).scalar_one()
                probe.rollback()  # a new snapshot of pg_stat_activity next time
                sweeper.join(0.05)
        transaction.commit()
    sweeper.join()
    assert outcome["result"].files == 0
    assert remaining(store_engine) == {file_id}
    download = client.get(f"{DOCS}/{record_id}/files/{file_id}")
    assert download.status_code == 200 and download.content == b"%PDF saved while sweeping"


def test_serve_sweeps_at_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    settings = Settings(data_dir=tmp_path)
    engine = make_engine(settings)
    prepare_fresh(engine)
    content = b"never used"
    path = blob(tmp_path / "files", content)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with engine.begin() as conn:
        conn.execute(
            insert(StoredFile).values(
                sha256=path.name,
                name="x",
                size=len(content),
                mime="text/plain",
                created_at=utcnow() - dt.timedelta(hours=30),
            )
        )
    engine.dispose()
    old = (utcnow() - dt.timedelta(hours=30)).timestamp()
    os.utime(path, (old, old))
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "removed unreferenced uploads: 1 (1 blobs, 1 KB)" in result.output
    assert not path.exists()
    engine = make_engine(settings)
    try:
        assert remaining(engine) == set()
    finally:
        engine.dispose()
