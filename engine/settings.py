"""Process-wide settings read from `JIMU_*` environment variables (DESIGN §13)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")


def _sqlite_in_data_dir(values: dict[str, Any]) -> str:
    data_dir = Path(values.get("data_dir", DEFAULT_DATA_DIR))
    return f"sqlite:///{data_dir / 'jimu.db'}"


class Settings(BaseSettings):
    """Where data lives, which database to use, the business time zone, the admin credentials
    and how long a sign-in lasts."""

    model_config = SettingsConfigDict(env_prefix="JIMU_", extra="ignore")

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = Field(default_factory=_sqlite_in_data_dir)
    timezone: str = "Asia/Shanghai"
    admin_token: SecretStr | None = None
    admin_password: SecretStr | None = None
    session_hours: float = Field(default=12, gt=0, le=24 * 90)
    # Work limits (issue 10, engine/store/limits.py): the units one metered formula evaluation
    # may spend, and seconds per database statement by kind of work (0 = no limit).
    eval_budget: int = Field(default=5_000_000, gt=0)
    statement_timeout_interactive: float = Field(default=5, ge=0)
    statement_timeout_report: float = Field(default=30, ge=0)
    statement_timeout_export: float = Field(default=120, ge=0)
    statement_timeout_import: float = Field(default=0, ge=0)
    statement_timeout_publish: float = Field(default=0, ge=0)

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
