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
           [, set_config('statement_timeout', '5000ms', true)]   -- in a PostgreSQL transaction
    FROM (SELECT 1) LEFT JOIN jimu_caller ON true
         LEFT JOIN (apps row of the key) AS jimu_live ON true
         LEFT JOIN (the caller's main department UNION ALL their others) ON true

one row per department (at least one). Nothing is cached across requests, so a revoked
token, a deactivated user, changed departments or roles and a new revision take effect on
the very next request in every process, exactly as before. The credential is judged by the
same function as on every other route (`engine.auth.sessions.CredentialQuery.caller`), and
refusals are written down the same way (`engine.api.security.settle`).

On PostgreSQL the read routes run on a pool of autocommit connections that carry interactive
work's time limit from when they are made (engine.store.read_pool, "Reads in fewer PostgreSQL
round trips"): no BEGIN, no ROLLBACK and no time limit column, so a read is the opening
statement and the page; every later statement checks that the revision opened on is still
live, and `read` starts the read again when a publish committed in between.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import (
    Integer,
    Select,
    String,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from engine.api.deps import context_for, read_only
from engine.api.security import (
    CSRF_HEADER,
    SAFE_METHODS,
    client_ip,
    credential_of,
    csrf_refused,
    settle,
)
from engine.auth import sessions
from engine.auth.callers import open_as
from engine.auth.principal import Principal
from engine.auth.sessions import CredentialQuery
from engine.core.errors import ServiceError
from engine.forms.service import RecordService
from engine.store.driver_exec import driver_rows
from engine.store.limits import Work, postgres_setting, seconds_for, statement_limit
from engine.store.models import App, Department, Role, RoleMember, User, UserDepartment
from engine.store.read_pool import (
    LIVE,
    StaleRevision,
    is_stale,
    outdated_plans,
    read_engine,
)

T = TypeVar("T")
ATTEMPTS = 3  # a read that finds the app published under it starts again, at most this often

# Per credential statement (module constants, one per kind of credential) and time limit.
_BUILT: dict[tuple[Any, bool, bool], Select[Any]] = {}


def opening_statement(
    credential: CredentialQuery, time_limit: bool, roles: bool = False
) -> Select[Any]:
    """The one statement that opens a read as `credential`'s caller (built once per kind of
    credential; the values are bound parameters: the credential's, ``jimu_app`` and, with
    `time_limit`, ``jimu_limit``). `roles`: also the keys of the app's roles the caller holds,
    directly or through one of their departments or a department above one (rows with
    ``jimu_extra`` 2 and ``jimu_role``), for a credential that may be a member's."""
    key = (credential.statement, time_limit, roles)
    built = _BUILT.get(key)
    if built is None:
        built = _BUILT[key] = _build(credential, time_limit, roles)
    return built


def _build(credential: CredentialQuery, time_limit: bool, roles: bool) -> Select[Any]:
    caller = credential.statement.add_columns(literal_column("1").label("jimu_found")).cte(
        "jimu_caller"
    )
    user = caller.c[credential.user_column]
    live = (
        select(App.id.label("jimu_app_id"), App.current_revision.label("jimu_revision"))
        .where(App.key == bindparam("jimu_app"))
        .subquery("jimu_live")
    )
    no_role = cast(null(), String).label("jimu_role")
    branches: list[Any] = [
        select(
            literal_column("0").label("jimu_extra"),
            User.department_id.label("jimu_department"),
            no_role,
        ).join_from(User, caller, User.id == user),
        select(literal_column("1"), UserDepartment.department_id, no_role).join_from(
            UserDepartment, caller, UserDepartment.user_id == user
        ),
    ]
    if roles:
        branches.append(_held_roles(caller, user))
    departments = union_all(*branches).subquery("jimu_departments")
    one = select(literal_column("1").label("jimu_one")).subquery("jimu_one")
    columns: list[Any] = [*caller.c, *live.c, *departments.c]
    if time_limit:
        setting = func.set_config("statement_timeout", bindparam("jimu_limit"), true())
        columns.append(setting.label("jimu_limit_set"))
    return select(*columns).select_from(
        one.outerjoin(caller, true()).outerjoin(live, true()).outerjoin(departments, true())
    )


def _held_roles(caller: Any, user: Any) -> Any:
    """The keys of app ``jimu_app``'s roles `user` holds (engine.auth.permissions.held_roles
    as SQL): given to them, or to one of their departments or a department above one (a
    recursive CTE up the tree; UNION stops at a cycle)."""
    mine = union(
        select(User.department_id.label("id")).join_from(User, caller, User.id == user),
        select(UserDepartment.department_id).join_from(
            UserDepartment, caller, UserDepartment.user_id == user
        ),
    ).cte("jimu_mine")
    above = select(mine.c.id).where(mine.c.id.is_not(None)).cte("jimu_above", recursive=True)
    above = above.union(
        select(Department.parent_id)
        .join(above, Department.id == above.c.id)
        .where(Department.parent_id.is_not(None))
    )
    held = or_(RoleMember.user_id == user, RoleMember.department_id.in_(select(above.c.id)))
    return (
        select(literal_column("2"), cast(null(), Integer), Role.key)
        .join_from(Role, App, (App.id == Role.app_id) & (App.key == bindparam("jimu_app")))
        .join(RoleMember, RoleMember.role_id == Role.id)
        .join(caller, held)
    )


def open_read(
    conn: Connection,
    request: Request,
    app: str,
    form: str,
    limit_seconds: float,
    record: int | None = None,
    *,
    guard: bool = False,
) -> RecordService:
    """`form` of `app` opened for the request's caller with one statement (see the module):
    401 for a missing or invalid credential, 404 when the caller may not see the form.
    `limit_seconds` > 0 (PostgreSQL in a transaction): the statement also sets the
    transaction's time limit. `record`: a read of that one record, which a flow task may allow
    (`open_as`). `guard` (a connection of engine.store.read_pool): every later SELECT on `conn`
    checks that the revision read here is still live (the connection's `LIVE`)."""
    if request.method not in SAFE_METHODS:  # a cookie's unsafe request needs its CSRF check
        raise ValueError("open_read is for safe methods only")
    credential = credential_of(request)
    query = credential.query
    statement = opening_statement(query, limit_seconds > 0, roles=credential.kind != "admin")
    params = {**query.params, "jimu_app": app}
    if limit_seconds > 0:
        params["jimu_limit"] = postgres_setting(limit_seconds)
    rows = driver_rows(conn, statement, params).named()
    first = rows[0]
    principal = settle(request, credential, first if first.jimu_found is not None else None)
    request.state.principal = principal  # as current_principal: denials are audited with it
    departments, held = _departments_and_roles(rows, admin=credential.kind == "admin")
    if guard and first.jimu_app_id is not None and first.jimu_revision is not None:
        conn.info[LIVE] = (first.jimu_app_id, first.jimu_revision)
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
        roles=held if principal.user_id is not None else None,
        record=record,
    )


@dataclass(frozen=True)
class Opened:
    """A caller as the opening statement found them (`open_caller`): who they are, the app's
    id and live revision, their departments and the keys of the app's roles they hold (None
    for the administrator and the admin token: not read)."""

    principal: Principal
    live: tuple[int | None, int | None]
    departments: tuple[int, ...] | None
    roles: set[str] | None


def open_caller(conn: Connection, request: Request, app: str, limit_seconds: float) -> Opened:
    """The request's caller opened with one statement (see the module), for a read that does
    not know its form before the app is loaded (a report: its form is in the definition or the
    body). Also for an unsafe method that only reads (a report's POST): a session cookie then
    needs its X-CSRF-Token, checked on `conn` (403 ``csrf_failed``, written down). 401 for a
    missing or invalid credential. `limit_seconds` > 0 (PostgreSQL in a transaction): the
    statement also sets the transaction's time limit."""
    credential = credential_of(request)
    query = credential.query
    statement = opening_statement(query, limit_seconds > 0, roles=credential.kind != "admin")
    params = {**query.params, "jimu_app": app}
    if limit_seconds > 0:
        params["jimu_limit"] = postgres_setting(limit_seconds)
    rows = driver_rows(conn, statement, params).named()
    first = rows[0]
    principal = settle(request, credential, first if first.jimu_found is not None else None)
    request.state.principal = principal  # as current_principal: denials are audited with it
    if (
        credential.kind == "cookie"
        and request.method not in SAFE_METHODS
        and not sessions.csrf_matches(conn, principal, request.headers.get(CSRF_HEADER))
    ):
        raise csrf_refused(request, principal)
    departments, held = _departments_and_roles(rows, admin=credential.kind == "admin")
    member = principal.user_id is not None
    return Opened(
        principal,
        (first.jimu_app_id, first.jimu_revision),
        departments if member else None,
        held if member else None,
    )


@contextmanager
def reading(
    engine: Engine, request: Request, app: str, form: str, record: int | None = None
) -> Iterator[RecordService]:
    """`form` opened for the caller (`open_read`) on one connection, every statement under
    interactive work's time limit. On SQLite: a read-only transaction (one snapshot, never the
    write lock). On PostgreSQL: a connection of the autocommit read pool
    (engine.store.read_pool), no transaction, so the read is its statements alone — the opening
    statement, then the page —, each checking that the revision read is still live; a
    statement that finds a newer one raises `StaleRevision` (`read` starts again). `record`: a
    read of that one record (a flow task may allow it beyond the caller's roles)."""
    seconds = seconds_for(request.app.state.settings, Work.INTERACTIVE)
    reads = read_engine(engine, seconds)
    if reads is None:
        with (
            read_only(engine) as conn,
            statement_limit(conn, Work.INTERACTIVE, seconds, transaction_ends=True),
        ):
            yield open_read(conn, request, app, form, 0, record)
        return
    # The limit is the connection's own (set when it was made): nothing is sent for it here;
    # the block maps a statement it stopped to 422 `query_timeout`.
    with (
        reads.connect() as conn,
        statement_limit(conn, Work.INTERACTIVE, seconds, transaction_ends=True, preset=True),
        _restarting(conn, app),
    ):
        yield open_read(conn, request, app, form, 0, record, guard=True)


def read(
    engine: Engine,
    request: Request,
    app: str,
    form: str,
    work: Callable[[RecordService], T],
    record: int | None = None,
) -> T:
    """`work` done with `form` opened for the caller (`reading`). Should the app be published
    while it runs (PostgreSQL: a statement found a newer live revision than the read opened
    on), the read starts again from its opening statement, on the new revision; after
    `ATTEMPTS` such starts, a 409 ``app_republished`` asks the client to try again."""
    for _ in range(ATTEMPTS):
        try:
            with reading(engine, request, app, form, record) as service:
                return work(service)
        except StaleRevision:
            continue
    raise _republished()


def read_as_caller(
    engine: Engine,
    request: Request,
    app: str,
    limit: Work,
    work: Callable[[Connection, Opened], T],
) -> T:
    """`work` done on one connection with the caller opened on it (`open_caller`: one
    statement), every statement under `limit`'s time limit — for a read whose form is known
    only once the app is loaded (a report). On SQLite: a read-only transaction. On PostgreSQL:
    a connection of the autocommit read pool of that limit (engine.store.read_pool), as
    records reads (`reading`): no BEGIN and no ROLLBACK, and psycopg keeps its prepared
    statements (a ROLLBACK clears them), so the opening statement and the work's are planned
    once per connection, not per request. Every statement after the opening one checks that
    the revision it read is still live; when a publish committed in between, the read starts
    again (at most `ATTEMPTS` times, then 409 ``app_republished``)."""
    seconds = seconds_for(request.app.state.settings, limit)
    reads = read_engine(engine, seconds)
    if reads is None:
        with (
            read_only(engine) as conn,
            statement_limit(conn, limit, seconds, transaction_ends=True),
        ):
            return work(conn, open_caller(conn, request, app, 0))
    for _ in range(ATTEMPTS):
        try:
            with (
                reads.connect() as conn,
                statement_limit(conn, limit, seconds, transaction_ends=True, preset=True),
            ):
                return _guarded_work(conn, request, app, work)
        except StaleRevision:
            continue
    raise _republished()


def _guarded_work(
    conn: Connection, request: Request, app: str, work: Callable[[Connection, Opened], T]
) -> T:
    """`work` after the opening statement on a read pool connection, its statements guarded
    by the revision the opening read (a stale one raises `StaleRevision`)."""
    with _restarting(conn, app):
        opened = open_caller(conn, request, app, 0)
        app_id, revision = opened.live
        if app_id is not None and revision is not None:
            conn.info[LIVE] = (app_id, revision)
        return work(conn, opened)


@contextmanager
def _restarting(conn: Connection, app: str) -> Iterator[None]:
    """A read on a read pool connection: a statement that found the app published since the
    read opened, or a prepared plan a publish outdated (`outdated_plans`), raises
    `StaleRevision` (the caller starts the read again); the revision read is forgotten after."""
    try:
        yield
    except DBAPIError as exc:
        if is_stale(exc) or outdated_plans(conn, exc):
            raise StaleRevision(app) from exc
        raise
    finally:
        conn.info.pop(LIVE, None)


def _republished() -> ServiceError:
    return ServiceError(
        409,
        "app_republished",
        message_zh="应用正在发布新版本，请稍后重试",
        message_en="The app is being published again and again: try again in a moment",
    )


__all__ = [
    "ATTEMPTS",
    "Opened",
    "open_caller",
    "open_read",
    "opening_statement",
    "read",
    "read_as_caller",
    "reading",
]


def _departments_and_roles(
    rows: Sequence[Any], *, admin: bool
) -> tuple[tuple[int, ...], set[str] | None]:
    """The caller's departments (main first, no repeats) and the app roles they hold (None for
    the admin token) from the opening statement's rows."""
    found = sorted(
        (
            (int(row.jimu_extra), row.jimu_department)
            for row in rows
            if row.jimu_extra is not None and int(row.jimu_extra) < 2
        ),
        key=lambda pair: pair[0],
    )
    departments = tuple(dict.fromkeys(d for _, d in found if d is not None))
    held = None if admin else {row.jimu_role for row in rows if row.jimu_role is not None}
    return departments, held
