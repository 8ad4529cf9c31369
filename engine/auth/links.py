"""Public links (外链) as builders manage them: create, list, change and delete, with validation.

A link belongs to one form of one app and is either a **fill** link (anonymous people create
records, filling only `fields`; the records belong to `owner_id`) or a **query** link (people
find their own records by exact values of every `key_fields` entry and see only `fields`).
Its token is random and kept in clear: it is the published part of the URL, so builders can
show the link again; an optional password is stored only as an argon2 hash. Every change is
audited (`link.create`, `link.update`, `link.delete`); neither token nor password reaches the
audit log. What anonymous people can do with a link lives in `engine.auth.public`.

A link never publishes more than its **creator and its owner** may both see (issue 10):
managing a form's links needs the `links` action on it (or an administrator), and members see
only the links they created or own; the owner is the creator unless another member is named.
Both need `view` (query link) or `create` (fill link) on the form; a query link's fields and
key fields must be readable by both, a fill link's fields editable. The same rights are
checked again at every use (`current_rights`), with both row scopes in the SQL, so a later
loss of rights (the creator's `links`, a role, a deactivated account) closes the link or drops
the fields no longer allowed.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, delete, false, insert, or_, select, true, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from engine.auth import audit
from engine.auth.credentials import hash_password
from engine.auth.permissions import RANK, FormAccess, form_access, held_roles, user_departments
from engine.auth.principal import Principal
from engine.core.errors import ServiceError, not_found
from engine.core.issues import Issue
from engine.core.moments import datetime_json
from engine.forms import apps
from engine.forms.access import Access
from engine.forms.common import ValueFieldSpec, label_text
from engine.forms.layout import FieldLayout, FormLayout
from engine.store.models import Form, PublicLink, User, utcnow

Kind = Literal["fill", "query"]
DEFAULT_RATE_LIMIT = 20
"""Submissions (or queries) per address per link in `engine.auth.public.WINDOW`."""
MAX_RATE_LIMIT = 600
"""The highest `rate_limit` a link may have (one attempt a second per address on average over
the 10-minute window); a stored higher value (from before the cap) counts as this."""
NO_RIGHTS = FormAccess(None, ())
"""The rights of an unknown or deactivated user: nothing."""
MIN_PASSWORD_LENGTH = 4


@dataclass(frozen=True)
class LinkAccess:
    """A public link's rights on its form, as the record pipeline reads them
    (`engine.forms.access.Access`): a fill link may only create, editing `fields`; a query
    link may only view the records matching `keys` exactly, and sees only `fields`. `owner` is
    what bounds the link (`BoundAccess` of its creator and owner; None: unrestricted): its row
    scope is ANDed into every statement."""

    kind: Kind
    fields: frozenset[str]
    form_keys: frozenset[str]
    keys: tuple[tuple[str, Any], ...] = ()
    owner: Access | None = None

    def allows(self, action: str) -> bool:
        return action == ("create" if self.kind == "fill" else "view")

    def access(self, key: str) -> str:
        if key not in self.fields:
            return "hidden"
        return "editable" if self.kind == "fill" else "read_only"

    def hidden(self) -> frozenset[str]:
        return self.form_keys - self.fields

    def where(self, action: str, table: Any, resolver: Any) -> ColumnElement[bool]:
        scope = true() if self.owner is None else self.owner.where(action, table, resolver)
        if (
            self.kind == "fill" and action == "create"
        ):  # whatever the person submits, in the owner's scope
            return scope
        if self.kind != "query" or action != "view" or not self.keys:
            return false()
        return and_(scope, *(resolver.value(key) == value for key, value in self.keys))

    def on(self, form: FormLayout) -> Access | None:
        """Other forms read through relations: with the link's bound there (what both its
        creator and its owner may read of `form`; None: unrestricted)."""
        return None if self.owner is None else self.owner.on(form)


@dataclass(frozen=True)
class LinkChanges:
    """Validated link properties to store (only those given)."""

    values: dict[str, Any]


def _issue(path: str, code: str, zh: str, en: str) -> Issue:
    return Issue(path, code, zh, en)


def may_manage(
    conn: Connection, principal: Principal, app: apps.LoadedApp, form: FormLayout
) -> None:
    """Administrators and holders of the `links` action on the form manage its links (a builder
    role alone does not); other members get 403, everyone else 404 (the app's existence is not
    revealed)."""
    if not principal.may_use_app(app.key):
        raise not_found()
    if principal.is_admin:
        return
    if principal.user_id is None:
        raise not_found()
    held = held_roles(conn, app.id, principal.user_id, user_departments(conn, principal.user_id))
    if not held:
        raise not_found()
    if not form_access(conn, principal, app.id, app.layout.spec, form).allows("links"):
        raise ServiceError(
            403,
            "forbidden",
            message_zh=f"你没有管理表单 {form.key} 外链的权限（需要角色的「外链」权限）",
            message_en=f"You may not manage the public links of form {form.key} (your role needs the links permission)",
        )


def manager_filter(principal: Principal) -> int | None:
    """Whose links a manager sees and changes: everyone's for administrators (None), otherwise
    only those they created or own — another member's link may publish what they may not see."""
    return None if principal.is_admin else principal.user_id


