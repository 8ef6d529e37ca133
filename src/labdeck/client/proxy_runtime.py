"""The fixed part of every generated proxy module: imports, the error, `Connection`.

Owns `RUNTIME`, Python source pasted into each module `proxy_gen.py` writes. It must run
without labdeck: it needs only httpx and the standard library, and it uses labdeck's
`RemoteInstrumentError` when labdeck is importable, else an identical class of its own.
It is kept formatted as `ruff format` (line length 88) would format it; `__TYPING__`,
`__ALL__` and `__CONSTANTS__` are filled in per deck.
"""

from __future__ import annotations

RUNTIME = '''\
from __future__ import annotations

from enum import Enum
from typing import __TYPING__

import httpx

try:
    from labdeck.client import RemoteInstrumentError
except ImportError:  # labdeck is not installed here: the same error, defined here

    class RemoteInstrumentError(Exception):  # type: ignore[no-redef]
        """An instrument call on a labdeck server failed: it ran and failed, or never ran.

        `code` is the server's error code (`CONNECTION` when it did not answer, always
        retryable), `status` the HTTP status (200 when the call ran and failed, None
        when there was no answer).
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
            super().__init__(f"{code}: {message}")
            self.code = code
            self.message = message
            self.retryable = retryable
            self.status = status
            self.detail = detail or {}


__ALL__

__CONSTANTS__


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()
"""An argument left at DEFAULT is not sent: the instrument uses its own default."""


class Connection:
    """One labdeck server: its URL, an API token and one pooled HTTP client."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30,
        **client_options: Any,
    ) -> None:
        """`client_options` go to `httpx.Client` (e.g. `verify`, `transport`)."""
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, **client_options
        )

    def call(self, path: str, args: dict[str, Any]) -> Any:
        """Call a method or function route; arguments left at DEFAULT are not sent."""
        given = {name: value for name, value in args.items() if value is not DEFAULT}
        return self._request("POST", path, {"args": _jsonable(given)})

    def get(self, instrument: str, name: str) -> Any:
        """Read an instrument property."""
        path = f"/api/instruments/{instrument}/properties/{name}"
        return self._request("GET", path, None)

    def set(self, instrument: str, name: str, value: Any) -> None:
        """Set an instrument property."""
        path = f"/api/instruments/{instrument}/properties/{name}"
        self._request("PUT", path, {"value": _jsonable(value)})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request(self, method: str, path: str, body: Any) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TransportError as exc:
            message = f"could not reach {self.base_url}: {exc}"
            raise RemoteInstrumentError("CONNECTION", message, retryable=True) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not response.is_success:
            error = answer.get("error") if isinstance(answer, dict) else None
            if not isinstance(error, dict):
                message = f"the server answered HTTP {response.status_code}"
                raise RemoteInstrumentError(
                    "HTTP_ERROR", message, status=response.status_code
                )
            raise _error(error, response.status_code)
        if not isinstance(answer, dict):
            message = f"{method} {path} did not answer a call record"
            raise RemoteInstrumentError("BAD_RESPONSE", message, status=200)
        if answer.get("status") == "failed":
            raise _error(answer.get("error") or {}, 200, answer.get("id"))
        return answer.get("output")


def _error(
    error: dict[str, Any], status: int, call_id: str | None = None
) -> RemoteInstrumentError:
    detail: dict[str, Any] = {}
    if isinstance(error.get("detail"), dict):
        detail.update(error["detail"])
    if call_id is not None:
        detail["call_id"] = call_id
    return RemoteInstrumentError(
        str(error.get("code") or "ERROR"),
        str(error.get("message") or f"HTTP {status}"),
        retryable=bool(error.get("retryable", False)),
        status=status,
        detail=detail,
    )


def _jsonable(value: Any) -> Any:
    """Enum members become their values, tuples lists: what the server's JSON expects."""
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


class _Instrument:
    """Base of the instrument classes: a connection and the instrument's name."""

    _name = ""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def __repr__(self) -> str:
        return f"<{self._name} on {self._connection.base_url}>"

    def _call(self, method: str, args: dict[str, Any]) -> Any:
        path = f"/api/instruments/{self._name}/{method}"
        return self._connection.call(path, args)

    def _get(self, name: str) -> Any:
        return self._connection.get(self._name, name)

    def _set(self, name: str, value: Any) -> None:
        self._connection.set(self._name, name, value)
'''
