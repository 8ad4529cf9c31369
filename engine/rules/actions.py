"""The record-writing actions of rules (`actions[i].type`), registered in `ACTIONS`.

- `create_record` `{form, values}`: one record of `form`;
- `update_records` `{target, values}`: the target records get `values`;
- `upsert_record` `{form, match, values}`: the records of `form` whose `match` fields equal the
  given values get `values`; when there is none, one is created with `match` and `values`;
- `delete_records` `{target}`: the target records go to the recycle bin.

`target` is `"self"` (the triggering record), `{"relation": "<relation of the rule's form>"}`
(the records it points at) or `{"form", "match"?, "filter"?}` (the records of a form whose
`match` fields equal the values and which `filter`, a formula over that form, holds for).

`update_records` also takes `{"relation": …, "include_old": true}`: besides the records the
relation points at now, the records it pointed at *before* the change (the old value the
update event carries in its snapshot, `OLD(relation)`) are updated too — a contract moved to
another customer re-sums both. For those old records the values are computed as if the
relation still held its old value (an aggregate matching on the relation then sums the old
customer's remaining records). Events other than an update have no old value: only the
current records are updated.

Every write goes through the record service (`open_form` with the system caller) in the
step's context — the rule's system actor on channel `rule`, one cascade level deeper — so it
is validated, historied and announces its own record events (other rules may fire on them).
A created record belongs to the user whose change fired the rule (`Actor.owner`); nobody is
its `_created_by` (the rule wrote it). What each action did (`{"created": [ids]}`,
`{"updated": [ids]}`, `{"deleted": [ids]}`) goes to the run log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from engine.core.errors import ServiceError, invalid
from engine.core.issues import Issue
from engine.forms.apps import LoadedApp
from engine.forms.cache import on_layout
from engine.forms.field_types.links import RelationField
from engine.forms.layout import FormLayout
from engine.forms.references import FormRefs
from engine.forms.service import RecordService, open_form
from engine.forms.spec import AppSpec
from engine.rules.kinds import ACTIONS, ActionStep, ActionType
from engine.rules.known import NOTHING, RecordReads
from engine.rules.spec import RuleAction, RuleSpec
from engine.rules.values import plain, value_issues, value_reads

MAX_TARGETS = 1000  # records one action may change; more is a refusal, not a silent cut


def extra(action: RuleAction) -> dict[str, Any]:
    """The action's own settings besides `type`, `form` and `values`."""
    return dict(action.model_extra or {})


def unknown_settings(action: RuleAction, allowed: set[str], at: str) -> list[Issue]:
    given = set(extra(action))
    if action.form is not None:
        given.add("form")
    if action.values:
        given.add("values")
    return [
        Issue(
            f"{at}.{key}",
            "unknown_setting",
            f"动作 {action.type} 没有设置项 {key}（可用：{', '.join(sorted(allowed))}）",
            f"Action {action.type} has no setting {key} (known: {', '.join(sorted(allowed))})",
        )
        for key in sorted(given - allowed)
    ]


def missing(at: str, what_zh: str, what_en: str) -> Issue:
    return Issue(at, "missing", f"请填写{what_zh}", f"{what_en} is required")


def values_issues(
    app: AppSpec, rule: RuleSpec, form: str | None, values: Any, at: str
) -> list[Issue]:
    """Each value of `values` (field of `form` → value) checked against its field."""
    if not isinstance(values, dict):
        return [Issue(at, "dict_type", "应为对象", "Expected an object")]
    refs = FormRefs(app)
    issues: list[Issue] = []
    for key, spec in values.items():
        found = refs.field_issues(form, key, f"{at}.{key}", system=False)
        if found:
            issues += found
            continue
        issues += value_issues(app, rule, form, key, spec, f"{at}.{key}")
    return issues


