"""Operator requests to the run in progress, read by the runner at step boundaries.

Owns the hand-over between request threads (API, pages) and the deck thread running the
run: pause, resume, cancel (stop current), stop pending, retry/skip decisions for an
error-paused run, and answers for input and pause steps. Nothing here changes a status;
the runner acts on the requests and calls `states.change_run_status`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

Decision = Literal["retry", "skip", "stop"]


@dataclass(frozen=True)
class CancelRequest:
    reason: str
    cleanup: bool
    continue_queue: bool


@dataclass(frozen=True)
class StopPendingRequest:
    cleanup: bool
    continue_queue: bool


class RunControl:
    """Thread-safe mailbox between operators and one active run."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.pause_requested = False
        self.resume_requested = False
        self.cancel: CancelRequest | None = None
        self.stop_pending: StopPendingRequest | None = None
        self.decision: Decision | None = None
        self.answer: tuple[bool, Any] = (False, None)
        # What the runner is doing now (for progress and for which requests are valid).
        self.current_step: str | None = None
        self.waiting_for: Literal["input", "pause", "decision", "resume", "timer"] | None = None
        self.prompt: dict[str, Any] | None = None

    def _notify(self) -> None:
        self._changed.notify_all()

    def poke(self) -> None:
        """Wake the runner's wait (a direct call handed it a job while the deck is lent)."""
        with self._changed:
            self._notify()

    def request_pause(self) -> None:
        with self._changed:
            self.pause_requested = True
            self._notify()

    def request_resume(self) -> None:
        with self._changed:
            self.resume_requested = True
            self.pause_requested = False
            self._notify()

    def request_cancel(self, request: CancelRequest) -> None:
        with self._changed:
            self.cancel = request
            self._notify()

    def request_stop_pending(self, request: StopPendingRequest) -> None:
        with self._changed:
            self.stop_pending = request
            self._notify()

    def decide(self, decision: Decision) -> None:
        with self._changed:
            self.decision = decision
            self._notify()

    def give_answer(self, value: Any) -> None:
        with self._changed:
            self.answer = (True, value)
            self._notify()

    def stop_pending_request(self) -> StopPendingRequest | None:
        """Read each time: another thread may set it while the run goes on."""
        with self._changed:
            return self.stop_pending

    def take_resume(self) -> bool:
        with self._changed:
            resumed, self.resume_requested = self.resume_requested, False
            return resumed

    def take_decision(self) -> Decision | None:
        with self._changed:
            decision, self.decision = self.decision, None
            return decision

    def take_answer(self) -> tuple[bool, Any]:
        with self._changed:
            answer, self.answer = self.answer, (False, None)
            return answer

    def wait(self, timeout_s: float) -> None:
        """Sleep until a request arrives or `timeout_s` passes."""
        with self._changed:
            self._changed.wait(timeout=max(0.0, timeout_s))

    def sleep(self, seconds: float, interrupted: Any) -> bool:
        """Sleep `seconds` unless `interrupted()` becomes true; returns True if it did."""
        deadline = time.monotonic() + seconds
        while True:
            if interrupted():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.wait(min(left, 0.5))
