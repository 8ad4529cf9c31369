"""The shape of a caller's rights on one form, as the record reader and writer use it.

`engine.auth.permissions.FormAccess` implements it; the forms engine depends only on this
protocol, so it never imports the auth package (which builds on the forms engine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Protocol

from sqlalchemy.sql import ColumnElement

if TYPE_CHECKING:
    from engine.forms.layout import FormLayout


class Access(Protocol):
    """Actions, row scope (as SQL) and field access of one caller on one form."""

    def allows(self, action: str) -> bool: ...

    def access(self, key: str) -> str: ...  # hidden | read_only | editable

    def hidden(self) -> frozenset[str]: ...

    def where(self, action: str, table: Any, resolver: Any) -> ColumnElement[bool]: ...

    def on(self, form: FormLayout) -> Optional[Access]:  # noqa: UP045 (a forward reference)
        """The same caller's rights on another form of the app (None: unrestricted).

        Every read or write that follows a relation (filters, titles, lookups, rollups,
        formulas, relation values written) uses the *target* form's rights through this."""
        ...


__all__ = ["Access"]
