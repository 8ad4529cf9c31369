"""Opening a records read in one statement (issue 12, "Fewer round trips per read").

Before its page, a records read needs the caller (their credential: the admin token's user, a
session or an API token), on PostgreSQL the statement time limit of interactive work, the
app's live revision (so a publish by any process is seen) and the caller's departments
(CURRENT_DEPARTMENTS(), a scope's department tree). Each used to be a statement of its own,
on two connections (authentication's and the endpoint's, each with its BEGIN and ROLLBACK);
on PostgreSQL every statement is a round trip. `reading` sends them as ONE statement on the
endpoint's connection::

    WITH jimu_caller AS (<the credential's query>, 1 AS jimu_found)
    SELECT jimu_caller.*, jimu_live.*, jimu_departments.*
           [, set_config('statement_timeout', '5000ms', true)]          -- PostgreSQL
    FROM (SELECT 1) LEFT JOIN jimu_caller ON true
         LEFT JOIN (apps row of the key) AS jimu_live ON true
         LEFT JOIN (the caller's main department UNION ALL their others) ON true

one row per department (at least one). Nothing is cached across requests, so a revoked
token, a deactivated user, changed departments or roles and a new revision take effect on
the very next request in every process, exactly as before. The credential is judged by the
same function as on every other route (`engine.auth.sessions.CredentialQuery.caller`), and
refusals are written down the same way (`engine.api.security.settle`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from sqlalchemy import Select, bindparam, func, literal_column, select, true, union_all
from sqlalchemy.engine import Connection, Engine

from engine.api.deps import context_for, read_only
from engine.api.security import SAFE_METHODS, client_ip, credential_of, settle
from engine.auth.callers import open_as
from engine.auth.sessions import CredentialQuery
from engine.forms.service import RecordService
from engine.store.limits import Work, postgres_setting, seconds_for, statement_limit
from engine.store.models import App, User, UserDepartment

# Per credential statement (module constants, one per kind of credential) and time limit.
_BUILT: dict[tuple[Any, bool], Select[Any]] = {}


def opening_statement(credential: CredentialQuery, time_limit: bool) -> Select[Any]:
    """The one statement that opens a read as `credential`'s caller (built once per kind of
    credential; the values are bound parameters: the credential's, ``jimu_app`` and, with
    `time_limit`, ``jimu_limit``)."""
    key = (credential.statement, time_limit)
    built = _BUILT.get(key)
    if built is None:
        built = _BUILT[key] = _build(credential, time_limit)
    return built


def _build(credential: CredentialQuery, time_limit: bool) -> Select[Any]:
    caller = credential.statement.add_columns(literal_column("1").label("jimu_found")).cte(
        "jimu_caller"
    )
    user = caller.c[credential.user_column]
    live = (
        select(App.id.label("jimu_app_id"), App.current_revision.label("jimu_revision"))
        .where(App.key == bindparam("jimu_app"))
        .subquery("jimu_live")
    )
    departments = union_all(
        select(
            literal_column("0").label("jimu_extra"), User.department_id.label("jimu_department")
        ).join_from(User, caller, User.id == user),
        select(literal_column("1"), UserDepartment.department_id).join_from(
            UserDepartment, caller, UserDepartment.user_id == user
        ),
    ).subquery("jimu_departments")
    one = select(literal_column("1").label("jimu_one")).subquery("jimu_one")
    columns: list[Any] = [*caller.c, *live.c, *departments.c]
    if time_limit:
        setting = func.set_config("statement_timeout", bindparam("jimu_limit"), true())
        columns.append(setting.label("jimu_limit_set"))
    return select(*columns).select_from(
        one.outerjoin(caller, true()).outerjoin(live, true()).outerjoin(departments, true())
    )


def open_read(
    conn: Connection,
    request: Request,
    app: str,
    form: str,
    limit_seconds: float,
    record: int | None = None,
) -> RecordService:
    """`form` of `app` opened for the request's caller with one statement (see the module):
    401 for a missing or invalid credential, 404 when the caller may not see the form.
    `limit_seconds` > 0 (PostgreSQL): the statement also sets the transaction's time limit.
    `record`: a read of that one record, which a flow task may allow (`open_as`)."""
    if request.method not in SAFE_METHODS:  # a cookie's unsafe request needs its CSRF check
        raise ValueError("open_read is for safe methods only")
    credential = credential_of(request)
    query = credential.query
    statement = opening_statement(query, limit_seconds > 0)
    params = {**query.params, "jimu_app": app}
    if limit_seconds > 0:
        params["jimu_limit"] = postgres_setting(limit_seconds)
    rows = conn.execute(statement, params).all()
    first = rows[0]
    principal = settle(request, credential, first if first.jimu_found is not None else None)
    request.state.principal = principal  # as current_principal: denials are audited with it
    found = sorted(
        ((row.jimu_extra, row.jimu_department) for row in rows if row.jimu_extra is not None),
        key=lambda pair: int(pair[0]),
    )
    departments = tuple(dict.fromkeys(d for _, d in found if d is not None))
    return open_as(
        context_for(request, principal.actor()),
        conn,
        principal,
        app,
        form,
        writes=False,
        ip=client_ip(request),
        live=(first.jimu_app_id, first.jimu_revision),
        departments=departments if principal.user_id is not None else None,
        record=record,
    )


@contextmanager
def reading(
    engine: Engine, request: Request, app: str, form: str, record: int | None = None
) -> Iterator[RecordService]:
    """A read-only transaction under interactive work's time limit with `form` opened for the
    caller (`open_read`): on PostgreSQL the credential, the limit, the revision and the
    departments are one statement, and the connection is the request's only one. `record`:
    a read of that one record (a flow task may allow it beyond the caller's roles)."""
    with read_only(engine) as conn:
        seconds = seconds_for(request.app.state.settings, Work.INTERACTIVE)
        preset = conn.dialect.name == "postgresql"
        with statement_limit(conn, Work.INTERACTIVE, seconds, transaction_ends=True, preset=preset):
            yield open_read(conn, request, app, form, seconds if preset else 0, record)


__all__ = ["open_read", "opening_statement", "reading"]
