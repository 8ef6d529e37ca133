"""OpenAPI documentation of error statuses, so every route lists what it can answer."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from labdeck.api.schemas import ErrorResponse

DESCRIPTIONS = {
    401: "Not signed in: no valid session cookie or `Authorization: Bearer` token.",
    403: "Not allowed for your role, or a cross-origin request.",
    404: "No such instrument, method, property, function or record.",
    409: "Conflicts with the current state, e.g. `INSTRUMENT_BUSY`.",
    422: "Invalid input; per-field problems in `error.detail.fields`.",
    429: "Too many requests; try again later.",
}
AUTHED = (401, 403)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status documented with the one error body."""
    return {
        status: {"model": ErrorResponse, "description": DESCRIPTIONS[status]} for status in statuses
    }


def use_error_shape_for_validation(app: FastAPI) -> None:
    """Make FastAPI's automatic 422 responses document the one error shape.

    FastAPI adds a 422 `HTTPValidationError` to routes with parameters; labdeck answers those
    with `ErrorResponse` (see api/errors.py), so the document must say so.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                response = operation.get("responses", {}).get("422")
                if response is None:
                    continue
                content = response.get("content", {}).get("application/json", {})
                if content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                    content["schema"] = {"$ref": "#/components/schemas/ErrorResponse"}
                    response["description"] = DESCRIPTIONS[422]
        schemas = document.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
