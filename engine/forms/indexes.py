"""Indexes as definition: which database indexes a form's tables should have, and their DDL.

A form's record table gets, besides the unique indexes of unique fields (`engine.store.records`):

- by default: `_owner` (every "own" scope), `_created_at` descending then `_id` descending
  (a list's default order, newest first: issue 16), each relation column
  (`related=customer:12`, the JOIN of relation titles) and the title field (search, pickers);
- a field's `index: true` (the designer's "常用于筛选和排序" / "Used often to filter and sort");
- each composite index of the form's `indexes` (``[["status", "-amount"]]``, a leading ``-``
  makes that column descending).

A subform's row table gets its row fields' `index: true`. Every index's columns are followed
by `_id`, the tie-breaker of every generated sort, and a descending column is ``DESC NULLS
LAST`` on PostgreSQL — exactly the ORDER BY `engine.forms.sql` writes (blanks last), so the
planner walks the index instead of sorting. SQLite cannot declare NULLS LAST in an index; its
``DESC`` already puts blanks last and its planner matches ``DESC NULLS LAST`` to it.

An index of a record table ends with `_deleted_at`, after `_id` (`LIVE_COLUMN`): every read of
live records filters ``_deleted_at IS NULL``, and with the column in the index a live count is
answered from the index alone (SQLite's covering index, PostgreSQL's index-only scan) instead of
reading each matching row from the table to test it, while the order the index gives (its
columns, then `_id`) is still that of the generated sort, and queries that do not filter live
rows (the recycle bin, a field's value count) still use it. Not a partial index
(``WHERE _deleted_at IS NULL``): those queries could not use it; not before `_id`: the sort
would need a step for `_id` (EXPLAIN evidence in docs/decisions.md, "Declared indexes cover
live rows"). Subform row tables have no `_deleted_at` and their indexes end with `_id`.

Names are ``idx_{table}_{tokens}`` (a token per column: ``f12``, ``owner``; ``d`` appended when
descending), so the migrator (`engine.forms.migrate`) compares the indexes a layout wants with
the ``idx_`` indexes the database has, and plans every addition and removal like any schema
change. A field whose column is unique already has its unique index and gets no second one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from engine.core.issues import Issue
from engine.forms.common import FieldSpecBase
from engine.forms.field_types.links import RelationField
from engine.forms.field_types.structure import SubformField
from engine.forms.messages import issue
from engine.forms.spec import FormSpec

DEFAULT_SYSTEM = ("_owner",)
"""System columns every record table indexes by default."""

NEWEST_FIRST_COLUMNS: tuple[tuple[str, bool], ...] = (("_created_at", True), ("_id", True))
"""The index of a list's default order, newest first (``-_created_at,-_id``,
`engine.forms.service.NEWEST_FIRST`): both columns descending, `_id` included, so it is read
forwards in exactly the generated ORDER BY (``DESC NULLS LAST`` on both) on PostgreSQL too."""

_SYSTEM_TOKENS = {"_created_at": "created"}
"""Name tokens of system columns whose names hold an underscore (names are split on it)."""

LIVE_COLUMN = "_deleted_at"
"""The column every index of a record table ends with (see module): live rows in the index."""


@dataclass(frozen=True)
class IndexDef:
    """One wanted index: its table, its columns with their direction, the field keys (with `-`
    for descending) the plan names it by, and whether it ends with `LIVE_COLUMN` (a record
    table's; the name does not say so — migration 0011_idxlive rebuilt the indexes made
    before)."""

    table: str
    columns: tuple[tuple[str, bool], ...]  # (column, descending)
    keys: tuple[str, ...]
    live: bool = False  # a record table's: `LIVE_COLUMN` after `_id` (see module)
    pinyin: bool = False  # a text field's sort index: (key, value) beside its value index

    @property
    def name(self) -> str:
        tokens = [
            _SYSTEM_TOKENS.get(column, column.lstrip("_")) + ("d" if desc else "")
            for column, desc in self.columns
        ]
        return f"idx_{self.table}_{'_'.join(tokens)}"

    def tokens(self) -> set[str]:
        """The columns this index covers (to rebuild it when one of them is converted)."""
        return {column for column, _ in self.columns}

    def create_sql(self, dialect: str) -> str:
        """CREATE INDEX for `dialect`: the columns, `_id`, then `LIVE_COLUMN` on a record table;
        descending columns NULLS LAST on PostgreSQL (see module). An index that names `_id`
        itself (`NEWEST_FIRST_COLUMNS`) has it where it names it."""
        parts = []
        for column, desc in self.columns:
            if not desc:
                parts.append(column)
            elif dialect == "postgresql":
                parts.append(f"{column} DESC NULLS LAST")
            else:
                parts.append(f"{column} DESC")
        if "_id" not in self.tokens():
            parts.append("_id")
        if self.live:
            parts.append(LIVE_COLUMN)
        return f"CREATE INDEX IF NOT EXISTS {self.name} ON {self.table} ({', '.join(parts)})"


def index_tokens(name: str, table: str) -> list[tuple[str, bool]]:
    """The (column, descending) pairs of an ``idx_`` index in order, read back from its name
    (see `IndexDef.name`)."""
    found: list[tuple[str, bool]] = []
    for token in name[len(f"idx_{table}_") :].split("_"):
        descending = token.endswith("d") and token != "d"
        token = token[:-1] if descending else token
        system = next((c for c, t in _SYSTEM_TOKENS.items() if t == token), f"_{token}")
        found.append((token if token.startswith("f") else system, descending))
    return found


def index_columns_of(name: str, table: str) -> set[str]:
    """The columns an ``idx_`` index covers (to rebuild it when one of them is converted)."""
    return {column for column, _ in index_tokens(name, table)}


def existing_indexes(conn: Connection, table: str) -> set[str]:
    """Names of the ``idx_`` indexes `table` has in the database."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text(
                "SELECT indexname FROM pg_indexes"
                " WHERE schemaname = current_schema() AND tablename = :t"
            ),
            {"t": table},
        )
    else:
        rows = conn.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"),
            {"t": table},
        )
    prefix = f"idx_{table}_"
    return {row[0] for row in rows if row[0].startswith(prefix)}


