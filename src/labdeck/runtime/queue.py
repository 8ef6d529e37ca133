"""The deck's run queue: one run at a time, started when the deck is free.

Owns which run runs next. A dispatcher thread wakes on every reason to look again (a run
submitted or resumed, the queue resumed, the deck lock released by a direct call or a run)
and starts the first pending run if the queue is not paused and it can take the deck lock
at once, so a direct call never stalls the queue. A freed deck wakes it only while a run may
be pending: with none, a direct call's release costs nothing (no query racing the call's
response for the interpreter). The run executes on the deck thread; when
it ends the queue pauses itself after a failure (unless `continue_on_failure`) or when a
stop asked it to, and only then frees the deck, so nothing starts in between.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

from labdeck.deck.executor import DeckExecutor
from labdeck.errors import LabdeckError, StructuredError, error_from_exception
from labdeck.runtime.control import RunControl
from labdeck.runtime.modes import IterationSource
from labdeck.runtime.run_types import Outcome
from labdeck.runtime.runlog import RunLog
from labdeck.runtime.runner import Runner
from labdeck.runtime.states import EventBus, RunStatus, change_run_status
from labdeck.store.repo_run_records import RunRecords
from labdeck.store.repo_runs import RunRecord, RunRepository
from labdeck.workflow.model import WorkflowDocument

log = logging.getLogger(__name__)
Prepare = Callable[[RunRecord], tuple[WorkflowDocument, IterationSource]]
SAFETY_POLL_S = 1.0


class RunQueue:
    def __init__(
        self,
        *,
        deck_name: str,
        runs: RunRepository,
        records: RunRecords,
        runner: Runner,
        executor: DeckExecutor,
        bus: EventBus,
        prepare: Prepare,
        on_finished: Callable[[RunRecord, Outcome], None] | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self._deck_name = deck_name
        self._runs = runs
        self._records = records
        self._runner = runner
        self._executor = executor
        self._bus = bus
        self._prepare = prepare
        self._on_finished = on_finished
        self._log_dir = log_dir
        self._wake = threading.Event()
        self._state_lock = threading.Lock()
        self._active: tuple[int, RunControl] | None = None
        self._paused, self._reason = records.queue_paused(deck_name)
        self._closed = False
        # Counts kicks; `_nothing_pending` is set when a look found no pending run and no
        # kick came meanwhile, and then a freed deck has no reason to wake the dispatcher.
        self._kicks = 0
        self._nothing_pending = False
        executor.lock.on_release(self._deck_freed)
        self._thread = threading.Thread(target=self._loop, name="labdeck-queue", daemon=True)
        self._thread.start()

    # --- state -------------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def paused_reason(self) -> str | None:
        return self._reason

    def active(self) -> tuple[int, RunControl] | None:
        return self._active

    def control_for(self, run_id: int) -> RunControl | None:
        active = self._active
        return active[1] if active is not None and active[0] == run_id else None

    def kick(self) -> None:
        """Look for a run to start (cheap: it only wakes the dispatcher)."""
        self._kicks += 1
        self._nothing_pending = False
        self._wake.set()

    def _deck_freed(self) -> None:
        # A pending run that found the deck busy waits for this; with none, stay asleep.
        if not self._nothing_pending:
            self._wake.set()

    def set_paused(self, paused: bool, reason: str | None = None) -> None:
        self._records.set_queue_paused(self._deck_name, paused, reason)
        self._paused, self._reason = paused, reason
        self._bus.publish({"kind": "queue.changed", "paused": paused, "reason": reason})
        if not paused:
            self.kick()

    def close(self) -> None:
        self._closed = True
        self.kick()
        self._thread.join(timeout=2)

    # --- dispatching -------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            self._wake.wait(timeout=SAFETY_POLL_S)
            self._wake.clear()
            if self._closed:  # set by close() from another thread
                return
            try:
                self._start_next()
            except Exception:
                log.exception("the run queue could not start the next run")

    def _start_next(self) -> None:
        with self._state_lock:
            if self._active is not None or self._paused:
                return
            kicks_seen = self._kicks
            run = self._runs.next_pending()
            if run is None:
                # A kick after `kicks_seen` set the wake event too, so it is looked at again.
                self._nothing_pending = self._kicks == kicks_seen
                return
            lock = self._executor.lock
            if not lock.try_acquire(f"run {run.id} ({run.name})"):
                return  # a direct call holds the deck; its release wakes us again
            try:
                change_run_status(
                    self._runs,
                    self._bus,
                    run.id,
                    RunStatus.RUNNING,
                    expected=RunStatus.PENDING,
                    by="queue",
                )
            except LabdeckError:
                lock.release()  # paused or cancelled meanwhile: look again
                return
            control = RunControl()
            self._active = (run.id, control)
        self._executor.submit(lambda: self._execute(run, control))

    def _execute(self, run: RunRecord, control: RunControl) -> None:
        try:
            with RunLog(self._log_dir, run.id, self._bus) if self._log_dir else nullcontext():
                document, source = self._prepare(run)
                outcome = self._runner.execute(run, control, document, source)
        except Exception as exc:
            log.exception("run %s stopped on an internal error", run.id)
            outcome = self._fail_internal(run, error_from_exception(exc))
        try:
            if self._on_finished is not None:
                self._on_finished(run, outcome)
            if outcome.status is RunStatus.FAILED and not outcome.continue_queue:
                self.set_paused(True, f"run {run.id} failed: the queue waits for a person")
            elif outcome.status is RunStatus.CANCELLED and not outcome.continue_queue:
                self.set_paused(True, f"run {run.id} was stopped and asked the queue to wait")
        finally:
            self._active = None
            self._executor.lock.release()  # wakes the dispatcher for the next run

    def _fail_internal(self, run: RunRecord, error: StructuredError) -> Outcome:
        self._runs.update_fields(run.id, error=error.model_dump(mode="json"))
        try:
            change_run_status(
                self._runs,
                self._bus,
                run.id,
                RunStatus.FAILED,
                reason=f"internal error: {error.message}",
                by="queue",
            )
        except LabdeckError:
            log.exception("run %s could not be marked failed", run.id)
        return Outcome(RunStatus.FAILED, error.message, continue_queue=False)
