"""Response models of the record routes (`engine.api.routes.records`, `records_io`, `linkage`,
`live`, `links`): record JSON, pages, batch results, history, permissions, live scripts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.api.schemas.common import Answer, Json, Label, OpenAnswer


class IssueOut(Answer):
    """A problem with one part of the input (`engine.core.issues.Issue`)."""

    path: str
    code: str
    message: str
    line: int | None = None
    column: int | None = None


class RecordOut(OpenAnswer):
    """A record as JSON (DESIGN §7, §12): its system keys, and one key per field the caller
    may see with the value as the value table of DESIGN §12 writes it (open: per form)."""

    id: int = Field(alias="_id")
    version: int | None = Field(None, alias="_version")
    created_at: str | None = Field(None, alias="_created_at")
    created_by: int | None = Field(None, alias="_created_by")
    updated_at: str | None = Field(None, alias="_updated_at")
    updated_by: int | None = Field(None, alias="_updated_by")
    owner: int | None = Field(None, alias="_owner")
    deleted_at: str | None = Field(None, alias="_deleted_at")
    flow_state: str | None = Field(None, alias="_flow_state")


class RecordPage(Answer):
    """One page of records; `total` is null when the count was skipped or too costly."""

    items: list[RecordOut]
    total: int | None


class BatchError(Answer):
    """Why one row of a partial batch was refused."""

    code: str
    issues: list[IssueOut]


class BatchRow(Answer):
    """The result of one row of a batch: its id and version when saved, its error otherwise."""

    index: int
    ok: bool
    id: int | None = Field(None, alias="_id")
    version: int | None = Field(None, alias="_version")
    error: BatchError | None = None


class BatchResult(Answer):
    """The result of every row of a batch, in order."""

    results: list[BatchRow]


class HistoryActor(Answer):
    """Who made a change."""

    id: int
    name: str | None


class HistoryEntry(Answer):
    """One change of a record: version, event, who, through what, when, and the field diff."""

    version: int
    event: str | None
    actor: HistoryActor | None
    channel: str | None
    at: str
    changes: dict[str, Json]


class ScopeExpr(Answer):
    """A row scope given as a condition."""

    expr: str


class Permissions(Answer):
    """What the caller may do on a form: actions, the rows each reaches, field access."""

    roles: list[str]
    admin: bool
    actions: list[str]
    scopes: dict[str, list[str | ScopeExpr]]
    fields: dict[str, Literal["hidden", "read_only", "editable"]]


class Transferred(Answer):
    """How many records changed owner."""

    transferred: int


class LinkageValues(Answer):
    """The values data linkage would copy, per field (null when no source record matches)."""

    values: dict[str, Json]


class CompiledRule(Answer):
    """One formula or rule compiled to JavaScript, with the keys it reads."""

    key: str
    js: str
    type: str
    reads: list[str]


class RuleSet(Answer):
    """Formulas in evaluation order, then the show/hide and read-only rules, of a field list."""

    formulas: list[CompiledRule]
    visible_when: list[CompiledRule]
    readonly_when: list[CompiledRule]


class LiveScripts(Answer):
    """A form's rules as JavaScript for the fill page, the business time zone they evaluate in,
    the member they evaluate as, and the rules of each subform's rows."""

    tz: str
    user: int | None
    departments: list[int]
    formulas: list[CompiledRule]
    visible_when: list[CompiledRule]
    readonly_when: list[CompiledRule]
    defaults: list[CompiledRule]
    subforms: dict[str, RuleSet]


class ImportRow(Answer):
    """The outcome of one row of an imported sheet (rows counted from 2, under the header)."""

    row: int
    ok: bool
    id: int | None = Field(None, alias="_id")
    error: BatchError | None = None


class ImportResult(Answer):
    """How many rows were created and refused, the columns no field took, and every row."""

    created: int
    failed: int
    ignored_columns: list[str]
    results: list[ImportRow]


class LinkOwner(Answer):
    """The member a public link's records belong to."""

    id: int
    name: str | None


class LinkOut(Answer):
    """A public link as its managers see it (with its token and URL, never its password)."""

    id: int
    app: str
    form: str
    kind: str
    name: str | None
    token: str
    url: str
    fields: list[str]
    key_fields: list[str]
    has_password: bool
    expires_at: str | None
    enabled: bool
    rate_limit: int | None
    owner: LinkOwner | None
    created_by: int | None
    created_at: str
    updated_at: str


class Named(Answer):
    """An app or form named by its key and label."""

    key: str
    name: Label


class PublicLinkPage(Answer):
    """What a public page needs to render a link: its kind, name, app, form and only its
    fields (their definitions, open as in the definition format), and a query link's key
    fields."""

    kind: str
    name: str | None
    app: Named
    form: Named
    fields: list[dict[str, Json]]
    expires_at: str | None
    key_fields: list[dict[str, Json]] | None = None


class PublicSubmitted(Answer):
    """A fill link's answer (`submitted`) or a query link's matching records (`items`)."""

    submitted: bool | None = None
    items: list[dict[str, Json]] | None = None


class PublicLiveScripts(Answer):
    """A fill link's rules as JavaScript (only those over its own fields) and the time zone."""

    tz: str
    formulas: list[CompiledRule]
    visible_when: list[CompiledRule]
    readonly_when: list[CompiledRule]
    defaults: list[CompiledRule]
    subforms: dict[str, RuleSet]


class FileOut(Answer):
    """A stored upload; a record's file field takes `{"file_id": ...}`."""

    file_id: int
    name: str
    size: int
    mime: str
    sha256: str


class ImportPreview(Answer):
    """An uploaded sheet before import: its header, the field each column matches (null: none),
    the first rows as text and how many rows it has."""

    columns: list[str]
    matched: list[str | None]
    rows: list[list[str]]
    total_rows: int
