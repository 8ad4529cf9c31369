"""The error answers the OpenAPI document states.

FastAPI documents a 422 ``HTTPValidationError`` (its own ``{"detail": [...]}`` shape) on every
operation with parameters or a body. Jimu answers such a request that does not match with 400
``malformed_request`` in its one error shape (`engine.api.errors`), so a client generated from
the document expected a status and a body it never gets. `document_errors` replaces that entry
with a 400 of the error shape (`ErrorAnswer`) and drops FastAPI's now unused schemas; a 400 an
operation declares itself keeps its description and is given the error shape.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from engine.api.schemas.records import IssueOut

REF = "#/components/schemas/{model}"
FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")


class ErrorBody(BaseModel):
    """An error: a stable code, a message in the caller's language (Accept-Language: zh or en)
    and the problems by the path of the input they are about."""

    code: str = Field(examples=["malformed_request"])
    message: str = Field(examples=["请求格式不正确"])
    issues: list[IssueOut]


class ErrorAnswer(BaseModel):
    """The API's one error shape, for every 4xx."""

    error: ErrorBody


MALFORMED = {
    "description": (
        "请求格式不正确：参数或请求体不符合（issues 逐项指出） / The request is malformed: a "
        "parameter or the body does not match (each problem in issues)"
    ),
    "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorAnswer")}}},
}


def install_error_docs(app: FastAPI) -> None:
    """Make `app`'s OpenAPI document state its error answers (see the module)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_errors(generate())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def document_errors(schema: dict[str, Any]) -> None:
    """`schema` (an OpenAPI document, changed in place) with FastAPI's validation answers
    replaced by the 400 Jimu gives."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if _fastapi_validation(responses.get("422")):
                del responses["422"]
                responses.setdefault("400", copy.deepcopy(MALFORMED))
            declared = responses.get("400")
            if isinstance(declared, dict) and "content" not in declared:
                declared["content"] = copy.deepcopy(MALFORMED["content"])
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    answer = ErrorAnswer.model_json_schema(ref_template=REF)
    for name, definition in answer.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components["ErrorAnswer"] = answer
    text = repr(schema.get("paths"))
    for name in FASTAPI_SCHEMAS:
        if REF.format(model=name) not in text:
            components.pop(name, None)


def _fastapi_validation(response: Any) -> bool:
    if not isinstance(response, dict):
        return False
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref") == REF.format(model="HTTPValidationError"))
