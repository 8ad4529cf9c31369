"""Settings: defaults, `JIMU_*` environment variables, validation, the cached accessor."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.settings import Settings, get_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATA_DIR", "DATABASE_URL", "TIMEZONE", "ADMIN_TOKEN"):
        monkeypatch.delenv(f"JIMU_{name}", raising=False)


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.data_dir == tmp_path / "data"
    assert settings.database_url == f"sqlite:///{tmp_path}/data/jimu.db"
    assert settings.timezone == "Asia/Shanghai"
    assert str(settings.tzinfo) == "Asia/Shanghai"
    assert settings.admin_token is None


def test_database_url_follows_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIMU_DATA_DIR", str(tmp_path / "elsewhere"))
    assert Settings().database_url == f"sqlite:///{tmp_path}/elsewhere/jimu.db"
    assert Settings(data_dir=tmp_path / "x").database_url == f"sqlite:///{tmp_path}/x/jimu.db"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://jimu@db/jimu"
    monkeypatch.setenv("JIMU_DATABASE_URL", url)
    monkeypatch.setenv("JIMU_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("JIMU_ADMIN_TOKEN", "s3cret")
    settings = Settings()
    assert settings.database_url == url
    assert settings.timezone == "Europe/Berlin"
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown IANA time zone 'Mars/Olympus'"):
        Settings(timezone="Mars/Olympus")


def test_get_settings_is_cached_until_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    try:
        first = get_settings()
        assert get_settings() is first
        monkeypatch.setenv("JIMU_TIMEZONE", "UTC")
        assert get_settings().timezone == first.timezone
        get_settings.cache_clear()
        assert get_settings().timezone == "UTC"
    finally:
        get_settings.cache_clear()
