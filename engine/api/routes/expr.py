"""`POST /expr/check`: the builder's formula editor checks (and optionally evaluates) a formula."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from engine import expr
from engine.api.errors import error_response, pick_language

router = APIRouter(prefix="/expr", tags=["expr"])


class ExprCheckRequest(BaseModel):
    """A formula, the schema of the form it belongs to, and optionally a record to evaluate."""

    model_config = ConfigDict(populate_by_name=True)

    expr: str = Field(description="The formula, e.g. IF(amount >= 50000, \"CEO\", \"Director\")")
    field_schema: dict[str, Any] = Field(
        default_factory=dict,
        alias="schema",
        description="Field key → type name or {type, label, fields}",
    )
    record: dict[str, Any] | None = Field(
        default=None, description="Field values in the API's JSON form; evaluates when given"
    )
    now: dt.datetime | None = Field(default=None, description="The moment TODAY()/NOW() use")


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
def check_formula(body: ExprCheckRequest, request: Request) -> ExprCheckResult | JSONResponse:
    """Type-check a formula against a schema; with `record`, also evaluate it."""
    language = pick_language(request)
    try:
        result_type = expr.check(body.expr, body.field_schema)
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
        message = "时刻超出可计算的范围" if language == "zh" else "The moment is out of the supported range"
        return error_response(
            400,
            "malformed_request",
            "请求格式不正确",
            "The request is malformed",
            [{"path": "now", "code": "out_of_range", "message": message}],
            request,
        )
    value = expr.evaluate(body.expr, body.record, body.field_schema, now=body.now, tz=tz)
    return ExprCheckResult(type=result_type.name, value=expr.encode(value))
