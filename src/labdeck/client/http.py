"""The one HTTP session of a `Client`: requests, answers, and how failures become errors.

Owns the `httpx.Client` (one per `Client`, so connections are reused), the Bearer token, and
the rule that turns an answer into a value: a 2xx answer's JSON body, any other answer a
`LabdeckClientError` built from the server's error shape, no answer a retryable
`CONNECTION` error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from labdeck import __version__
from labdeck.client.errors import LabdeckClientError, RemoteInstrumentError, connection_error

Params = Mapping[str, Any]


def segment(value: str | int) -> str:
    """A path segment: workflow names may hold spaces, slashes or `?`."""
    return quote(str(value), safe="")


def as_remote_error(error: LabdeckClientError) -> RemoteInstrumentError:
    """The same error as a `RemoteInstrumentError` (for the instrument and function routes)."""
    if isinstance(error, RemoteInstrumentError):
        return error
    return RemoteInstrumentError(
        error.code,
        error.message,
        retryable=error.retryable,
        status=error.status,
        detail=error.detail,
    )


class HttpSession:
    """Sends requests to one server and turns every failure into a `LabdeckClientError`."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float,
        transport: httpx.BaseTransport | None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": f"labdeck-client/{__version__}"},
        )
        self.set_token(token)

    def set_token(self, token: str | None) -> None:
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"
        else:
            self.http.headers.pop("Authorization", None)

    def close(self) -> None:
        self.http.close()

    def send(
        self, method: str, path: str, *, json: Any = None, params: Params | None = None
    ) -> httpx.Response:
        """The successful (2xx) response; raises for anything else."""
        try:
            response = self.http.request(
                method, path, json=json, params=_query(params) if params else None
            )
        except httpx.TransportError as exc:
            raise connection_error(self.url, exc) from exc
        raise_for_answer(response)
        return response

    def json(
        self, method: str, path: str, *, json: Any = None, params: Params | None = None
    ) -> Any:
        """The JSON body of the successful answer (None for an empty one, e.g. 204)."""
        return decode(self.send(method, path, json=json, params=params))

    def stream(self, path: str, params: Params | None, read_timeout: float) -> httpx.Response:
        """An open streamed response (the caller closes it); raises like `send`."""
        request = self.http.build_request(
            "GET",
            path,
            params=_query(params) if params else None,
            headers={"Accept": "text/event-stream"},
            timeout=httpx.Timeout(self.timeout, read=read_timeout),
        )
        try:
            response = self.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise connection_error(self.url, exc) from exc
        if not response.is_success:
            try:
                response.read()
            finally:
                response.close()
            raise_for_answer(response)
        return response


def decode(response: httpx.Response) -> Any:
    """The JSON body of a successful answer (None when empty); anything else is an error."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        request = response.request
        raise LabdeckClientError(
            "BAD_RESPONSE",
            f"{request.method} {request.url.path} answered"
            f" {response.headers.get('content-type')!r}, not JSON",
            status=response.status_code,
        ) from exc


def raise_for_answer(response: httpx.Response) -> None:
    """Raise the server's error for a non-2xx answer (its body in the one error shape)."""
    if response.is_success:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    raise LabdeckClientError.from_response(response.status_code, body)


def _query(params: Params) -> dict[str, Any]:
    """Query parameters without the unset ones; lists repeat the name, booleans are words."""
    return {name: _query_value(value) for name, value in params.items() if value is not None}


def _query_value(value: Any) -> Any:
    if isinstance(value, list | tuple):  # httpx repeats the name for each item
        return [_query_value(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):  # dates and times
        return value.isoformat()
    return value
