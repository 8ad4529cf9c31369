"""Who may upload, use and download files, on SQLite and PostgreSQL, with the CRM's sample users:
any signed-in user uploads; a file is downloaded by its uploader or through a record the caller
may see, in a field visible to them; a public fill link uploads for its own file fields; image
and signature fields take only images / PNG; refusals write nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from engine.store.models import StoredFile
from tests.auth.crm_org import API, installed_crm

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(40)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(40)
PDF = b"%PDF-1.7 contract"
EXTRA_FIELDS: list[dict[str, Any]] = [
    {"key": "docs", "type": "attachment", "label": {"zh": "资料", "en": "Documents"}},
    {"key": "photo", "type": "image", "label": {"zh": "门头照", "en": "Photo"}},
    {"key": "sign", "type": "signature", "label": {"zh": "签名", "en": "Signature"}},
    {"key": "secret", "type": "attachment", "label": {"zh": "内部资料", "en": "Internal"}},
    {
        "key": "visits",
        "type": "subform",
        "label": {"zh": "走访", "en": "Visits"},
        "fields": [
            {"key": "note", "type": "text"},
            {"key": "pic", "type": "image", "label": {"zh": "照片", "en": "Photo"}},
        ],
    },
]
CUSTOMERS = f"{API}/apps/crm/forms/customer/records"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The CRM with file fields added to 客户; the auditor (销售一组, A-level customers) may not see `secret`."""
    for installed in installed_crm(request, tmp_path_factory):
        admin = installed["clients"]["admin"]
        definition = admin.get(f"{API}/apps/crm").json()
        customer = next(f for f in definition["forms"] if f["key"] == "customer")
        customer["fields"].extend(EXTRA_FIELDS)
        auditor = next(r for r in definition["roles"] if r["key"] == "auditor")
        auditor["forms"]["customer"]["fields"]["secret"] = "hidden"
        published = admin.put(f"{API}/apps/crm", json=definition)
        assert published.status_code == 200, published.text
        installed["anonymous"] = TestClient(installed["app"], raise_server_exceptions=False)
        yield installed


def client(crm: dict[str, Any], username: str) -> TestClient:
    found: TestClient = crm["clients"][username]
    return found


def upload(
    crm: dict[str, Any],
    username: str,
    name: str,
    content: bytes,
    mime: str,
    field_type: str | None = None,
) -> dict[str, Any]:
    params = {"field_type": field_type} if field_type else {}
    response = client(crm, username).post(
        f"{API}/files", params=params, files={"file": (name, content, mime)}
    )
    assert response.status_code == 201, response.text
    info: dict[str, Any] = response.json()
    return info


def create_customer(crm: dict[str, Any], username: str, **values: Any) -> dict[str, Any]:
    body = {"name": f"客户{uuid.uuid4().hex[:6]}", "level": "A", **values}
    response = client(crm, username).post(CUSTOMERS, json=body)
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def record_file(record: dict[str, Any], file_id: int) -> str:
    return f"{CUSTOMERS}/{record['_id']}/files/{file_id}"


def issue_codes(response: Any) -> set[tuple[str, str]]:
    return {(i["path"], i["code"]) for i in response.json()["error"]["issues"]}


def stored(crm: dict[str, Any]) -> tuple[int, int]:
    """(upload rows, blobs on disk): what a refused upload must leave unchanged."""
    with crm["engine"].connect() as conn:
        rows = conn.execute(select(func.count()).select_from(StoredFile)).scalar_one()
    root: Path = crm["app"].state.settings.data_dir / "files"
    blobs = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    return rows, len(blobs)


def test_any_signed_in_user_uploads_and_the_upload_is_audited(crm: dict[str, Any]) -> None:
    info = upload(crm, "rep_a1", "报价单.pdf", PDF, "application/pdf")
    assert (
        info["name"] == "报价单.pdf"
        and info["mime"] == "application/pdf"
        and info["size"] == len(PDF)
    )
    own = client(crm, "rep_a1").get(f"{API}/files/{info['file_id']}")
    assert own.status_code == 200 and own.content == PDF
    assert own.headers["content-disposition"].startswith("attachment")
    assert own.headers["x-content-type-options"] == "nosniff"
    entries = (
        client(crm, "admin")
        .get(f"{API}/audit", params={"kind": "file.upload", "limit": 500})
        .json()
    )
    [entry] = [e for e in entries if e["subject"] == f"file:{info['file_id']}"]
    assert entry["actor"]["id"] == crm["ids"]["rep_a1"] and entry["detail"]["name"] == "报价单.pdf"
    anonymous = crm["anonymous"].post(f"{API}/files", files={"file": ("a.txt", b"a", "text/plain")})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"


