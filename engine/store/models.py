"""Platform tables (DESIGN §5): apps and their versions, form and field ids, people, files,
counters and record history.

Every timestamp is :class:`~engine.core.sqltypes.UtcDateTime` (UTC, exact milliseconds, the
same on SQLite and PostgreSQL), set by Python rather than by the database so both agree.
Changing these models requires a migration in ``migrations/versions`` (``alembic check``
fails otherwise).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.core.sqltypes import UtcDateTime
from engine.store.base import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit key; INTEGER on SQLite, where only that spelling is the auto-incrementing rowid."""

KEY_LENGTH = 64


def utcnow() -> dt.datetime:
    """The current instant in UTC."""
    return dt.datetime.now(dt.UTC)


class App(Base):
    """An installed app: its stable key, display name and which published revision is live."""

    __tablename__ = "apps"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    name: Mapped[dict[str, Any]] = mapped_column(JSON)
    current_revision: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    # Changed (to a new random number) whenever a rule is switched on or off: read with the
    # live revision, it tells the rules runtime when its kept switches are stale (migration
    # 0016_ruleswitchstamp).
    rule_switch_stamp: Mapped[int] = mapped_column(BigInteger, server_default="0")


class AppVersion(Base):
    """One published revision of an app: the whole definition JSON and the engines' plans of
    their parts, immutable once written."""

    __tablename__ = "app_versions"
    __table_args__ = (UniqueConstraint("app_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    revision: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What each engine built from its part at publish, by part and item key (engine.apps).
    plans: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Form(Base):
    """A form's numeric id, kept across versions; its record table is named ``r{id}``."""

    __tablename__ = "forms"
    __table_args__ = (UniqueConstraint("app_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    retired_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class FormField(Base):
    """A field's numeric id, kept across versions; its column is named ``f{id}``.

    A subform's own fields have `parent_id` (the subform field) and live in its child table.
    `storage` records the physical column type now in place (None: no column), so the schema
    migrator compares the desired definition with what exists; `backups` lists the columns
    that keep a field's values from before a type change. A live key is unique per form and
    parent (the service checks it): a retired field keeps its key, and a new field may reuse it.
    """

    __tablename__ = "form_fields"
    __table_args__ = (Index(None, "form_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("form_fields.id"))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    type: Mapped[str] = mapped_column(String(KEY_LENGTH))
    storage: Mapped[str | None] = mapped_column(String(KEY_LENGTH))
    backups: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Department(Base):
    """A node of the organisation tree, with an optional head."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    head_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", use_alter=True))
    sort: Mapped[int] = mapped_column(Integer, default=0)


class User(Base):
    """A person who can sign in (or could: no password yet), in one department."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # set by an administrator's password (new user, reset, import), cleared by the user's own;
    # no Python default, so inserts written against older schemas (migration tests) leave it out
    must_change_password: Mapped[bool] = mapped_column(server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class UserDepartment(Base):
    """A further department a user belongs to (the main one is `users.department_id`)."""

    __tablename__ = "user_departments"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id"), primary_key=True, index=True
    )


class Role(Base):
    """A role: global (`app_id` None, e.g. the platform's administrators) or one app's."""

    __tablename__ = "roles"
    __table_args__ = (Index(None, "app_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int | None] = mapped_column(ForeignKey("apps.id"))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    name: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class RoleMember(Base):
    """A user, or everyone in a department (and its children), holding a role."""

    __tablename__ = "role_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))


class AuthSession(Base):
    """A signed-in session: the hash of its bearer/cookie token, its CSRF token's hash, expiry."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class ApiToken(Base):
    """A long-lived API token (stored hashed), scoped to apps and read or read/write."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    apps: Mapped[list[str] | None] = mapped_column(JSON)
    can_write: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class AuditEntry(Base):
    """One audited event: logins, definition and permission changes, exports, token use."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "kind", "at"), Index(None, "actor_id", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    success: Mapped[bool] = mapped_column(default=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class PublicLink(Base):
    """A public link (外链) to one form: anonymous people fill it in, or query their own records.

    `token` is the link's secret path segment, kept in clear so builders can show the link
    again (it is meant to be published; see docs/decisions.md). `fields` are the fields a fill
    link lets people fill, or the fields a query link shows; `key_fields` are the fields a
    query must match exactly. Records created through a fill link belong to `owner_id`.
    """

    __tablename__ = "public_links"
    __table_args__ = (Index(None, "app_id", "form_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    kind: Mapped[str] = mapped_column(String(8))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    fields: Mapped[list[str]] = mapped_column(JSON)
    key_fields: Mapped[list[str]] = mapped_column(JSON)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    enabled: Mapped[bool] = mapped_column(default=True)
    rate_limit: Mapped[int] = mapped_column(Integer)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class StoredFile(Base):
    """One upload's metadata; the content is stored once per SHA-256 in the data dir.

    Two uploads of the same bytes are two rows (their names may differ) sharing one blob.
    Indexed by uploader and by public link with the upload time, for the upload quotas.
    """

    __tablename__ = "files"
    __table_args__ = (Index(None, "created_by", "created_at"), Index(None, "link_id", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The public link an anonymous person uploaded it through (only that link's submission may use it).
    link_id: Mapped[int | None] = mapped_column(ForeignKey("public_links.id", ondelete="SET NULL"))


class Counter(Base):
    """A named counter (serial numbers), incremented inside the transaction that uses it."""

    __tablename__ = "counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class TableVersion(Base):
    """The data version of one record table (SQLite): a random token that the table's triggers
    replace on every row written, so a count cached with the tokens it read is known exact
    (`engine.forms.count_cache`)."""

    __tablename__ = "table_versions"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger)


class RecordHistory(Base):
    """One change of one record: its field-level diff, who made it, when and through what."""

    __tablename__ = "record_history"
    __table_args__ = (Index(None, "form_id", "record_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    record_id: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(16))
    diff: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Job(Base):
    """One unit of background work (DESIGN §15, `engine.jobs`): its kind and JSON payload, when
    it is due, how often it was tried, its state (queued, running, done, dead), the last error,
    and while running who claimed it until when. `key` dedupes per kind: enqueueing a kind's key
    a second time makes no second job (NULL keys never collide)."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("kind", "key"),
        Index(None, "state", "run_at"),
        Index(None, "state", "lease_until"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(KEY_LENGTH))
    key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(8))
    run_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(2000))
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class JobLease(Base):
    """A named lease: who holds it until when (the one in-process worker of `jimu serve`)."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime] = mapped_column(UtcDateTime)


__all__ = [
    "ApiToken",
    "App",
    "AppVersion",
    "AuditEntry",
    "AuthSession",
    "Counter",
    "Department",
    "Form",
    "FormField",
    "Job",
    "JobLease",
    "PublicLink",
    "RecordHistory",
    "Role",
    "RoleMember",
    "StoredFile",
    "TableVersion",
    "User",
    "UserDepartment",
]
