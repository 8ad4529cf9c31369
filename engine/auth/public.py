"""Public links (外链) as anonymous people use them: see the form, submit it, or query it.

Every request first passes the gate (`open_link`): an unknown token is 404; a disabled or
expired link is 410 and audited (`public.expired`); more than the link's `rate_limit`
attempts from one address within `WINDOW` is 429 and audited (`public.throttled`); a
password-protected link needs the `X-Link-Password` header (missing: 401
`link_password_required`; wrong: 401 `bad_link_password`, audited as `public.password`).
Attempts are counted from the audit log (submissions, queries and wrong passwords, failed or
not), so the limit holds across worker processes without a cache; refusals are committed in
their own transaction before the error is raised.

Then the link's creator and owner must still hold the rights it publishes
(`engine.auth.links.current_rights`): otherwise it answers 410 `link_not_permitted` (audited as
`public.expired`, reason `not_permitted`); fields they may no longer see (or, on a fill link,
edit) are left out.

Both kinds open the form through the record service (`engine.forms.service`) as a
`public_link` caller (`link_caller`). A fill link creates the record with a `LinkAccess` that
makes every other field unknown (and system values unknown fields), on channel `public_link`,
owned by the link's owner and inside the creator's and owner's create scopes. A query link
lists records with a `LinkAccess` whose row scope is "the creator's and owner's view scopes, and every key
field equals the given value", so both are part of the SQL and only the link's fields are selected.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from engine.auth import audit
from engine.auth.credentials import verify_password
from engine.auth.links import (
    MAX_RATE_LIMIT,
    LinkAccess,
    LinkRights,
    current_rights,
    fillable_problem,
    link_bound,
)
from engine.core.context import Actor, ExecutionContext
from engine.core.errors import ServiceError, invalid, not_found
from engine.core.issues import Issue
from engine.core.moments import datetime_json
from engine.forms import apps
from engine.forms.access import Access
from engine.forms.layout import FormLayout
from engine.forms.linkage import SourceAccess
from engine.forms.live import live_scripts
from engine.forms.messages import issue
from engine.forms.service import Caller, open_form
from engine.forms.uploads import accepting, check_link_quota, too_large
from engine.settings import Settings
from engine.store.files import FileInfo, FileStore, FileTooLarge
from engine.store.models import App, AuditEntry, Form, PublicLink, utcnow

WINDOW = dt.timedelta(minutes=10)
COUNTED = ("public.submit", "public.query", "public.password", "public.upload")
MAX_RESULTS = 20
CHANNEL = "public_link"
# Field properties a public page may show; everything else (formulas, conditions, relations)
# could name or reveal fields outside the link.
SHOWN_PROPERTIES = (
    "key",
    "type",
    "label",
    "help",
    "width",
    "required",
    "min",
    "max",
    "pattern",
    "options",
    "precision",
    "currency",
    "level",
    "fields",
)


@dataclass(frozen=True)
class OpenLink:
    """A link that passed the gate."""

    id: int
    kind: str
    name: str
    fields: tuple[str, ...]
    key_fields: tuple[str, ...]
    owner_id: int | None
    app_key: str
    form_key: str
    expires_at: dt.datetime | None
    has_password: bool
    created_by: int | None
    rights: LinkRights  # the owner's rights when the link was opened

    @property
    def subject(self) -> str:
        return subject(self.id)

    def detail(self, **more: Any) -> dict[str, Any]:
        return {"link_id": self.id, "app": self.app_key, "form": self.form_key, **more}


def subject(link_id: int) -> str:
    """The audit subject of a link's public events (what rate limiting counts by)."""
    return f"link:{link_id}"


def _gone(code: str, zh: str, en: str) -> ServiceError:
    return ServiceError(410, code, message_zh=zh, message_en=en)


def recent_attempts(conn: Connection, link_id: int, ip: str | None) -> int:
    """Counted attempts on a link from one address within `WINDOW`."""
    query = select(func.count()).where(
        AuditEntry.kind.in_(COUNTED),
        AuditEntry.at >= utcnow() - WINDOW,
        AuditEntry.subject == subject(link_id),
        AuditEntry.ip == ip if ip else AuditEntry.ip.is_(None),
    )
    return int(conn.execute(query).scalar_one())


