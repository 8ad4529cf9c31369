"""Jobs for administrators: `GET /jobs` by state and kind, `POST /jobs/{id}/retry` (thin router
over `engine.jobs`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from engine.api.deps import DbEngine, read_only
from engine.api.schemas.admin import JobList, JobOut
from engine.api.security import AdminUser
from engine.core.errors import ServiceError
from engine.jobs import get_job, list_jobs, retry_job

router = APIRouter(tags=["jobs"])

JobId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/jobs", response_model=JobList)
def jobs(
    engine: DbEngine,
    principal: AdminUser,
    state: Literal["queued", "running", "done", "dead"] | None = None,
    kind: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z][a-z0-9_.]*$")] = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> dict[str, Any]:
    """Jobs newest first (of one `state` and `kind` when given), and how many are in each state."""
    with read_only(engine) as conn:
        return list_jobs(conn, state, kind, limit, offset)


@router.post("/jobs/{job_id}/retry", response_model=JobOut)
def retry(job_id: JobId, engine: DbEngine, principal: AdminUser) -> dict[str, Any]:
    """Queue a dead job again, due now, with its attempts reset; 409 unless it is dead."""
    with engine.begin() as conn:
        outcome = retry_job(conn, job_id)
        if outcome == "missing":
            raise ServiceError(404, "not_found")
        if outcome == "not_dead":
            raise ServiceError(
                409,
                "job_not_dead",
                message_zh="只能重试已失败（dead）的任务",
                message_en="Only a dead job can be retried",
            )
        job = get_job(conn, job_id)
    assert job is not None
    return job
