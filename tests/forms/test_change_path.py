"""Every record write goes through the one change path (issue 11, item 3): this test walks the
engine's source (ast) and lists who writes history and who writes record tables, so a new write
path cannot slip in unannounced. A module that appears here on purpose goes into the allow-list
below with the reason it writes without announcing a record event."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from engine.flows import models as flow_models
from engine.rules import models as rule_models
from engine.store import models

ENGINE = Path(__file__).resolve().parents[2] / "engine"
CHANGE_PATH = "engine/forms/changes.py"

# Modules that write record tables (the per-form tables, their subform and link tables), and why.
ALLOWED_RECORD_WRITERS = {
    # the record pipeline's writes; each of its public write methods ends in the change path
    # (checked below)
    "engine/forms/records.py": "Writer.update/transfer/delete/restore: the main row",
    "engine/forms/writing/writes.py": "Writer's inserts, subform rows and links of a save",
    # the driver's bulk path, called by the Writer only (checked below)
    "engine/store/records.py": "bulk_insert: COPY / executemany for the Writer's batches",
    # not record events: the design changes, not anyone's change of a record
    "engine/forms/migrate.py": "publish: type conversions and stored-formula recomputes",
    "engine/forms/sortkey.py": "backfill, rekey: pinyin sort keys of stored text (publish, upgrade)",
    "engine/forms/backups.py": "restore: a type change's backed-up values, the design change undone",
}
# Where the pipeline is told that a write is nobody's change (no events).
ALLOWED_SILENT = {
    "engine/core/context.py": "where the flag lives",
    "engine/forms/apps.py": "pack installs and imports with data",
}
WRITER_METHODS = ("create_many", "update", "transfer", "_set_deleted")

PLATFORM_MODELS = {
    name: value
    for module in (models, flow_models, rule_models)  # the engines' tables are platform tables too
    for name, value in vars(module).items()
    if isinstance(value, type) and issubclass(value, models.Base) and value is not models.Base
}
MODELS = set(PLATFORM_MODELS)
SQL_MODULES = {"sa", "sqlalchemy", "postgresql", "sqlite", "dialect"}
DML = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM|COPY)\s+(\S+)", re.IGNORECASE)
TABLES = {model.__tablename__ for model in PLATFORM_MODELS.values()}


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(ENGINE.rglob("*.py")):
        relative = path.relative_to(ENGINE.parent).as_posix()
        yield relative, ast.parse(path.read_text(encoding="utf-8"), relative)


def _sqlalchemy_names(tree: ast.Module) -> set[str]:
    """Local names of sqlalchemy's insert/update/delete (`from sqlalchemy import insert as x`)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            for alias in node.names:
                if alias.name in ("insert", "update", "delete"):
                    names.add(alias.asname or alias.name)
    return names


def _assignments(scope: ast.AST) -> dict[str, ast.expr]:
    found: dict[str, ast.expr] = {}
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            found.setdefault(node.target.id, node.value)
    return found


def _shared_tables() -> set[str]:
    """Module-level names any engine module binds to a model's table (`JOBS = Job.__table__`),
    which other modules import."""
    return {
        name
        for _, tree in modules()
        for name, value in _assignments(tree).items()
        if isinstance(value, ast.Attribute)
        and value.attr == "__table__"
        and isinstance(value.value, ast.Name)
        and value.value.id in MODELS
        and all(  # module level only
            not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or name not in _assignments(node)
            for node in tree.body
        )
    }


def _is_model_table(target: ast.expr, scopes: list[dict[str, ast.expr]], depth: int = 0) -> bool:
    """Whether `target` is a metadata table (a model, `Model.__table__`, a name bound to one)."""
    if isinstance(target, ast.Name):
        if target.id in MODELS or target.id in SHARED_TABLES:
            return True
        for scope in scopes:
            if target.id in scope and depth < 3:
                return _is_model_table(scope[target.id], scopes, depth + 1)
        return False
    if isinstance(target, ast.Attribute) and target.attr == "__table__":
        return _is_model_table(target.value, scopes, depth)
    return False


SHARED_TABLES = _shared_tables()


def _sql_text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
        )
    return None


