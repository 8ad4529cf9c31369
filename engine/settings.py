"""Process-wide settings read from `JIMU_*` environment variables (DESIGN §13)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")
MB = 1024 * 1024


def _sqlite_in_data_dir(values: dict[str, Any]) -> str:
    data_dir = Path(values.get("data_dir", DEFAULT_DATA_DIR))
    return f"sqlite:///{data_dir / 'jimu.db'}"


class Settings(BaseSettings):
    """Where data lives, which database to use, the business time zone, the admin credentials,
    how long a sign-in lasts, and the size limits and upload quotas (0 turns a quota off)."""

    model_config = SettingsConfigDict(env_prefix="JIMU_", extra="ignore")

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = Field(default_factory=_sqlite_in_data_dir)
    timezone: str = "Asia/Shanghai"
    admin_token: SecretStr | None = None
    admin_password: SecretStr | None = None
    session_hours: float = Field(default=12, gt=0, le=24 * 90)
    # Request bodies: JSON and everything else; one uploaded file; app packs and spreadsheet imports.
    max_body_bytes: int = Field(default=10 * MB, ge=1024)
    max_upload_bytes: int = Field(default=50 * MB, ge=1024)
    max_import_bytes: int = Field(default=100 * MB, ge=1024)
    # Upload quotas: per user within the last 24 hours and in total, per public link within 24 hours.
    user_upload_daily_bytes: int = Field(default=1024 * MB, ge=0)
    user_upload_total_bytes: int = Field(default=10 * 1024 * MB, ge=0)
    link_upload_daily_bytes: int = Field(default=200 * MB, ge=0)
    # Uploads nothing references are removed once they are this old (the start-up sweep).
    orphan_file_hours: float = Field(default=24, gt=0)

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once; call `get_settings.cache_clear()` to re-read."""
    return Settings()
