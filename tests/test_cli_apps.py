"""`jimu app install|export|import` and the admin token `jimu serve` prints (SQLite data dirs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from engine.cli import app

runner = CliRunner()


def test_install_export_import_round_trip(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    installed = runner.invoke(
        app, ["app", "install", "crm", "--sample-data", "--data-dir", str(first)]
    )
    assert installed.exit_code == 0, installed.output
    assert "crm" in installed.output
    pack = tmp_path / "crm.json"
    exported = runner.invoke(
        app, ["app", "export", "crm", "--data", "-o", str(pack), "--data-dir", str(first)]
    )
    assert exported.exit_code == 0, exported.output
    assert len(json.loads(pack.read_text(encoding="utf-8"))["data"]["customer"]) >= 200
    imported = runner.invoke(app, ["app", "import", str(pack), "--data-dir", str(second)])
    assert imported.exit_code == 0, imported.output
    again = tmp_path / "again.json"
    assert (
        runner.invoke(
            app, ["app", "export", "crm", "--data", "-o", str(again), "--data-dir", str(second)]
        ).exit_code
        == 0
    )
    assert again.read_text(encoding="utf-8") == pack.read_text(encoding="utf-8")


def test_installing_twice_fails_clearly(tmp_path: Path) -> None:
    assert runner.invoke(app, ["app", "install", "crm", "--data-dir", str(tmp_path)]).exit_code == 0
    again = runner.invoke(app, ["app", "install", "crm", "--data-dir", str(tmp_path)])
    assert again.exit_code == 1
    assert "app_exists" in again.output


def test_unknown_pack_and_unreadable_file(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["app", "install", "nope", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 1 and "not_found" in missing.output
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    result = runner.invoke(app, ["app", "import", str(bad), "--data-dir", str(tmp_path)])
    assert result.exit_code == 2


def test_an_invalid_pack_lists_its_issues(tmp_path: Path) -> None:
    pack = tmp_path / "bad.json"
    pack.write_text(
        json.dumps(
            {
                "format": "jimu.app/1",
                "key": "x",
                "name": "X",
                "version": "1",
                "forms": [{"key": "f"}],
            }
        )
    )
    result = runner.invoke(app, ["app", "import", str(pack), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "forms[0].name" in result.output and "forms[0].fields" in result.output


def test_serve_prints_a_persistent_admin_token_that_guards_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JIMU_ADMIN_TOKEN", raising=False)
    calls: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: calls.append(asgi))
    first = runner.invoke(app, ["serve", "--workers", "1", "--data-dir", str(tmp_path)])
    second = runner.invoke(app, ["serve", "--workers", "1", "--data-dir", str(tmp_path)])
    token = (tmp_path / "admin_token").read_text().strip()
    assert len(token) >= 32
    assert f"Bearer {token}" in first.output and f"Bearer {token}" in second.output
    client = TestClient(calls[-1])
    assert client.get("/api/v1/apps").status_code == 401
    assert client.get("/api/v1/apps", headers={"Authorization": f"Bearer {token}"}).json() == []
    home = client.get("/")  # the built UI, or the small page that links the docs
    assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")


def test_the_environment_token_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIMU_ADMIN_TOKEN", "from-the-environment")
    calls: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: calls.append(asgi))
    result = runner.invoke(app, ["serve", "--workers", "1", "--data-dir", str(tmp_path)])
    assert "Bearer from-the-environment" in result.output
    assert not (tmp_path / "admin_token").exists()
    client = TestClient(calls[-1])
    assert (
        client.get(
            "/api/v1/apps", headers={"Authorization": "Bearer from-the-environment"}
        ).status_code
        == 200
    )


ORG_CHART = """username,display_name,department,manager,phone,email,is_head,password
boss,老板,总经办,,13800000000,boss@example.com,是,boss-password
li,李经理,销售部,boss,,,yes,li-password
wang,王一,销售部/销售一组,li,,,,wang-password
zhao,赵二,销售部/销售二组,li,,,,
"""


def test_user_create_and_org_chart_import(tmp_path: Path) -> None:
    from sqlalchemy import text

    from engine.store import engine_for_url

    created = runner.invoke(
        app,
        [
            "user",
            "create",
            "ops",
            "--name",
            "运维",
            "--password",
            "ops-password",
            "--admin",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert created.exit_code == 0, created.output
    weak = runner.invoke(
        app, ["user", "create", "x", "--password", "123", "--data-dir", str(tmp_path)]
    )
    assert weak.exit_code == 1 and "weak_password" in weak.output
    chart = tmp_path / "org.csv"
    chart.write_text(ORG_CHART, encoding="utf-8-sig")
    imported = runner.invoke(app, ["user", "import", str(chart), "--data-dir", str(tmp_path)])
    assert imported.exit_code == 0, imported.output
    assert "4 new" in imported.output and "4 new departments" in imported.output
    again = runner.invoke(app, ["user", "import", str(chart), "--data-dir", str(tmp_path)])
    assert "0 new, 4 updated users, 0 new departments" in again.output
    engine = engine_for_url(f"sqlite:///{tmp_path / 'jimu.db'}")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT u.username, d.name, m.username FROM users u LEFT JOIN departments d ON d.id = u.department_id"
                " LEFT JOIN users m ON m.id = u.manager_id ORDER BY u.id"
            )
        ).all()
        heads = dict(
            conn.execute(
                text(
                    "SELECT d.name, u.username FROM departments d JOIN users u ON u.id = d.head_user_id"
                )
            ).all()
        )
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("ops", None, None),
        ("boss", "总经办", None),
        ("li", "销售部", "boss"),
        ("wang", "销售一组", "li"),
        ("zhao", "销售二组", "li"),
    ]
    assert heads == {"总经办": "boss", "销售部": "li"}


def test_a_bad_org_chart_imports_nothing(tmp_path: Path) -> None:
    chart = tmp_path / "org.csv"
    chart.write_text("username,display_name,manager\na,,nobody\na,A2,\n", encoding="utf-8")
    result = runner.invoke(app, ["user", "import", str(chart), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    for expected in ("[2].display_name", "[3].username", "[2].manager"):
        assert expected in result.output
    assert (
        runner.invoke(
            app, ["user", "import", str(tmp_path / "missing.xlsx"), "--data-dir", str(tmp_path)]
        ).exit_code
        == 2
    )
    garbage = tmp_path / "garbage.xlsx"
    garbage.write_bytes(b"PK\x03\x04 not really a workbook")
    unreadable = runner.invoke(app, ["user", "import", str(garbage), "--data-dir", str(tmp_path)])
    assert unreadable.exit_code == 1 and "unreadable_file" in unreadable.output


def test_an_org_chart_from_excel_with_chinese_headers(tmp_path: Path) -> None:
    from openpyxl import Workbook
    from sqlalchemy import text

    from engine.store import engine_for_url

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["用户名", "姓名", "部门", "上级", "手机", "是否负责人", "密码"])
    sheet.append(["boss", "老板", "总经办", None, 13800000000, "是", "boss-password"])
    sheet.append(["wang", "王一", "销售部/销售一组", "boss", 13900000001, None, None])
    chart = tmp_path / "组织架构.xlsx"
    book.save(chart)
    imported = runner.invoke(app, ["user", "import", str(chart), "--data-dir", str(tmp_path)])
    assert imported.exit_code == 0, imported.output
    assert "2 new" in imported.output and "3 new departments" in imported.output
    engine = engine_for_url(f"sqlite:///{tmp_path / 'jimu.db'}")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT u.username, u.display_name, u.phone, d.name, m.username,"
                " u.must_change_password FROM users u"
                " JOIN departments d ON d.id = u.department_id LEFT JOIN users m ON m.id = u.manager_id ORDER BY u.id"
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        # An imported password must be changed at the next sign-in (no password: none to change).
        ("boss", "老板", "13800000000", "总经办", None, True),
        ("wang", "王一", "13900000001", "销售一组", "boss", False),
    ]
