"""Reading `GET /api/events` (Server-Sent Events) as an iterator of `Event` dicts.

Owns the SSE parsing (`id:`, `event:`, `data:` lines, a blank line ends a message, `:` lines
are comments) and the stream's life: it is opened when `EventStream` is made and the first
block the server sends (`retry:` and a comment) has been read, so every event published after
`Client.events()` returns is delivered. It stays open until `close()`, the end of a `with`
block, or the server going away.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import TracebackType

import httpx

from labdeck.client.errors import connection_error
from labdeck.client.types import Event


class EventStream:
    """Live events of a server: iterate for `Event`s; close it (or use `with`) when done."""

    def __init__(self, response: httpx.Response, url: str) -> None:
        self._response = response
        self._url = url
        self._lines = response.iter_lines()
        try:
            for line in self._lines:
                if line == "":  # the end of the opening block: subscribed from here on
                    break
        except httpx.TransportError as exc:
            self.close()
            raise connection_error(url, exc) from exc

    def __iter__(self) -> Iterator[Event]:
        return self._events()

    def _events(self) -> Iterator[Event]:
        kind = "message"
        event_id: int | None = None
        data: list[str] = []
        try:
            for line in self._lines:
                if line == "":
                    if data:
                        yield Event(event=kind, id=event_id, data=_decode("\n".join(data)))
                    kind, event_id, data = "message", None, []
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    kind = value
                elif name == "data":
                    data.append(value)
                elif name == "id":
                    event_id = int(value) if value.isdigit() else None
        except httpx.TransportError as exc:
            raise connection_error(self._url, exc) from exc
        finally:
            self.close()

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _decode(data: str) -> object:
    try:
        return json.loads(data)
    except ValueError:
        return data
