"""Runs lists: reading their filters and cutting them into pages.

Shared by `GET /api/runs` and the Data pages, so both accept the same filters and page the
same way: newest first, keyset pagination where the cursor is the id of the last run shown
(`id < cursor`), never an OFFSET. Comma lists and repeated parameters are both accepted for
`status` and `trigger`; times without a zone are UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from labdeck.errors import InvalidInput
from labdeck.services import Services
from labdeck.store.repo_runs import RunFilter, RunRecord

RUN_STATUSES = ("pending", "running", "waiting", "paused", "completed", "failed", "cancelled")
TRIGGER_KINDS = ("manual", "webhook", "schedule", "replay")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True)
class RunPage:
    runs: list[RunRecord]
    next_cursor: str | None  # older runs: pass as `cursor`
    newer: bool  # there are newer runs than the first one shown


def choices(values: Iterable[str] | None, allowed: Sequence[str], field: str) -> list[str]:
    """`["failed,cancelled", "paused"]` -> `["failed", "cancelled", "paused"]`, checked."""
    found: list[str] = []
    for value in values or ():
        for raw in value.split(","):
            item = raw.strip().lower()
            if not item:
                continue
            if item not in allowed:
                raise InvalidInput(
                    f"unknown {field} {item!r}",
                    fields=[
                        {
                            "field": field,
                            "message": f"expected one of: {', '.join(allowed)}",
                            "type": "enum",
                        }
                    ],
                )
            if item not in found:
                found.append(item)
    return found


def as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def run_filter(
    services: Services,
    *,
    workflow: str | None = None,
    statuses: Iterable[str] | None = None,
    triggers: Iterable[str] | None = None,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    text: str | None = None,
) -> RunFilter | None:
    """The filter, or None when nothing can match (a workflow that does not exist)."""
    workflow_id = workflow_id_of(services, workflow.strip()) if workflow else None
    if workflow and workflow_id is None:
        return None
    return RunFilter(
        workflow_id=workflow_id,
        statuses=choices(statuses, RUN_STATUSES, "status"),
        trigger_kinds=choices(triggers, TRIGGER_KINDS, "trigger"),
        created_by=(user or "").strip() or None,
        since=as_utc(since),
        until=as_utc(until),
        text=(text or "").strip() or None,
    )


def workflow_id_of(services: Services, ref: str) -> int | None:
    """A workflow's id from its id or its exact name (archived ones too)."""
    if ref.isdigit():
        return int(ref)
    for status in (None, "archived"):
        for record in services.workflows.search(text=ref, status=status):
            if record.name == ref:
                return record.id
    return None


def cursor_id(cursor: str | None, field: str = "cursor") -> int | None:
    if not cursor:
        return None
    if not cursor.isdigit():
        raise InvalidInput(
            f"{field} must be the id of a run",
            fields=[{"field": field, "message": "expected a run id", "type": "int"}],
        )
    return int(cursor)


def run_page(
    services: Services,
    where: RunFilter | None,
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    after: str | None = None,
) -> RunPage:
    """One page of runs, newest first: older than `cursor`, or else newer than `after`."""
    before_id, after_id = cursor_id(cursor), cursor_id(after, "after")
    if where is None:
        return RunPage([], None, False)
    limit = max(1, min(limit, MAX_LIMIT))
    repository = services.run_service.runs
    if after_id is not None and before_id is None:
        found = repository.search(where, limit=limit + 1, after_id=after_id)
        runs = found[-limit:]
        return RunPage(runs, str(runs[-1].id) if runs else None, len(found) > limit)
    found = repository.search(where, limit=limit + 1, before_id=before_id)
    runs = found[:limit]
    more = len(found) > limit
    return RunPage(runs, str(runs[-1].id) if more else None, before_id is not None)
