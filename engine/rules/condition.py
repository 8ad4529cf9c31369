"""A rule's condition (`when`): a formula over the rule's form's record with `OLD(field)`.

`OLD(field)` reads the field's value before the change (on an `updated` event; on any other
event it is the current value). It exists only here: the formula language's checker refuses
it everywhere else (`old_outside_rule`). A condition is evaluated in Python, in the saving
transaction, over the record JSON and the old values; `OLD(x)` is rewritten, before type
checking, into a reference to a shadow field (`__old__x`) of the same type, so the checker,
its messages (positions are the original source's) and the Python backend are the language's
own. `OLD(customer.city)` reads through the relation as it was before.

Relations read by path (`customer.city`) need the related record: `relation_paths` names the
relations a condition reads through, and the runtime fills them in before evaluating.
"""

from __future__ import annotations

import dataclasses
import json
from collections import ChainMap
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from engine.core.issues import Issue
from engine.expr import ast
from engine.expr.backends.python import Compiled, compile_node
from engine.expr.checker import check_tree
from engine.expr.errors import ExprError, did_you_mean
from engine.expr.parser import parse
from engine.expr.runtime import EvalContext
from engine.expr.types import ExprType
from engine.forms.cache import on_layout
from engine.forms.messages import issue, kind_names

OLD_PREFIX = "__old__"


def _rewrite(node: ast.Node, source: str, used: set[str], schema: Mapping[str, Any]) -> ast.Node:
    """`node` with every `OLD(ref)` replaced by a reference to the shadow field."""
    if isinstance(node, ast.Call):
        if node.name == "OLD":
            if len(node.args) != 1 or not isinstance(node.args[0], ast.Ref):
                raise ExprError("old_needs_field", source, node.span)
            ref = node.args[0]
            if ref.names[0] not in schema:
                hint_zh, hint_en = did_you_mean(ref.names[0], list(schema))
                raise ExprError(
                    "unknown_field",
                    source,
                    ref.span,
                    name=ref.names[0],
                    hint_zh=hint_zh,
                    hint_en=hint_en,
                )
            used.add(ref.names[0])
            return dataclasses.replace(
                ref, span=node.span, names=(OLD_PREFIX + ref.names[0], *ref.names[1:])
            )
        args = tuple(_rewrite(a, source, used, schema) for a in node.args)
        return dataclasses.replace(node, args=args)
    if isinstance(node, ast.Unary):
        return dataclasses.replace(node, operand=_rewrite(node.operand, source, used, schema))
    if isinstance(node, ast.Binary):
        return dataclasses.replace(
            node,
            left=_rewrite(node.left, source, used, schema),
            right=_rewrite(node.right, source, used, schema),
        )
    return node


def rule_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The form's formula schema with the shadow fields `OLD()` reads."""
    return {**schema, **{OLD_PREFIX + key: entry for key, entry in schema.items()}}


@dataclass(frozen=True)
class RuleFormula:
    """A compiled formula over a rule's triggering record (a condition or an action value):
    `value(record, old, ctx)`, `holds(record, old, ctx)`."""

    source: str
    run: Compiled
    type: ExprType
    old_keys: frozenset[str]
    relations: frozenset[str]  # relations read by path (their records are filled in)
    reads: frozenset[str]  # the record's fields it reads (`OLD(x)` reads x when there is no old)

    def value(
        self, record: Mapping[str, Any], old: Mapping[str, Any] | None, ctx: EvalContext
    ) -> Any:
        if not self.old_keys:
            return self.run(record, ctx)
        shadows = {
            OLD_PREFIX + key: old[key] if old is not None and key in old else record.get(key)
            for key in self.old_keys
        }
        # read through, not copied: a record known from its change serves only what is read
        # (ChainMap writes to its first map only; the record is never written)
        return self.run(ChainMap(shadows, cast(MutableMapping[str, Any], record)), ctx)

    def holds(
        self, record: Mapping[str, Any], old: Mapping[str, Any] | None, ctx: EvalContext
    ) -> bool:
        return self.value(record, old, ctx) is True


Condition = RuleFormula


def _refs(node: ast.Node) -> list[ast.Ref]:
    found: list[ast.Ref] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Ref):
            found.append(current)
        stack.extend(ast.children(current))
    return found


@lru_cache(maxsize=1024)
def _compiled(source: str, schema_key: str) -> Condition:
    schema = json.loads(schema_key)
    used: set[str] = set()
    tree = _rewrite(parse(source), source, used, schema)
    typed = check_tree(tree, source, rule_schema(schema))
    relations = {
        ref.names[0].removeprefix(OLD_PREFIX)
        for ref in _refs(tree)
        if len(ref.names) > 1
        and isinstance(schema.get(ref.names[0].removeprefix(OLD_PREFIX)), dict)
        and schema[ref.names[0].removeprefix(OLD_PREFIX)].get("type") == "relation"
    }
    reads = {ref.names[0].removeprefix(OLD_PREFIX) for ref in _refs(tree)}
    assert typed.type is not None
    return RuleFormula(
        source,
        compile_node(typed),
        typed.type,
        frozenset(used),
        frozenset(relations),
        frozenset(reads),
    )


class _NotBoolean(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _key(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, ensure_ascii=False, default=str)


def compile_formula(source: str, schema: Mapping[str, Any]) -> RuleFormula:
    """The compiled formula (cached per source and schema); raises `ExprError` on one that
    does not check (publish has refused those)."""
    return _compiled(source, _key(schema))


def form_formula(form: Any, source: str) -> RuleFormula:
    """`compile_formula(source, form.schema)` kept on the form's layout (one revision's, which
    never changes): a run that evaluates an action value compiles and keys nothing."""
    kept: dict[str, RuleFormula] = on_layout(form, "rules:formulas", dict)
    found = kept.get(source)
    if found is None:
        found = kept[source] = compile_formula(source, form.schema)
    return found


def compile_condition(source: str, schema: Mapping[str, Any]) -> RuleFormula:
    """The compiled condition; raises `ExprError`, or `ValueError` when it is not true/false."""
    found = compile_formula(source, schema)
    if found.type.kind not in ("boolean", "blank") or found.type.is_list:
        raise ValueError(f"condition is not boolean: {found.type.name}")
    return found


def formula_issues(
    source: str, schema: Mapping[str, Any], path: str, *, boolean: bool = True
) -> list[Issue]:
    """The problems of a rule formula at `path`: parse or type errors (with line and
    column), a misused `OLD()`, or (a condition) a result that is not true/false."""
    try:
        found = _compiled(source, _key(schema))
        if boolean and (found.type.kind not in ("boolean", "blank") or found.type.is_list):
            raise _NotBoolean(found.type.name)
    except ExprError as exc:
        return [Issue(path, exc.code, exc.message_zh, exc.message_en, exc.line, exc.column)]
    except _NotBoolean as exc:
        names = kind_names(exc.name)
        return [
            issue(path, "not_boolean", actual_zh=names["actual_zh"], actual_en=names["actual_en"])
        ]
    except ValueError as exc:
        return [issue(path, "invalid_schema", error=str(exc))]
    return []


__all__ = [
    "OLD_PREFIX",
    "Condition",
    "RuleFormula",
    "compile_condition",
    "compile_formula",
    "form_formula",
    "formula_issues",
    "rule_schema",
]