def target_form(app: AppSpec, rule: RuleSpec, target: Any) -> str | None:
    """The form a target's records belong to (None when the target is malformed)."""
    if target == "self":
        return rule.form
    if isinstance(target, dict) and isinstance(target.get("relation"), str):
        spec = FormRefs(app).forms.get(rule.form or "")
        field = (
            next((f for f in spec.fields if f.key == target["relation"]), None) if spec else None
        )
        return field.target if isinstance(field, RelationField) else None
    if isinstance(target, dict) and isinstance(target.get("form"), str):
        return str(target["form"])
    return None


RELATION_TARGET = {"relation", "include_old"}


def target_issues(
    app: AppSpec, rule: RuleSpec, target: Any, at: str, *, old_allowed: bool = False
) -> list[Issue]:
    """The issues of a `target` at `at` (`….target`); `include_old` only when `old_allowed`
    (update_records)."""
    refs = FormRefs(app)
    if target is None:
        return [missing(at, "目标记录", "The target")]
    if target == "self":
        if rule.form is None:
            return [
                Issue(
                    at,
                    "missing",
                    "没有表单的规则没有触发记录",
                    "A rule without a form has no triggering record",
                )
            ]
        return []
    if isinstance(target, dict) and "relation" in target and set(target) <= RELATION_TARGET:
        key = target["relation"]
        if "include_old" in target and not old_allowed:
            return [
                Issue(
                    f"{at}.include_old",
                    "unknown_setting",
                    "只有“修改记录”动作的目标可以包含关联字段修改前指向的记录（include_old）",
                    "Only an update_records target may include the records the relation "
                    "pointed at before the change (include_old)",
                )
            ]
        if "include_old" in target and not isinstance(target["include_old"], bool):
            return [
                Issue(
                    f"{at}.include_old",
                    "bool_type",
                    "include_old 应为 true 或 false",
                    "include_old must be true or false",
                )
            ]
        spec = refs.forms.get(rule.form or "")
        field = next((f for f in spec.fields if f.key == key), None) if spec else None
        if not isinstance(field, RelationField):
            return [
                Issue(
                    f"{at}.relation",
                    "not_a_relation",
                    f"{key} 不是表单 {rule.form} 的关联字段",
                    f"{key} is not a relation field of form {rule.form}",
                )
            ]
        return []
    if isinstance(target, dict) and "form" in target and set(target) <= {"form", "match", "filter"}:
        form = target["form"]
        issues = refs.form_issues(form, f"{at}.form")
        if issues:
            return issues
        issues += values_issues(app, rule, form, target.get("match") or {}, f"{at}.match")
        condition = target.get("filter")
        if condition is not None:
            if not isinstance(condition, str):
                return [
                    *issues,
                    Issue(f"{at}.filter", "string_type", "应为公式", "Expected a formula"),
                ]
            issues += refs.condition_issues(form, condition, f"{at}.filter")
        return issues
    return [
        Issue(
            at,
            "invalid_target",
            '目标应为 "self"、{"relation": 关联字段, "include_old"?: true} 或 {"form": 表单, "match"?: {…}, "filter"?: 公式}',
            'A target is "self", {"relation": <relation field>, "include_old"?: true} or {"form": <form>, "match"?: {…}, "filter"?: <formula>}',
        )
    ]


def literal(value: Any, kind: str | None) -> str:
    """A value as a formula literal (for `match` filters)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return str(value)
    text = '"' + str(value).replace('"', '""') + '"'
    return f"DATEVALUE({text})" if kind == "date" else text


def match_filter(service: RecordService, match: dict[str, Any]) -> str | None:
    """A filter formula for records whose fields equal `match` (already resolved values)."""
    parts = []
    for key, value in match.items():
        layout = service.form.fields.get(key)
        kind = layout.spec.type if layout is not None else None
        if value is None or value == "" or value == []:
            parts.append(f"ISBLANK({key})")
        elif isinstance(value, list):
            raise invalid(
                [
                    Issue(
                        f"match.{key}",
                        "match_list",
                        "匹配条件不能是多个值",
                        "A match value cannot be a list",
                    )
                ]
            )
        else:
            parts.append(f"{key} = {literal(value, kind)}")
    return " AND ".join(parts) or None


def find(service: RecordService, conditions: list[str]) -> list[int]:
    """Ids of the live records of the service's form for which every condition holds."""
    where = " AND ".join(f"({c})" for c in conditions if c) or None
    page = service.list(filter=where, sort="_id", limit=MAX_TARGETS + 1, count=False)
    ids = [int(item["_id"]) for item in page.items]
    if len(ids) > MAX_TARGETS:
        raise ServiceError(
            422,
            "too_many_targets",
            message_zh=f"规则一次最多修改 {MAX_TARGETS} 条记录",
            message_en=f"A rule changes at most {MAX_TARGETS} records at a time",
        )
    return ids