def test_only_the_uploader_downloads_an_unattached_file(crm: dict[str, Any]) -> None:
    info = upload(crm, "rep_a1", "私人.pdf", PDF, "application/pdf")
    for other in ("rep_a2", "rep_b1", "director"):
        refused = client(crm, other).get(f"{API}/files/{info['file_id']}")
        assert refused.status_code == 404, other
        assert refused.json()["error"]["code"] == "not_found" and PDF not in refused.content
    assert client(crm, "admin").get(f"{API}/files/{info['file_id']}").status_code == 200


def test_readers_of_the_record_download_its_files_and_others_do_not(crm: dict[str, Any]) -> None:
    doc = upload(crm, "rep_a1", "合同.pdf", PDF, "application/pdf")
    photo = upload(crm, "rep_a1", "门头.png", PNG, "image/png", "image")
    record = create_customer(
        crm, "rep_a1", docs=[{"file_id": doc["file_id"]}], photo=[photo["file_id"]]
    )
    assert record["docs"] == [
        {"file_id": doc["file_id"], "name": "合同.pdf", "size": len(PDF), "mime": "application/pdf"}
    ]
    assert record["photo"][0]["mime"] == "image/png"
    for reader in (
        "rep_a1",
        "director",
        "gm",
    ):  # the owner, the department tree's director, everyone's GM
        got = client(crm, reader).get(record_file(record, doc["file_id"]))
        assert got.status_code == 200 and got.content == PDF, reader
    image = client(crm, "director").get(record_file(record, photo["file_id"]))
    assert image.headers["content-type"] == "image/png" and image.headers[
        "content-disposition"
    ].startswith("inline")
    for outsider in ("rep_a2", "rep_b1", "rep_b2"):  # other reps see only their own customers
        refused = client(crm, outsider).get(record_file(record, doc["file_id"]))
        assert refused.status_code == 404, outsider
        assert refused.json()["error"]["code"] == "not_found" and PDF not in refused.content
    listed = (
        client(crm, "director")
        .get(CUSTOMERS, params={"filter": f'name = "{record["name"]}"'})
        .json()["items"]
    )
    assert listed[0]["docs"][0]["name"] == "合同.pdf"  # lists carry file names too
    other = upload(crm, "rep_a1", "别的.pdf", PDF, "application/pdf")
    wrong_record = client(crm, "rep_a1").get(record_file(record, other["file_id"]))
    assert (
        wrong_record.status_code == 404
    )  # a file the record does not hold is not reachable through it


def test_a_hidden_field_hides_its_files(crm: dict[str, Any]) -> None:
    shown = upload(crm, "rep_a1", "公开.pdf", PDF, "application/pdf")
    secret = upload(crm, "rep_a1", "内部.pdf", b"%PDF secret", "application/pdf")
    record = create_customer(crm, "rep_a1", docs=[shown["file_id"]], secret=[secret["file_id"]])
    auditor = client(crm, "auditor")  # sees 销售一组's A-level customers, but not `secret`
    seen = auditor.get(f"{CUSTOMERS}/{record['_id']}").json()
    assert "secret" not in seen and seen["docs"][0]["file_id"] == shown["file_id"]
    assert auditor.get(record_file(record, shown["file_id"])).status_code == 200
    refused = auditor.get(record_file(record, secret["file_id"]))
    assert refused.status_code == 404 and b"secret" not in refused.content
    assert auditor.get(f"{API}/files/{secret['file_id']}").status_code == 404


