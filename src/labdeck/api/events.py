"""`GET /api/events`: the event bus as Server-Sent Events (API.md, "Queue and events").

Owns the bridge from the in-process `EventBus` (whose listeners are called on whatever thread
publishes: the runner, the queue, a request) to one HTTP response per browser tab. Each
stream subscribes a listener that filters by run, then hands the event to the request's
asyncio loop with `call_soon_threadsafe`; the loop side keeps a bounded queue. A client that
falls behind loses the oldest events and gets a `resync` event telling it to fetch the
current state again. A comment line is sent every `HEARTBEAT_S` seconds so proxies keep the
connection open and a vanished client is noticed; the listener is removed when the client
goes away.

Every message is `id: <n>` (counting per stream), `event: <kind>` and `data: <json>`.
Requests must ask for `Accept: text/event-stream` (EventSource and SSE libraries do): a
plain request would otherwise wait forever for a body that never ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from labdeck.api.deps import CurrentUser, ServicesDep
from labdeck.api.openapi import AUTHED, errors
from labdeck.errors import InvalidInput
from labdeck.runtime.states import EventBus

router = APIRouter(prefix="/api", tags=["events"])

EVENT_STREAM = "text/event-stream"
HEARTBEAT_S = 15.0
MAX_BUFFERED = 1000
RETRY_MS = 2000


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def format_event(kind: str, data: dict[str, Any], event_id: int) -> str:
    """One SSE message; JSON never holds a raw newline, so `data` is one line."""
    payload = json.dumps(data, default=_json_default, ensure_ascii=False)
    return f"id: {event_id}\nevent: {kind}\ndata: {payload}\n\n"


def _public(event: dict[str, Any]) -> dict[str, Any]:
    """Ids are strings in the API; the bus carries the database's integers."""
    shown = dict(event)
    if shown.get("run_id") is not None:
        shown["run_id"] = str(shown["run_id"])
    return shown


class EventStream:
    """One client's subscription: thread-safe intake, bounded buffer, SSE text out."""

    def __init__(
        self,
        bus: EventBus,
        loop: asyncio.AbstractEventLoop,
        *,
        run_id: int | None = None,
        max_buffered: int = MAX_BUFFERED,
    ) -> None:
        self._bus = bus
        self._loop = loop
        self._run_id = run_id
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=max_buffered)
        self._dropped = 0
        self._sent = 0
        self._unsubscribe: Callable[[], None] | None = None

    def open(self) -> None:
        self._unsubscribe = self._bus.subscribe(self._listen)

    def close(self) -> None:
        if self._unsubscribe is not None:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
            with contextlib.suppress(ValueError):  # already removed
                unsubscribe()

    def _listen(self, event: dict[str, Any]) -> None:
        """Called on the publishing thread: filter, then hop onto the request's loop."""
        if self._run_id is not None and str(event.get("run_id")) != str(self._run_id):
            return
        try:
            self._loop.call_soon_threadsafe(self._put, event)
        except RuntimeError:  # the loop is closed: the client is gone
            self.close()

    def _put(self, event: dict[str, Any]) -> None:
        if self._queue.full():
            self._queue.get_nowait()  # drop the oldest: the client will resync
            self._dropped += 1
        self._queue.put_nowait(event)

    def _message(self, kind: str, data: dict[str, Any]) -> str:
        self._sent += 1
        return format_event(kind, data, self._sent)

    async def messages(
        self, request: Request, heartbeat_s: float | None = None
    ) -> AsyncIterator[str]:
        """The response body: events as they come, a heartbeat comment when quiet."""
        interval = HEARTBEAT_S if heartbeat_s is None else heartbeat_s
        self.open()  # before the first line: a client that has read it gets every event
        try:
            yield f"retry: {RETRY_MS}\n: connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(self._queue.get(), timeout=interval)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": heartbeat\n\n"
                    continue
                if self._dropped:
                    dropped, self._dropped = self._dropped, 0
                    yield self._message("resync", {"dropped": dropped})
                yield self._message(str(event.get("kind", "message")), _public(event))
        finally:
            self.close()


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {EVENT_STREAM: {"schema": {"type": "string"}}},
            "description": "An endless stream of `event: <kind>` / `data: <json>` messages: "
            "`run.status`, `run.progress`, `step.started`, `step.finished`, `run.waiting`, "
            "`queue.changed`, `log`, and `resync` when events were dropped (fetch the state "
            "again).",
        },
        **errors(*AUTHED, 422),
    },
    summary="Live events (Server-Sent Events); send `Accept: text/event-stream`",
)
async def event_stream(
    request: Request,
    _user: CurrentUser,
    services: ServicesDep,
    run: Annotated[int | None, Query(description="Only the events of this run")] = None,
) -> StreamingResponse:
    if EVENT_STREAM not in request.headers.get("accept", ""):
        message = f"this is an event stream: send `Accept: {EVENT_STREAM}`"
        raise InvalidInput(
            message, fields=[{"field": "accept", "message": message, "type": "header"}]
        )
    stream = EventStream(services.bus, asyncio.get_running_loop(), run_id=run)
    return StreamingResponse(
        stream.messages(request),
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