def resolved(step: ActionStep, form: str, values: dict[str, Any]) -> dict[str, Any]:
    return {key: step.value(spec, form, key) for key, spec in values.items()}


def targets(step: ActionStep, target: Any) -> tuple[str, list[int]]:
    """The form and ids of the records a target names, for this run."""
    rule, event = step.rule, step.event
    if target == "self":
        assert rule.form is not None
        return rule.form, [event.record_id] if event.record_id is not None and step.record else []
    if isinstance(target, dict) and "relation" in target:
        assert rule.form is not None
        layout = step.app.layout.forms[rule.form].fields[target["relation"]]
        assert isinstance(layout.spec, RelationField)
        value = plain((step.record or {}).get(target["relation"]))
        ids = value if isinstance(value, list) else [value]
        return layout.spec.target, [int(i) for i in ids if isinstance(i, int)]
    form = str(target["form"])
    service = open_form(step.ctx, step.conn, step.app, form)
    match = resolved(step, form, dict(target.get("match") or {}))
    conditions = [match_filter(service, match) or "", str(target.get("filter") or "")]
    return form, find(service, conditions)


def old_targets(step: ActionStep, target: Any, current: list[int]) -> list[int]:
    """The ids the relation of an `include_old` target pointed at before the change and points
    at no longer (none without `include_old` or an old value in the event)."""
    if not (isinstance(target, dict) and target.get("include_old") is True):
        return []
    key = target["relation"]
    if step.old is None or key not in step.old:
        return []
    value = plain(step.old.get(key))
    ids = value if isinstance(value, list) else [value]
    return [int(i) for i in dict.fromkeys(ids) if isinstance(i, int) and i not in current]


def as_before(step: ActionStep, key: str) -> ActionStep:
    """The step with the triggering record's relation `key` back at its old value: what the
    values of an old target are computed over."""
    from engine.rules.values import resolve

    record = {**(step.record or {}), key: (step.old or {}).get(key)}
    before = dataclasses.replace(step, record=record)
    before.resolve = partial(resolve, before)
    return before


class CreateRecord(ActionType):
    name = "create_record"
    label = ("新增记录", "Create a record")
    writes_records = True

    def check(self, app: AppSpec, rule: RuleSpec, action: RuleAction, at: str) -> list[Issue]:
        issues = unknown_settings(action, {"form", "values"}, at)
        if action.form is None:
            return [*issues, missing(f"{at}.form", "表单", "The form")]
        found = FormRefs(app).form_issues(action.form, f"{at}.form")
        if found:
            return issues + found
        return issues + values_issues(app, rule, action.form, action.values, f"{at}.values")

    def run(self, step: ActionStep) -> dict[str, Any]:
        form = step.action.form
        assert form is not None
        service = open_form(step.ctx, step.conn, step.app, form)
        ids = service.create_many([resolved(step, form, dict(step.action.values))])
        return {"form": form, "created": ids}

    def record_reads(self, form: FormLayout, action: RuleAction) -> RecordReads | None:
        """Only its values read the triggering record."""
        found = NOTHING
        for spec in action.values.values():
            reads = value_reads(form, spec)
            if reads is None:
                return None
            found = found | reads
        return found


