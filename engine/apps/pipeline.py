"""The publish pipeline of whole app definitions, and loading a published revision.

Publishing (a whole app, one engine's part, a pack import) runs the same steps in the caller's
transaction, all or nothing:

1. validate the whole definition (`AppDefinition`): the forms engine's structure and semantic
   checks, then every registered part's `check` against the rest (`engine.core.parts`), every
   issue at once with its definition path (`flows[0].form`), as a 422 `invalid_definition`;
2. the parts' publish warnings (`DefinitionPart.warnings`: the hook where the flow engine will
   warn about running instances that reference what the new revision changes);
3. the forms engine's migration plan, applied (`engine.forms.apps`), which stores the new
   revision with the `_revision` optimistic check;
4. every part's plan (`DefinitionPart.plan`) stored with that revision (`app_versions.plans`).

`load_revision(conn, app, n)` returns revision `n`'s definition, typed spec and plans: what a
flow instance started on that revision needs to finish on it. Records are always read and
written through the *current* layout; `AppRevision.read` shows a current record as revision
`n` names its fields, a field that is gone or whose type changed since reading as blank.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from engine.apps.definition import PART_NAMES, AppDefinition
from engine.core.context import ExecutionContext
from engine.core.errors import ServiceError, not_found
from engine.core.issues import DefinitionError, Issue
from engine.core.parts import PARTS
from engine.forms import apps as forms_apps
from engine.forms.cache import LruCache, PerDatabase
from engine.forms.compile import structural_issues, validate_app
from engine.forms.layout import FieldLayout
from engine.forms.migrate import Plan
from engine.forms.records import lone_surrogate_issue, lone_surrogates
from engine.settings import get_settings
from engine.store.models import AppVersion

LoadedApp = forms_apps.LoadedApp


@dataclass(frozen=True)
class Published:
    """What a publish did: the live app, the forms' migration plan, the parts' plans and the
    parts' warnings."""

    app: LoadedApp
    plan: Plan
    plans: dict[str, dict[str, Any]]
    warnings: list[Issue] = field(default_factory=list)


def part_issues(app: AppDefinition) -> list[Issue]:
    """Every registered part's issues against the rest of `app`."""
    issues: list[Issue] = []
    for name in PART_NAMES:
        issues += PARTS[name].check(app, getattr(app, name))
    return issues


def validated(data: Any) -> AppDefinition:
    """The whole definition as a spec, or a 422 `invalid_definition` with every issue."""
    if bad := lone_surrogates(data):
        raise ServiceError(422, "invalid_definition", [lone_surrogate_issue(path) for path in bad])
    try:
        return validate_app(with_title_fields(data), model=AppDefinition, checks=part_issues)
    except DefinitionError as exc:
        raise ServiceError(422, "invalid_definition", exc.issues) from None


def with_title_fields(data: Any) -> Any:
    """`data` with a title for every form that has none: its first text field, so its
    records show by name rather than as "#1" (issue 16); the builder may pick another one.
    Anything malformed is left as it is, for validation to report."""
    if not isinstance(data, dict) or not isinstance(data.get("forms"), list):
        return data
    forms: list[Any] = []
    for form in data["forms"]:
        if isinstance(form, dict) and not form.get("title_field"):
            fields = form.get("fields")
            first = next(
                (
                    f["key"]
                    for f in (fields if isinstance(fields, list) else [])
                    if isinstance(f, dict)
                    and f.get("type") == "text"
                    and isinstance(f.get("key"), str)
                ),
                None,
            )
            if first is not None:
                form = {**form, "title_field": first}
        forms.append(form)
    return {**data, "forms": forms}


def normalized(spec: AppDefinition, data: Any) -> dict[str, Any]:
    """The JSON the forms engine stores for `spec` (parts normalised by their models), with the
    pack's records (`data`) passed on untouched."""
    result = spec.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"data"})
    if isinstance(data, dict) and data.get("data") is not None:
        result["data"] = data["data"]
    return result


def plans_of(spec: AppDefinition) -> dict[str, dict[str, Any]]:
    """Every part's plans by part and item key."""
    return {
        name: {item.key: PARTS[name].plan(spec, item) for item in getattr(spec, name)}
        for name in PART_NAMES
    }


