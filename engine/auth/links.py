"""Public links (外链) as builders manage them: create, list, change and delete, with validation.

A link belongs to one form of one app and is either a **fill** link (anonymous people create
records, filling only `fields`; the records belong to `owner_id`) or a **query** link (people
find their own records by exact values of every `key_fields` entry and see only `fields`).
Its token is random and kept in clear: it is the published part of the URL, so builders can
show the link again; an optional password is stored only as an argon2 hash. Every change is
audited (`link.create`, `link.update`, `link.delete`); neither token nor password reaches the
audit log. What anonymous people can do with a link lives in `engine.auth.public`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, delete, false, insert, select, true, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from engine.auth import audit
from engine.auth.credentials import hash_password
from engine.auth.permissions import held_roles, user_departments
from engine.auth.principal import Principal
from engine.core.issues import Issue
from engine.forms import apps
from engine.forms.common import ValueFieldSpec, label_text
from engine.forms.errors import ServiceError, not_found
from engine.forms.field_types.values import datetime_json
from engine.forms.layout import FieldLayout, FormLayout
from engine.forms.uploads import FILE_FIELD_TYPES
from engine.store.models import Form, PublicLink, User, utcnow

Kind = Literal["fill", "query"]
DEFAULT_RATE_LIMIT = 20
"""Submissions (or queries) per address per link in `engine.auth.public.WINDOW`."""
MIN_PASSWORD_LENGTH = 4
# Anonymous people cannot pick users, departments or other records (they would see the directory
# or other records); files they upload through the link itself (`POST /public/{token}/files`).
NOT_FILLABLE = frozenset({"relation", "user", "users", "department", "departments"})
KEY_TYPES = frozenset({"text", "email", "phone", "url", "number", "integer", "money", "date", "select", "serial"})


@dataclass(frozen=True)
class LinkAccess:
    """A public link's rights on its form, as the record pipeline reads them
    (`engine.forms.access.Access`): a fill link may only create, editing `fields`; a query
    link may only view the records matching `keys` exactly, and sees only `fields`."""

    kind: Kind
    fields: frozenset[str]
    form_keys: frozenset[str]
    keys: tuple[tuple[str, Any], ...] = ()

    def allows(self, action: str) -> bool:
        return action == ("create" if self.kind == "fill" else "view")

    def access(self, key: str) -> str:
        if key not in self.fields:
            return "hidden"
        return "editable" if self.kind == "fill" else "read_only"

    def hidden(self) -> frozenset[str]:
        return self.form_keys - self.fields

    def where(self, action: str, table: Any, resolver: Any) -> ColumnElement[bool]:
        if self.kind == "fill" and action == "create":  # whatever the person submits is in scope
            return true()
        if self.kind != "query" or action != "view" or not self.keys:
            return false()
        return and_(*(resolver.value(key) == value for key, value in self.keys))

    def on(self, form: FieldLayout | Any) -> None:
        """Other forms read through relations: unrestricted for now (issue 10 bounds links by
        their owner's rights)."""
        return None


@dataclass(frozen=True)
class LinkChanges:
    """Validated link properties to store (only those given)."""

    values: dict[str, Any]


def _issue(path: str, code: str, zh: str, en: str) -> Issue:
    return Issue(path, code, zh, en)


def may_manage(conn: Connection, principal: Principal, app: apps.LoadedApp) -> None:
    """Administrators and holders of a builder role of the app manage its links; other members
    get 403, everyone else 404 (the app's existence is not revealed)."""
    if not principal.may_use_app(app.key):
        raise not_found()
    if principal.is_admin:
        return
    if principal.user_id is None:
        raise not_found()
    held = held_roles(conn, app.id, principal.user_id, user_departments(conn, principal.user_id))
    if not held:
        raise not_found()
    if not any(role.builder for role in app.layout.spec.roles if role.key in held):
        raise ServiceError(
            403, "forbidden", message_zh="只有应用的搭建者或管理员可以管理外链", message_en="Only the app's builders or administrators manage public links"
        )


def fillable_problem(layout: FieldLayout) -> tuple[str, str, str] | None:
    """Why a field cannot be offered on a fill link (code, zh, en), or None."""
    key = layout.key
    if not layout.writable:
        return ("computed_field", f"字段 {key} 是自动计算的，不能填写", f"Field {key} is computed and cannot be filled in")
    if layout.spec.type in NOT_FILLABLE:
        return (
            "not_public_fillable",
            f"字段 {key}（{layout.spec.type}）不能在外链中填写",
            f"Field {key} ({layout.spec.type}) cannot be filled in through a public link",
        )
    if layout.rows is not None:
        for sub in layout.rows.fields.values():
            # Public uploads name a top-level field (`POST /public/{token}/files?field=`), so a
            # subform's file fields are not offered either.
            if sub.writable and (sub.spec.type in NOT_FILLABLE or sub.spec.type in FILE_FIELD_TYPES):
                return (
                    "not_public_fillable",
                    f"子表单 {key} 含有不能在外链中填写的字段 {sub.key}",
                    f"Subform {key} has field {sub.key}, which cannot be filled in through a public link",
                )
    return None


def _key_problem(layout: FieldLayout) -> tuple[str, str] | None:
    if layout.source != "column" or layout.spec.type not in KEY_TYPES:
        key, type_ = layout.key, layout.spec.type
        return (f"字段 {key}（{type_}）不能作为查询条件", f"Field {key} ({type_}) cannot be a query key")
    return None


def _known(form: FormLayout, keys: list[str], path: str, issues: list[Issue]) -> list[str]:
    found: list[str] = []
    for index, key in enumerate(keys):
        layout = form.fields.get(key)
        if layout is None or layout.source == "none":
            issues.append(_issue(f"{path}[{index}]", "unknown_field", f"字段 {key} 不存在", f"Field {key} does not exist"))
        elif key not in found:
            found.append(key)
    return found


def _required_missing(form: FormLayout, chosen: Iterable[str]) -> list[str]:
    """Required fields without a default that a fill link leaves out (every submission would fail)."""
    missing = []
    for layout in form.fields.values():
        spec = layout.spec
        needed = isinstance(spec, ValueFieldSpec) and spec.required and spec.default is None and spec.visible_when is None
        if needed and layout.writable and layout.key not in chosen:
            missing.append(layout.key)
    return missing


def _checked_fields(form: FormLayout, kind: str, given: list[str], issues: list[Issue]) -> list[str]:
    """A link's fields, known and (for a fill link) fillable, with every required field."""
    fields = _known(form, given, "fields", issues)
    if not fields and not any(i.path.startswith("fields") for i in issues):
        issues.append(_issue("fields", "required", "至少选择一个字段", "Choose at least one field"))
    if kind == "fill":
        for index, key in enumerate(given):
            layout = form.fields.get(key)
            if layout is not None and (problem := fillable_problem(layout)) is not None:
                issues.append(_issue(f"fields[{index}]", *problem))
        for key in _required_missing(form, fields):
            issues.append(
                _issue(
                    "fields",
                    "required_field_missing",
                    f"必填字段 {key} 必须在外链中可填写",
                    f"The required field {key} must be among the link's fields",
                )
            )
    return fields


def _checked_keys(form: FormLayout, kind: str, given: list[str], issues: list[Issue]) -> list[str]:
    """A query link's key fields: at least one, each a field that can be matched exactly."""
    if kind == "fill":
        if given:
            issues.append(_issue("key_fields", "not_allowed", "填写外链没有查询条件", "A fill link has no key fields"))
        return []
    keys = _known(form, given, "key_fields", issues)
    if not keys and not any(i.path.startswith("key_fields") for i in issues):
        issues.append(_issue("key_fields", "required", "查询外链至少需要一个查询条件字段", "A query link needs at least one key field"))
    for index, key in enumerate(given):
        layout = form.fields.get(key)
        if layout is not None and (problem := _key_problem(layout)) is not None:
            issues.append(_issue(f"key_fields[{index}]", "not_a_key_field", *problem))
    return keys


def validate(
    conn: Connection, form: FormLayout, kind: str, given: Mapping[str, Any], current: Mapping[str, Any] | None = None
) -> LinkChanges:
    """Check a new link (`current` None) or a change of one; 422 with field-level issues."""
    issues: list[Issue] = []
    values: dict[str, Any] = {}
    # Only what is given is checked, so a link whose form changed can still be disabled.
    if "fields" in given or current is None:
        values["fields"] = _checked_fields(form, kind, list(given.get("fields") or []), issues)
    if "key_fields" in given or current is None:
        keys = _checked_keys(form, kind, list(given.get("key_fields") or []), issues)
        if kind == "query":
            values["key_fields"] = keys
    if kind == "fill" and "owner_id" in given and given["owner_id"] is None:
        issues.append(_issue("owner_id", "required", "填写外链需要指定记录的负责人", "A fill link needs the owner of the records it creates"))
    if "owner_id" in given and given["owner_id"] is not None:
        active = conn.execute(select(User.is_active).where(User.id == given["owner_id"])).scalar_one_or_none()
        if not active:
            issues.append(
                _issue("owner_id", "user_not_found", f"成员 {given['owner_id']} 不存在或已停用", f"User {given['owner_id']} does not exist or is inactive")
            )
    if "password" in given:
        password = given["password"]
        if password is not None and not MIN_PASSWORD_LENGTH <= len(password) <= 256:
            issues.append(
                _issue(
                    "password",
                    "weak_password",
                    f"外链密码需 {MIN_PASSWORD_LENGTH}–256 个字符",
                    f"A link password needs {MIN_PASSWORD_LENGTH} to 256 characters",
                )
            )
        else:
            values["password_hash"] = None if password is None else hash_password(password)
    if "expires_at" in given:
        moment = given["expires_at"]
        if isinstance(moment, dt.datetime):
            try:  # a moment without an offset is UTC
                moment = (moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
            except OverflowError:
                issues.append(_issue("expires_at", "out_of_range", "时间超出范围", "The moment is out of range"))
        values["expires_at"] = moment
    for name in ("name", "enabled", "rate_limit", "owner_id"):
        if name in given:
            values[name] = given[name]
    if issues:
        raise ServiceError(422, "validation_failed", issues)
    return LinkChanges(values)


def new_token() -> str:
    """A link token: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def _form_row(conn: Connection, app: apps.LoadedApp, form: FormLayout) -> int:
    form_id = conn.execute(select(Form.id).where(Form.app_id == app.id, Form.key == form.key, Form.retired_at.is_(None))).scalar_one()
    return int(form_id)


def link_json(row: Any, app_key: str, form_key: str, owner_name: str | None = None) -> dict[str, Any]:
    """A link as the admin API shows it (with its token and URL; never the password hash)."""
    return {
        "id": row.id,
        "app": app_key,
        "form": form_key,
        "kind": row.kind,
        "name": row.name,
        "token": row.token,
        "url": f"/api/v1/public/{row.token}",
        "fields": list(row.fields),
        "key_fields": list(row.key_fields),
        "has_password": row.password_hash is not None,
        "expires_at": datetime_json(row.expires_at) if row.expires_at is not None else None,
        "enabled": row.enabled,
        "rate_limit": row.rate_limit,
        "owner": None if row.owner_id is None else {"id": row.owner_id, "name": owner_name},
        "created_by": row.created_by,
        "created_at": datetime_json(row.created_at),
        "updated_at": datetime_json(row.updated_at),
    }


def _select(form_id: int) -> Any:
    return (
        select(PublicLink.__table__, User.display_name.label("owner_name"))
        .join(User, User.id == PublicLink.owner_id, isouter=True)
        .where(PublicLink.form_id == form_id)
    )


def list_links(conn: Connection, app: apps.LoadedApp, form: FormLayout) -> list[dict[str, Any]]:
    """The form's links, oldest first."""
    rows = conn.execute(_select(_form_row(conn, app, form)).order_by(PublicLink.id)).all()
    return [link_json(row, app.key, form.key, row.owner_name) for row in rows]


def get_link(conn: Connection, app: apps.LoadedApp, form: FormLayout, link_id: int) -> dict[str, Any]:
    row = conn.execute(_select(_form_row(conn, app, form)).where(PublicLink.id == link_id)).first()
    if row is None:
        raise not_found()
    return link_json(row, app.key, form.key, row.owner_name)


def _audit_detail(app: apps.LoadedApp, form: FormLayout, values: Mapping[str, Any], link_id: int) -> dict[str, Any]:
    detail: dict[str, Any] = {"link_id": link_id, "app": app.key, "form": form.key}
    for name, value in values.items():
        if name == "password_hash":
            detail["password"] = "set" if value is not None else "removed"
        elif name == "token":
            detail["token"] = "rotated"
        elif isinstance(value, dt.datetime):
            detail[name] = datetime_json(value)
        else:
            detail[name] = value
    return detail


def create_link(
    conn: Connection, app: apps.LoadedApp, form: FormLayout, kind: str, given: Mapping[str, Any], *, actor_id: int | None, ip: str | None
) -> dict[str, Any]:
    """A new link (422 with every issue otherwise). A fill link's records belong to `owner_id`,
    by default the creator."""
    changes = validate(conn, form, kind, given)
    values = {
        "name": label_text(form.spec.name, form.key)[:200],
        "enabled": True,
        "rate_limit": DEFAULT_RATE_LIMIT,
        "key_fields": [],
        "owner_id": actor_id if kind == "fill" else None,
        **changes.values,
    }
    if values.get("name") is None:
        values["name"] = label_text(form.spec.name, form.key)[:200]
    now = utcnow()
    link_id = conn.execute(
        insert(PublicLink)
        .values(
            app_id=app.id,
            form_id=_form_row(conn, app, form),
            kind=kind,
            token=new_token(),
            created_by=actor_id,
            created_at=now,
            updated_at=now,
            **values,
        )
        .returning(PublicLink.id)
    ).scalar_one()
    audit.record(
        conn, "link.create", actor_id=actor_id, ip=ip, subject=f"{app.key}/{form.key}", detail=_audit_detail(app, form, {"kind": kind, **values}, link_id)
    )
    return get_link(conn, app, form, link_id)


def update_link(
    conn: Connection,
    app: apps.LoadedApp,
    form: FormLayout,
    link_id: int,
    given: Mapping[str, Any],
    *,
    rotate_token: bool,
    actor_id: int | None,
    ip: str | None,
) -> dict[str, Any]:
    """Change a link: enable/disable it, change fields, password, expiry, owner or limit,
    or give it a new token (the old URL stops working)."""
    current = conn.execute(select(PublicLink.__table__).where(PublicLink.id == link_id, PublicLink.form_id == _form_row(conn, app, form))).first()
    if current is None:
        raise not_found()
    changes = validate(conn, form, current.kind, given, dict(current._mapping))
    values = dict(changes.values)
    if "name" in values and values["name"] is None:
        del values["name"]
    if rotate_token:
        values["token"] = new_token()
    if values:
        conn.execute(update(PublicLink).where(PublicLink.id == link_id).values(updated_at=utcnow(), **values))
    audit.record(conn, "link.update", actor_id=actor_id, ip=ip, subject=f"{app.key}/{form.key}", detail=_audit_detail(app, form, values, link_id))
    return get_link(conn, app, form, link_id)


def delete_link(conn: Connection, app: apps.LoadedApp, form: FormLayout, link_id: int, *, actor_id: int | None, ip: str | None) -> None:
    """Remove a link for good (its URL answers 404 from now on)."""
    deleted = conn.execute(delete(PublicLink).where(PublicLink.id == link_id, PublicLink.form_id == _form_row(conn, app, form)))
    if deleted.rowcount == 0:
        raise not_found()
    audit.record(conn, "link.delete", actor_id=actor_id, ip=ip, subject=f"{app.key}/{form.key}", detail={"link_id": link_id, "app": app.key, "form": form.key})


__all__ = [
    "DEFAULT_RATE_LIMIT",
    "KEY_TYPES",
    "NOT_FILLABLE",
    "LinkAccess",
    "create_link",
    "delete_link",
    "fillable_problem",
    "get_link",
    "link_json",
    "list_links",
    "may_manage",
    "update_link",
    "validate",
]
