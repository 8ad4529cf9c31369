"""Turning an authenticated principal into a record-service caller (issue 11, item 2).

The forms engine's record service (`engine.forms.service`) checks permissions with the
`Caller` it is given; this module builds that caller for a signed-in user or token: their
`FormAccess` (None for administrators), the member CURRENT_USER() reads, how data linkage and
imports read other forms as them, whether the credential may write, and an auditor that writes
entries with their id and address. `open_as` is "open this form as this principal", the one
entry the routers use; public links build their own caller (`engine.auth.public`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from engine.auth import audit
from engine.auth.permissions import form_access, source_access, user_departments
from engine.auth.principal import Principal
from engine.core.context import ExecutionContext
from engine.core.errors import forbidden, not_found
from engine.forms import apps
from engine.forms.layout import FormLayout
from engine.forms.resolve import NOBODY, Who
from engine.forms.service import Auditor, Caller, RecordService, open_form


def auditor(actor_id: int | None, ip: str | None) -> Auditor:
    """Audit entries written as `actor_id` from `ip` (both may be None: the command line)."""

    def write(
        conn: Connection, kind: str, *, success: bool, subject: str, detail: dict[str, Any]
    ) -> None:
        audit.record(
            conn, kind, actor_id=actor_id, success=success, ip=ip, subject=subject, detail=detail
        )

    return write


def member_caller(
    conn: Connection,
    principal: Principal,
    loaded: apps.LoadedApp,
    form: FormLayout,
    *,
    ip: str | None = None,
    departments: tuple[int, ...] | None = None,
    roles: set[str] | None = None,
) -> Caller:
    """`principal` as a caller of `form`: unrestricted for administrators (CURRENT_USER() is
    still them), their roles' union otherwise. `departments` and `roles` (the keys of the
    app's roles they hold): the caller's, when already read (engine.api.opening), else
    statements read them."""
    linkage = source_access(principal, loaded.id, loaded.layout.spec)
    write = auditor(principal.user_id, ip)
    if principal.is_admin:
        user = principal.user_id
        if user is not None and departments is None:
            departments = user_departments(conn, user)
        who = Who(user, departments) if user is not None and departments is not None else NOBODY
        return Caller(
            "member",
            None,
            who,
            linkage,
            may_write=principal.can_write,
            via=principal.via,
            audit=write,
        )
    access = form_access(
        conn, principal, loaded.id, loaded.layout.spec, form, departments=departments, held=roles
    )
    return Caller(
        "member",
        access,
        Who.of(access),
        linkage,
        may_write=principal.can_write,
        via=principal.via,
        audit=write,
    )


def open_as(
    ctx: ExecutionContext,
    conn: Connection,
    principal: Principal,
    app: str,
    form: str,
    *,
    writes: bool,
    ip: str | None = None,
    live: tuple[int | None, int | None] | None = None,
    departments: tuple[int, ...] | None = None,
    roles: set[str] | None = None,
    record: int | None = None,
) -> RecordService:
    """The form opened for `principal`: 404 when they may not use the app or view the form (no
    existence leak), 403 when `writes` and their credential is read-only. `live` (the app's
    id and live revision) and `departments` (the caller's): when the caller already read them
    (engine.api.opening), no statement reads them again; so with `roles`, the keys of
    the app's roles they hold. `record`: a read of that one record,
    which a record grant (a flow task) may allow beyond their roles (`open_form`)."""
    if not principal.may_use_app(app):
        raise not_found()
    if writes and not principal.can_write:
        raise forbidden()
    loaded = apps.load(conn, app, live)
    layout = loaded.form(form)
    caller = member_caller(
        conn, principal, loaded, layout, ip=ip, departments=departments, roles=roles
    )
    return open_form(ctx, conn, loaded, form, caller, record=record)


__all__ = ["auditor", "member_caller", "open_as"]
