"""Process-wide settings read from `JIMU_*` environment variables (DESIGN §13)."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")
MB = 1024 * 1024


def _sqlite_in_data_dir(values: dict[str, Any]) -> str:
    data_dir = Path(values.get("data_dir", DEFAULT_DATA_DIR))
    return f"sqlite:///{data_dir / 'jimu.db'}"


class Settings(BaseSettings):
    """Where data lives, which database to use, the business time zone, the admin credentials,
    how long a sign-in lasts, which reverse proxies are trusted with `X-Forwarded-For`
    (`JIMU_TRUSTED_PROXIES`: comma-separated addresses or CIDRs, none by default) and which
    sites may embed public-link pages in a frame (`JIMU_PUBLIC_FRAME_ANCESTORS`: a CSP
    `frame-ancestors` source list, `*` by default, `'none'` to forbid it), the work limits, and
    the size limits and upload quotas (0 turns a quota off)."""

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
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    public_frame_ancestors: str = "*"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"not an IP address or CIDR network: {entry!r}") from exc
        return value

    @field_validator("public_frame_ancestors")
    @classmethod
    def _source_list(cls, value: str) -> str:
        value = value.strip()
        if not value or not re.fullmatch(r"[A-Za-z0-9*'.:/_\- ]+", value):
            raise ValueError(f"not a CSP source list: {value!r}")
        return value

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
    # Jobs (engine/jobs): whether `jimu serve` runs the worker, how long a claim lasts before
    # another worker may take the job over, how often an idle worker looks for due jobs, how
    # long finished jobs are kept, and modules that register further job kinds (comma-separated).
    job_worker: bool = True
    job_lease_seconds: float = Field(default=60, gt=0)
    job_poll_seconds: float = Field(default=1, gt=0)
    job_keep_days: float = Field(default=7, gt=0)
    job_modules: Annotated[tuple[str, ...], NoDecode] = ()
    # Published app revisions kept loaded per database (engine.forms.apps), least recently used
    # dropped first.
    app_cache_size: int = Field(default=64, ge=1)
    # HTTP worker processes of `jimu serve` (None: one per CPU core; engine.api.server).
    workers: int | None = Field(default=None, ge=1, le=256)
    # Reverse geocoding for location fields (issue 16, engine/geocode.py): an AMap-compatible
    # `regeo` URL and its key; none: the user types the place.
    geocoder_url: str | None = None
    geocoder_key: SecretStr | None = None
    geocoder_timeout: float = Field(default=3, gt=0, le=30)

    @field_validator("job_modules", mode="before")
    @classmethod
    def _split_modules(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

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
