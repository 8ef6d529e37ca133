"""The HTTP side of remote instruments: one connection per remote server, and its errors.

Owns `RemoteServer` (one `httpx.Client` per mounted server, so connections are reused; the
Bearer token; timeouts), how its interface schema is fetched at deck load (`RemoteMountError`
with the URL when that fails), how a call becomes a value or a `RemoteCallError`, and the
busy policy: the remote server is the serialization point for its hardware, so a 409
`INSTRUMENT_BUSY` there (nothing ran) is retried with exponential backoff until
`busy_timeout_s`, then raised as a retryable `INSTRUMENT_BUSY`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
from pydantic import ValidationError

from labdeck import __version__
from labdeck.client.errors import LabdeckClientError, RemoteInstrumentError, connection_error
from labdeck.deck.schema import InterfaceSchema
from labdeck.errors import InstrumentError

log = logging.getLogger(__name__)

BUSY_FIRST_DELAY_S = 0.1
BUSY_MAX_DELAY_S = 2.0
# Answers of a proxy or load balancer in front of the server: trying again may work.
_GATEWAY_STATUSES = frozenset({502, 503, 504})


class RemoteMountError(RuntimeError):
    """A remote labdeck server's instruments could not be mounted when the deck loaded."""


class RemoteCallError(RemoteInstrumentError, InstrumentError):
    """A call on a remote instrument failed: it ran there and failed, or never ran.

    A `labdeck.client.RemoteInstrumentError` for Python code that calls remote instruments,
    and an `InstrumentError` for labdeck's one error mapping, so call records and run steps
    carry its `code`, `message`, `retryable` and `provider_status` (the remote HTTP status:
    200 for a call that ran and failed there, None when no answer came).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        # The two bases' __init__ take different arguments: set what both promise directly.
        Exception.__init__(self, f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.status = status
        self.provider_status = status
        self.detail = detail or {}

    @classmethod
    def of(cls, error: LabdeckClientError) -> RemoteCallError:
        return cls(
            error.code,
            error.message,
            retryable=error.retryable,
            status=error.status,
            detail=error.detail,
        )


class RemoteServer:
    """One remote labdeck server, called with blocking requests from this deck's thread."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout_s: float | None,
        connect_timeout_s: float,
        busy_timeout_s: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.busy_timeout_s = busy_timeout_s
        self.fingerprint = ""  # of the schema fetched at mount; a different one means drift
        self._drift_reported = False
        self._http = httpx.Client(
            base_url=self.url,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": f"labdeck-remote/{__version__}",
            },
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    # --- at deck load ---------------------------------------------------------------------

    def fetch_schema(self) -> InterfaceSchema:
        """The remote interface schema, or a `RemoteMountError` that says what to fix."""
        where = f"cannot mount instruments from {self.url}"
        try:
            response = self._http.get("/api/deck")
        except httpx.TransportError as exc:
            raise RemoteMountError(
                f"{where}: no answer ({_describe(exc)}); is that labdeck server running, "
                "and is the URL right?"
            ) from exc
        body = _json_or_none(response)
        if response.status_code in (401, 403):
            error = LabdeckClientError.from_response(response.status_code, body)
            raise RemoteMountError(
                f"{where}: it refused the token (HTTP {response.status_code} {error.code}: "
                f"{error.message}); create an API token on that server and pass it as token="
            )
        if not response.is_success:
            error = LabdeckClientError.from_response(response.status_code, body)
            raise RemoteMountError(
                f"{where}: GET /api/deck answered HTTP {response.status_code} "
                f"({error.code}: {error.message})"
            )
        try:
            schema = InterfaceSchema.model_validate(body)
        except ValidationError as exc:
            raise RemoteMountError(
                f"{where}: GET /api/deck did not answer with a labdeck deck schema; "
                "is this the URL of a labdeck server?"
            ) from exc
        self.fingerprint = schema.fingerprint
        return schema

    # --- calls ----------------------------------------------------------------------------

    def call(self, method: str, path: str, body: dict[str, Any] | None, what: str) -> Any:
        """Run one call on the remote server and return its output, or raise `RemoteCallError`.

        `what` names the call in messages (e.g. `spectrometer.measure`).
        """
        deadline = time.monotonic() + self.busy_timeout_s
        delay = BUSY_FIRST_DELAY_S
        while True:
            response = self._send(method, path, body, what)
            if not _is_busy(response):
                return self._outcome(response, what)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                error = RemoteCallError.of(
                    LabdeckClientError.from_response(409, _json_or_none(response))
                )
                raise RemoteCallError(
                    "INSTRUMENT_BUSY",
                    f"{what} at {self.url} stayed busy for {self.busy_timeout_s:g} s "
                    f"({error.message})",
                    retryable=True,
                    status=409,
                    detail=error.detail,
                )
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, BUSY_MAX_DELAY_S)

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, what: str
    ) -> httpx.Response:
        try:
            return self._http.request(method, path, json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing reached the server
            raise RemoteCallError.of(connection_error(self.url, exc)) from exc
        except httpx.TimeoutException as exc:
            raise RemoteCallError(
                "CONNECTION",
                f"{what}: no answer from {self.url} within {self.timeout_s:g} s; "
                "the call may still be running there",
                retryable=True,
            ) from exc
        except httpx.TransportError as exc:  # reset, or the server died mid-call
            raise RemoteCallError(
                "CONNECTION",
                f"{what}: lost the connection to {self.url} ({_describe(exc)}); "
                "whether the call finished there is unknown",
                retryable=True,
            ) from exc

    def _outcome(self, response: httpx.Response, what: str) -> Any:
        status = response.status_code
        body = _json_or_none(response)
        if response.is_success:
            if not isinstance(body, dict) or body.get("status") not in ("completed", "failed"):
                raise RemoteCallError(
                    "BAD_RESPONSE",
                    f"{what}: {self.url} answered HTTP {status} without a call record",
                    status=status,
                )
            self._check_fingerprint(body.get("deck_fingerprint"))
            if body["status"] == "completed":
                return body.get("output")
            raise _ran_and_failed(body, status, what, self.url)
        error = RemoteCallError.of(LabdeckClientError.from_response(status, body))
        fields = error.detail.get("fields")
        if status == 422 and isinstance(fields, list) and fields:
            error = _with_fields(error, fields)
        if error.code == "HTTP_ERROR" and status in _GATEWAY_STATUSES:
            error.retryable = True
        raise error

    def _check_fingerprint(self, fingerprint: Any) -> None:
        if (
            isinstance(fingerprint, str)
            and fingerprint
            and self.fingerprint
            and fingerprint != self.fingerprint
            and not self._drift_reported
        ):
            self._drift_reported = True
            log.warning(
                "the deck at %s changed since it was mounted (fingerprint %s -> %s): "
                "restart this server to use its new interface",
                self.url,
                self.fingerprint,
                fingerprint,
            )


def _ran_and_failed(body: dict[str, Any], status: int, what: str, url: str) -> RemoteCallError:
    error = body.get("error")
    error = error if isinstance(error, dict) else {}
    detail = error.get("detail")
    detail = dict(detail) if isinstance(detail, dict) else {}
    detail["remote_call_id"] = body.get("id")
    failure = RemoteCallError(
        str(error.get("code") or "REMOTE_ERROR"),
        str(error.get("message") or f"{what} failed at {url}"),
        retryable=bool(error.get("retryable", False)),
        status=status,
        detail=detail,
    )
    # Where to look for the remote traceback: shown in this server's traceback text.
    failure.args = (f"{failure.code}: {failure.message} (call {body.get('id')} at {url})",)
    return failure


def _with_fields(error: RemoteCallError, fields: list[Any]) -> RemoteCallError:
    """A 422's field problems in the message too, as only the message reaches step records."""
    problems = "; ".join(
        f"{field.get('field') or '(args)'}: {field.get('message')}"
        for field in fields
        if isinstance(field, dict)
    )
    return RemoteCallError(
        error.code,
        f"{error.message}: {problems}" if problems else error.message,
        retryable=error.retryable,
        status=error.status,
        detail=error.detail,
    )


def _is_busy(response: httpx.Response) -> bool:
    if response.status_code != 409:
        return False
    body = _json_or_none(response)
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and error.get("code") == "INSTRUMENT_BUSY"


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
