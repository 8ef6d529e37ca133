"""Runs as operators and programs see them: submit, inspect, control, and the queue.

Owns the verbs (pause, resume, stop pending, cancel/stop current, retry, skip, input,
continue, rename, reorder, remove) and which of them is valid for a run in its current
state. A verb on a run that is not active changes its status directly through
`change_run_status`; a verb on the active run is handed to the runner through its
`RunControl` and takes effect at the next step boundary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from labdeck.deck.bindings import Deck
from labdeck.errors import Conflict, InvalidInput, NotFound
from labdeck.runtime.campaign import CampaignSource, attach_run_log
from labdeck.runtime.control import CancelRequest, StopPendingRequest
from labdeck.runtime.modes import IterationSource, TableSource, build_source
from labdeck.runtime.queue import RunQueue
from labdeck.runtime.runlog import run_log_path
from labdeck.runtime.states import (
    TERMINAL,
    EventBus,
    InvalidTransition,
    RunStatus,
    change_run_status,
)
from labdeck.store.repo_run_records import RunRecords
from labdeck.store.repo_runs import RunRecord, RunRepository
from labdeck.workflow.library import WorkflowLibrary
from labdeck.workflow.model import WorkflowDocument

SAFETY_FAILURES = 3


class RunOptions(BaseModel):
    batch_size: int = Field(default=1, ge=1, le=1000)
    on_error: Literal["pause", "fail"] = "pause"
    retries: int = Field(default=0, ge=0, le=10)
    cleanup_on_failure: bool = True
    continue_on_failure: bool = False


@dataclass(frozen=True)
class QueueView:
    paused: bool
    reason: str | None
    active: RunRecord | None
    pending: list[RunRecord]


class RunService:
    def __init__(
        self,
        *,
        deck: Deck,
        runs: RunRepository,
        records: RunRecords,
        library: WorkflowLibrary,
        bus: EventBus,
        log_dir: Path | None = None,
    ) -> None:
        self.deck = deck
        self.log_dir = log_dir
        self.runs = runs
        self.records = records
        self.library = library
        self.bus = bus
        self.queue: RunQueue | None = None  # set by services.py once the queue exists

    # --- submitting ----------------------------------------------------------------------------

    def submit(
        self,
        *,
        workflow: str,
        version: int | Literal["active"],
        mode: Mapping[str, Any],
        options: RunOptions,
        name: str | None,
        user: str | None,
        trigger: str = "manual",
        trigger_input: Any = None,
        replay_of: int | None = None,
    ) -> RunRecord:
        record = self.library.get(workflow).record
        if record.status == "paused_safety":
            raise Conflict(f"{record.name!r} is safety-paused", code="WORKFLOW_SAFETY_PAUSED")
        number = record.active_version if version == "active" else version
        if number is None:
            raise Conflict(
                f"{record.name!r} has no published version: publish first", code="NOT_PUBLISHED"
            )
        document = self.library.document(str(record.id), number)
        source = self._source(document, mode, options.batch_size)
        run = self.runs.create(
            name=name or f"{record.name} v{number}",
            workflow_id=record.id,
            version=number,
            trigger={"kind": trigger, "by": user}
            | ({"input": trigger_input} if trigger_input is not None else {}),
            mode=_stored_mode(mode, source),
            options=options.model_dump(),
            created_by=user,
            replay_of=replay_of,
        )
        self.bus.publish({"kind": "queue.changed", "run_id": run.id})
        self._queue().kick()
        return run

    def prepare(self, run: RunRecord) -> tuple[WorkflowDocument, IterationSource]:
        """The document and iteration source of a run about to start (for the queue)."""
        document = self.library.document(str(run.workflow_id), run.version)
        source = self._source(document, run.mode, int(run.options.get("batch_size", 1)))
        attach_run_log(source, self.runs, self.bus, run.id)  # a campaign's notes, if any
        return document, source

    def _source(
        self, document: WorkflowDocument, mode: Mapping[str, Any], batch_size: int
    ) -> IterationSource:
        return build_source(mode, document, self.library.parameter_schemas(document), batch_size)

    # --- reading -------------------------------------------------------------------------------

    def get(self, run_id: int) -> RunRecord:
        run = self.runs.get(run_id)
        if run is None:
            raise NotFound(f"no run with id {run_id}")
        return run

    def prompt(self, run_id: int) -> dict[str, Any] | None:
        control = self._queue().control_for(run_id)
        return dict(control.prompt) if control and control.prompt else None

    def actions(self, run: RunRecord) -> list[str]:
        """The verbs valid for `run` now (the pages show exactly these buttons).

        A run paused by a restart has no runner behind it: it can only be stopped (and then
        run again), never resumed, since what it was doing is lost.
        """
        status = RunStatus(run.status)
        if status in TERMINAL:
            return ["replay"]
        if status is RunStatus.PENDING:
            return ["pause", "cancel"]
        control = self._queue().control_for(run.id)
        if control is None:
            return ["resume", "cancel"] if run.started_at is None else ["cancel"]
        verbs = {
            "resume": ["resume"],
            "decision": ["retry", "skip"],
            "input": ["input"],
            "pause": ["continue"],
        }.get(control.waiting_for or "", [])
        if status in (RunStatus.RUNNING, RunStatus.WAITING) and not verbs:
            verbs = ["pause"]
        return [*verbs, "stop-pending", "cancel"]

    def log_text(self, run_id: int) -> str:
        """The run's log file ("" before the run has started)."""
        self.get(run_id)
        if self.log_dir is None:
            return ""
        path = run_log_path(self.log_dir, run_id)
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def results(self, run_id: int) -> list[dict[str, Any]]:
        """One row per sample: iteration, sample, parameters, then outputs."""
        self.get(run_id)
        return [
            {"iteration": s["iteration"], "sample": s["sample"], **s["params"], **s["outputs"]}
            for s in self.records.samples(run_id)
        ]

    def queue_view(self) -> QueueView:
        queue = self._queue()
        active = queue.active()
        return QueueView(
            paused=queue.paused,
            reason=queue.paused_reason,
            active=self.runs.get(active[0]) if active else None,
            pending=self.runs.queued(),
        )

    # --- verbs ---------------------------------------------------------------------------------

    def pause(self, run_id: int, user: str | None) -> RunRecord:
        run = self.get(run_id)
        control = self._queue().control_for(run_id)
        if control is not None and run.status in (RunStatus.RUNNING, RunStatus.WAITING):
            control.request_pause()  # cooperative: the runner parks at the next boundary
        else:
            change_run_status(
                self.runs,
                self.bus,
                run_id,
                RunStatus.PAUSED,
                expected=RunStatus.PENDING,
                reason="held in the queue",
                by=user,
            )
        return self.get(run_id)

    def resume(self, run_id: int, user: str | None) -> RunRecord:
        run = self.get(run_id)
        control = self._queue().control_for(run_id)
        if (
            control is not None
            and run.status == RunStatus.PAUSED
            and control.waiting_for == "resume"
        ):
            control.request_resume()
        elif control is None and run.status == RunStatus.PAUSED and run.started_at is None:
            change_run_status(
                self.runs, self.bus, run_id, RunStatus.PENDING, expected=RunStatus.PAUSED, by=user
            )
            self._queue().kick()
        elif control is None and run.status == RunStatus.PAUSED:
            raise Conflict(
                f"run {run_id} cannot be resumed: the server stopped while it ran, so where it"
                " was is lost. Stop it, then run it again.",
                code="INVALID_TRANSITION",
                detail={"status": str(run.status)},
            )
        else:
            raise InvalidTransition(run_id, RunStatus(run.status), RunStatus.RUNNING)
        return self.get(run_id)

    def cancel(
        self,
        run_id: int,
        user: str | None,
        *,
        reason: str | None,
        cleanup: bool,
        continue_queue: bool,
    ) -> RunRecord:
        """Stop current: at the next step boundary skip the rest; cleanup only if asked."""
        run = self.get(run_id)
        why = reason or "Cancelled by user"
        control = self._queue().control_for(run_id)
        if control is not None and run.status not in TERMINAL:
            control.request_cancel(CancelRequest(why, cleanup, continue_queue))
        else:
            change_run_status(self.runs, self.bus, run_id, RunStatus.CANCELLED, reason=why, by=user)
            if not continue_queue:
                self._queue().set_paused(
                    True, f"run {run_id} was cancelled and asked the queue to wait"
                )
        return self.get(run_id)

    def stop_pending(
        self, run_id: int, user: str | None, *, cleanup: bool, continue_queue: bool
    ) -> RunRecord:
        """Finish the current iteration, skip the remaining ones, then cleanup."""
        run = self.get(run_id)
        control = self._require_active(run)
        control.request_stop_pending(StopPendingRequest(cleanup, continue_queue))
        return run

    def decide(self, run_id: int, decision: Literal["retry", "skip", "stop"]) -> RunRecord:
        run = self.get(run_id)
        control = self._require_active(run)
        if control.waiting_for != "decision":
            raise Conflict(
                f"run {run_id} is not paused by a failed step: nothing to {decision}",
                code="INVALID_TRANSITION",
                detail={"status": str(run.status)},
            )
        control.decide(decision)
        return run

    def answer(self, run_id: int, value: Any, *, pause_step: bool) -> RunRecord:
        """Answer the waiting input step (converted to its type) or continue a pause step."""
        run = self.get(run_id)
        control = self._require_active(run)
        expected = "pause" if pause_step else "input"
        if control.waiting_for != expected or control.prompt is None:
            verb = "continue" if pause_step else "answer"
            raise Conflict(
                f"run {run_id} is not waiting for an operator to {verb}",
                code="INVALID_TRANSITION",
                detail={"status": str(run.status)},
            )
        control.give_answer(None if pause_step else _convert_answer(value, control.prompt))
        return run

    # --- safety ------------------------------------------------------------------------------

    def safety_pause(self, workflow_id: int, reason: str) -> None:
        record = self.library.safety_pause(str(workflow_id))
        self.bus.publish(
            {"kind": "workflow.safety_paused", "workflow": record.name, "reason": reason}
        )

    def after_run(self, run: RunRecord, outcome: Any) -> None:
        """Three failed triggered runs in a row safety-pause their workflow."""
        if outcome.status is not RunStatus.FAILED or run.trigger.get("kind") in (
            "manual",
            "replay",
        ):
            return
        recent = [
            r
            for r in self.runs.recent(workflow_id=run.workflow_id, limit=20)
            if r.trigger.get("kind") not in ("manual", "replay") and r.status in TERMINAL
        ][:SAFETY_FAILURES]
        if len(recent) == SAFETY_FAILURES and all(r.status == "failed" for r in recent):
            self.safety_pause(run.workflow_id, f"{SAFETY_FAILURES} triggered runs failed in a row")

    # --- the queue -----------------------------------------------------------------------------

    def rename(self, run_id: int, name: str) -> RunRecord:
        self.get(run_id)
        self.runs.update_fields(run_id, name=name)
        self.bus.publish({"kind": "queue.changed", "run_id": run_id})  # other tabs refresh
        return self.get(run_id)

    def reorder(self, run_ids: Sequence[int]) -> QueueView:
        queued = [run.id for run in self.runs.queued()]
        if sorted(run_ids) != sorted(queued):
            raise InvalidInput(
                "give every queued run exactly once",
                fields=[{"field": "run_ids", "message": f"queued: {queued}", "type": "mismatch"}],
            )
        self.runs.set_positions(run_ids)
        self.bus.publish({"kind": "queue.changed"})
        return self.queue_view()

    def set_queue_paused(self, paused: bool) -> QueueView:
        self._queue().set_paused(paused, "paused by an operator" if paused else None)
        return self.queue_view()

    # --- helpers -------------------------------------------------------------------------------

    def _queue(self) -> RunQueue:
        assert self.queue is not None
        return self.queue

    def _require_active(self, run: RunRecord) -> Any:
        control = self._queue().control_for(run.id)
        if control is None or run.status in TERMINAL:
            raise Conflict(
                f"run {run.id} is {run.status}, not in progress",
                code="INVALID_TRANSITION",
                detail={"status": str(run.status)},
            )
        return control


def _stored_mode(mode: Mapping[str, Any], source: IterationSource) -> dict[str, Any]:
    """Tables and campaigns are stored converted, so the run uses exactly what was checked."""
    if isinstance(source, TableSource):
        return {"table": source.rows}
    if isinstance(source, CampaignSource):
        return source.stored_mode
    return dict(mode)


def _convert_answer(value: Any, prompt: Mapping[str, Any]) -> Any:
    kind = prompt.get("type", "text")
    field = [{"field": "value", "message": f"expected {kind}", "type": kind}]
    try:
        if kind == "number":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind == "integer":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "yes", "1"):
                return True
            if text in ("false", "no", "0"):
                return False
            raise ValueError(value)
        if kind == "choice":
            if value not in (prompt.get("choices") or []):
                raise ValueError(value)
            return value
        return value if isinstance(value, str) else str(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"the answer must be {kind}", fields=field) from exc
