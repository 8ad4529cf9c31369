"""The job kinds every Jimu worker has: `http.post` (deliver JSON to a URL, at least once, with
`X-Jimu-Delivery`) and `jobs.prune` (a daily cron removing done jobs older than
`JIMU_JOB_KEEP_DAYS`)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from sqlalchemy.engine import Connection

from engine import __version__
from engine.jobs.kinds import JobKind, RunningJob, Schedule, register_kind, register_schedule
from engine.jobs.worker import PermanentJobError, prune_done

HTTP_POST = "http.post"
PRUNE = "jobs.prune"
TIMEOUT = 10.0
MAX_RESPONSE = 64 * 1024


def post_json(job: RunningJob) -> dict[str, Any]:
    """POST `payload.json` to `payload.url` (http or https) with `payload.headers`; a non-2xx
    answer or no answer raises, so the job is tried again. The body is UTF-8 JSON; the header
    `X-Jimu-Delivery` is the job's delivery id, the same on every attempt."""
    url = job.payload.get("url")
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise PermanentJobError(f"not an http(s) URL: {url!r}")
    headers = {str(k): str(v) for k, v in (job.payload.get("headers") or {}).items()}
    headers.update(
        {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"Jimu/{__version__}",
            "X-Jimu-Delivery": job.delivery_id,
        }
    )
    body = json.dumps(job.payload.get("json"), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    timeout = float(job.payload.get("timeout", TIMEOUT))
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read(MAX_RESPONSE)
        return {"status": response.status}


def prune(job: RunningJob, conn: Connection) -> None:
    """Remove done jobs older than the configured number of days."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=job.settings.job_keep_days)
    prune_done(conn, cutoff)


register_kind(JobKind(HTTP_POST, call=post_json, max_attempts=8, backoff_seconds=30))
register_kind(JobKind(PRUNE, apply=prune, max_attempts=3))
register_schedule(Schedule("jobs.prune.daily", "41 3 * * *", PRUNE))
