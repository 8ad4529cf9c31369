"""Semantic checks of a structurally valid app: what the JSON Schema cannot say.

Duplicate keys, title fields, references between fields and forms (through each field type's
`validate`), and every formula-bearing property type-checked with `engine.expr` against its
form's schema. Every problem becomes an `Issue` with its definition path; nothing raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine import expr
from engine.core.issues import Issue
from engine.forms.common import DefaultExpr, DefaultLinkage, FieldSpecBase
from engine.forms.field_types import FIELD_TYPES, Scope
from engine.forms.field_types.computed import FormulaField
from engine.forms.field_types.structure import SubformField
from engine.forms.indexes import definition_issues as index_definition_issues
from engine.forms.layout import layout_sources
from engine.forms.linkage import linkage_issues
from engine.forms.messages import issue, kind_names
from engine.forms.schema import Entries, form_schemas, row_schema, unresolved_formulas
from engine.forms.spec import AppSpec, FormSpec


def semantic_issues(app: AppSpec) -> list[Issue]:
    """Every semantic problem of `app`, in document order."""
    issues = _duplicates([form.key for form in app.forms], "forms", "duplicate_form")
    entries = form_schemas(app)
    for index, form in enumerate(app.forms):
        issues += [found.under(f"forms[{index}]") for found in _form_issues(form, app, entries)]
    issues += _role_issues(app, entries)
    return issues


def _role_issues(app: AppSpec, entries: Entries) -> list[Issue]:
    """Roles name existing forms and fields; expression scopes are conditions on their form."""
    issues = _duplicates([role.key for role in app.roles], "roles", "duplicate_role")
    forms = {form.key: form for form in app.forms}
    for index, role in enumerate(app.roles):
        for form_key, permission in role.forms.items():
            where = f"roles[{index}].forms.{form_key}"
            form = forms.get(form_key)
            if form is None:
                issues.append(issue(where, "unknown_form", key=form_key))
                continue
            keys = {f.key for f in form.fields}
            issues += [
                issue(f"{where}.fields.{key}", "unknown_field", key=key)
                for key in permission.fields
                if key not in keys
            ]
            scope = permission.scope
            if not isinstance(scope, str):
                issues += _formula_issues(
                    scope.expr, entries.get(form_key, {}), f"{where}.scope.expr", set(), True
                )
    return issues


def _duplicates(keys: Sequence[str], where: str, code: str) -> list[Issue]:
    seen: set[str] = set()
    issues: list[Issue] = []
    for index, key in enumerate(keys):
        if key in seen:
            issues.append(issue(f"{where}[{index}].key", code, key=key))
        seen.add(key)
    return issues


def _form_issues(form: FormSpec, app: AppSpec, entries: Entries) -> list[Issue]:
    issues = _duplicates([f.key for f in form.fields], "fields", "duplicate_field")
    issues += _title_issues(form)
    schema = entries.get(form.key, {})
    scope = Scope(app, form, tuple(form.fields), False, entries)
    pending = unresolved_formulas(form.fields, schema)
    for index, field in enumerate(form.fields):
        found = _field_issues(field, scope, schema, pending)
        if isinstance(field, SubformField):
            found += _subform_issues(field, scope, schema)
        issues += [i.under(f"fields[{index}]") for i in found]
    for index, rule in enumerate(form.validations):
        issues += _formula_issues(rule.expr, schema, f"validations[{index}].expr", pending, True)
    return issues + _index_issues(form, schema)


def _has_columns(fields: list[FieldSpecBase], schema: dict[str, Any], row: bool) -> dict[str, bool]:
    """Whether each field keeps its value in a column (what `index` needs)."""
    keys = frozenset(f.key for f in fields) if row else frozenset()
    sources = layout_sources(fields, schema, keys)
    found: dict[str, bool] = {}
    for spec in fields:
        if sources.get(spec.key) != "column":
            found[spec.key] = False
        elif isinstance(spec, FormulaField):
            found[spec.key] = True  # stored: its result type has a column (`_storable`)
        else:
            found[spec.key] = FIELD_TYPES[spec.type].column_type(spec) is not None
    return found


def _index_issues(form: FormSpec, schema: dict[str, Any]) -> list[Issue]:
    fields = list(form.fields)
    columns = _has_columns(fields, schema, False)
    rows = {
        f.key: _has_columns(list(f.fields), row_schema(schema, f), True)
        for f in fields
        if isinstance(f, SubformField)
    }
    return index_definition_issues(form, columns, rows)


def _title_issues(form: FormSpec) -> list[Issue]:
    if form.title_field is None:
        return []
    title = next((f for f in form.fields if f.key == form.title_field), None)
    if title is None:
        return [issue("title_field", "unknown_title_field", key=form.title_field)]
    if not FIELD_TYPES[title.type].titleable:
        return [issue("title_field", "title_field_type", key=title.key, type=title.type)]
    return []


def _subform_issues(field: SubformField, scope: Scope, schema: dict[str, Any]) -> list[Issue]:
    issues = _duplicates([f.key for f in field.fields], "fields", "duplicate_field")
    rows = row_schema(schema, field)
    row_scope = Scope(scope.app, scope.form, tuple(field.fields), True, scope.entries)
    pending = unresolved_formulas(field.fields, rows)
    for index, sub in enumerate(field.fields):
        if isinstance(sub, SubformField):
            continue  # reported by the subform type as nested_subform
        found = _field_issues(sub, row_scope, rows, pending)
        issues += [i.under(f"fields[{index}]") for i in found]
    return issues


def _field_issues(
    field: FieldSpecBase, scope: Scope, schema: dict[str, Any], pending: set[str]
) -> list[Issue]:
    issues = FIELD_TYPES[field.type].validate(field, scope)
    if isinstance(field, FormulaField):
        issues += _formula_issues(field.expr, schema, "expr", pending, False)
    for name in ("visible_when", "readonly_when"):
        source = getattr(field, name)
        if source is not None:
            issues += _formula_issues(source, schema, name, pending, True)
    default = getattr(field, "default", None)
    if isinstance(default, DefaultExpr):
        issues += _formula_issues(default.expr, schema, "default.expr", pending, False)
    elif isinstance(default, DefaultLinkage):
        issues += linkage_issues(field, default.linkage, scope)
    return issues


def _formula_issues(
    source: str, schema: dict[str, Any], path: str, pending: set[str], boolean: bool
) -> list[Issue]:
    """The problems of one formula: its parse or type error, or a non-boolean condition."""
    try:
        result = expr.check(source, schema)
    except expr.ExprError as exc:
        name = exc.params.get("name")
        if exc.code == "unknown_field" and name in pending:
            return [issue(path, "formula_cycle", line=exc.line, column=exc.column, name=name)]
        return [Issue(path, exc.code, exc.message_zh, exc.message_en, exc.line, exc.column)]
    except ValueError as exc:
        return [issue(path, "invalid_schema", error=str(exc))]
    if boolean and (result.kind != "boolean" or result.is_list):
        names = kind_names(result.name)
        return [
            issue(path, "not_boolean", actual_zh=names["actual_zh"], actual_en=names["actual_en"])
        ]
    return []
