"""Record grants: rights on one record that come from outside the app's roles (issue 13).

An engine may let a member read a single record their roles do not reach — the flow engine
lets the holder of an open, cc or done task read the record of its instance with the node's
field access (`engine.flows.access`). Such an engine registers a `RecordGrant` in
`RECORD_GRANTS`; the record service (`engine.forms.service.open_form` with `record`) asks
the grants only after the member's own rights refused the record (404), and only for reading
that one record (a record by id and the files in it): lists, counts, exports, history and
writes never consult them. The forms engine never imports the engines that register grants.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from sqlalchemy.engine import Connection

from engine.core.registry import Registry
from engine.forms.access import Access
from engine.forms.layout import FormLayout

if TYPE_CHECKING:
    from engine.forms.apps import LoadedApp


class RecordGrant(Protocol):
    """Rights that let member `user_id` read record `record_id` of `form`, or None.

    `own` is the member's own rights on the form (possibly allowing nothing); the returned
    `Access` must allow `view` of that record only and nothing else."""

    def __call__(
        self,
        conn: Connection,
        app: LoadedApp,
        form: FormLayout,
        record_id: int,
        user_id: int,
        own: Access,
    ) -> Access | None: ...


RECORD_GRANTS: Registry[RecordGrant] = Registry("record grant")


def granted(
    conn: Connection,
    app: LoadedApp,
    form: FormLayout,
    record_id: int,
    user_id: int,
    own: Access,
) -> Access | None:
    """The first registered grant's rights on the record for the member (None: no grant)."""
    for _, grant in RECORD_GRANTS.items():
        found = grant(conn, app, form, record_id, user_id, own)
        if found is not None:
            return found
    return None


__all__ = ["RECORD_GRANTS", "RecordGrant", "granted"]