def rights_of(
    conn: Connection, app: apps.LoadedApp, form: FormLayout, user_id: int | None
) -> FormAccess | None:
    """A user's current access to `form`: None (unrestricted) for the admin token (no user) and
    active administrators; no rights at all for an unknown or deactivated user."""
    if user_id is None:
        return None
    row = conn.execute(
        select(User.username, User.is_admin, User.is_active).where(User.id == user_id)
    ).first()
    if row is None or not row.is_active:
        return NO_RIGHTS
    if row.is_admin:
        return None
    return form_access(
        conn, Principal(user_id, row.username, False, "session"), app.id, app.layout.spec, form
    )


@dataclass(frozen=True)
class BoundAccess:
    """What every one of `parts` may do (a link's creator and its owner): an action when all
    allow it, a field's least access, the records in every part's scope."""

    parts: tuple[Access, ...]

    def allows(self, action: str) -> bool:
        return all(part.allows(action) for part in self.parts)

    def access(self, key: str) -> str:
        return min(
            (part.access(key) for part in self.parts), key=RANK.__getitem__, default="editable"
        )

    def hidden(self) -> frozenset[str]:
        return frozenset().union(*(part.hidden() for part in self.parts))

    def where(self, action: str, table: Any, resolver: Any) -> ColumnElement[bool]:
        return and_(true(), *(part.where(action, table, resolver) for part in self.parts))

    def on(self, form: FormLayout) -> BoundAccess | None:
        """The same callers' bound on another form of the app (None: unrestricted)."""
        parts = tuple(other for part in self.parts if (other := part.on(form)) is not None)
        return BoundAccess(parts) if parts else None


def link_bound(
    conn: Connection,
    app: apps.LoadedApp,
    form: FormLayout,
    *,
    owner_id: int | None,
    created_by: int | None,
) -> BoundAccess | None:
    """The rights that bound a link on `form` (also a source form of its data linkage): those
    of its creator and of its owner (records a fill link creates belong to the owner; a link
    without an owner is its creator's). None: unrestricted (administrators, the admin token)."""
    users = dict.fromkeys(u for u in (created_by, owner_id) if u is not None)
    parts = tuple(
        access for user in users if (access := rights_of(conn, app, form, user)) is not None
    )
    return BoundAccess(parts) if parts else None


def shown_fields(kind: str, access: Access | None, fields: Iterable[str]) -> list[str]:
    """The fields a link may expose under `access`: readable for a query link, editable for a fill link."""
    if access is None:
        return list(fields)
    wanted = ("editable",) if kind == "fill" else ("editable", "read_only")
    return [key for key in fields if access.access(key) in wanted]


@dataclass(frozen=True)
class LinkRights:
    """What a link may do at this moment, from its creator's and owner's current rights."""

    access: BoundAccess | None  # None: unrestricted
    fields: tuple[str, ...]  # the link's fields it may still expose


def current_rights(
    conn: Connection,
    app: apps.LoadedApp,
    form: FormLayout,
    *,
    kind: str,
    fields: Iterable[str],
    key_fields: Iterable[str],
    owner_id: int | None,
    created_by: int | None,
) -> LinkRights | None:
    """The link's rights now, or None when it may no longer be used: its creator lost the
    `links` action on the form or was deactivated, or creator or owner lost `view` (query) or
    `create` (fill), or may not read a key field any more. Fields they may no longer expose
    are left out (None when none is left)."""
    if created_by is not None:
        publisher = rights_of(conn, app, form, created_by)
        if publisher is not None and not publisher.allows("links"):
            return None
    access = link_bound(conn, app, form, owner_id=owner_id, created_by=created_by)
    known = [key for key in fields if key in form.fields]
    if access is None:
        return LinkRights(None, tuple(known))
    if not access.allows("create" if kind == "fill" else "view"):
        return None
    if kind == "query" and any(access.access(key) == "hidden" for key in key_fields):
        return None
    shown = shown_fields(kind, access, known)
    return LinkRights(access, tuple(shown)) if shown else None


