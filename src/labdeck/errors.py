"""The one error shape, and how exceptions become it.

Owns:
- `InstrumentError`, the exception drivers raise to report a structured failure;
- `StructuredError`, the `{code, message, retryable, detail}` body used for failed calls and steps;
- `error_from_exception`, the single mapping from any exception to a `StructuredError`;
- `LabdeckError` and its subclasses, raised by services for requests that were not executed
  (4xx); the API turns them into `{"error": {...}}` responses.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from labdeck.deck.jsonsafe import to_jsonable


class InstrumentError(Exception):
    """Raise from a driver to report a failure with a stable code.

    `retryable=True` tells labdeck (and operators) that trying again may succeed,
    for example after a dropped connection. `detail` (JSON data) is kept in the record.
    """

    def __init__(
        self,
        code: str,
        message: str,
        retryable: bool = False,
        provider_status: Any = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.provider_status = provider_status
        self.detail = detail or {}


class StructuredError(BaseModel):
    """A failure as recorded and returned: never a bare exception string."""

    code: str
    message: str
    retryable: bool = False
    provider_status: Any = Field(
        default=None, description="The instrument's own status or error code, when it gives one."
    )
    detail: dict[str, Any] = Field(default_factory=dict)


def error_from_exception(exc: BaseException) -> StructuredError:
    """Map an exception raised by driver code to a structured error.

    `InstrumentError` keeps its own code; `TimeoutError` and `ConnectionError` are retryable;
    anything else is `UNHANDLED_EXCEPTION`. The traceback goes into `detail` for the records.
    """
    detail: dict[str, Any] = {
        "exception_type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "traceback": "".join(traceback.format_exception(exc)),
    }
    message = str(exc) or type(exc).__name__
    if isinstance(exc, InstrumentError):
        extra = exc.detail if isinstance(getattr(exc, "detail", None), dict) else {}
        return StructuredError(
            code=exc.code,
            message=exc.message,
            retryable=exc.retryable,
            provider_status=exc.provider_status,
            detail={**to_jsonable(extra), **detail},
        )
    if isinstance(exc, TimeoutError):
        return StructuredError(code="TIMEOUT", message=message, retryable=True, detail=detail)
    if isinstance(exc, ConnectionError):
        return StructuredError(code="CONNECTION", message=message, retryable=True, detail=detail)
    return StructuredError(
        code="UNHANDLED_EXCEPTION", message=message, retryable=False, detail=detail
    )


class LabdeckError(Exception):
    """A request that was refused before anything ran. Carries its HTTP status."""

    status_code = 400
    code = "BAD_REQUEST"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        detail: dict[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable
        self.detail = detail or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.retryable, self.detail)


class NotAuthenticated(LabdeckError):
    status_code = 401
    code = "NOT_AUTHENTICATED"


class Forbidden(LabdeckError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(LabdeckError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(LabdeckError):
    status_code = 409
    code = "CONFLICT"


class InstrumentBusy(Conflict):
    code = "INSTRUMENT_BUSY"
    retryable = True


class TooLarge(LabdeckError):
    """413: an upload or body over its size limit; the message names the limit."""

    status_code = 413
    code = "TOO_LARGE"


class InvalidInput(LabdeckError):
    """422 with per-field problems in `detail.fields` = [{"field", "message", "type"}]."""

    status_code = 422
    code = "INVALID_INPUT"

    def __init__(
        self, message: str, *, fields: list[dict[str, Any]] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, code=code, detail={"fields": fields or []})


class RateLimited(LabdeckError):
    status_code = 429
    code = "RATE_LIMITED"
    retryable = True


def error_body(
    code: str, message: str, retryable: bool = False, detail: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON body of every error response."""
    return {
        "error": {"code": code, "message": message, "retryable": retryable, "detail": detail or {}}
    }


REQUEST_PARTS = {"body", "query", "path", "header", "cookie"}


def field_problems(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic/FastAPI errors as `[{"field", "message", "type"}]` with dotted field paths.

    The request part (`body`, `query`, ...) that FastAPI puts first is left out.
    """
    problems = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in REQUEST_PARTS:
            loc = loc[1:]
        problems.append(
            {
                "field": ".".join(loc) or "(request)",
                "message": str(error.get("msg", "invalid")),
                "type": str(error.get("type", "invalid")),
            }
        )
    return problems
