"""A route's path and query parameters as pydantic models, each validated in one call (issue 12).

FastAPI checks each declared parameter on its own — alias lookup, multidict access, default
copy and a validator call per parameter, per request — which on the records read routes cost
about half of what the endpoint itself does. A route that takes only the `Request` declares
its parameters as `Params` models instead, reads them with `parse_params` (`parse_path`) (one
`model_validate` per part: the path's values, the query string's last value per name as
FastAPI reads a non-list parameter) and documents them with `openapi_extra`. The constraints,
the refusal (a `RequestValidationError` with each issue at `("path" | "query", name)`, path
first, in declaration order) and the OpenAPI entries are those FastAPI gives for the same
declarations as separate `Path()` and `Query()` parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError


class Params(BaseModel):
    """Base of a route's path or query parameters: unknown names are ignored, as FastAPI
    ignores undeclared query parameters."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class NoQuery(Params):
    """A route without query parameters."""


P = TypeVar("P", bound=Params)
Q = TypeVar("Q", bound=Params)

Where = Literal["path", "query"]

# The 422 entry FastAPI documents on every route that declares a parameter.
_VALIDATION_ERROR_RESPONSE = {
    "description": "Validation Error",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
    },
}


def parse_params(request: Request, path: type[P], query: type[Q]) -> tuple[P, Q]:
    """`request`'s path and query parameters as `path` and `query`; a `RequestValidationError`
    listing every refused parameter otherwise."""
    errors: list[dict[str, Any]] = []
    path_values = _validated(path, request.path_params, "path", errors)
    query_values = _validated(query, request.query_params, "query", errors)
    if path_values is None or query_values is None:
        raise RequestValidationError(errors)
    return path_values, query_values


def parse_path(request: Request, path: type[P]) -> P:
    """`request`'s path parameters as `path` (a route without query parameters)."""
    return parse_params(request, path, NoQuery)[0]


def _validated(
    model: type[P], values: Mapping[str, Any], where: Where, errors: list[dict[str, Any]]
) -> P | None:
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        errors.extend(
            {**error, "loc": (where, *error["loc"])} for error in exc.errors(include_url=False)
        )
        return None


def openapi_extra(path: type[Params], query: type[Params] = NoQuery) -> dict[str, Any]:
    """The `openapi_extra` of a route whose parameters are `path` and `query`: their parameter
    objects and the 422 response, as FastAPI documents declared parameters."""
    return {
        "parameters": _documented(path, "path") + _documented(query, "query"),
        "responses": {"422": _VALIDATION_ERROR_RESPONSE},
    }


def _documented(model: type[Params], where: Where) -> list[dict[str, Any]]:
    """The parameter objects of `model`'s fields in declaration order, as FastAPI writes them:
    the field's JSON schema with its title, its description repeated beside it, and no
    `default` when that is null."""
    properties: dict[str, dict[str, Any]] = model.model_json_schema()["properties"]
    parameters: list[dict[str, Any]] = []
    for name, field in model.model_fields.items():
        schema = dict(properties[name])
        if "default" in schema and schema["default"] is None:
            del schema["default"]
        parameter: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": field.is_required(),
            "schema": schema,
        }
        if field.description:
            parameter["description"] = field.description
        parameters.append(parameter)
    return parameters
