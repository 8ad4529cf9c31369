"""Uploads: content-addressed blobs, file fields on records, downloads, bad references."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.api.records_client import API, api_client

APP = {
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
                {"key": "sign", "type": "signature"},
            ],
        }
    ],
}
DOCS = f"{API}/apps/docs/forms/doc/records"


@pytest.fixture
def client(store_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    with api_client(store_engine, tmp_path) as test_client:
        assert test_client.post(f"{API}/apps", json=APP).status_code == 201
        yield test_client


def test_upload_attach_read_and_download(client: TestClient, tmp_path: Path) -> None:
    first = client.post(
        f"{API}/files", files={"file": ("合同.pdf", b"%PDF-1.7 hello", "application/pdf")}
    ).json()
    second = client.post(
        f"{API}/files", files={"file": ("copy.pdf", b"%PDF-1.7 hello", "application/pdf")}
    ).json()
    assert first["sha256"] == second["sha256"] and first["file_id"] != second["file_id"]
    blobs = [p for p in (tmp_path / "files").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    created = client.post(
        DOCS,
        json={"title": "采购合同", "files": [first["file_id"], {"file_id": second["file_id"]}]},
    )
    assert created.status_code == 201, created.text
    assert created.json()["files"] == [
        {"file_id": first["file_id"], "name": "合同.pdf", "size": 14, "mime": "application/pdf"},
        {"file_id": second["file_id"], "name": "copy.pdf", "size": 14, "mime": "application/pdf"},
    ]
    download = client.get(f"{API}/files/{first['file_id']}")
    assert download.status_code == 200 and download.content == b"%PDF-1.7 hello"
    assert download.headers["content-type"].startswith("application/pdf")


def test_unknown_files_are_field_errors_and_404s(client: TestClient) -> None:
    response = client.post(DOCS, json={"title": "x", "files": [987654], "sign": "abc"})
    assert response.status_code == 422
    issues = {(i["path"], i["code"]) for i in response.json()["error"]["issues"]}
    assert issues == {("files[0]", "file_not_found"), ("sign", "expected_list")}
    assert client.get(f"{API}/files/987654").status_code == 404
    assert client.get(f"{API}/files/0").status_code == 400


def test_upload_needs_the_token_and_a_file(client: TestClient) -> None:
    assert (
        client.post(
            f"{API}/files", files={"file": ("a.txt", b"a")}, headers={"Authorization": "Bearer x"}
        ).status_code
        == 401
    )
    assert client.post(f"{API}/files").status_code == 400  # a malformed request (no multipart body)
