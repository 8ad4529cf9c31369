"""Who is calling: a user (through a session, an API token or the admin token) and what the
credential allows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from engine.core.context import Actor

Via = Literal["session", "cookie", "api_token", "admin_token"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `apps` limits an API token to some apps (None: all);
    `can_write` is False for read-only tokens; `must_change_password`: a session of a user
    whose password an administrator set, who may only change it (engine.api.security)."""

    user_id: int | None
    username: str
    is_admin: bool
    via: Via
    apps: tuple[str, ...] | None = None
    can_write: bool = True
    token_id: int | None = None
    session_id: int | None = None
    must_change_password: bool = False

    def actor(self, channel: str = "api") -> Actor:
        """The record pipeline's actor for this caller (`ui` for cookie sessions)."""
        return Actor(self.user_id, "ui" if self.via == "cookie" else channel)

    def may_use_app(self, key: str) -> bool:
        return self.apps is None or key in self.apps


__all__ = ["Principal", "Via"]
