"""Who may change an app's design through its engines' part endpoints (`PUT /apps/{app}/flows`, …).

Administrators, and members holding a role of the app with `"builder": true`. A builder saves
only those parts (flows, rules, reports, dashboards): never the roles, the forms or the whole
definition, which stay with administrators (`PUT /apps/{app}`), so no builder can grant
themselves or anyone else rights. A member without a builder role gets 403; anyone who is not
a member of the app gets 404, as for every other route of the app. A read-only API token, or
one limited to other apps, gets 403.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from engine.auth.permissions import held_roles, user_departments
from engine.auth.principal import Principal
from engine.core.errors import ServiceError, not_found
from engine.forms.apps import LoadedApp


def may_build(conn: Connection, principal: Principal, app: LoadedApp) -> None:
    """Pass for administrators and holders of a builder role of `app`; raise 403/404 otherwise."""
    if not principal.can_write:
        raise ServiceError(
            403, "forbidden", message_zh="该令牌只读", message_en="This token is read-only"
        )
    if not principal.may_use_app(app.key):
        raise ServiceError(
            403,
            "forbidden",
            message_zh="该令牌无权访问此应用",
            message_en="This token may not use this app",
        )
    if principal.is_admin:
        return
    if principal.user_id is None:
        raise not_found()
    held = held_roles(conn, app.id, principal.user_id, user_departments(conn, principal.user_id))
    if not held:
        raise not_found()
    if not any(role.builder for role in app.layout.spec.roles if role.key in held):
        raise ServiceError(
            403,
            "forbidden",
            message_zh=f"你没有修改应用 {app.key} 设计的权限（需要可搭建应用的角色）",
            message_en=f"You may not change the design of app {app.key} (your role must be a builder role)",
        )


__all__ = ["may_build"]
