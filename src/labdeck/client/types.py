"""The shapes of the server's JSON answers, as the client returns them (API.md).

These are `TypedDict`s: the values are the plain dicts decoded from JSON, typed so editors
and mypy know their keys. Times stay ISO 8601 strings and ids stay strings, as sent.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

RunStatus = Literal["pending", "running", "waiting", "paused", "completed", "failed", "cancelled"]
ENDED: tuple[RunStatus, ...] = ("completed", "failed", "cancelled")


class ErrorInfo(TypedDict):
    code: str
    message: str
    retryable: bool
    detail: dict[str, Any]


class UserInfo(TypedDict):
    name: str
    role: Literal["admin", "operator", "viewer"]
    disabled: bool
    created_at: str | None


class Token(TypedDict):
    token: str
    expires_at: str
    user: UserInfo


class Me(TypedDict):
    name: str
    role: Literal["admin", "operator", "viewer"]
    auth: Literal["api", "session"]


class Call(TypedDict):
    """A direct call as recorded: it ran (`completed` or `failed` with `error`)."""

    id: str
    kind: Literal["method", "function", "property_get", "property_set"]
    target: str
    args: dict[str, Any]
    status: Literal["running", "completed", "failed"]
    output: Any
    error: ErrorInfo | None
    started_at: str
    ended_at: str | None
    duration_s: float | None
    user: str | None
    forced: bool
    deck_fingerprint: str


class Problem(TypedDict):
    step: str | None
    field: str
    message: str


class WorkflowSummary(TypedDict):
    id: str
    name: str
    description: str
    tags: list[str]
    status: Literal["active", "paused_safety", "archived"]
    deck: str
    active_version: int | None
    draft_updated_at: str
    draft_updated_by: str | None


class Workflow(WorkflowSummary):
    draft: dict[str, Any]
    problems: list[Problem]
    drift: list[Problem]


class ImportedWorkflow(Workflow):
    report: list[dict[str, Any]]


class Run(TypedDict):
    id: str
    name: str
    workflow: str
    version: int
    status: RunStatus
    status_reason: str | None
    trigger: dict[str, Any]
    mode: dict[str, Any]
    options: dict[str, Any]
    progress: dict[str, Any]
    error: ErrorInfo | None
    replay_of: str | None
    created_at: str
    started_at: str | None
    ended_at: str | None
    prompt: dict[str, Any] | None
    actions: list[str]


class RunSteps(TypedDict):
    """Every step record of a run, in execution order, and its per-sample results."""

    steps: list[dict[str, Any]]
    samples: list[dict[str, Any]]


class Queue(TypedDict):
    paused: bool
    reason: str | None
    active: Run | None
    pending: list[Run]


class Event(TypedDict):
    """One Server-Sent Event: its kind (`run.status`, `step.finished`…), id and JSON data."""

    event: str
    id: int | None
    data: Any