class UpdateRecords(ActionType):
    name = "update_records"
    label = ("修改记录", "Update records")
    writes_records = True

    def check(self, app: AppSpec, rule: RuleSpec, action: RuleAction, at: str) -> list[Issue]:
        issues = unknown_settings(action, {"target", "values"}, at)
        target = extra(action).get("target")
        found = target_issues(app, rule, target, f"{at}.target", old_allowed=True)
        if found:
            return issues + found
        if not action.values:
            issues.append(missing(f"{at}.values", "要修改的字段", "The values"))
        form = target_form(app, rule, target)
        return issues + values_issues(app, rule, form, action.values, f"{at}.values")

    def run(self, step: ActionStep) -> dict[str, Any]:
        target = extra(step.action)["target"]
        form, ids = targets(step, target)
        values = resolved(step, form, dict(step.action.values))
        outcome: dict[str, Any] = {"form": form, "updated": update(step, form, ids, values)}
        old = old_targets(step, target, ids)
        if old:
            before = as_before(step, target["relation"])
            values = resolved(before, form, dict(step.action.values))
            outcome["updated_old"] = update(before, form, old, values)
        return outcome


def update(step: ActionStep, form: str, ids: list[int], values: dict[str, Any]) -> list[int]:
    """Write `values` into each record of `ids` (at the version it has now)."""
    service = open_form(step.ctx, step.conn, step.app, form)
    table = service.form.table
    # Its version alone (the writer reads the record whole), the row locked until the run
    # commits: two runs changing one record at once (job workers on PostgreSQL) take turns
    # instead of one failing with stale_version; SQLite's writers take turns already. Built
    # once per form layout (a revision's). A batch of runs locked its relation targets at
    # once (`lock_relation_targets`): their versions are known without a statement.
    versions = on_layout(
        service.form,
        "rules:version_lock",
        lambda: (
            select(table.c._version)
            .where(table.c._id == bindparam("b_id"), table.c._deleted_at.is_(None))
            .with_for_update()
        ),
    )
    known = locked_versions(step.conn)
    done = []
    for record_id in ids:
        version = known.pop((form, record_id), None)
        if version is None:
            version = step.conn.execute(versions, {"b_id": record_id}).scalar_one_or_none()
        if version is None:  # gone meanwhile: nothing to change
            continue
        written = service.writer().update(
            step.conn, record_id, {**values, "_version": version}, step.ctx.actor
        )
        if known is not _NONE_KNOWN:
            known[(form, record_id)] = written  # still locked: the next run of the batch
        done.append(record_id)
    return done


# --- a batch's relation targets locked at once ------------------------------------------------

_LOCKED = "jimu.rules.locked_versions"  # conn.info: (transaction, {(form, id): version})
_NONE_KNOWN: dict[tuple[str, int], int] = {}  # stays empty: outside a batch nothing is known


def locked_versions(conn: Connection) -> dict[tuple[str, int], int]:
    """The versions of the records this transaction locked ahead for a batch of runs
    (`lock_relation_targets`), by (form, id); kept up to date by `update` as it writes them.
    A version changed by another write of the same transaction (a cascade) makes the writer
    refuse with stale_version: the worker's batch then rolls back and each run goes alone,
    reading its versions afresh."""
    kept: tuple[Any, dict[tuple[str, int], int]] | None = conn.info.get(_LOCKED)
    if kept is None or kept[0] is not conn.get_transaction():
        return _NONE_KNOWN
    return kept[1]


def _batch_lock(table: Any) -> Any:
    """The live records of `table` among `b_ids`, id and version, locked, in id order."""
    return (
        select(table.c._id, table.c._version)
        .where(table.c._id.in_(bindparam("b_ids", expanding=True)), table.c._deleted_at.is_(None))
        .order_by(table.c._id)
        .with_for_update()
    )


