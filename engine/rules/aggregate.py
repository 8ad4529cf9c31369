"""The rule value kind `aggregate` (issue 14): a number computed over another form's records.

```json
"values": {"signed_total": {"aggregate": {"form": "contract", "agg": "sum", "field": "amount",
                                          "match": {"customer": "_id"},
                                          "filter": "NOT ISBLANK(signed_date)"}}}
```

`agg` is `sum`, `count`, `avg`, `min` or `max` over `field` of the records of `form` (no
`field`: `count` counts records) that are live, match every `match` entry — a field of `form`
(or `_id`) equal to an action value resolved for the triggering record (a formula, `{"copy"}`,
a literal) — and the `filter` formula over `form`. It is ONE SQL statement built through the
forms engine's query builder (`Reader.scoped`, the system's unrestricted scope), so read-time
fields (rollups, lookups, formulas) aggregate exactly as lists show them, on SQLite and
PostgreSQL alike. Nothing matching gives a blank value, except `count`, which gives 0; a blank
`match` value matches nothing (as data linkage does). The result is converted to the target
field's type (`coerce`, then record JSON).

Checks at publish, at `…values.<key>.aggregate.<property>`: the form and field exist, `agg`
fits the field (`sum`/`avg` need a number, `min`/`max` a number or a date/time), the match
fields exist and can be compared, the filter type-checks over `form`, and the result fits the
target field (a number into a number, money or percent field; a date into a date field).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, ValidationError
from sqlalchemy import and_, select

from engine.core.issues import Issue
from engine.forms.common import Key, Spec
from engine.forms.field_types.links import RelationField
from engine.forms.field_types.values import coerce_id, decimal_json
from engine.forms.layout import FormLayout
from engine.forms.query import Reader
from engine.forms.references import SYSTEM_FIELDS, FormRefs
from engine.forms.schema import form_schemas
from engine.forms.spec import AppSpec
from engine.forms.sql import AGGREGATES
from engine.rules.action_settings import refusal
from engine.rules.kinds import VALUE_KINDS, ActionStep, ValueKind

NUMBERS = frozenset({"number", "integer", "money", "percent", "rating"})
MOMENTS = frozenset({"date", "datetime", "time"})
ID_TYPES = frozenset({"record", "user", "department"})
"""Formula types of values compared by id (a relation's record, a person, a department)."""


class AggregateSpec(Spec):
    """The value `{"aggregate": {...}}` (see the module docstring)."""

    form: Key
    agg: Literal["sum", "count", "avg", "min", "max"]
    field: str | None = None
    match: dict[str, Any] = Field(default_factory=dict)
    filter: str | None = None


def _issue(path: str, code: str, zh: str, en: str) -> Issue:
    return Issue(path, code, zh, en)


def _typed(spec: Any, at: str) -> tuple[AggregateSpec | None, list[Issue]]:
    from engine.forms.compile import issue_of_error

    if not isinstance(spec, Mapping):
        return None, [_issue(at, "expected_object", "应为对象", "Expected an object")]
    try:
        return AggregateSpec.model_validate(dict(spec)), []
    except ValidationError as exc:
        return None, [issue_of_error(error, dict(spec)).under(at) for error in exc.errors()]


def result_kind(agg: str, source_type: str | None) -> str:
    """What the aggregate gives: `number`, or the source's own type for `min`/`max`."""
    if agg in ("count", "sum", "avg") or source_type is None:
        return "number"
    return "number" if source_type in NUMBERS else source_type


class Aggregate(ValueKind):
    """`{"aggregate": {"form", "agg", "field"?, "match"?, "filter"?}}` (module docstring)."""

    name = "aggregate"

    def check(
        self,
        app: AppSpec,
        rule: Any,
        target_form: str | None,
        field: str | None,
        spec: Any,
        at: str,
    ) -> list[Issue]:
        at = f"{at}.aggregate"
        found, issues = _typed(spec, at)
        if found is None:
            return issues
        refs = FormRefs(app)
        if found.form not in refs.forms:
            return [
                _issue(
                    f"{at}.form",
                    "unknown_form",
                    f"表单 {found.form} 不存在",
                    f"Form {found.form} does not exist",
                )
            ]
        schema = form_schemas(app).get(found.form, {})
        source_type = self._source_issues(found, schema, at, issues)
        for key, value in found.match.items():
            where = f"{at}.match.{key}"
            entry = schema.get(key)
            if entry is None:
                issues.append(
                    _issue(
                        where, "unknown_field", f"字段 {key} 不存在", f"Field {key} does not exist"
                    )
                )
            elif entry.get("type") in ("subform", "multiselect", "users", "departments", "file"):
                issues.append(
                    _issue(
                        where,
                        "not_comparable",
                        f"字段 {key} 不是每条记录一个值，不能用于匹配",
                        f"Field {key} does not hold one value per record; it cannot be matched",
                    )
                )
            issues += _value_issues(app, rule, found.form, key, value, where, refs)
        if found.filter:
            issues += refs.condition_issues(found.form, found.filter, f"{at}.filter")
        if target_form is not None and field is not None and source_type is not None:
            issues += _target_issues(
                app, target_form, field, result_kind(found.agg, source_type or None), at
            )
        return issues

    @staticmethod
    def _source_issues(
        found: AggregateSpec, schema: Mapping[str, Any], at: str, issues: list[Issue]
    ) -> str | None:
        """The aggregated field's formula type ("" for a plain count), or None when wrong."""
        if found.field is None:
            if found.agg != "count":
                issues.append(
                    _issue(
                        f"{at}.field",
                        "missing",
                        f"汇总方式 {found.agg} 需要指定字段 field",
                        f"Aggregate {found.agg} needs a field",
                    )
                )
                return None
            return ""
        entry = schema.get(found.field)
        if entry is None:
            issues.append(
                _issue(
                    f"{at}.field",
                    "unknown_field",
                    f"字段 {found.field} 不存在",
                    f"Field {found.field} does not exist",
                )
            )
            return None
        kind = str(entry.get("type"))
        fits = (
            found.agg == "count"
            or (found.agg in ("sum", "avg") and kind in NUMBERS)
            or (found.agg in ("min", "max") and (kind in NUMBERS or kind in MOMENTS))
        )
        if not fits:
            need = (
                ("数字", "a number")
                if found.agg in ("sum", "avg")
                else ("数字或日期", "a number or a date")
            )
            issues.append(
                _issue(
                    f"{at}.agg",
                    "aggregate_type",
                    f"汇总方式 {found.agg} 需要{need[0]}字段，字段 {found.field} 的类型为 {kind}",
                    f"Aggregate {found.agg} needs {need[1]} field; field {found.field} has type {kind}",
                )
            )
            return None
        return kind

    def resolve(
        self, step: ActionStep, spec: Any, target_form: str | None, field: str | None
    ) -> Any:
        found, issues = _typed(spec, "aggregate")
        if found is None:
            first = issues[0]
            raise refusal(first.code, first.message_zh, first.message_en, first.path)
        layout = step.app.layout.forms.get(found.form)
        if layout is None:
            raise refusal(
                "unknown_form",
                f"表单 {found.form} 不存在",
                f"Form {found.form} does not exist",
                "aggregate.form",
            )
        reader = Reader(step.app.layout, layout, step.ctx)  # the system's unrestricted scope
        scoped = reader.scoped(filter=found.filter or None)
        conditions = [scoped.where]
        for key, value_spec in found.match.items():
            stored = _stored(layout, key, step.value(value_spec, found.form, key))
            if stored is None:  # a blank matches nothing
                return self._blank(found, step, target_form, field)
            conditions.append(scoped.value(key, f"aggregate.match.{key}") == stored)
        value = None if found.field is None else scoped.value(found.field, "aggregate.field")
        statement = (
            select(AGGREGATES[found.agg](value)).select_from(scoped.table).where(and_(*conditions))
        )
        raw = step.conn.execute(statement).scalar()
        if raw is None:
            return self._blank(found, step, target_form, field)
        if found.agg in ("min", "max") and found.field is not None:
            source = layout.fields.get(found.field)
            if source is not None and not isinstance(raw, (int, float, Decimal)):
                raw = reader.value_json(layout, source, raw)
        return _converted(step, raw, target_form, field)

    @staticmethod
    def _blank(
        found: AggregateSpec, step: ActionStep, target_form: str | None, field: str | None
    ) -> Any:
        return _converted(step, 0, target_form, field) if found.agg == "count" else None


def _value_issues(
    app: AppSpec, rule: Any, form: str, key: str, value: Any, at: str, refs: FormRefs
) -> list[Issue]:
    """The issues of one match value: a formula over the rule's form, or a value kind's own."""
    if isinstance(value, str):
        return refs.condition_issues(rule.form, value, at, boolean=False)
    if isinstance(value, Mapping) and len(value) == 1:
        name = next(iter(value))
        kind = VALUE_KINDS.get(name)
        if kind is not None:
            return kind.check(app, rule, form, key, value[name], at)
        if name != "value":
            return [
                _issue(
                    at,
                    "unknown_value_kind",
                    f"无法识别的取值 {name}（可用：value、{'、'.join(VALUE_KINDS.names())}）",
                    f"Unrecognised value {name} (expected value, {', '.join(VALUE_KINDS.names())})",
                )
            ]
    return []


def _target_issues(app: AppSpec, form: str, field: str, kind: str, at: str) -> list[Issue]:
    """Whether an aggregate giving `kind` fits field `field` of `form` (unknown ones are
    reported by the action at their own paths)."""
    spec = next((f for f in app.forms if f.key == form), None)
    target = None if spec is None else next((f for f in spec.fields if f.key == field), None)
    if target is None:
        return []
    fits = target.type in NUMBERS if kind in NUMBERS else target.type == kind
    if fits:
        return []
    return [
        _issue(
            at,
            "aggregate_target_type",
            f"汇总结果（{kind}）不能写入字段 {field}（{target.type}）",
            f"The aggregate ({kind}) cannot be written to field {field} ({target.type})",
        )
    ]


def _stored(layout: FormLayout, key: str, raw: Any) -> Any:
    """A match value (record JSON) as the column of `key` holds it; None when blank or when it
    does not convert (nothing matches then)."""
    if raw is None or raw == "" or raw == []:
        return None
    field = layout.fields.get(key)
    if key in SYSTEM_FIELDS or field is None or isinstance(field.spec, RelationField):
        item = raw.get("_id", raw.get("id")) if isinstance(raw, Mapping) else raw
        value, problems = coerce_id(item)
        return None if problems else value
    if field.spec.type in ("user", "department") and isinstance(raw, Mapping):
        raw = raw.get("id")
    value, problems = field.coerce(raw)
    return None if problems else value


def _converted(step: ActionStep, raw: Any, target_form: str | None, field: str | None) -> Any:
    """The aggregate as record JSON of the target field (as JSON text/number when none)."""
    if isinstance(raw, (Decimal, float)):
        raw = decimal_json(raw, None)
    target = None
    if target_form is not None and field is not None:
        form = step.app.layout.forms.get(target_form)
        target = None if form is None else form.fields.get(field)
    if target is None:
        return raw
    value, problems = target.coerce(raw)
    if problems:
        first = problems[0]
        raise refusal(
            "aggregate_target_type",
            f"汇总结果 {raw} 不能写入字段 {field}：{first.message_zh}",
            f"The aggregate {raw} cannot be written to field {field}: {first.message_en}",
            f"values.{field}",
        )
    return target.write_json(value)


VALUE_KINDS.register(Aggregate.name, Aggregate())

__all__ = ["MOMENTS", "NUMBERS", "Aggregate", "AggregateSpec", "result_kind"]
