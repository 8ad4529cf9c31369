"""`/directory/users` and `/directory/departments`: the member and department pickers that
user and department fields need, for anyone signed in (the admin routes list users to
administrators only). Only names and the tree are shown: no phones, emails or roles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from engine.api.deps import DbEngine, read_only
from engine.api.schemas.admin import PickedDepartment, PickedUser
from engine.api.security import CurrentUser
from engine.auth import directory

router = APIRouter(prefix="/directory", tags=["directory"])


@router.get("/users", response_model=list[PickedUser])
def pick_users(
    engine: DbEngine,
    principal: CurrentUser,
    q: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[dict[str, Any]]:
    """Active users who can sign in, searched by username or name: `{id, name, username, department}`."""
    with read_only(engine) as conn:
        return directory.pick_users(conn, q, limit)


@router.get("/departments", response_model=list[PickedDepartment])
def pick_departments(engine: DbEngine, principal: CurrentUser) -> list[dict[str, Any]]:
    """Every department as `{id, name, parent_id}`, in display order."""
    with read_only(engine) as conn:
        return directory.pick_departments(conn)