def warnings_of(conn: Connection, current: LoadedApp | None, spec: AppDefinition) -> list[Issue]:
    """The parts' warnings about replacing the live revision by `spec` (none for a new app)."""
    if current is None:
        return []
    old = _typed(current.definition)[0]
    found: list[Issue] = []
    for name in PART_NAMES:
        found += PARTS[name].warnings(conn, current.id, getattr(old, name), getattr(spec, name))
    return found


def _published(
    conn: Connection, app: LoadedApp, spec: AppDefinition, ctx: ExecutionContext
) -> dict[str, dict[str, Any]]:
    """Store the parts' plans with the new live revision, then run their after-publish hooks."""
    plans = _store_plans(conn, app, spec)
    for name in PART_NAMES:
        PARTS[name].published(conn, app, ctx)
    return plans


def _store_plans(
    conn: Connection, app: LoadedApp, spec: AppDefinition
) -> dict[str, dict[str, Any]]:
    plans = plans_of(spec)
    conn.execute(
        update(AppVersion)
        .where(AppVersion.app_id == app.id, AppVersion.revision == app.revision)
        .values(plans=plans)
    )
    return plans


def _current(conn: Connection, key: str) -> LoadedApp | None:
    try:
        return forms_apps.load(conn, key)
    except ServiceError:
        return None


def plan(conn: Connection, key: str | None, data: Any) -> tuple[Plan, list[Issue]]:
    """The migration plan and the warnings a publish of `data` would give (nothing changes)."""
    spec = validated(data)
    result = forms_apps.plan(conn, key, normalized(spec, data))
    return result, warnings_of(conn, _current(conn, spec.key), spec)


def create(conn: Connection, data: Any, ctx: ExecutionContext) -> Published:
    """Install a new app from a whole definition (409 when the key exists) as `ctx`'s actor."""
    spec = validated(data)
    app, steps = forms_apps.create(conn, normalized(spec, data), ctx)
    return Published(app, steps, _published(conn, app, spec, ctx))


def publish(
    conn: Connection,
    key: str,
    data: Any,
    *,
    revision: Any,
    plan_hash: str | None,
    ctx: ExecutionContext,
) -> Published:
    """Publish a whole definition as a new revision of app `key`; `revision` must be the live
    one and `plan_hash` (when given) the plan the caller saw, else a 409 and nothing changes."""
    spec = validated(data)
    current = forms_apps.load(conn, key)
    warnings = warnings_of(conn, current, spec)
    app, steps = forms_apps.publish(
        conn, key, normalized(spec, data), revision=revision, plan_hash=plan_hash, ctx=ctx
    )
    return Published(app, steps, _published(conn, app, spec, ctx), warnings)


def publish_part(
    conn: Connection,
    key: str,
    part: str,
    items: Any,
    *,
    revision: Any,
    ctx: ExecutionContext,
) -> Published:
    """Publish one engine's part (`flows`, …) of app `key` as a new revision, everything else
    as it is live; `revision` must be the live one (409 otherwise). Issues have the whole
    definition's paths (`flows[0].form`)."""
    if part not in PART_NAMES:
        raise not_found()
    current = forms_apps.load(conn, key)
    if revision != current.revision:
        raise ServiceError(409, "stale_revision")
    return publish(
        conn,
        key,
        {**current.definition, part: items},
        revision=revision,
        plan_hash=None,
        ctx=ctx,
    )


def import_pack(conn: Connection, pack: Any, *, mode: str, ctx: ExecutionContext) -> Published:
    """Install (`create`) or upgrade an app from a pack, with its records when it has `data`
    (`engine.forms.apps.import_pack`), after validating the whole definition."""
    spec = validated(pack)
    current = _current(conn, spec.key) if mode == "upgrade" else None
    warnings = warnings_of(conn, current, spec)
    app, steps = forms_apps.import_pack(conn, normalized(spec, pack), mode=mode, ctx=ctx)
    return Published(app, steps, _published(conn, app, spec, ctx), warnings)