def fillable_problem(layout: FieldLayout) -> tuple[str, str, str] | None:
    """Why a field cannot be offered on a fill link (code, zh, en), or None."""
    key = layout.key
    if not layout.writable:
        return (
            "computed_field",
            f"字段 {key} 是自动计算的，不能填写",
            f"Field {key} is computed and cannot be filled in",
        )
    # Anonymous people cannot pick users, departments or other records (the field types say
    # which: `traits.publicly_fillable`); files they upload through the link itself.
    if not layout.kind.traits.publicly_fillable:
        return (
            "not_public_fillable",
            f"字段 {key}（{layout.spec.type}）不能在外链中填写",
            f"Field {key} ({layout.spec.type}) cannot be filled in through a public link",
        )
    if layout.rows is not None:
        for sub in layout.rows.fields.values():
            # Public uploads name a top-level field (`POST /public/{token}/files?field=`), so a
            # subform's file fields are not offered either.
            if sub.writable and (not sub.kind.traits.publicly_fillable or sub.kind.traits.is_file):
                return (
                    "not_public_fillable",
                    f"子表单 {key} 含有不能在外链中填写的字段 {sub.key}",
                    f"Subform {key} has field {sub.key}, which cannot be filled in through a public link",
                )
    return None


def _key_problem(layout: FieldLayout) -> tuple[str, str] | None:
    if layout.source != "column" or not layout.kind.traits.link_key:
        key, type_ = layout.key, layout.spec.type
        return (
            f"字段 {key}（{type_}）不能作为查询条件",
            f"Field {key} ({type_}) cannot be a query key",
        )
    return None


def _known(form: FormLayout, keys: list[str], path: str, issues: list[Issue]) -> list[str]:
    found: list[str] = []
    for index, key in enumerate(keys):
        layout = form.fields.get(key)
        if layout is None or layout.source == "none":
            issues.append(
                _issue(
                    f"{path}[{index}]",
                    "unknown_field",
                    f"字段 {key} 不存在",
                    f"Field {key} does not exist",
                )
            )
        elif key not in found:
            found.append(key)
    return found


def _required_missing(form: FormLayout, chosen: Iterable[str]) -> list[str]:
    """Required fields without a default that a fill link leaves out (every submission would fail)."""
    missing = []
    for layout in form.fields.values():
        spec = layout.spec
        needed = (
            isinstance(spec, ValueFieldSpec)
            and spec.required
            and spec.default is None
            and spec.visible_when is None
        )
        if needed and layout.writable and layout.key not in chosen:
            missing.append(layout.key)
    return missing


def _checked_fields(
    form: FormLayout, kind: str, given: list[str], issues: list[Issue]
) -> list[str]:
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
            issues.append(
                _issue(
                    "key_fields",
                    "not_allowed",
                    "填写外链没有查询条件",
                    "A fill link has no key fields",
                )
            )
        return []
    keys = _known(form, given, "key_fields", issues)
    if not keys and not any(i.path.startswith("key_fields") for i in issues):
        issues.append(
            _issue(
                "key_fields",
                "required",
                "查询外链至少需要一个查询条件字段",
                "A query link needs at least one key field",
            )
        )
    for index, key in enumerate(given):
        layout = form.fields.get(key)
        if layout is not None and (problem := _key_problem(layout)) is not None:
            issues.append(_issue(f"key_fields[{index}]", "not_a_key_field", *problem))
    return keys


