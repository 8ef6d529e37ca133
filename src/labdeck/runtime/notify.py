"""Telling people when a run needs them: pause steps, input steps, failed steps.

Owns the notifications. A `Notifier` listens to the event bus and, when a run starts waiting
for an operator (an input or pause step) or is paused by a failed step, calls the integrator's
handlers (`labdeck.run(__name__, notify=[send_sms])`) with one message dict, and POSTs the
same JSON to `LABDECK_NOTIFY_WEBHOOK_URL` when it is set. Handlers and the webhook run on a
background thread: a slow phone gateway must never stall the run or the queue.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from labdeck.runtime.states import EventBus

log = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any]], object]
WEBHOOK_TIMEOUT_S = 5.0


def notification_for(event: dict[str, Any]) -> dict[str, Any] | None:
    """The message to send for a bus event, or None when nobody needs to act."""
    kind = event.get("kind")
    if kind == "run.waiting":
        what = "input" if event.get("step_kind") == "input" else "pause"
        return {
            "kind": what,
            "run_id": event.get("run_id"),
            "step": event.get("step"),
            "message": event.get("text")
            or ("an answer is needed" if what == "input" else "paused"),
        }
    if kind == "run.status" and event.get("to_status") == "paused":
        reason = str(event.get("reason") or "")
        if " failed: " in reason:
            return {"kind": "error", "run_id": event.get("run_id"), "message": reason}
    return None


class Notifier:
    def __init__(
        self, bus: EventBus, handlers: Sequence[Handler] = (), webhook_url: str | None = None
    ) -> None:
        self._handlers = list(handlers)
        self._webhook_url = webhook_url
        self._outbox: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        if self._handlers or self._webhook_url:
            bus.subscribe(self._on_event)
            self._thread = threading.Thread(
                target=self._deliver, name="labdeck-notify", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._outbox.put(None)
            self._thread.join(timeout=WEBHOOK_TIMEOUT_S + 1)

    def _on_event(self, event: dict[str, Any]) -> None:
        message = notification_for(event)
        if message is not None:
            self._outbox.put(message)

    def _deliver(self) -> None:
        while (message := self._outbox.get()) is not None:
            for handler in self._handlers:
                try:
                    handler(message)
                except Exception:
                    log.exception("notification handler %r failed", handler)
            if self._webhook_url:
                import httpx  # on first use: it costs start-up time and most labs set no URL

                try:
                    httpx.post(self._webhook_url, json=message, timeout=WEBHOOK_TIMEOUT_S)
                except httpx.HTTPError as exc:
                    log.warning("notification webhook failed: %s", exc)