def test_a_user_may_only_attach_their_own_uploads(crm: dict[str, Any]) -> None:
    theirs = upload(crm, "rep_a1", "a1.pdf", PDF, "application/pdf")
    stolen = client(crm, "rep_b1").post(
        CUSTOMERS, json={"name": "偷看", "docs": [theirs["file_id"]]}
    )
    assert stolen.status_code == 422 and issue_codes(stolen) == {("docs[0]", "file_not_found")}
    record = create_customer(crm, "rep_a1", docs=[theirs["file_id"]])
    # The director may keep rep_a1's file in place while editing, but not move it to another field.
    kept = client(crm, "director").patch(
        f"{CUSTOMERS}/{record['_id']}",
        json={"_version": record["_version"], "note": "已审", "docs": record["docs"]},
    )
    assert kept.status_code == 200, kept.text
    moved = client(crm, "director").patch(
        f"{CUSTOMERS}/{record['_id']}",
        json={"_version": kept.json()["_version"], "secret": [theirs["file_id"]]},
    )
    assert moved.status_code == 422 and issue_codes(moved) == {("secret[0]", "file_not_found")}


def test_image_and_signature_fields_take_only_their_types(crm: dict[str, Any]) -> None:
    before = stored(crm)
    for field_type, name, content, mime, code in [
        (
            "image",
            "假图.png",
            PDF,
            "image/png",
            "not_an_image",
        ),  # the bytes decide, not the claimed type
        ("image", "x.svg", b"<svg onload=alert(1)>", "image/svg+xml", "not_an_image"),
        ("signature", "签名.jpg", JPEG, "image/jpeg", "signature_not_png"),
    ]:
        refused = client(crm, "rep_a1").post(
            f"{API}/files", params={"field_type": field_type}, files={"file": (name, content, mime)}
        )
        assert refused.status_code == 422, refused.text
        [problem] = refused.json()["error"]["issues"]
        assert (problem["path"], problem["code"]) == ("file", code)
        english = client(crm, "rep_a1").post(
            f"{API}/files",
            params={"field_type": field_type},
            files={"file": (name, content, mime)},
            headers={"Accept-Language": "en"},
        )
        assert (
            "图" in problem["message"]
            and "image" in english.json()["error"]["issues"][0]["message"].lower()
        )
    assert stored(crm) == before  # nothing written for a refused upload
    pdf = upload(
        crm, "rep_a1", "图.png", PDF, "image/png"
    )  # accepted as a plain file, stored as such
    assert pdf["mime"] == "application/octet-stream"
    jpeg = upload(crm, "rep_a1", "照片.jpg", JPEG, "image/jpeg")
    refused = client(crm, "rep_a1").post(
        CUSTOMERS, json={"name": "类型", "photo": [pdf["file_id"]], "sign": [jpeg["file_id"]]}
    )
    assert refused.status_code == 422
    assert issue_codes(refused) == {("photo[0]", "not_an_image"), ("sign[0]", "signature_not_png")}
    png = upload(crm, "rep_a1", "sign.png", PNG, "image/png", "signature")
    create_customer(crm, "rep_a1", photo=[jpeg["file_id"]], sign=[png["file_id"]])


def public_link(crm: dict[str, Any], fields: list[str]) -> str:
    response = client(crm, "admin").post(
        f"{API}/apps/crm/forms/customer/links",
        json={"kind": "fill", "fields": fields, "owner_id": crm["ids"]["rep_a1"]},
    )
    assert response.status_code == 201, response.text
    return f"{API}/public/{response.json()['token']}"