class Writes(ast.NodeVisitor):
    """Record-table writes and history writes of one module."""

    def __init__(self, tree: ast.Module) -> None:
        self.sa = _sqlalchemy_names(tree)
        self.module_scope = _assignments(tree)
        self.scopes: list[dict[str, ast.expr]] = [self.module_scope]
        self.records: list[int] = []
        self.history: list[int] = []
        self.visit(tree)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.scopes.insert(0, _assignments(node))
        self.generic_visit(node)
        self.scopes.pop(0)

    def visit_Call(self, node: ast.Call) -> None:
        target = self._target(node)
        if target is not None and not _is_model_table(target, self.scopes):
            self.records.append(node.lineno)
        if target is not None and "RecordHistory" in ast.unparse(target):
            self.history.append(node.lineno)
        for arg in node.args:
            text = _sql_text(arg)
            match = DML.match(text or "")
            if match is None:
                continue
            table = match.group(2)
            if "record_history" in table or "RecordHistory" in ast.unparse(arg):
                self.history.append(node.lineno)
            elif table not in TABLES:
                self.records.append(node.lineno)
        self.generic_visit(node)

    def _target(self, node: ast.Call) -> ast.expr | None:
        func = node.func
        if isinstance(func, ast.Name) and (func.id in self.sa or func.id == "bulk_insert"):
            index = 1 if func.id == "bulk_insert" else 0
            return node.args[index] if len(node.args) > index else None
        if isinstance(func, ast.Attribute) and func.attr in ("insert", "update", "delete"):
            if isinstance(func.value, ast.Name) and func.value.id in SQL_MODULES:
                return node.args[0] if node.args else None
            if not node.args and not node.keywords:
                return func.value  # `table.insert()`
        return None


def test_only_the_change_path_writes_history() -> None:
    writers = {name: found.history for name, tree in modules() if (found := Writes(tree)).history}
    assert set(writers) == {CHANGE_PATH}, writers


def test_record_tables_are_written_only_by_the_listed_modules() -> None:
    writers = {name: found.records for name, tree in modules() if (found := Writes(tree)).records}
    assert set(writers) == set(ALLOWED_RECORD_WRITERS), writers


def test_the_walker_sees_the_writes_it_must_see() -> None:
    """The test above cannot pass by seeing nothing: a new module with a write of each kind is
    caught, and metadata tables are not taken for record tables."""
    source = """
from sqlalchemy import insert as sa_insert, update
from sqlalchemy.dialects import postgresql
from engine.store.models import Counter, RecordHistory
from engine.store.records import bulk_insert

def write(conn, form, rows):
    table = form.table
    conn.execute(sa_insert(table), rows)
    conn.execute(update(form.table).values(x=1))
    bulk_insert(conn, table, rows)
    conn.exec_driver_sql(f"DELETE FROM {table.name}")
    counters = Counter.__table__
    conn.execute(postgresql.insert(counters).values(key="k"))
    conn.execute(update(Counter).values(value=2))
    conn.execute(sa_insert(RecordHistory), [])
    conn.exec_driver_sql("INSERT INTO record_history (id) VALUES (1)")
"""
    found = Writes(ast.parse(source))
    assert found.records == [9, 10, 11, 12]
    assert found.history == [16, 17]


def _writer_methods(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {
        item.name: item
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for item in node.body
        if isinstance(item, ast.FunctionDef) and item.name in WRITER_METHODS
    }


def test_every_write_of_the_writer_ends_in_the_change_path() -> None:
    methods: dict[str, ast.FunctionDef] = {}
    for name, tree in modules():
        if name in ALLOWED_RECORD_WRITERS:
            methods.update(_writer_methods(tree))
    assert set(methods) == set(WRITER_METHODS)
    for name, method in methods.items():
        calls = [
            ast.unparse(node.func)
            for node in ast.walk(method)
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "self.changes.record"
        ]
        assert calls, f"Writer.{name} writes without the change path"


def test_only_the_bulk_helper_and_the_writer_call_bulk_insert() -> None:
    callers = {
        name
        for name, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("bulk_insert")
    }
    assert callers <= {"engine/forms/writing/writes.py"}, callers


def test_only_pack_loads_write_without_events() -> None:
    silent = {
        name
        for name, tree in modules()
        for node in ast.walk(tree)
        if (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("without_record_events"))
        or (isinstance(node, ast.keyword) and node.arg == "record_events")
    }
    assert silent == set(ALLOWED_SILENT), silent