# --- loading a revision ----------------------------------------------------------------------


@dataclass(frozen=True)
class RevisionDefinition:
    """A published revision's definition, typed, and its plans (immutable, hence cached)."""

    app_id: int
    revision: int
    definition: dict[str, Any]
    spec: AppDefinition
    plans: dict[str, dict[str, Any]]
    issues: tuple[Issue, ...]


@dataclass(frozen=True)
class AppRevision:
    """Revision `revision` of an app as a running flow instance needs it: its definition,
    typed spec and plans, and the app's live revision (`current`) through which its records
    are read and written. `issues`: a stored part that no longer fits its engine's model
    (published before it was typed) is left out of `spec` and reported here."""

    stored: RevisionDefinition
    current: LoadedApp

    @property
    def revision(self) -> int:
        return self.stored.revision

    @property
    def definition(self) -> dict[str, Any]:
        return self.stored.definition

    @property
    def spec(self) -> AppDefinition:
        return self.stored.spec

    @property
    def plans(self) -> dict[str, dict[str, Any]]:
        return self.stored.plans

    @property
    def issues(self) -> tuple[Issue, ...]:
        return self.stored.issues

    def fields(self, form: str) -> dict[str, FieldLayout | None]:
        """The fields of `form` as this revision names them, each bound to the live field it
        reads (None: gone since, or its type changed)."""
        spec = next((f for f in self.spec.forms if f.key == form), None)
        live = self.current.layout.forms.get(form)
        if spec is None:
            raise not_found()
        result: dict[str, FieldLayout | None] = {}
        for f in spec.fields:
            found = live.fields.get(f.key) if live is not None else None
            result[f.key] = found if found is not None and found.spec.type == f.type else None
        return result

    def read(self, form: str, record: dict[str, Any]) -> dict[str, Any]:
        """A record read through the live layout (`Reader`), as this revision names its
        fields: system fields as they are, a field gone or retyped since as blank (None)."""
        values = {k: v for k, v in record.items() if k.startswith("_")}
        for key, live in self.fields(form).items():
            values[key] = record.get(key) if live is not None else None
        return values


_REVISIONS: PerDatabase[RevisionDefinition] = PerDatabase(lambda: get_settings().app_cache_size)


def _revisions(conn: Connection) -> LruCache[RevisionDefinition]:
    return _REVISIONS.of(conn)


def _typed(definition: dict[str, Any]) -> tuple[AppDefinition, tuple[Issue, ...]]:
    """A stored definition as a typed spec; parts that do not fit their model are left out
    (their issues returned), so an app published before a part was typed still loads."""
    try:
        return AppDefinition.model_validate(definition), ()
    except ValidationError as exc:
        issues = tuple(structural_issues(exc, definition))
    kept = {k: v for k, v in definition.items() if k not in PART_NAMES}
    return AppDefinition.model_validate(kept), issues


def load_revision(
    conn: Connection, key: str, revision: int, current: LoadedApp | None = None
) -> AppRevision:
    """Revision `revision` of app `key` with its plans, and the live revision (404 when either
    does not exist). Plans of revisions published before plans were stored are built now.
    `current`: the live revision when the caller has just loaded it in this transaction."""
    if current is None or current.key != key:
        current = forms_apps.load(conn, key)
    cache = _revisions(conn)
    stored = cache.get((current.id, revision))
    if stored is None:
        row = conn.execute(
            select(AppVersion.definition, AppVersion.plans).where(
                AppVersion.app_id == current.id, AppVersion.revision == revision
            )
        ).first()
        if row is None:
            raise not_found()
        spec, issues = _typed(row.definition)
        plans = row.plans if row.plans is not None else plans_of(spec)
        stored = RevisionDefinition(current.id, revision, row.definition, spec, plans, issues)
        cache.put((current.id, revision), stored)
    return AppRevision(stored, current)


__all__ = [
    "AppRevision",
    "LoadedApp",
    "Published",
    "RevisionDefinition",
    "create",
    "import_pack",
    "load_revision",
    "part_issues",
    "plan",
    "plans_of",
    "publish",
    "publish_part",
    "validated",
]
