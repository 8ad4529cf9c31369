"""Action values (`values` and `match` of actions): how each becomes a record-JSON value.

- a bare string is a formula over the triggering record (with `OLD(field)`), evaluated in
  Python; its result is converted to the target field's type as a formula's value is stored
  (text from a number, text, date, time or option; ids from numbers);
- numbers, booleans and null are literals; `{"value": x}` is the literal `x` (`value` kind);
- `{"copy": "<field of the rule's form>"}` copies a field of the triggering record (`copy`
  kind): same-typed fields, relations to the same form, and the conversions data linkage
  allows (`engine.forms.linkage`: the field type's `linkage_from`);
- other object values name a kind of `VALUE_KINDS` (`{"aggregate": …}` registers elsewhere).

Types are checked at publish (`value_issues`: an issue at `….values.<key>` when the value
cannot convert), so a run never finds a value of the wrong kind; `resolve` turns a value into
record JSON for one action step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.core.errors import ServiceError
from engine.core.issues import Issue
from engine.expr.runtime import EvalContext, encode
from engine.expr.types import ExprType, FieldInfo, normalize_schema
from engine.forms.field_types.links import RelationField
from engine.forms.layout import FormLayout
from engine.forms.linkage import _fills
from engine.forms.query import Reader
from engine.forms.references import SYSTEM_FIELDS, FormRefs
from engine.forms.schema import form_schemas
from engine.forms.spec import AppSpec, FormSpec
from engine.rules.condition import compile_formula, form_formula, formula_issues
from engine.rules.kinds import VALUE_KINDS, ActionStep, ValueKind
from engine.rules.known import NOTHING, RecordReads
from engine.rules.spec import RuleSpec

ID_KINDS = frozenset({"record", "user", "department"})


def _cannot(at: str, what_zh: str, what_en: str) -> Issue:
    return Issue(at, "value_type", what_zh, what_en)


def _field(app: AppSpec, form: str | None, key: str | None) -> Any:
    spec: FormSpec | None = FormRefs(app).forms.get(form or "")
    if spec is None or key is None:
        return None
    return next((f for f in spec.fields if f.key == key), None)


def _info(app: AppSpec, form: str | None, key: str | None) -> FieldInfo | None:
    entry = form_schemas(app).get(form or "", {}).get(key or "")
    if entry is None:
        return None
    return normalize_schema({key or "": entry})[key or ""]


def fits(value_type: ExprType, target: FieldInfo) -> bool:
    """Whether a formula result of `value_type` can be stored in `target`."""
    if value_type.kind == "blank":
        return True
    if target.field_type == "relation":
        return (
            not target.many and not value_type.is_list and value_type.kind in ("record", "number")
        )
    if target.is_list:
        return value_type.is_list and value_type.kind == target.kind
    if value_type.is_list or target.kind is None:
        return False
    if target.kind == "text":  # any single value's text, as it is stored; not 是/否 nor a record
        return value_type.kind not in ("boolean", "record")
    if target.kind in ID_KINDS:
        return value_type.kind in (target.kind, "number")
    return value_type.kind == target.kind


class LiteralValue(ValueKind):
    """`{"value": x}`: the literal x, as given (the record pipeline checks it when writing)."""

    name = "value"

    def resolve(
        self, step: ActionStep, spec: Any, target_form: str | None, field: str | None
    ) -> Any:
        return spec


class CopyValue(ValueKind):
    """`{"copy": "<field of the rule's form>"}`: that field of the triggering record."""

    name = "copy"

    def check(
        self,
        app: AppSpec,
        rule: RuleSpec,
        target_form: str | None,
        field: str | None,
        spec: Any,
        at: str,
    ) -> list[Issue]:
        if not isinstance(spec, str):
            return [Issue(f"{at}.copy", "string_type", "应为字段标识", "Expected a field key")]
        source = _field(app, rule.form, spec)
        if source is None:
            if spec in SYSTEM_FIELDS and spec in ("_id", "_owner", "_created_by", "_updated_by"):
                return []
            return FormRefs(app).field_issues(rule.form, spec, f"{at}.copy")
        target = _field(app, target_form, field)
        if target is None:
            return []
        same = source.type == target.type and (
            not isinstance(target, RelationField)
            or (
                isinstance(source, RelationField)
                and source.target == target.target
                and source.many == target.many
            )
        )
        if same or _fills(source, target):
            return []
        return [
            _cannot(
                at,
                f"字段 {spec}（{source.type}）不能复制到 {field}（{target.type}）",
                f"Field {spec} ({source.type}) cannot be copied into {field} ({target.type})",
            )
        ]

    def resolve(
        self, step: ActionStep, spec: Any, target_form: str | None, field: str | None
    ) -> Any:
        record = step.record or {}
        return plain(record.get(str(spec)))


def plain(value: Any) -> Any:
    """A record-JSON value as the record pipeline takes it back (a relation's `{_id, title}`
    as its id, lists of them as ids)."""
    if isinstance(value, Mapping) and "_id" in value:
        return value["_id"]
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


for _kind in (LiteralValue(), CopyValue()):
    if _kind.name not in VALUE_KINDS:
        VALUE_KINDS.register(_kind.name, _kind)


def value_issues(
    app: AppSpec,
    rule: RuleSpec,
    target_form: str | None,
    field: str | None,
    spec: Any,
    at: str,
) -> list[Issue]:
    """The issues of one action value at `at` (`rules[i].actions[j].values.<key>`)."""
    if spec is None or isinstance(spec, bool | int | float):
        return []
    if isinstance(spec, str):
        if rule.form is None:
            return [
                Issue(
                    at,
                    "formula_needs_form",
                    '没有表单的规则不能使用公式，请用 {"value": …} 写固定值',
                    'A rule without a form cannot use formulas; write {"value": …} for a fixed value',
                )
            ]
        schema = form_schemas(app).get(rule.form, {})
        issues = formula_issues(spec, schema, at, boolean=False)
        if issues:
            return issues
        target = _info(app, target_form, field)
        if target is None:
            return []
        result = compile_formula(spec, schema).type
        if not fits(result, target):
            return [
                _cannot(
                    at,
                    f"公式结果（{result.name}）不能写入字段 {field}（{target.field_type}）",
                    f"The formula gives {result.name}, which field {field} ({target.field_type}) cannot hold",
                )
            ]
        return []
    if isinstance(spec, dict) and len(spec) == 1:
        [(name, inner)] = spec.items()
        kind = VALUE_KINDS.get(name)
        if kind is not None:
            return kind.check(app, rule, target_form, field, inner, at)
    known = ", ".join(VALUE_KINDS.names())
    return [
        Issue(
            at,
            "unknown_value",
            f"无法识别的值：应为公式文本、数字、是/否、空，或 {{{known}}} 之一",
            f"Unrecognised value: expected a formula, a number, a boolean, null or one of {{{known}}}",
        )
    ]


def with_related(step: ActionStep, relations: frozenset[str]) -> Mapping[str, Any]:
    """The triggering record with the records of `relations` (read by path in a formula) filled
    in, as the system reads them now."""
    if not relations or step.rule.form is None:
        return step.record or {}
    record = dict(step.record or {})
    layout = step.app.layout
    form = layout.forms[step.rule.form]
    for key in relations:
        field = form.fields.get(key)
        value = plain(record.get(key))
        if field is None or not isinstance(field.spec, RelationField) or not isinstance(value, int):
            continue
        reader = Reader(layout, layout.forms[field.spec.target], step.ctx)
        try:
            record[key] = reader.get(step.conn, value)
        except ServiceError as exc:
            if exc.status != 404:
                raise
    return record


def value_reads(form: FormLayout, spec: Any) -> RecordReads | None:
    """What the action value `spec` reads of the triggering record of `form` (None: it may
    read anything — a formula through a relation, an aggregate, a kind registered elsewhere)."""
    if spec is None or isinstance(spec, bool | int | float):
        return NOTHING
    if isinstance(spec, str):
        try:
            formula = form_formula(form, spec)
        except Exception:  # a value published before values were checked: it never runs
            return None
        return None if formula.relations else RecordReads(values=formula.reads)
    if isinstance(spec, dict) and len(spec) == 1:
        [(name, inner)] = spec.items()
        if name == LiteralValue.name:
            return NOTHING
        if name == CopyValue.name and isinstance(inner, str):
            field = form.fields.get(inner)
            if field is not None and isinstance(field.spec, RelationField):
                return RecordReads(ids=frozenset({inner}))  # `plain`: only its id
            return RecordReads(values=frozenset({inner}))
    return None


def resolve(step: ActionStep, spec: Any, target_form: str | None, field: str | None) -> Any:
    """One action value for the triggering record, as record JSON."""
    if spec is None or isinstance(spec, bool | int | float):
        return spec
    if isinstance(spec, str):
        if step.rule.form is None:
            return None
        form = step.app.layout.forms[step.rule.form]
        formula = form_formula(form, spec)
        ctx = EvalContext.create(step.ctx.now, step.ctx.tz, user=step.event.actor)
        value = formula.value(with_related(step, formula.relations), step.old, ctx)
        if formula.type.kind == "record" or formula.type.kind in ID_KINDS:
            return value
        return encode(value)
    if isinstance(spec, dict) and len(spec) == 1:
        [(name, inner)] = spec.items()
        return VALUE_KINDS[name].resolve(step, inner, target_form, field)
    return spec


__all__ = [
    "CopyValue",
    "LiteralValue",
    "fits",
    "plain",
    "resolve",
    "value_issues",
    "value_reads",
    "with_related",
]