def open_link(engine: Engine, token: str, password: str | None, *, ip: str | None) -> OpenLink:
    """The link behind `token` if it may be used now (see the module docstring for refusals)."""
    failure: ServiceError
    with engine.begin() as conn:
        row = conn.execute(
            select(
                PublicLink.__table__,
                App.key.label("app_key"),
                Form.key.label("form_key"),
                Form.retired_at,
            )
            .join(App, App.id == PublicLink.app_id)
            .join(Form, Form.id == PublicLink.form_id)
            .where(PublicLink.token == token)
        ).first()
        if row is None or row.retired_at is not None:
            raise not_found()
        loaded = apps.load(conn, row.app_key)
        rights = current_rights(
            conn,
            loaded,
            loaded.form(row.form_key),
            kind=row.kind,
            fields=row.fields,
            key_fields=row.key_fields,
            owner_id=row.owner_id,
            created_by=row.created_by,
        )
        link = OpenLink(
            row.id,
            row.kind,
            row.name,
            tuple(row.fields),
            tuple(row.key_fields),
            row.owner_id,
            row.app_key,
            row.form_key,
            row.expires_at,
            row.password_hash is not None,
            row.created_by,
            rights or LinkRights(None, ()),
        )
        expired = row.expires_at is not None and row.expires_at <= utcnow()
        if not row.enabled or expired:
            reason = "disabled" if not row.enabled else "expired"
            audit.record(
                conn,
                "public.expired",
                success=False,
                ip=ip,
                subject=link.subject,
                detail=link.detail(reason=reason),
            )
            if expired:
                failure = _gone("link_expired", "该外链已过期", "This public link has expired")
            else:
                failure = _gone(
                    "link_disabled", "该外链已停用", "This public link has been disabled"
                )
        elif rights is None:
            audit.record(
                conn,
                "public.expired",
                success=False,
                ip=ip,
                subject=link.subject,
                detail=link.detail(reason="not_permitted"),
            )
            failure = _gone(
                "link_not_permitted",
                "该外链已失效：它的负责人已无权公开这些数据",
                "This public link no longer works: its owner may no longer share this data",
            )
        elif recent_attempts(conn, row.id, ip) >= min(row.rate_limit, MAX_RATE_LIMIT):
            audit.record(
                conn,
                "public.throttled",
                success=False,
                ip=ip,
                subject=link.subject,
                detail=link.detail(),
            )
            minutes = int(WINDOW.total_seconds() // 60)
            failure = ServiceError(
                429,
                "too_many_attempts",
                message_zh=f"提交过于频繁，请 {minutes} 分钟后再试",
                message_en=f"Too many attempts; try again in {minutes} minutes",
            )
        elif row.password_hash is not None and not password:
            failure = ServiceError(
                401,
                "link_password_required",
                message_zh="该外链需要密码（请求头 X-Link-Password）",
                message_en="This public link needs its password (the X-Link-Password header)",
            )
        elif row.password_hash is not None and not verify_password(
            row.password_hash, password or ""
        ):
            audit.record(
                conn,
                "public.password",
                success=False,
                ip=ip,
                subject=link.subject,
                detail=link.detail(),
            )
            failure = ServiceError(
                401,
                "bad_link_password",
                message_zh="外链密码错误",
                message_en="Wrong password for this public link",
            )
        else:
            return link
    raise failure


def _loaded(conn: Connection, link: OpenLink) -> tuple[apps.LoadedApp, FormLayout]:
    loaded = apps.load(conn, link.app_key)
    return loaded, loaded.form(link.form_key)


def _fill_fields(link: OpenLink, form: FormLayout) -> list[str]:
    """The link's fields that can still be filled in (the definition and the owner's rights
    may have changed since)."""
    return [
        k
        for k in link.rights.fields
        if k in form.fields and fillable_problem(form.fields[k]) is None
    ]


def _query_fields(link: OpenLink, form: FormLayout) -> list[str]:
    """The link's fields a query still shows (those the owner may still see)."""
    return [k for k in link.rights.fields if k in form.fields]


def _shown(definition: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in definition.items() if k in SHOWN_PROPERTIES}
    if isinstance(shown.get("fields"), list):
        shown["fields"] = [_shown(sub) for sub in shown["fields"] if isinstance(sub, dict)]
    return shown


def describe(engine: Engine, link: OpenLink) -> dict[str, Any]:
    """What a public page needs to render the link: its kind, name and only its fields."""
    with engine.connect() as conn:
        loaded, form = _loaded(conn, link)
    definition = next(f for f in loaded.definition["forms"] if f["key"] == form.key)
    by_key = {f["key"]: f for f in definition["fields"]}
    keys = _fill_fields(link, form) if link.kind == "fill" else _query_fields(link, form)
    result: dict[str, Any] = {
        "kind": link.kind,
        "name": link.name,
        "app": {"key": loaded.key, "name": loaded.definition.get("name")},
        "form": {"key": form.key, "name": definition.get("name")},
        "fields": [_shown(by_key[k]) for k in keys if k in by_key],
        "expires_at": datetime_json(link.expires_at) if link.expires_at is not None else None,
    }
    if link.kind == "query":
        result["key_fields"] = [_shown(by_key[k]) for k in link.key_fields if k in by_key]
    return result


def live(engine: Engine, link: OpenLink) -> dict[str, Any]:
    """A fill link's show/hide and read-only rules (and its subform rows' formulas) compiled for
    the browser. Every field outside the link counts as hidden, so only rules over the link's own
    fields are sent; the rest is still applied by the server on submit. Query links fill nothing
    and get no rules."""
    with engine.connect() as conn:
        _, form = _loaded(conn, link)
    shown = set(_fill_fields(link, form)) if link.kind == "fill" else set()
    return live_scripts(form, frozenset(key for key in form.fields if key not in shown))


def _failed(engine: Engine, kind: str, link: OpenLink, exc: ServiceError, ip: str | None) -> None:
    """Audit (and commit) a refused submission or query, so it counts towards the limit."""
    problems = [{"path": i.path, "code": i.code} for i in exc.issues[:20]]
    with engine.begin() as conn:
        audit.record(
            conn,
            kind,
            success=False,
            ip=ip,
            subject=link.subject,
            detail=link.detail(code=exc.code, issues=problems),
        )


def submit(
    engine: Engine, link: OpenLink, body: Any, *, ip: str | None, ctx: ExecutionContext
) -> dict[str, Any]:
    """Create one record from a fill link, or run a query link (see the module docstring), in
    the request's context `ctx` (its clock and the organisation's time zone)."""
    if link.kind == "fill":
        return _fill(engine, link, body, ip, ctx)
    return _query(engine, link, body, ip, ctx)


def _fill(
    engine: Engine, link: OpenLink, body: Any, ip: str | None, ctx: ExecutionContext
) -> dict[str, Any]:
    try:
        with engine.begin() as conn:
            loaded, form = _loaded(conn, link)
            access = LinkAccess(
                "fill",
                frozenset(_fill_fields(link, form)),
                frozenset(form.fields),
                owner=link.rights.access,
            )
            filler = ctx.with_actor(Actor(None, CHANNEL, owner=link.owner_id, link_id=link.id))
            caller = link_caller(access, owner_access(link, loaded))
            [record_id] = open_form(filler, conn, loaded, form.key, caller).create_many([body])
            audit.record(
                conn,
                "public.submit",
                ip=ip,
                subject=link.subject,
                detail=link.detail(record_id=record_id, owner_id=link.owner_id),
            )
    except ServiceError as exc:
        _failed(engine, "public.submit", link, exc, ip)
        raise
    return {"submitted": True}


def upload(
    engine: Engine,
    link: OpenLink,
    field: str,
    store: FileStore,
    stream: BinaryIO,
    name: str,
    mime: str,
    *,
    ip: str | None,
    size: int,
    settings: Settings,
) -> FileInfo:
    """Store a file of `size` bytes for one of a fill link's file fields (counted like a
    submission, within the link's daily upload quota). The upload remembers the link: only a
    submission through it may reference the file, and nobody may download it except through a
    record that holds it; one that no submission uses is removed by the orphan sweep."""
    try:
        with engine.begin() as conn:
            _, form = _loaded(conn, link)
            layout = form.fields.get(field)
            if (
                link.kind != "fill"
                or layout is None
                or not layout.kind.traits.is_file
                or field not in _fill_fields(link, form)
            ):
                raise invalid([issue("field", "not_a_file_field", key=field[:64])])
            if size > store.max_bytes:
                raise too_large(store.max_bytes)
            check_link_quota(conn, settings, link.id, size)
            try:
                info = store.save(
                    conn,
                    stream,
                    name,
                    mime,
                    None,
                    link_id=link.id,
                    accept=accepting(layout.spec.type),
                )
            except FileTooLarge:
                raise too_large(store.max_bytes) from None
            audit.record(
                conn,
                "public.upload",
                ip=ip,
                subject=link.subject,
                detail=link.detail(file_id=info.file_id, field=field, size=info.size),
            )
    except ServiceError as exc:
        _failed(engine, "public.upload", link, exc, ip)
        raise
    return info


def link_caller(access: LinkAccess, linkage: SourceAccess | None = None) -> Caller:
    """A link's anonymous visitor as a record-service caller: the link's rights, nobody as
    CURRENT_USER(), data linkage read with the link's bound (`owner_access`)."""
    return Caller("public_link", access, source_access=linkage, via=CHANNEL)


def owner_access(link: OpenLink, loaded: apps.LoadedApp) -> SourceAccess:
    """Data linkage on a fill link reads source forms with the link's bound: what both its
    owner and its creator may read (unrestricted for administrators and the admin token,
    nothing for a deactivated account)."""

    def access(conn: Connection, source: FormLayout) -> Access | None:
        return link_bound(conn, loaded, source, owner_id=link.owner_id, created_by=link.created_by)

    return access


def _query(
    engine: Engine, link: OpenLink, body: Any, ip: str | None, ctx: ExecutionContext
) -> dict[str, Any]:
    try:
        with engine.begin() as conn:
            loaded, form = _loaded(conn, link)
            keys = _key_values(form, link, body)
            shown = _query_fields(link, form)
            access = LinkAccess(
                "query",
                frozenset(shown),
                frozenset(form.fields),
                keys=keys,
                owner=link.rights.access,
            )
            service = open_form(ctx, conn, loaded, form.key, link_caller(access))
            page = service.list(sort="-_id", limit=MAX_RESULTS, count=False)
            items = [{k: item[k] for k in shown if k in item} for item in page.items]
            audit.record(
                conn,
                "public.query",
                ip=ip,
                subject=link.subject,
                detail=link.detail(found=len(items)),
            )
    except ServiceError as exc:
        _failed(engine, "public.query", link, exc, ip)
        raise
    return {"items": items}


def _key_values(form: FormLayout, link: OpenLink, body: Any) -> tuple[tuple[str, Any], ...]:
    """The query's value of every key field, coerced like a record's; 422 for blank or extra keys."""
    issues: list[Issue] = [
        issue(k, "unknown_field", key=k) for k in body if k not in link.key_fields
    ]
    keys: list[tuple[str, Any]] = []
    for key in link.key_fields:
        layout = form.fields.get(key)
        if layout is None:
            raise not_found()  # the definition dropped a key field: the link no longer works
        raw = body.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            issues.append(issue(key, "required"))
            continue
        if layout.kind.traits.computed:  # a serial number: matched as the text typed
            if not isinstance(raw, str):
                issues.append(issue(key, "expected_text"))
                continue
            value: Any = raw
        else:
            value, found = layout.kind.coerce(layout.spec, raw)
            if found:
                issues.extend(i.under(key) for i in found)
                continue
            if value is None:
                issues.append(issue(key, "required"))
                continue
        keys.append((key, value))
    if issues:
        raise invalid(issues)
    return tuple(keys)


__all__ = [
    "CHANNEL",
    "COUNTED",
    "MAX_RESULTS",
    "WINDOW",
    "OpenLink",
    "describe",
    "open_link",
    "recent_attempts",
    "subject",
    "submit",
    "upload",
]
