"""Size limits, on SQLite and PostgreSQL: request bodies (declared and chunked), text values per
field type, uploads per file, and upload quotas per user and per public link. Every refusal is
a 4xx in the API's error shape that writes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from engine.api.main import create_app
from engine.settings import Settings
from engine.store.models import StoredFile, utcnow
from tests.api.records_client import API, TOKEN
from tests.store_fixtures import prepare_fresh

APP = {
    "format": "jimu.app/1",
    "key": "notes",
    "name": "笔记",
    "version": "1",
    "forms": [
        {
            "key": "note",
            "name": "笔记",
            "title_field": "title",
            "fields": [
                {"key": "title", "type": "text"},
                {"key": "code", "type": "text", "max": 10},
                {"key": "body", "type": "textarea"},
                {"key": "page", "type": "rich_text"},
                {"key": "site", "type": "url"},
                {"key": "files", "type": "attachment"},
                {
                    "key": "lines",
                    "type": "subform",
                    "fields": [{"key": "remark", "type": "textarea"}],
                },
            ],
        }
    ],
}
NOTES = f"{API}/apps/notes/forms/note/records"
MB = 1024 * 1024


def make_client(engine: Engine, tmp_path: Path, **limits: Any) -> TestClient:
    prepare_fresh(engine)
    app = create_app(Settings(data_dir=tmp_path, admin_token=SecretStr(TOKEN), **limits))
    app.state.engine = engine
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    return client


@pytest.fixture
def client(store_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """The notes app with the default limits."""
    with make_client(store_engine, tmp_path) as test_client:
        assert test_client.post(f"{API}/apps", json=APP).status_code == 201
        yield test_client


def small_client(engine: Engine, tmp_path: Path, **limits: Any) -> TestClient:
    """The notes app with small limits (so the tests send kilobytes, not megabytes)."""
    test_client = make_client(engine, tmp_path, **limits)
    assert test_client.post(f"{API}/apps", json=APP).status_code == 201
    return test_client


def count(client: TestClient) -> int:
    total: int = client.get(NOTES, params={"limit": 0}).json()["total"]
    return total


def stored_files(engine: Engine, tmp_path: Path) -> tuple[int, int]:
    """(`files` rows, blobs on disk)."""
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(StoredFile)).scalar_one()
    blobs = (
        [p for p in (tmp_path / "files").rglob("*") if p.is_file()]
        if (tmp_path / "files").exists()
        else []
    )
    return rows, len(blobs)


def age_files(engine: Engine, hours: float) -> None:
    """Make every upload `hours` old."""
    with engine.begin() as conn:
        conn.execute(update(StoredFile).values(created_at=utcnow() - dt.timedelta(hours=hours)))


def error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


def test_a_60_mb_note_is_refused_before_it_is_read_and_nothing_is_written(
    client: TestClient,
) -> None:
    response = client.post(NOTES, json={"title": "huge", "body": "长" * (60 * MB // 3)})
    assert response.status_code == 413
    assert error(response)["code"] == "payload_too_large"
    assert "10 MB" in error(response)["message"]
    assert count(client) == 0
    english = client.post(
        NOTES, json={"title": "huge", "body": "x" * (11 * MB)}, headers={"Accept-Language": "en"}
    )
    assert (
        english.status_code == 413
        and error(english)["message"] == "The request body is too large: it may be at most 10 MB"
    )


def test_a_chunked_body_is_counted_as_it_arrives(store_engine: Engine, tmp_path: Path) -> None:
    client = small_client(store_engine, tmp_path, max_body_bytes=4096)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the size is known only by reading
        yield b'{"title": "chunked", "body": "'
        for _ in range(20):
            yield b"x" * 1000
        yield b'"}'

    response = client.post(NOTES, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and error(response)["code"] == "payload_too_large"
    assert "4 KB" in error(response)["message"]
    batch = client.post(
        f"{NOTES}/batch", json=[{"title": f"n{i}", "body": "y" * 500} for i in range(10)]
    )
    assert batch.status_code == 413
    assert count(client) == 0
    assert client.post(NOTES, json={"title": "small", "body": "x" * 3000}).status_code == 201


def test_text_values_are_bounded_per_field_type(client: TestClient) -> None:
    cases = [
        ({"title": "t" * 1001}, "title", "1000"),
        ({"title": "ok", "code": "c" * 11}, "code", "10"),  # the field's own max is lower
        ({"title": "ok", "body": "b" * 50_001}, "body", "50000"),
        ({"title": "ok", "page": "<p>" + "p" * 200_000 + "</p>"}, "page", "200000"),
        ({"title": "ok", "site": "https://example.com/" + "u" * 2100}, "site", "2048"),
        ({"title": "ok", "lines": [{"remark": "r" * 50_001}]}, "lines[0].remark", "50000"),
    ]
    for values, path, limit in cases:
        response = client.post(NOTES, json=values)
        assert response.status_code == 422, (path, response.text)
        [found] = error(response)["issues"]
        assert (found["path"], found["code"]) == (path, "max_length")
        assert found["message"] == f"最多 {limit} 个字符"
    at_limits = {
        "title": "t" * 1000,
        "code": "c" * 10,
        "body": "b" * 50_000,
        "page": "p" * 200_000,
        "lines": [{"remark": "r" * 50_000}],
    }
    created = client.post(NOTES, json=at_limits)
    assert created.status_code == 201, created.text[:300]
    assert count(client) == 1
    english = client.post(NOTES, json={"title": "t" * 5000}, headers={"Accept-Language": "en"})
    assert error(english)["issues"][0]["message"] == "Must have at most 1000 characters"


def test_an_upload_is_bounded_per_file_and_per_body(store_engine: Engine, tmp_path: Path) -> None:
    client = small_client(store_engine, tmp_path, max_upload_bytes=8192)
    fits = client.post(
        f"{API}/files", files={"file": ("a.bin", b"a" * 8192, "application/octet-stream")}
    )
    assert fits.status_code == 201, fits.text
    over = client.post(
        f"{API}/files", files={"file": ("b.bin", b"b" * 8193, "application/octet-stream")}
    )
    assert over.status_code == 413 and error(over)["code"] == "file_too_large"
    assert error(over)["message"] == "文件不能超过 8 KB"
    huge = client.post(
        f"{API}/files", files={"file": ("c.bin", b"c" * (200 * 1024), "application/octet-stream")}
    )
    assert huge.status_code == 413 and error(huge)["code"] == "payload_too_large"
    assert stored_files(store_engine, tmp_path) == (1, 1)


def sign_in(client: TestClient, username: str) -> TestClient:
    created = client.post(
        f"{API}/users",
        json={"username": username, "display_name": username, "password": "a-long-password-1"},
    )
    assert created.status_code == 201, created.text
    user = TestClient(client.app, raise_server_exceptions=False)
    login = user.post(
        f"{API}/auth/login", json={"username": username, "password": "a-long-password-1"}
    )
    assert login.status_code == 200, login.text
    user.headers["Authorization"] = f"Bearer {login.json()['token']}"
    return user


def upload(client: TestClient, size: int, url: str = f"{API}/files", **params: Any) -> Any:
    return client.post(
        url, params=params, files={"file": ("f.bin", b"q" * size, "application/octet-stream")}
    )


def test_a_users_uploads_are_bounded_per_day_and_in_total(
    store_engine: Engine, tmp_path: Path
) -> None:
    admin = small_client(
        store_engine, tmp_path, user_upload_daily_bytes=10_000, user_upload_total_bytes=20 * 1024
    )
    alice, bob = sign_in(admin, "alice"), sign_in(admin, "bob")
    assert upload(alice, 6000).status_code == 201
    refused = upload(alice, 6000)
    assert refused.status_code == 429 and error(refused)["code"] == "upload_quota_daily"
    assert "24 小时" in error(refused)["message"]
    assert upload(bob, 6000).status_code == 201  # the quota is per user
    assert stored_files(store_engine, tmp_path)[0] == 2
    age_files(store_engine, hours=25)  # a day later the daily quota is free again; the total is not
    assert upload(alice, 9000).status_code == 201
    age_files(store_engine, hours=25)
    total = upload(alice, 6000)  # 15,000 + 6,000 bytes > 20 KB
    assert total.status_code == 413 and error(total)["code"] == "upload_quota_total"
    english = alice.post(
        f"{API}/files",
        files={"file": ("f.bin", b"q" * 6000, "text/plain")},
        headers={"Accept-Language": "en"},
    )
    assert (
        error(english)["message"]
        == "Your uploads have reached the limit of 20 KB in total; ask an administrator"
    )
    assert stored_files(store_engine, tmp_path)[0] == 3


def test_a_public_links_uploads_are_bounded_per_day(store_engine: Engine, tmp_path: Path) -> None:
    admin = small_client(store_engine, tmp_path, link_upload_daily_bytes=10_000)
    created = admin.post(
        f"{API}/apps/notes/forms/note/links", json={"kind": "fill", "fields": ["title", "files"]}
    )
    assert created.status_code == 201, created.text
    url = f"{API}/public/{created.json()['token']}/files"
    anonymous = TestClient(admin.app, raise_server_exceptions=False)
    assert upload(anonymous, 6000, url, field="files").status_code == 201
    refused = upload(anonymous, 6000, url, field="files")
    assert refused.status_code == 429 and error(refused)["code"] == "link_upload_quota"
    assert upload(anonymous, 4000, url, field="files").status_code == 201  # what is left of the day
    assert stored_files(store_engine, tmp_path)[0] == 2
