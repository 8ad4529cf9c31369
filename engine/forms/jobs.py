"""The forms engine's job kinds: `files.sweep`, the orphan-file sweep of
`engine.forms.orphans` as a daily cron (it also runs once at `jimu serve` start-up)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from engine.forms.orphans import sweep_orphan_files
from engine.jobs import JobKind, RunningJob, Schedule, register_kind, register_schedule
from engine.store.files import FileStore

SWEEP = "files.sweep"
logger = logging.getLogger("jimu.jobs")


def sweep(job: RunningJob) -> dict[str, Any]:
    """Run the sweep with the worker's settings; it manages its own transactions and removes
    blobs on disk, so it is a `call` step (safe to repeat)."""
    settings = job.settings
    store = FileStore(settings.data_dir / "files", settings.max_upload_bytes)
    result = sweep_orphan_files(
        job.engine, store, older_than=dt.timedelta(hours=settings.orphan_file_hours)
    )
    if result.files or result.blobs:
        logger.info("files.sweep removed %s files, %s blobs", result.files, result.blobs)
    return {"files": result.files, "blobs": result.blobs, "bytes": result.bytes}


register_kind(JobKind(SWEEP, call=sweep, max_attempts=3, backoff_seconds=600, lease_seconds=3600))
register_schedule(Schedule("files.sweep.daily", "23 3 * * *", SWEEP))
