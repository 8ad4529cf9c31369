"""`POST /expr/check`: the builder's formula editor checks (and optionally evaluates) a formula
against a schema or a draft app definition; `GET /expr/functions`: the function reference."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from engine import expr
from engine.api.errors import error_response, pick_language
from engine.api.security import CurrentUser
from engine.expr.functions import FUNCTIONS
from engine.forms.draft_schema import DraftError, draft_schema

router = APIRouter(prefix="/expr", tags=["expr"])


class ExprCheckRequest(BaseModel):
    """A formula, the schema of the form it belongs to, and optionally a record to evaluate."""

    model_config = ConfigDict(populate_by_name=True)

    expr: str = Field(description='The formula, e.g. IF(amount >= 50000, "CEO", "Director")')
    field_schema: dict[str, Any] = Field(
        default_factory=dict,
        alias="schema",
        description="Field key → type name or {type, label, fields}",
    )
    app: dict[str, Any] | None = Field(
        default=None,
        description="A draft app definition (jimu.app/1, may be unfinished): with `form`, the schema "
        "is that form's (its relations see their target forms); replaces `schema`",
    )
    form: str | None = Field(
        default=None, description="The key of the form of `app` the formula belongs to"
    )
    subform: str | None = Field(
        default=None,
        description="The formula belongs to a row of this subform of `form` (sees its fields too)",
    )
    record: dict[str, Any] | None = Field(
        default=None, description="Field values in the API's JSON form; evaluates when given"
    )
    now: dt.datetime | None = Field(default=None, description="The moment TODAY()/NOW() use")
    rule: bool = Field(
        default=False,
        description="The formula is a rule's condition or action value over its triggering "
        "record: OLD(field) is allowed (type check only; not with `record`)",
    )


class FunctionParam(BaseModel):
    """One parameter of a function."""

    name: str
    optional: bool = False
    repeat: bool = False


class FunctionDoc(BaseModel):
    """One built-in function as the formula editor's help lists it."""

    name: str
    category: str
    signature: str
    params: list[FunctionParam]
    summary: dict[str, str] = Field(description="What it does: {zh, en}")
    examples: list[dict[str, str]] = Field(description="{formula, result}")
    sql: bool = Field(description="Also runs in the database (filters, reports); else forms only")


class ExprCheckResult(BaseModel):
    """The formula's type and, when a record was given, its value in the API's JSON form."""

    type: str
    value: Any = None


@router.post(
    "/check",
    response_model=ExprCheckResult,
    response_model_exclude_unset=True,
    responses={400: {"description": "Parse or type error, with line and column"}},
)
def check_formula(
    body: ExprCheckRequest, request: Request, principal: CurrentUser
) -> ExprCheckResult | JSONResponse:
    """Type-check a formula against a schema; with `record`, also evaluate it."""
    language = pick_language(request)
    schema = body.field_schema
    if body.app is not None or body.form is not None:
        try:
            schema = draft_schema(body.app or {}, body.form or "", body.subform)
        except DraftError as exc:
            return _unknown_part(exc, language, request)
    if body.rule and body.record is not None:
        message = (
            "规则公式只做类型检查，不能同时给出记录"
            if language == "zh"
            else "A rule formula is type-checked only; leave out `record`"
        )
        return error_response(
            422,
            "rule_formula_not_evaluated",
            "规则公式只做类型检查，不能同时给出记录",
            "A rule formula is type-checked only; leave out `record`",
            [{"path": "record", "code": "rule_formula_not_evaluated", "message": message}],
            request,
        )
    try:
        if body.rule:
            from engine.rules.condition import compile_formula

            result_type = compile_formula(body.expr, schema).type
        else:
            result_type = expr.check(body.expr, schema)
    except expr.ExprError as exc:
        return error_response(
            400,
            exc.code,
            exc.message_zh,
            exc.message_en,
            [exc.to_issue(language, path="expr")],
            request,
        )
    except ValueError as exc:
        message = str(exc)
        return error_response(
            400,
            "invalid_schema",
            f"字段结构不正确：{message}",
            f"The schema is invalid: {message}",
            [{"path": "schema", "code": "invalid_schema", "message": message}],
            request,
        )
    if body.record is None:
        return ExprCheckResult(type=result_type.name)
    tz = request.app.state.settings.timezone
    try:
        expr.EvalContext.create(body.now, tz)
    except OverflowError:  # a moment at the very edge of the calendar has no UTC or local date
        message = (
            "时刻超出可计算的范围"
            if language == "zh"
            else "The moment is out of the supported range"
        )
        return error_response(
            400,
            "malformed_request",
            "请求格式不正确",
            "The request is malformed",
            [{"path": "now", "code": "out_of_range", "message": message}],
            request,
        )
    budget = request.app.state.settings.eval_budget
    try:
        value = expr.evaluate(body.expr, body.record, schema, now=body.now, tz=tz, budget=budget)
    except expr.BudgetExceeded as exc:  # the caller wrote both the formula and the record
        message = exc.message_zh if language == "zh" else exc.message_en
        issues = [{"path": "expr", "code": exc.code, "message": message}]
        return error_response(422, exc.code, exc.message_zh, exc.message_en, issues, request)
    return ExprCheckResult(type=result_type.name, value=expr.encode(value))


def _unknown_part(exc: DraftError, language: str, request: Request) -> JSONResponse:
    """The draft has no form (or subform) with the key given, or is too large."""
    if exc.path == "app":
        code = "too_large"
        message_zh, message_en = (
            f"草稿最多 {exc.key} 个表单和字段",
            f"A draft has at most {exc.key} forms and fields",
        )
    else:
        zh, en = ("表单", "form") if exc.path == "form" else ("子表单", "subform")
        message_zh, message_en = f"未知{zh} {exc.key}", f"Unknown {en} {exc.key}"
        code = f"unknown_{exc.path}"
    message = message_zh if language == "zh" else message_en
    issues = [{"path": exc.path, "code": code, "message": message}]
    return error_response(400, code, message_zh, message_en, issues, request)


@router.get("/functions", response_model=list[FunctionDoc])
def list_functions() -> list[FunctionDoc]:
    """Every built-in function with its signature, zh/en summary and examples (registry order)."""
    return [
        FunctionDoc(
            name=fn.name,
            category=fn.category,
            signature=fn.signature(),
            params=[
                FunctionParam(name=p.name, optional=p.optional, repeat=p.repeat) for p in fn.params
            ],
            summary={"zh": fn.summary_zh, "en": fn.summary_en},
            examples=[{"formula": f, "result": r} for f, r in fn.examples],
            sql="sql" in fn.backends,
        )
        for fn in FUNCTIONS
    ]
