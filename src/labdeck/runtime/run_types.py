"""Values shared by the runner's modules: a sample's scope, a step's place, how steps end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labdeck.errors import StructuredError
from labdeck.runtime.states import RunStatus


@dataclass
class Scope:
    """What one sample sees: its parameters and the variables saved so far."""

    params: dict[str, Any]
    variables: dict[str, Any] = field(default_factory=dict)
    sample: int | None = None  # the sample's index in the run; None in prep and cleanup

    def names(self) -> dict[str, Any]:
        return {**self.params, **self.variables}


@dataclass(frozen=True)
class Where:
    phase: str
    iteration: int | None
    path: str


class StepFailed(Exception):
    def __init__(self, error: StructuredError, attempts: int = 1) -> None:
        super().__init__(error.message)
        self.error = error
        self.attempts = attempts  # the number of the last attempt made


class RunCancelled(Exception):
    def __init__(self, reason: str, cleanup: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cleanup = cleanup


class RunFailed(Exception):
    def __init__(self, error: StructuredError, path: str) -> None:
        super().__init__(error.message)
        self.error = error
        self.path = path


@dataclass(frozen=True)
class Outcome:
    status: RunStatus
    reason: str | None = None
    continue_queue: bool = True


def step_error(code: str, message: str, **detail: Any) -> StepFailed:
    return StepFailed(StructuredError(code=code, message=message, detail=detail))
