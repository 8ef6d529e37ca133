"""Errors a labdeck server's answers become on the client side.

Owns the exceptions shared by the Python client (`labdeck.client.Client`), the generated
instrument proxy (`GET /api/proxy.py`) and remote instruments mounted into a local deck
(`labdeck.remote`). Every one carries the server's structured error: `code`, `message`,
`retryable` and `detail`, plus `status` (the HTTP status, None when no answer came).
"""

from __future__ import annotations

from typing import Any


class LabdeckClientError(Exception):
    """A request to a labdeck server failed; `code` says why (the server's error code)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.status = status
        self.detail = detail or {}

    @classmethod
    def from_response(cls, status: int, body: Any) -> LabdeckClientError:
        """Build from a response in the one error shape (`{"error": {...}}`), or anything else."""
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            return cls(
                str(error.get("code") or "ERROR"),
                str(error.get("message") or f"HTTP {status}"),
                retryable=bool(error.get("retryable", False)),
                status=status,
                detail=error.get("detail") if isinstance(error.get("detail"), dict) else {},
            )
        return cls("HTTP_ERROR", f"the server answered HTTP {status}", status=status)


class RemoteInstrumentError(LabdeckClientError):
    """An instrument call on a remote labdeck server failed (it ran and failed, or never ran).

    `code` is the remote error code (e.g. `INSTRUMENT_BUSY`, `UNHANDLED_EXCEPTION`) or
    `CONNECTION` when the server could not be reached (always retryable).
    """


def connection_error(url: str, exc: Exception) -> RemoteInstrumentError:
    """The error for a server that did not answer: retryable, no HTTP status."""
    return RemoteInstrumentError(
        "CONNECTION",
        f"could not reach {url}: {exc}",
        retryable=True,
        status=None,
    )
