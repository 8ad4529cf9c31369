"""通讯录 (organisation admin) for the browser: users by department, password resets, deleting a
department, and the Excel import of departments and users (thin router; the logic lives in
`engine.auth.org` and `engine.auth.org_import`). Administrators only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from engine.api.deps import DbEngine, read_only
from engine.api.schemas.org import OrgImportOut, PasswordResetOut, People
from engine.api.security import AdminUser
from engine.auth import org, org_import
from engine.forms.uploads import read_limited

router = APIRouter(tags=["admin"])

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
MAX_IMPORT_BYTES = 10 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class PasswordReset(BaseModel):
    """The new password, or none for a generated one (answered once)."""

    model_config = ConfigDict(extra="forbid")

    password: Annotated[str, Field(max_length=256)] | None = None


@router.get("/org/users", response_model=People)
def org_users(
    engine: DbEngine,
    principal: AdminUser,
    department: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    children: bool = True,
    q: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=org.MAX_USERS)] = 200,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> dict[str, Any]:
    """`{users, total}`: users of a department (and by default its sub-departments), or all,
    searched by username, name, phone or email, with department and manager names and the app
    roles each holds."""
    with read_only(engine) as conn:
        return org.list_people(
            conn, department_id=department, children=children, q=q, limit=limit, offset=offset
        )


@router.post("/users/{user_id}/password", response_model=PasswordResetOut)
def reset_password(
    user_id: Id, body: PasswordReset, engine: DbEngine, principal: AdminUser
) -> dict[str, Any]:
    """Set a user's password; without one a password is generated and answered here only
    (`{"password": …}`, else null). Every session and API token of the user ends."""
    with engine.begin() as conn:
        generated = org.reset_password(
            conn,
            user_id,
            body.password,
            actor_id=principal.user_id,
            keep_session_id=principal.session_id if principal.user_id == user_id else None,
        )
    return {"password": generated}


@router.delete("/departments/{department_id}", status_code=204)
def delete_department(department_id: Id, engine: DbEngine, principal: AdminUser) -> None:
    """Delete an empty department (422 `department_not_empty` naming its members and
    sub-departments otherwise)."""
    with engine.begin() as conn:
        org.delete_department(conn, department_id, actor_id=principal.user_id)


@router.get("/org/import/template", response_class=Response)
def import_template(principal: AdminUser) -> Response:
    """The import workbook: sheets 部门 and 用户 with Chinese headers and an example row."""
    return Response(
        org_import.template(),
        media_type=XLSX,
        headers={"Content-Disposition": "attachment; filename*=UTF-8''org-import.xlsx"},
    )


@router.post("/org/import", response_model=OrgImportOut, response_model_exclude_unset=True)
def import_org(
    engine: DbEngine,
    principal: AdminUser,
    file: Annotated[UploadFile, File(description="The import workbook (.xlsx)")],
    dry_run: bool = False,
) -> dict[str, Any]:
    """Departments and users from the import workbook. `dry_run=true` answers `{ok, errors,
    departments, users}` and writes nothing; each error is `{sheet, row, column, code, message:
    {zh, en}}`. Without it the workbook is written in one transaction, or refused whole (422,
    the same errors as issues); generated initial passwords are answered once (`passwords`)."""
    data = read_limited(file.file, MAX_IMPORT_BYTES)
    book = org_import.read(data)
    if dry_run:
        with read_only(engine) as conn:
            return org_import.summary(org_import.check(conn, book))
    with engine.begin() as conn:
        return org_import.apply(conn, org_import.check(conn, book), actor_id=principal.user_id)