def definition_issues(
    form: FormSpec, columns: dict[str, bool], subform_columns: dict[str, dict[str, bool]]
) -> list[Issue]:
    """Problems of a form's `index: true` flags and `indexes`: a field without a column, a key
    the form does not have, a key twice in one index, or the same index declared twice. `columns` maps every field key to whether it has a column;
    `subform_columns` the same per subform key for its row fields."""
    issues: list[Issue] = []
    for position, spec in enumerate(form.fields):
        if spec.index and not columns.get(spec.key, False):
            issues.append(
                issue(f"fields[{position}].index", "index_no_column", key=spec.key, type=spec.type)
            )
        if isinstance(spec, SubformField):
            rows = subform_columns.get(spec.key, {})
            for sub_position, sub in enumerate(spec.fields):
                if sub.index and not rows.get(sub.key, False):
                    issues.append(
                        issue(
                            f"fields[{position}].fields[{sub_position}].index",
                            "index_no_column",
                            key=sub.key,
                            type=sub.type,
                        )
                    )
    combinations: set[tuple[str, ...]] = set()
    for number, keys in enumerate(form.indexes):
        if tuple(keys) in combinations:
            issues.append(issue(f"indexes[{number}]", "duplicate_index", keys=", ".join(keys)))
        combinations.add(tuple(keys))
        seen: set[str] = set()
        for place, raw in enumerate(keys):
            key = raw.lstrip("-")
            where = f"indexes[{number}][{place}]"
            if key not in columns:
                issues.append(issue(where, "unknown_index_field", key=key))
            elif not columns[key]:
                spec = next(f for f in form.fields if f.key == key)
                issues.append(issue(where, "index_no_column", key=key, type=spec.type))
            elif key in seen:
                issues.append(issue(where, "duplicate_index_field", key=key))
            seen.add(key)
    return issues


def wanted_form_indexes(
    table: str,
    form: FormSpec,
    columns: dict[str, str],
    unique: set[str],
    keyed: dict[str, str] | None = None,
) -> list[IndexDef]:
    """The indexes a form's record table should have. `columns`: field key -> column, for the
    fields that have one; `unique`: field keys whose column has a unique index already;
    `keyed`: field key -> pinyin sort key column, for text fields (`engine.forms.sortkey`).

    A text field that is indexed (`index: true`, the title) gets a second index, its sort
    index ``(key, value, _id, …)``, the order ``ORDER BY`` reads it in; its value index stays
    for equality filters and title look-ups. In a composite index a text field after the first
    is its key then its value, so a combination filtered by its first fields sorts by pinyin
    through the index; a first text field stays its value (what the combination is filtered
    by), unless it is the only one (``[["-name"]]``: a descending sort by it)."""
    found: dict[str, IndexDef] = {}
    keyed = keyed or {}

    def want(definition: IndexDef) -> None:
        found.setdefault(definition.name, definition)

    for system in DEFAULT_SYSTEM:
        want(IndexDef(table, ((system, False),), (system,), live=True))
    want(IndexDef(table, NEWEST_FIRST_COLUMNS, ("-_created_at",), live=True))
    for spec in form.fields:
        column = columns.get(spec.key)
        if column is None:
            continue
        default = isinstance(spec, RelationField) or spec.key == form.title_field
        if not (default or spec.index):
            continue
        if spec.key not in unique:
            want(IndexDef(table, ((column, False),), (spec.key,), live=True))
        if spec.key in keyed:
            sort = ((keyed[spec.key], False), (column, False))
            want(IndexDef(table, sort, (spec.key,), live=True, pinyin=True))
    for keys in form.indexes:
        cols: list[tuple[str, bool]] = []
        for raw in keys:
            column = columns.get(raw.lstrip("-"))
            if column is None:
                break  # refused by the definition checks; never built
            if raw.lstrip("-") in keyed and (cols or len(keys) == 1):  # sorted by
                cols.append((keyed[raw.lstrip("-")], raw.startswith("-")))
            cols.append((column, raw.startswith("-")))
        else:
            want(IndexDef(table, tuple(cols), tuple(keys), live=True))
    return list(found.values())


def wanted_row_indexes(
    table: str, fields: list[FieldSpecBase], columns: dict[str, str]
) -> list[IndexDef]:
    """The indexes a subform's row table should have: its row fields' `index: true`."""
    return [
        IndexDef(table, ((columns[spec.key], False),), (spec.key,))
        for spec in fields
        if spec.index and spec.key in columns
    ]


__all__ = [
    "LIVE_COLUMN",
    "NEWEST_FIRST_COLUMNS",
    "IndexDef",
    "definition_issues",
    "existing_indexes",
    "index_columns_of",
    "index_tokens",
    "wanted_form_indexes",
    "wanted_row_indexes",
]
