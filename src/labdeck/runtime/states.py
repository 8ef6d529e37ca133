"""The run model: statuses, the allowed transitions, and the one function that changes them.

Owns DESIGN.md's run model. `change_run_status` is the only code that writes a run's status:
it checks the transition table, updates the row only if it still has the status it read
(under a row lock where the database has them), writes an event row in the same transaction,
and publishes the event after the commit. Everything else asks it. A rejected transition is
409 `INVALID_TRANSITION` with the current status in `detail.status`; terminal statuses are
final forever.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol

from labdeck.errors import Conflict


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


TERMINAL: frozenset[RunStatus] = frozenset(
    {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED}
)

# DESIGN.md, "Run model": from -> allowed targets (and what causes each).
TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    # the queue starts it; pause holds it in the queue; cancel
    RunStatus.PENDING: frozenset({RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.CANCELLED}),
    # wait/input/pause block; pause verb or error under on_error=pause; done; error; cancel
    RunStatus.RUNNING: frozenset(
        {
            RunStatus.WAITING,
            RunStatus.PAUSED,
            RunStatus.COMPLETED,
            RunStatus.FAILED,
            RunStatus.CANCELLED,
        }
    ),
    # timer fired, input or approval given; pause verb; cancel
    RunStatus.WAITING: frozenset({RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.CANCELLED}),
    # resume/retry/skip (pending if it never started); stop on an error-paused run; cancel
    RunStatus.PAUSED: frozenset(
        {RunStatus.RUNNING, RunStatus.PENDING, RunStatus.FAILED, RunStatus.CANCELLED}
    ),
    RunStatus.COMPLETED: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}


def is_allowed(current: RunStatus, target: RunStatus) -> bool:
    return target in TRANSITIONS[current]


class InvalidTransition(Conflict):
    code = "INVALID_TRANSITION"

    def __init__(self, run_id: int, current: RunStatus, target: RunStatus) -> None:
        if current in TERMINAL:
            message = f"run {run_id} is {current}, which is final: it cannot become {target}"
        else:
            message = f"run {run_id} is {current}: it cannot become {target}"
        super().__init__(message, detail={"status": str(current), "requested": str(target)})


EventListener = Callable[[dict[str, Any]], None]


class EventBus:
    """In-process publish/subscribe of committed events (the SSE stream will read it)."""

    def __init__(self) -> None:
        self._listeners: list[EventListener] = []

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def publish(self, event: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            listener(event)


class RunStatusStore(Protocol):
    """What `change_run_status` needs from the store (store/repo_runs.py implements it)."""

    def compare_and_set_status(
        self,
        run_id: int,
        *,
        target: str,
        reason: str | None,
        by: str | None,
        check: Callable[[str], None],
        starts: bool = False,
        ends: bool = False,
    ) -> dict[str, Any]:
        """Read the status, `check(current)` (which may raise), then update the row only if
        it still has that status, and write the event row in the same transaction. `starts`
        and `ends` ask it to stamp the start and end times.

        Returns the committed event. Raises NotFound for an unknown run.
        """
        ...


def change_run_status(
    store: RunStatusStore,
    bus: EventBus | None,
    run_id: int,
    target: RunStatus,
    *,
    reason: str | None = None,
    by: str | None = None,
    expected: RunStatus | None = None,
) -> dict[str, Any]:
    """Move run `run_id` to `target`, or raise InvalidTransition (409) / NotFound (404).

    `expected`, when given, must also be the current status (a caller acting on what it
    saw, e.g. "resume the run I saw paused"). Returns the `run.status` event.
    """

    def check(current_text: str) -> None:
        current = RunStatus(current_text)
        if (expected is not None and current != expected) or not is_allowed(current, target):
            raise InvalidTransition(run_id, current, target)

    event = store.compare_and_set_status(
        run_id,
        target=target.value,
        reason=reason,
        by=by,
        check=check,
        starts=target is RunStatus.RUNNING,
        ends=target in TERMINAL,
    )
    if bus is not None:
        bus.publish(event)
    return event


__all__ = [
    "TERMINAL",
    "TRANSITIONS",
    "EventBus",
    "InvalidTransition",
    "RunStatus",
    "RunStatusStore",
    "StepStatus",
    "change_run_status",
    "is_allowed",
]