def _owner_problems(
    access: BoundAccess | None,
    form: FormLayout,
    kind: str,
    link: Mapping[str, Any],
    paths: Mapping[str, bool],
    issues: list[Issue],
) -> None:
    """The link must not expose more than its creator and its owner may: `view` (query) or
    `create` (fill) on the form, every query field and key field readable, every fill field
    editable. Problems are reported at the field (`fields[1]`) when it was given, else at
    `owner_id` (or `kind`)."""
    if access is None:
        return
    at_owner = "owner_id" if paths.get("owner_id") else "kind"
    action = "create" if kind == "fill" else "view"
    if not access.allows(action):
        zh, en = ("新增", "create") if kind == "fill" else ("查看", "view")
        issues.append(
            _issue(
                at_owner,
                "owner_not_permitted",
                f"外链的创建者和负责人都须有{zh}表单 {form.key} 记录的权限",
                f"Both the link's creator and its owner must be allowed to {en} records of form {form.key}",
            )
        )
        return
    lists = [("fields", list(link.get("fields") or []))]
    if kind == "query":
        lists.append(("key_fields", list(link.get("key_fields") or [])))
    for name, keys in lists:
        readable = "fill" if name == "fields" and kind == "fill" else "query"
        allowed = set(shown_fields(readable, access, keys))
        for index, key in enumerate(keys):
            if key not in form.fields or key in allowed:
                continue
            path = f"{name}[{index}]" if paths.get(name) else "owner_id"
            zh, en = ("填写", "fill in") if readable == "fill" else ("查看", "see")
            issues.append(
                _issue(
                    path,
                    "field_not_permitted",
                    f"外链的创建者和负责人都须有权{zh}字段 {key}",
                    f"Both the link's creator and its owner must be allowed to {en} field {key}",
                )
            )


