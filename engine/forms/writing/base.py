"""The record pipeline's state (`engine.forms.records.Writer` is built on it): the layouts,
the execution context, the caller's access and readers, the linker and the change path, set up
once per writer; and per-layout caches the pipeline's steps share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from engine import expr
from engine.core.context import ExecutionContext
from engine.forms.access import Access
from engine.forms.cache import on_layout
from engine.forms.changes import ChangePath
from engine.forms.field_types.links import RelationField
from engine.forms.layout import AppLayout, Container, FormLayout
from engine.forms.linkage import Linker, SourceAccess
from engine.forms.query import Reader
from engine.forms.resolve import Who

_T = TypeVar("_T")


class WriterBase:
    """What every step of the pipeline reads: app and form layouts, context, access, readers."""

    def __init__(
        self,
        app: AppLayout,
        app_id: int,
        form: FormLayout,
        ctx: ExecutionContext,
        *,
        access: Access | None = None,
        source_access: SourceAccess | None = None,
        who: Who | None = None,
    ) -> None:
        self.app = app
        self.app_id = app_id
        self.form = form
        self.ctx = ctx  # the clock and time zone of defaults, formulas, serials and stamps
        self.now = ctx.now
        self.tz = ctx.tz
        self.access = access
        # History and record events of every write (the one change path, engine.forms.changes).
        self.changes = ChangePath(app, app_id, form, ctx)
        self.reader = Reader(app, form, ctx, access=access)  # what the caller gets back
        # History diffs see every field; validations and rules read through it as the saver
        # (CURRENT_USER(): `who`, else the holder of `access`, else the context's actor).
        who = who if who is not None else (Who.of(access) if access is not None else None)
        self._full = Reader(app, form, ctx, who=who)
        self.who = self._full.who
        # Data linkage defaults read their source forms as the actor (`source_access`).
        self.linker = Linker(app, form, ctx, access=access, source_access=source_access)
        # Pack import writes forms one after another, so links are checked once all exist.
        self.defer_links = False
        self.deferred: list[tuple[str, int, str]] = []
        self.preserve_ids = False
        # Pack loads (administrators installing or moving an app with its data) keep the file
        # references they carry; every other writer may only reference its own uploads.
        self.trust_files = False
        self._ctx = expr.EvalContext.create(
            self.now, self.tz, user=self.who.user, departments=self.who.departments
        )
        # What each input key may do for this caller, resolved once per writer (not per record).
        self._allowed = {
            key: access.access(key) if access is not None else "editable" for key in form.fields
        }
        # Keys `prepare` may coerce directly: editable fields stored in their own column.
        self._simple = {
            key: layout.coerce
            for key, layout in form.fields.items()
            if self._allowed[key] == "editable"
            and layout.source == "column"
            and layout.writable
            and not isinstance(layout.spec, RelationField)
            and not layout.kind.traits.is_file
        }


# Per-layout facts the pipeline needs for every record, computed once per layout revision and
# kept on the layout (see engine.forms.cache).
def _layout_cache(container: Container, name: str, build: Callable[[], _T]) -> _T:
    return on_layout(container, "pipeline:" + name, build)