def test_a_public_fill_link_uploads_for_its_file_fields(crm: dict[str, Any]) -> None:
    link = public_link(crm, ["name", "docs", "photo"])
    anonymous: TestClient = crm["anonymous"]
    sent = anonymous.post(
        f"{link}/files",
        params={"field": "docs"},
        files={"file": ("简历.pdf", PDF, "application/pdf")},
    )
    assert sent.status_code == 201, sent.text
    file_id = sent.json()["file_id"]
    before = stored(crm)
    for field, content, code in [
        ("secret", PDF, "not_a_file_field"),
        ("name", PDF, "not_a_file_field"),
        ("photo", PDF, "not_an_image"),
    ]:
        refused = anonymous.post(
            f"{link}/files",
            params={"field": field},
            files={"file": ("x.pdf", content, "application/pdf")},
        )
        assert refused.status_code == 422, refused.text
        assert {i["code"] for i in refused.json()["error"]["issues"]} == {code}
    assert stored(crm) == before
    assert (
        anonymous.get(f"{API}/files/{file_id}").status_code == 401
    )  # no download for the anonymous
    # Another link's submission, and signed-in users, cannot use the link's upload.
    other = public_link(crm, ["name", "docs"])
    borrowed = anonymous.post(other, json={"name": "别的外链", "docs": [file_id]})
    assert borrowed.status_code == 422 and issue_codes(borrowed) == {("docs[0]", "file_not_found")}
    taken = client(crm, "rep_b1").post(CUSTOMERS, json={"name": "拿走", "docs": [file_id]})
    assert taken.status_code == 422
    rep_file = upload(crm, "rep_b1", "b1.pdf", PDF, "application/pdf")
    smuggled = anonymous.post(link, json={"name": "夹带", "docs": [rep_file["file_id"]]})
    assert smuggled.status_code == 422 and issue_codes(smuggled) == {("docs[0]", "file_not_found")}
    name = f"外链客户{uuid.uuid4().hex[:6]}"
    submitted = anonymous.post(link, json={"name": name, "docs": [{"file_id": file_id}]})
    assert submitted.status_code == 200, submitted.text
    [record] = (
        client(crm, "rep_a1").get(CUSTOMERS, params={"filter": f'name = "{name}"'}).json()["items"]
    )
    assert record["docs"][0]["name"] == "简历.pdf"
    assert (
        client(crm, "rep_a1").get(record_file(record, file_id)).content == PDF
    )  # the link's owner reads it
    entries = (
        client(crm, "admin")
        .get(f"{API}/audit", params={"kind": "public.upload", "limit": 500})
        .json()
    )
    assert any(e["detail"].get("file_id") == file_id and e["success"] for e in entries)
    assert any(not e["success"] for e in entries)  # refusals are counted towards the link's limit


def test_a_query_link_takes_no_uploads(crm: dict[str, Any]) -> None:
    response = client(crm, "admin").post(
        f"{API}/apps/crm/forms/customer/links",
        json={"kind": "query", "fields": ["name", "docs"], "key_fields": ["name"]},
    )
    assert response.status_code == 201, response.text
    refused = crm["anonymous"].post(
        f"{API}/public/{response.json()['token']}/files",
        params={"field": "docs"},
        files={"file": ("a.pdf", PDF, "application/pdf")},
    )
    assert refused.status_code == 422 and {
        i["code"] for i in refused.json()["error"]["issues"]
    } == {"not_a_file_field"}


def test_an_app_moved_with_its_data_keeps_its_files(crm: dict[str, Any]) -> None:
    """Pack import (administrators only) keeps the file references it carries, whoever uploaded them."""
    doc = upload(crm, "rep_a1", "随迁.pdf", PDF, "application/pdf")
    record = create_customer(crm, "rep_a1", docs=[doc["file_id"]])
    admin = client(crm, "admin")
    pack = admin.get(f"{API}/apps/crm/export", params={"data": "true"}).json()
    pack["key"] = f"crm_copy_{uuid.uuid4().hex[:6]}"
    imported = admin.post(f"{API}/apps/import", json=pack)
    assert imported.status_code == 201, imported.text
    copy = admin.get(f"{API}/apps/{pack['key']}/forms/customer/records/{record['_id']}").json()
    assert copy["docs"] == record["docs"]


def test_files_in_subform_rows_are_read_through_the_record(crm: dict[str, Any]) -> None:
    pic = upload(crm, "rep_a1", "走访.png", PNG, "image/png", "image")
    record = create_customer(crm, "rep_a1", visits=[{"note": "首访", "pic": [pic["file_id"]]}])
    assert record["visits"][0]["pic"][0]["name"] == "走访.png"
    assert client(crm, "director").get(record_file(record, pic["file_id"])).content == PNG
    assert client(crm, "rep_b1").get(record_file(record, pic["file_id"])).status_code == 404
    stolen = client(crm, "rep_b1").post(
        CUSTOMERS, json={"name": "行内偷看", "visits": [{"pic": [pic["file_id"]]}]}
    )
    assert stolen.status_code == 422 and issue_codes(stolen) == {
        ("visits[0].pic[0]", "file_not_found")
    }
    refused = client(crm, "admin").post(
        f"{API}/apps/crm/forms/customer/links",
        json={"kind": "fill", "fields": ["name", "visits"], "owner_id": crm["ids"]["rep_a1"]},
    )
    assert refused.status_code == 422 and issue_codes(refused) == {
        ("fields[1]", "not_public_fillable")
    }