def lock_relation_targets(
    conn: Connection, app: LoadedApp, runs: Sequence[tuple[RuleSpec, Mapping[str, Any] | None]]
) -> None:
    """Lock the records that the `update_records` actions of a batch of runs (each a rule and
    the triggering record of its snapshot) target through a relation, and note their versions
    (`locked_versions`): one statement per target form, in id order (so two workers locking
    overlapping batches wait instead of deadlocking), where each run read its own version
    before. The runs' own order then writes them at those versions."""
    wanted: dict[str, set[int]] = {}
    for rule, record in runs:
        if rule.form is None or record is None:
            continue
        form = app.layout.forms.get(rule.form)
        for action in rule.actions:
            target = extra(action).get("target") if action.type == "update_records" else None
            if form is None or not isinstance(target, dict) or "relation" not in target:
                continue
            layout = form.fields.get(str(target["relation"]))
            if layout is None or not isinstance(layout.spec, RelationField):
                continue
            value = plain(record.get(layout.key))
            found = value if isinstance(value, list) else [value]
            wanted.setdefault(layout.spec.target, set()).update(
                i for i in found if isinstance(i, int) and not isinstance(i, bool)
            )
    known = locked_versions(conn)
    if known is _NONE_KNOWN:
        known = {}
        conn.info[_LOCKED] = (conn.get_transaction(), known)
    for key, ids in wanted.items():
        target = app.layout.forms.get(key)
        if target is None or not ids:
            continue
        statement = on_layout(target, "rules:batch_lock", partial(_batch_lock, target.table))
        for row in conn.execute(statement, {"b_ids": sorted(ids)}):
            known.setdefault((key, int(row._id)), int(row._version))


class UpsertRecord(ActionType):
    name = "upsert_record"
    label = ("更新或新增记录", "Update or create a record")
    writes_records = True

    def check(self, app: AppSpec, rule: RuleSpec, action: RuleAction, at: str) -> list[Issue]:
        issues = unknown_settings(action, {"form", "match", "values"}, at)
        if action.form is None:
            return [*issues, missing(f"{at}.form", "表单", "The form")]
        found = FormRefs(app).form_issues(action.form, f"{at}.form")
        if found:
            return issues + found
        match = extra(action).get("match")
        if not match:
            issues.append(missing(f"{at}.match", "匹配字段", "The match fields"))
        else:
            issues += values_issues(app, rule, action.form, match, f"{at}.match")
        return issues + values_issues(app, rule, action.form, action.values, f"{at}.values")

    def run(self, step: ActionStep) -> dict[str, Any]:
        form = step.action.form
        assert form is not None
        service = open_form(step.ctx, step.conn, step.app, form)
        match = resolved(step, form, dict(extra(step.action)["match"]))
        values = resolved(step, form, dict(step.action.values))
        ids = find(service, [match_filter(service, match) or ""])
        if ids:
            return {"form": form, "updated": update(step, form, ids, values)}
        return {"form": form, "created": service.create_many([{**match, **values}])}


class DeleteRecords(ActionType):
    name = "delete_records"
    label = ("删除记录", "Delete records")
    writes_records = True

    def check(self, app: AppSpec, rule: RuleSpec, action: RuleAction, at: str) -> list[Issue]:
        issues = unknown_settings(action, {"target"}, at)
        return issues + target_issues(app, rule, extra(action).get("target"), f"{at}.target")

    def run(self, step: ActionStep) -> dict[str, Any]:
        form, ids = targets(step, extra(step.action)["target"])
        service = open_form(step.ctx, step.conn, step.app, form)
        done = []
        for record_id in ids:
            try:
                service.delete(record_id)
            except ServiceError as exc:
                if exc.status != 404:
                    raise
                continue
            done.append(record_id)
        return {"form": form, "deleted": done}


for _action in (CreateRecord(), UpdateRecords(), UpsertRecord(), DeleteRecords()):
    if _action.name not in ACTIONS:
        ACTIONS.register(_action.name, _action)

__all__ = [
    "CreateRecord",
    "DeleteRecords",
    "UpdateRecords",
    "UpsertRecord",
    "lock_relation_targets",
    "locked_versions",
    "match_filter",
    "target_form",
    "target_issues",
    "targets",
    "values_issues",
]
