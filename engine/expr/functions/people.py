"""Functions of records and people: CURRENT_USER, CURRENT_DEPARTMENTS and CONTAINS.

Ids (of related records, users and departments) compare by id (DESIGN §6, docs/decisions.md
"Formulas reach records and people"). CURRENT_USER and CURRENT_DEPARTMENTS read the evaluating
actor from the context, like TODAY reads the clock: never a global, blank (an empty list) when
nobody acts. CURRENT_DEPARTMENTS lists the departments the actor belongs to (main and extra),
not their sub-departments: the role scope "department" means the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.expr import ast
from engine.expr.errors import ExprError
from engine.expr.functions.base import Function, Param, type_label
from engine.expr.runtime import EvalContext
from engine.expr.types import DEPARTMENT, ID_KINDS, USER, ExprType, Kind

LISTED: tuple[Kind, ...] = ("text", *ID_KINDS)


class CurrentUser(Function):
    name = "CURRENT_USER"
    category = "people"
    params = ()
    returns = USER
    needs_ctx = True
    summary_zh = "当前操作的成员（无人操作时为空），可与成员字段比较：_owner = CURRENT_USER()"
    summary_en = "The member evaluating the formula (blank when nobody acts); compare it with a user field: _owner = CURRENT_USER()"
    examples = (("ISBLANK(CURRENT_USER())", "TRUE"),)  # examples run with nobody acting

    def python(self, ctx: EvalContext) -> int | None:
        return ctx.user


class CurrentDepartments(Function):
    name = "CURRENT_DEPARTMENTS"
    category = "people"
    params = ()
    needs_ctx = True
    summary_zh = "当前操作成员所在的部门列表（主部门和兼任部门，不含下级部门；无人操作时为空列表）"
    summary_en = "The departments the acting member belongs to (main and extra, not sub-departments; empty when nobody acts)"
    examples = (("CONTAINS(CURRENT_DEPARTMENTS(), 7)", "FALSE"),)

    def result_type(self, args: Sequence[ExprType], call: ast.Call, source: str) -> ExprType:
        return DEPARTMENT.as_list(f"CURRENT_DEPARTMENTS@{call.span.offset}")

    def python(self, ctx: EvalContext) -> list[int]:
        return list(ctx.departments)


class Contains(Function):
    name = "CONTAINS"
    category = "people"
    params = (
        Param("list", LISTED, list_ok=True),
        Param("value", ("number", *LISTED)),
    )
    summary_zh = "列表（多选成员、多选部门、多条关联记录、多选项）中是否有该值；值为空时为假"
    summary_en = "TRUE if the list (users, departments, a to-many relation, a multiselect) holds the value; FALSE for a blank value"
    examples = (('CONTAINS(SPLIT("a,vip", ","), "vip")', "TRUE"),)

    def result_type(self, args: Sequence[ExprType], call: ast.Call, source: str) -> ExprType:
        items, value = args
        if not items.is_list and items.kind != "blank":
            raise _arg_error(call, source, 0, "list", items, "列表", "a list")
        if items.kind == "blank" or value.kind == "blank":
            return ExprType("boolean")
        fits = value.kind == items.kind or (items.kind in ID_KINDS and value.kind == "number")
        if not fits:
            label = type_label(items.element(), "zh")
            raise _arg_error(call, source, 1, "value", value, label, items.kind)
        return ExprType("boolean")

    def python(self, items: Any, value: Any) -> bool:
        if value is None or not isinstance(items, list):
            return False
        return any(v is not None and v == value for v in items)


def _arg_error(
    call: ast.Call,
    source: str,
    index: int,
    param: str,
    actual: ExprType,
    expected_zh: str,
    expected_en: str,
) -> ExprError:
    return ExprError(
        "arg_type",
        source,
        call.args[index].span,
        name="CONTAINS",
        index=index + 1,
        param=param,
        expected_zh=expected_zh,
        expected_en=expected_en,
        actual_zh=type_label(actual, "zh"),
        actual_en=actual.name,
    )


FUNCTIONS: tuple[Function, ...] = (CurrentUser(), CurrentDepartments(), Contains())
