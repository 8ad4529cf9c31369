"""Errors every engine's services raise, each carrying DESIGN §12's status, code and issues.

Services (forms, auth, and the engines after them) raise these; the API maps them to the one
error shape. They never carry HTTP types, so the CLI, rules and flows use the same services.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.core.issues import Issue

_MESSAGES: dict[str, tuple[str, str]] = {
    "validation_failed": ("数据校验未通过", "The data is not valid"),
    "invalid_definition": ("应用定义无效", "The app definition is not valid"),
    "not_found": ("未找到，或你无权查看", "Not found, or not visible to you"),
    "stale_version": (
        "记录已被他人修改，请刷新后重试",
        "The record was changed by someone else; reload it and try again",
    ),
    "stale_revision": (
        "应用已被他人修改，请刷新后重试",
        "The app was changed by someone else; reload it and try again",
    ),
    "plan_changed": (
        "迁移计划与你确认的不同，请重新查看",
        "The migration plan differs from the one you confirmed; review it again",
    ),
    "app_exists": ("应用标识已存在", "An app with this key already exists"),
    "bad_request": ("请求格式不正确", "The request is malformed"),
    "forbidden": ("你没有执行此操作的权限", "You are not allowed to do this"),
}


class ServiceError(Exception):
    """A request the engine refuses: HTTP-like `status`, stable `code`, zh/en message, issues,
    and for a throttled request the seconds to wait (`retry_after`)."""

    def __init__(
        self,
        status: int,
        code: str,
        issues: Iterable[Issue] = (),
        *,
        message_zh: str | None = None,
        message_en: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        zh, en = _MESSAGES.get(code, (code, code))
        self.retry_after = retry_after  # seconds to wait before trying again (a 429's Retry-After)
        self.status = status
        self.code = code
        self.message_zh = message_zh or zh
        self.message_en = message_en or en
        self.issues = list(issues)
        super().__init__(f"{code}: {self.message_en} {[(i.path, i.code) for i in self.issues[:5]]}")


def invalid(issues: Iterable[Issue]) -> ServiceError:
    """422: the data breaks field or form rules (every issue at once)."""
    return ServiceError(422, "validation_failed", issues)


def not_found() -> ServiceError:
    """404: missing, or not visible to the caller (the two are never told apart)."""
    return ServiceError(404, "not_found")


def forbidden() -> ServiceError:
    """403: the caller may see this but not do this."""
    return ServiceError(403, "forbidden")


__all__ = ["ServiceError", "forbidden", "invalid", "not_found"]
