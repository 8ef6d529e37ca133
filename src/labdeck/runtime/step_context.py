"""What every step of a run can do: resolve values, wait for operators, record, change status.

Owns the parts of executing a run that are about waiting and bookkeeping rather than about
which step comes next: turning values into Python objects, step boundaries (pause and cancel
requests), waiting for a resume, for a retry/skip decision, for a timer, or for an operator's
answer, and writing step records and status changes. The runner's context builds on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from labdeck.deck.executor import DeckExecutor
from labdeck.deck.jsonsafe import to_jsonable
from labdeck.errors import StructuredError
from labdeck.runtime.control import RunControl
from labdeck.runtime.run_types import RunCancelled, Scope, Where, step_error
from labdeck.runtime.states import EventBus, RunStatus, change_run_status
from labdeck.store.repo_run_records import RunRecords
from labdeck.store.repo_runs import RunRecord, RunRepository
from labdeck.workflow.expressions import ExpressionError, evaluate, render_text
from labdeck.workflow.model import ExprRef, InputStep, ParamRef, PauseStep, VarRef, WaitStep


class RunnerParts(Protocol):
    records: RunRecords
    runs: RunRepository
    bus: EventBus
    executor: DeckExecutor


class StepContext:
    """The state of one executing run that every step uses."""

    def __init__(self, runner: RunnerParts, run: RunRecord, control: RunControl) -> None:
        self.runner = runner
        self.run = run
        self.control = control
        self.in_cleanup = False
        self.status = RunStatus.RUNNING
        self.handled_cancel: Any = None  # the cancel that led to cleanup: only a new one stops it

    # --- values and conditions ----------------------------------------------------------------

    def resolve(self, value: Any, scope: Scope) -> Any:
        try:
            if isinstance(value, ParamRef):
                return scope.params[value.param]
            if isinstance(value, VarRef):
                return scope.variables[value.var]
            if isinstance(value, ExprRef):
                return evaluate(value.expr, scope.names())
        except KeyError as missing:
            raise step_error("EXPRESSION", f"{missing.args[0]!r} has no value here") from missing
        except ExpressionError as bad:
            raise step_error("EXPRESSION", str(bad)) from bad
        return value

    def resolve_batch(self, value: Any, scopes: list[Scope]) -> Any:
        if isinstance(value, ParamRef):
            return [self.resolve(value, scope) for scope in scopes]
        return self.resolve(value, scopes[0])

    def condition(self, expression: str, scope: Scope) -> Any:
        return self.resolve(ExprRef(expr=expression), scope)

    # --- waiting: timers, operators, pauses ----------------------------------------------------

    def cancelled(self) -> RunCancelled:
        request = self.control.cancel
        assert request is not None
        return RunCancelled(request.reason, request.cleanup)

    def cancel_requested(self) -> bool:
        cancel = self.control.cancel
        return cancel is not None and cancel is not self.handled_cancel

    def boundary(self) -> None:
        """Between steps: act on a cancel or pause request."""
        control = self.control
        if self.cancel_requested():
            raise self.cancelled()
        if control.pause_requested and not self.in_cleanup:
            self.wait_for_resume("paused by an operator")

    @contextmanager
    def deck_lent(self) -> Iterator[None]:
        """While the run waits for a person, direct controls may use the deck (one at a time).

        Operators fix things by hand during a pause or before a retry; the run takes the deck
        back (after a direct call in progress ends) before it goes on.
        """
        executor = self.runner.executor
        executor.lend(self.control.poke)
        try:
            yield
        finally:
            executor.take_back(f"run {self.run.id} ({self.run.name})")

    def idle(self) -> None:
        """Wait a little for a request, serving direct calls meanwhile (inside `deck_lent`)."""
        self.control.wait(0.5)
        self.runner.executor.serve_lent()

    def wait_for_resume(self, reason: str) -> None:
        """Pause (status and reason) until resumed; raises RunCancelled if cancelled meanwhile."""
        control = self.control
        control.waiting_for = "resume"  # before the status: whoever sees `paused` sees resume
        self.set_status(RunStatus.PAUSED, reason)
        with self.deck_lent():
            while not control.take_resume():
                if self.cancel_requested():
                    raise self.cancelled()
                self.idle()
        control.waiting_for = None
        self.set_status(RunStatus.RUNNING, None)

    def pause_on_error(self, where: Where, error: StructuredError) -> str:
        control = self.control
        # Before the status: whoever sees the run paused also sees retry and skip.
        control.waiting_for = "decision"
        control.prompt = {"step": where.path, "error": error.model_dump(mode="json")}
        self.set_status(RunStatus.PAUSED, f"step {where.path} failed: {error.message}")
        try:
            with self.deck_lent():
                while (decision := control.take_decision()) is None:
                    if self.cancel_requested():
                        raise self.cancelled()
                    self.idle()
        finally:
            control.waiting_for = None
            control.prompt = None
        if decision != "stop":
            self.set_status(RunStatus.RUNNING, None)
        return decision

    def wait(self, step: WaitStep, where: Where, scope: Scope, sample: int | None) -> None:
        seconds = self.resolve(step.seconds, scope)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise step_error("INVALID_ARGUMENT", f"wait needs a number of seconds, got {seconds!r}")
        row = self.start_row(step, where, sample, {"seconds": seconds})
        deadline = time.monotonic() + float(seconds)
        self.set_status(RunStatus.WAITING, f"waiting {seconds:g} s")
        self.control.waiting_for = "timer"
        try:
            while (left := deadline - time.monotonic()) > 0:
                self.control.sleep(
                    left, lambda: self.cancel_requested() or self.control.pause_requested
                )
                if self.cancel_requested():
                    raise self.cancelled()
                if self.control.pause_requested and not self.in_cleanup:
                    paused_at = time.monotonic()
                    self.wait_for_resume("paused by an operator during a wait")
                    deadline += time.monotonic() - paused_at  # resume where it stopped
                    self.control.waiting_for = "timer"
                    self.set_status(RunStatus.WAITING, "waiting")
        except RunCancelled:
            self.runner.records.finish_step(row, status="cancelled", output=None, error=None)
            raise
        self.control.waiting_for = None
        self.set_status(RunStatus.RUNNING, None)
        self.runner.records.finish_step(row, status="completed", output=None, error=None)

    def ask_operator(
        self, step: PauseStep | InputStep, where: Where, scope: Scope, sample: int | None
    ) -> None:
        """A pause block waits for `continue`; an input step waits for an answer."""
        is_input = isinstance(step, InputStep)
        text = render_text(
            step.prompt if isinstance(step, InputStep) else step.message, scope.names()
        )
        row = self.start_row(step, where, sample, {"prompt": text})
        self.control.prompt = {"step": where.path, "kind": step.kind, "text": text}
        if isinstance(step, InputStep):
            self.control.prompt |= {"type": step.type, "choices": step.choices}
        self.control.waiting_for = "input" if is_input else "pause"
        self.set_status(RunStatus.WAITING, text or ("input requested" if is_input else "paused"))
        self.runner.bus.publish(
            {
                **self.control.prompt,
                "kind": "run.waiting",  # the event's name; the step's kind is step_kind
                "step_kind": step.kind,
                "run_id": self.run.id,
            }
        )
        try:
            with self.deck_lent():
                while True:
                    answered, value = self.control.take_answer()
                    if answered:
                        break
                    if self.cancel_requested():
                        self.runner.records.finish_step(
                            row, status="cancelled", output=None, error=None
                        )
                        raise self.cancelled()
                    self.idle()
        finally:
            self.control.waiting_for = None
            self.control.prompt = None
        self.set_status(RunStatus.RUNNING, None)
        self.runner.records.finish_step(
            row, status="completed", output=to_jsonable(value), error=None
        )
        if isinstance(step, InputStep):
            scope.variables[step.save] = value

    # --- records and statuses ------------------------------------------------------------------

    def start_row(
        self,
        step: Any,
        where: Where,
        sample: int | None,
        args: dict[str, Any],
        status: str = "running",
    ) -> int:
        """Commit a step record: `running` before it acts, or already final."""
        return self.runner.records.start_step(
            run_id=self.run.id,
            phase=where.phase,
            iteration=where.iteration,
            sample=sample,
            step_id=step.id,
            path=where.path,
            kind=step.kind,
            target=getattr(step, "target", None),
            args=to_jsonable(args),
            attempt=1,
            status=status,
        )

    def record_done(
        self, step: Any, where: Where, sample: int | None, args: dict[str, Any]
    ) -> None:
        """A step with no instrument call (set, comment): one completed row."""
        self.start_row(step, where, sample, args, status="completed")

    def record_skipped(self, step: Any, where: Where, sample: int | None, why: str) -> None:
        self.start_row(step, where, sample, {"skipped": why}, status="skipped")

    def set_status(self, status: RunStatus, reason: str | None) -> None:
        change_run_status(
            self.runner.runs, self.runner.bus, self.run.id, status, reason=reason, by="runner"
        )
        self.status = status
