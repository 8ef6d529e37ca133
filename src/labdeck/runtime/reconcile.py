"""What a restart finds: runs that were in progress when the server stopped.

At start, a run that was `running` is failed with `SERVER_RESTART` ("cleanup did not run"),
a `waiting` run is paused with that reason, pending runs keep their order, and the queue is
paused whenever anything was left, so a person decides what happens next.
"""

from __future__ import annotations

from labdeck.errors import StructuredError
from labdeck.runtime.states import EventBus, RunStatus, change_run_status
from labdeck.store.repo_run_records import RunRecords
from labdeck.store.repo_runs import RunRepository

RESTART_REASON = "the server stopped during this run; cleanup did not run"


def reconcile_runs(
    runs: RunRepository, records: RunRecords, bus: EventBus, deck_name: str
) -> list[str]:
    """Fix up runs left by a crash; returns notes for the start-up banner."""
    notes: list[str] = []
    interrupted = runs.recent(statuses=["running"], limit=1000)
    error = StructuredError(
        code="SERVER_RESTART", message=RESTART_REASON, retryable=True
    ).model_dump(mode="json")
    for run in interrupted:
        records.fail_running_steps(run.id, error)
        runs.update_fields(run.id, error=error)
        change_run_status(runs, bus, run.id, RunStatus.FAILED, reason=RESTART_REASON, by="server")
    waiting = runs.recent(statuses=["waiting"], limit=1000)
    for run in waiting:
        records.fail_running_steps(run.id, error)
        change_run_status(runs, bus, run.id, RunStatus.PAUSED, reason=RESTART_REASON, by="server")
    queued = runs.queued()
    if interrupted or waiting:
        notes.append(
            f"{len(interrupted)} run(s) were running and failed, {len(waiting)} waiting run(s) "
            "were paused: the server stopped during them"
        )
    if interrupted or waiting or queued:
        records.set_queue_paused(
            deck_name, True, "the server restarted: check the queue, then resume it"
        )
        if queued:
            notes.append(f"{len(queued)} queued run(s) wait: the queue is paused until resumed")
    return notes
