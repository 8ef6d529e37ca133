"""Refusing cross-origin state-changing requests (CSRF protection without tokens).

A browser tells where a request comes from with `Sec-Fetch-Site` (modern browsers) or
`Origin`. A state-changing request (anything but GET/HEAD/OPTIONS) from another site is
refused with 403 before any route runs. Requests with neither header come from programs,
which authenticate with Bearer tokens that a foreign page cannot attach.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from labdeck.errors import error_body

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CrossOriginGuard:
    def __init__(self, app: ASGIApp, trusted_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted = {origin.rstrip("/").lower() for origin in trusted_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            reason = self._refusal(scope)
            if reason is not None:
                await _send_forbidden(send, reason)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        origin = headers.get("origin", "").rstrip("/").lower()
        if origin and origin in self.trusted:
            return None
        fetch_site = headers.get("sec-fetch-site", "").lower()
        if fetch_site in ("same-site", "cross-site"):
            return f"cross-origin request refused (Sec-Fetch-Site: {fetch_site})"
        if origin:
            host = headers.get("host", "").lower()
            if origin == "null" or urlsplit(origin).netloc != host:
                return f"cross-origin request refused (Origin {origin} is not this server)"
        return None


async def _send_forbidden(send: Send, reason: str) -> None:
    body = json.dumps(error_body("CROSS_ORIGIN", reason)).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
