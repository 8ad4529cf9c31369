"""The shape of a caller's rights on one form, as the record reader and writer use it.

`engine.auth.permissions.FormAccess` implements it; the forms engine depends only on this
protocol, so it never imports the auth package (which builds on the forms engine).
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.sql import ColumnElement


class Access(Protocol):
    """Actions, row scope (as SQL) and field access of one caller on one form."""

    def allows(self, action: str) -> bool: ...

    def access(self, key: str) -> str: ...  # hidden | read_only | editable

    def hidden(self) -> frozenset[str]: ...

    def where(self, action: str, table: Any, resolver: Any) -> ColumnElement[bool]: ...


__all__ = ["Access"]