def validate(
    conn: Connection,
    app: apps.LoadedApp,
    form: FormLayout,
    kind: str,
    given: Mapping[str, Any],
    current: Mapping[str, Any] | None = None,
    *,
    manager: Principal | None = None,
) -> LinkChanges:
    """Check a new link (`current` None) or a change of one made by `manager` (None: the system);
    422 with field-level issues."""
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
        issues.append(
            _issue(
                "owner_id",
                "required",
                "填写外链需要指定记录的负责人",
                "A fill link needs the owner of the records it creates",
            )
        )
    if "owner_id" in given and given["owner_id"] is not None:
        active = conn.execute(
            select(User.is_active).where(User.id == given["owner_id"])
        ).scalar_one_or_none()
        if not active:
            issues.append(
                _issue(
                    "owner_id",
                    "user_not_found",
                    f"成员 {given['owner_id']} 不存在或已停用",
                    f"User {given['owner_id']} does not exist or is inactive",
                )
            )
    if (
        "rate_limit" in given
        and given["rate_limit"] is not None
        and given["rate_limit"] > MAX_RATE_LIMIT
    ):
        issues.append(
            _issue(
                "rate_limit",
                "too_large",
                f"每个地址的尝试次数上限最多为 {MAX_RATE_LIMIT}（每 10 分钟）",
                f"The attempts per address may be at most {MAX_RATE_LIMIT} (per 10 minutes)",
            )
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
                moment = (
                    moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
                ).astimezone(dt.UTC)
            except OverflowError:
                issues.append(
                    _issue(
                        "expires_at", "out_of_range", "时间超出范围", "The moment is out of range"
                    )
                )
        values["expires_at"] = moment
    for name in ("name", "enabled", "rate_limit", "owner_id"):
        if name in given:
            values[name] = given[name]
    rights_changed = current is None or bool({"fields", "key_fields", "owner_id"} & set(given))
    if rights_changed and not any(i.path == "owner_id" for i in issues):
        # The creator's and the owner's rights bound what the link shows (a new link's owner
        # is its creator unless another is named).
        merged = {**(current or {}), **values}
        creator = (
            current.get("created_by")
            if current is not None
            else (manager.user_id if manager is not None else None)
        )
        owner = merged.get("owner_id", creator)
        paths = {
            "fields": "fields" in given or current is None,
            "key_fields": "key_fields" in given or current is None,
            "owner_id": "owner_id" in given,
        }
        _owner_problems(
            link_bound(conn, app, form, owner_id=owner, created_by=creator),
            form,
            kind,
            merged,
            paths,
            issues,
        )
    if issues:
        raise ServiceError(422, "validation_failed", issues)
    return LinkChanges(values)


def new_token() -> str:
    """A link token: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def _form_row(conn: Connection, app: apps.LoadedApp, form: FormLayout) -> int:
    form_id = conn.execute(
        select(Form.id).where(
            Form.app_id == app.id, Form.key == form.key, Form.retired_at.is_(None)
        )
    ).scalar_one()
    return int(form_id)


def link_json(
    row: Any, app_key: str, form_key: str, owner_name: str | None = None
) -> dict[str, Any]:
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


def _mine(only_of: int | None) -> ColumnElement[bool]:
    """The links `only_of` created or owns (every link for None)."""
    if only_of is None:
        return true()
    return or_(PublicLink.owner_id == only_of, PublicLink.created_by == only_of)


def _select(form_id: int, only_of: int | None = None) -> Any:
    return (
        select(PublicLink.__table__, User.display_name.label("owner_name"))
        .join(User, User.id == PublicLink.owner_id, isouter=True)
        .where(PublicLink.form_id == form_id, _mine(only_of))
    )


def list_links(
    conn: Connection, app: apps.LoadedApp, form: FormLayout, *, only_of: int | None = None
) -> list[dict[str, Any]]:
    """The form's links, oldest first (only those `only_of` owns, when given: see `manager_filter`)."""
    rows = conn.execute(_select(_form_row(conn, app, form), only_of).order_by(PublicLink.id)).all()
    return [link_json(row, app.key, form.key, row.owner_name) for row in rows]


def get_link(
    conn: Connection,
    app: apps.LoadedApp,
    form: FormLayout,
    link_id: int,
    *,
    only_of: int | None = None,
) -> dict[str, Any]:
    row = conn.execute(
        _select(_form_row(conn, app, form), only_of).where(PublicLink.id == link_id)
    ).first()
    if row is None:
        raise not_found()
    return link_json(row, app.key, form.key, row.owner_name)


def _audit_detail(
    app: apps.LoadedApp, form: FormLayout, values: Mapping[str, Any], link_id: int
) -> dict[str, Any]:
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
    conn: Connection,
    app: apps.LoadedApp,
    form: FormLayout,
    kind: str,
    given: Mapping[str, Any],
    *,
    manager: Principal,
    ip: str | None,
) -> dict[str, Any]:
    """A new link (422 with every issue otherwise). Its owner (`owner_id`, by default the
    creator) bounds what it shows and owns the records a fill link creates."""
    actor_id = manager.user_id
    changes = validate(conn, app, form, kind, given, manager=manager)
    values = {
        "name": label_text(form.spec.name, form.key)[:200],
        "enabled": True,
        "rate_limit": DEFAULT_RATE_LIMIT,
        "key_fields": [],
        "owner_id": actor_id,
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
        conn,
        "link.create",
        actor_id=actor_id,
        ip=ip,
        subject=f"{app.key}/{form.key}",
        detail=_audit_detail(app, form, {"kind": kind, **values}, link_id),
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
    manager: Principal,
    ip: str | None,
) -> dict[str, Any]:
    """Change a link: enable/disable it, change fields, password, expiry, owner or limit,
    or give it a new token (the old URL stops working)."""
    actor_id, only_of = manager.user_id, manager_filter(manager)
    form_id = _form_row(conn, app, form)
    current = conn.execute(
        select(PublicLink.__table__).where(
            PublicLink.id == link_id, PublicLink.form_id == form_id, _mine(only_of)
        )
    ).first()
    if current is None:
        raise not_found()
    changes = validate(
        conn, app, form, current.kind, given, dict(current._mapping), manager=manager
    )
    values = dict(changes.values)
    if "name" in values and values["name"] is None:
        del values["name"]
    if rotate_token:
        values["token"] = new_token()
    if values:
        conn.execute(
            update(PublicLink).where(PublicLink.id == link_id).values(updated_at=utcnow(), **values)
        )
    audit.record(
        conn,
        "link.update",
        actor_id=actor_id,
        ip=ip,
        subject=f"{app.key}/{form.key}",
        detail=_audit_detail(app, form, values, link_id),
    )
    return get_link(conn, app, form, link_id)


def delete_link(
    conn: Connection,
    app: apps.LoadedApp,
    form: FormLayout,
    link_id: int,
    *,
    manager: Principal,
    ip: str | None,
) -> None:
    """Remove a link for good (its URL answers 404 from now on)."""
    actor_id, only_of = manager.user_id, manager_filter(manager)
    mine = _mine(only_of)
    deleted = conn.execute(
        delete(PublicLink).where(
            PublicLink.id == link_id, PublicLink.form_id == _form_row(conn, app, form), mine
        )
    )
    if deleted.rowcount == 0:
        raise not_found()
    audit.record(
        conn,
        "link.delete",
        actor_id=actor_id,
        ip=ip,
        subject=f"{app.key}/{form.key}",
        detail={"link_id": link_id, "app": app.key, "form": form.key},
    )


__all__ = [
    "DEFAULT_RATE_LIMIT",
    "MAX_RATE_LIMIT",
    "BoundAccess",
    "LinkAccess",
    "LinkRights",
    "create_link",
    "current_rights",
    "delete_link",
    "fillable_problem",
    "get_link",
    "link_bound",
    "link_json",
    "list_links",
    "manager_filter",
    "may_manage",
    "rights_of",
    "shown_fields",
    "update_link",
    "validate",
]
