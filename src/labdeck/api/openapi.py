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
    413: "The upload is larger than the route accepts.",
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
    """Make every documented error response the one JSON error shape.

    FastAPI adds a 422 `HTTPValidationError` to routes with parameters, and documents errors
    of text routes under their text media type; labdeck answers both with `ErrorResponse` in
    JSON (see api/errors.py), so the document must say so.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                _errors_are_json(operation)
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


def _errors_are_json(operation: dict[str, Any]) -> None:
    """A route whose success body is text (a log, a script) still answers errors in JSON."""
    for status, response in operation.get("responses", {}).items():
        content = response.get("content", {})
        if not status.startswith(("4", "5")) or "application/json" in content:
            continue
        schemas = [media["schema"] for media in content.values() if "schema" in media]
        response["content"] = {"application/json": {"schema": schemas[0]}} if schemas else {}
