"""Executing one run: prep once, the script per iteration, cleanup once, with durable records.

Owns the interpretation of a published workflow document against the live deck. It runs on
the deck thread while the queue holds the deck lock. Each step row is committed before the
instrument is called and again after; each sample's parameters and outputs are committed
when its iteration ends. Operator requests (`RunControl`) are honoured at step boundaries
and during waits; every status change goes through `states.change_run_status`.

Step paths name nested steps: `check/solv` inside an if, `loop[3]/dose` in the third pass of
a loop, `sub/dose` inside a sub-workflow. `per: "batch"` call steps run once per iteration
with each parameter as the list of the batch's values; everything else runs per sample.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from labdeck.deck.bindings import Deck
from labdeck.deck.executor import DeckExecutor
from labdeck.deck.jsonsafe import to_jsonable
from labdeck.errors import InvalidInput, LabdeckError, error_from_exception
from labdeck.runtime.control import RunControl
from labdeck.runtime.modes import IterationSource
from labdeck.runtime.run_types import (
    Outcome,
    RunCancelled,
    RunFailed,
    Scope,
    StepFailed,
    Where,
    step_error,
)
from labdeck.runtime.states import EventBus, RunStatus, change_run_status
from labdeck.runtime.step_context import StepContext
from labdeck.store.repo_run_records import RunRecords
from labdeck.store.repo_runs import RunRecord, RunRepository
from labdeck.workflow.expressions import render_text
from labdeck.workflow.model import (
    CallStep,
    CommentStep,
    IfStep,
    InputStep,
    PauseStep,
    RepeatStep,
    SetStep,
    WaitStep,
    WhileStep,
    WorkflowCallStep,
    WorkflowDocument,
)

log = logging.getLogger(__name__)
RETRY_BASE_DELAY_S = 0.5


class Runner:
    """Runs runs. One instance per deck; `execute` is called by the queue on the deck thread."""

    def __init__(
        self,
        deck: Deck,
        executor: DeckExecutor,
        runs: RunRepository,
        records: RunRecords,
        bus: EventBus,
        documents: Any,
        safety_pause: Callable[[int, str], None] | None = None,
    ) -> None:
        self.deck = deck
        self.executor = executor
        self.runs = runs
        self.records = records
        self.bus = bus
        # documents(workflow_id or name, version) -> WorkflowDocument (the library's lookup)
        self.documents = documents
        # safety_pause(workflow_id, reason): stop new runs of a workflow that ran away
        self.safety_pause = safety_pause

    # --- a whole run ---------------------------------------------------------------------

    def execute(
        self,
        run: RunRecord,
        control: RunControl,
        document: WorkflowDocument,
        source: IterationSource,
    ) -> Outcome:
        context = _RunContext(self, run, control, document)
        prep = Scope(params={})
        try:
            context.run_phase("prep", None, document.prep, [prep])
            done = 0
            while (iteration := source.next_iteration()) is not None:
                if control.stop_pending_request() is not None:
                    break
                self._progress(run.id, iteration.number, done, source.total)
                scopes = [
                    Scope(
                        params=dict(sample.params),
                        variables=dict(prep.variables),
                        sample=sample.index,
                    )
                    for sample in iteration.samples
                ]
                context.run_phase("script", iteration.number, document.script, scopes)
                outputs = [
                    {name: to_jsonable(scope.variables.get(name)) for name in document.outputs}
                    for scope in scopes
                ]
                for sample, scope_outputs in zip(iteration.samples, outputs, strict=True):
                    self.records.record_sample(
                        run_id=run.id,
                        iteration=iteration.number,
                        sample=sample.index,
                        params=to_jsonable(sample.params),
                        outputs=scope_outputs,
                        status="completed",
                    )
                source.report(iteration, outputs)
                done = iteration.number
                self._progress(run.id, done, done, source.total)
                if control.stop_pending_request() is not None:
                    source.stop()
            stop = control.stop_pending_request()
            if stop is not None:
                if stop.cleanup:
                    context.run_cleanup(document)
                reason = f"stopped after iteration {done} of {source.total or done}"
                return self._finish(run.id, RunStatus.CANCELLED, reason, stop.continue_queue)
            context.run_cleanup(document)
            return self._finish(run.id, RunStatus.COMPLETED, None, True)
        except RunCancelled as cancelled:
            request = control.cancel
            if cancelled.cleanup:
                context.run_cleanup(document, after_cancel=True)
            keep_going = request.continue_queue if request else True
            return self._finish(run.id, RunStatus.CANCELLED, cancelled.reason, keep_going)
        except RunFailed as failed:
            self.runs.update_fields(run.id, error=failed.error.model_dump(mode="json"))
            if run.options.get("cleanup_on_failure", True):
                context.run_cleanup(document, after_failure=True)
            reason = f"step {failed.path} failed: {failed.error.message}"
            keep_going = bool(run.options.get("continue_on_failure", False))
            return self._finish(run.id, RunStatus.FAILED, reason, keep_going)

    def _finish(
        self, run_id: int, status: RunStatus, reason: str | None, continue_queue: bool
    ) -> Outcome:
        # No step record may outlive its run as `running`, whatever path ended the run.
        self.records.close_running_steps(
            run_id, "cancelled" if status is not RunStatus.FAILED else "failed"
        )
        change_run_status(self.runs, self.bus, run_id, status, reason=reason, by="runner")
        return Outcome(status, reason, continue_queue)

    def _progress(self, run_id: int, iteration: int, done: int, total: int | None) -> None:
        """`iteration` is the one in progress (or the last one), `done` how many finished."""
        progress = {"iteration": iteration, "iterations": total, "done": done}
        self.runs.update_fields(run_id, progress=progress)
        self.bus.publish({"kind": "run.progress", "run_id": run_id, **progress})


class _RunContext(StepContext):
    """The state of one run while it executes (one instance per run)."""

    def __init__(
        self, runner: Runner, run: RunRecord, control: RunControl, document: WorkflowDocument
    ) -> None:
        super().__init__(runner, run, control)
        self.runner: Runner = runner
        self.document = document
        self.retries = int(run.options.get("retries", 0))
        self.on_error = str(run.options.get("on_error", "pause"))

    # --- phases and step lists -------------------------------------------------------------

    def run_phase(
        self, phase: str, iteration: int | None, steps: Sequence[Any], scopes: list[Scope]
    ) -> None:
        self.run_steps(steps, Where(phase, iteration, ""), scopes)

    def run_cleanup(
        self, document: WorkflowDocument, *, after_cancel: bool = False, after_failure: bool = False
    ) -> None:
        """Cleanup runs to the end even after a failure; only a second cancel stops it."""
        self.in_cleanup = True
        self.handled_cancel = self.control.cancel
        self.control.pause_requested = False
        if self.status is not RunStatus.RUNNING:  # cancelled while paused or waiting
            self.set_status(RunStatus.RUNNING, "running cleanup")
        try:
            self.run_phase("cleanup", None, document.cleanup, [Scope(params={})])
        except (RunCancelled, RunFailed) as stopped:
            log.warning("run %s: cleanup did not finish: %s", self.run.id, stopped)
            self.runner.runs.add_event(
                self.run.id, "log", {"message": f"cleanup did not finish: {stopped}"}
            )

    def run_steps(self, steps: Sequence[Any], where: Where, scopes: list[Scope]) -> None:
        for step in steps:
            self.boundary()
            here = Where(where.phase, where.iteration, f"{where.path}{step.id}")
            if step.disabled:
                for scope in scopes:
                    self.record_skipped(step, here, scope.sample, "disabled")
                continue
            if isinstance(step, CallStep) and step.per == "batch" and where.phase == "script":
                self.run_with_policy(step, here, scopes, None)
            else:
                for scope in scopes:
                    self.run_with_policy(step, here, [scope], scope.sample)

    def run_with_policy(
        self, step: Any, where: Where, scopes: list[Scope], sample: int | None
    ) -> None:
        """Run one step; on failure apply `on_error` (pause for retry/skip, or fail)."""
        attempts = 0  # attempts keep counting across a person's retries
        while True:
            try:
                self.run_step(step, where, scopes, sample, first_attempt=attempts + 1)
                return
            except StepFailed as failure:
                attempts = failure.attempts
                if self.on_error != "pause" or self.in_cleanup:
                    raise RunFailed(failure.error, where.path) from failure
                decision = self.pause_on_error(where, failure.error)
                if decision == "skip":
                    self.record_skipped(step, where, sample, "skipped after an error")
                    return
                if decision == "stop":
                    raise RunFailed(failure.error, where.path) from failure

    # --- one step ---------------------------------------------------------------------------

    def run_step(
        self,
        step: Any,
        where: Where,
        scopes: list[Scope],
        sample: int | None,
        *,
        first_attempt: int = 1,
    ) -> None:
        scope = scopes[0]
        self.control.current_step = where.path
        if isinstance(step, CallStep):
            self.call(
                step,
                where,
                scopes,
                batch=step.per == "batch" and where.phase == "script",
                sample=sample,
                first_attempt=first_attempt,
            )
        elif isinstance(step, SetStep):
            scope.variables[step.name] = self.resolve(step.value, scope)
            self.record_done(step, where, sample, {step.name: scope.variables[step.name]})
        elif isinstance(step, CommentStep):
            text = render_text(step.text, scope.names())
            self.record_done(step, where, sample, {"text": text})
            self.runner.runs.add_event(self.run.id, "log", {"message": text, "step": where.path})
            self.runner.bus.publish({"kind": "log", "run_id": self.run.id, "message": text})
        elif isinstance(step, IfStep):
            taken = bool(self.condition(step.condition, scope))
            branch, skipped = (step.then, step.else_) if taken else (step.else_, step.then)
            for other in skipped:
                self.record_skipped(
                    other,
                    Where(where.phase, where.iteration, f"{where.path}/{other.id}"),
                    sample,
                    "branch not taken",
                )
            self.run_steps(branch, Where(where.phase, where.iteration, f"{where.path}/"), [scope])
        elif isinstance(step, WhileStep):
            count = 0
            while self.condition(step.condition, scope):
                count += 1
                if count > step.max_iterations:
                    if self.runner.safety_pause is not None:
                        self.runner.safety_pause(
                            self.run.workflow_id,
                            f"the while loop {step.id!r} of run {self.run.id} hit its cap",
                        )
                    raise step_error(
                        "LOOP_LIMIT",
                        f"the while loop {step.id!r} reached its cap of {step.max_iterations}",
                    )
                self.run_steps(
                    step.do, Where(where.phase, where.iteration, f"{where.path}[{count}]/"), [scope]
                )
        elif isinstance(step, RepeatStep):
            times = self.resolve(step.times, scope)
            if not isinstance(times, int) or isinstance(times, bool) or times < 0:
                raise step_error("INVALID_ARGUMENT", f"repeat needs a whole number, got {times!r}")
            for count in range(1, times + 1):
                if step.index:
                    scope.variables[step.index] = count
                self.run_steps(
                    step.do, Where(where.phase, where.iteration, f"{where.path}[{count}]/"), [scope]
                )
        elif isinstance(step, WaitStep):
            self.wait(step, where, scope, sample)
        elif isinstance(step, PauseStep | InputStep):
            self.ask_operator(step, where, scope, sample)
        elif isinstance(step, WorkflowCallStep):
            self.sub_workflow(step, where, scope)
        else:  # pragma: no cover - the model has no other kinds
            raise step_error("UNSUPPORTED", f"unknown step kind {step.kind!r}")

    def call(
        self,
        step: CallStep,
        where: Where,
        scopes: list[Scope],
        *,
        batch: bool,
        sample: int | None,
        first_attempt: int = 1,
    ) -> None:
        """A per-batch call gets each parameter as the list of the batch's values.

        Retryable errors are retried `retries` times (again after each retry a person asks
        for); attempts are numbered from `first_attempt`.
        """
        raw_args = {
            name: self.resolve_batch(value, scopes) if batch else self.resolve(value, scopes[0])
            for name, value in step.args.items()
        }
        invoke, recorded = self.bind(step.target, raw_args)
        attempt = first_attempt
        while True:
            row = self.runner.records.start_step(
                run_id=self.run.id,
                phase=where.phase,
                iteration=where.iteration,
                sample=sample,
                step_id=step.id,
                path=where.path,
                kind="call",
                target=step.target,
                args=recorded,
                attempt=attempt,
            )
            self.runner.bus.publish(
                {"kind": "step.started", "run_id": self.run.id, "path": where.path}
            )
            try:
                output = invoke()
            except Exception as exc:
                error = error_from_exception(exc)
                self.runner.records.finish_step(
                    row, status="failed", output=None, error=error.model_dump(mode="json")
                )
                self.runner.bus.publish(
                    {
                        "kind": "step.finished",
                        "run_id": self.run.id,
                        "path": where.path,
                        "status": "failed",
                    }
                )
                retried = attempt - first_attempt
                if error.retryable and retried < self.retries:
                    delay = RETRY_BASE_DELAY_S * 2**retried
                    if self.control.sleep(delay, self.cancel_requested):
                        self.boundary()
                    attempt += 1
                    continue
                raise StepFailed(error, attempt) from exc
            result = to_jsonable(output)
            self.runner.records.finish_step(row, status="completed", output=result, error=None)
            self.runner.bus.publish(
                {
                    "kind": "step.finished",
                    "run_id": self.run.id,
                    "path": where.path,
                    "status": "completed",
                }
            )
            self.save(step.save, output, scopes)
            return

    def bind(self, target: str, raw_args: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The call to make for a target and its recorded arguments (INVALID_ARGUMENT if not)."""
        deck = self.runner.deck
        invoke_on_deck = self.runner.executor.invoke
        try:
            if "." in target:
                instrument, member = target.split(".", 1)
                if member in deck.instrument(instrument).properties:
                    prop = deck.property(instrument, member)
                    if not raw_args:
                        return prop.get, {}
                    if set(raw_args) != {"set"}:
                        raise step_error(
                            "INVALID_ARGUMENT", f"{target} is a property: give only 'set'"
                        )
                    value = prop.convert(raw_args["set"])
                    return (lambda: prop.set(value)), {"set": to_jsonable(value)}
                binding = deck.method(instrument, member)
            else:
                binding = deck.function(target)
            bound = binding.convert(raw_args)
        except InvalidInput as invalid:
            raise step_error(
                "INVALID_ARGUMENT", invalid.message, fields=invalid.detail.get("fields", [])
            ) from invalid
        except LabdeckError as refused:
            raise step_error("INVALID_ARGUMENT", refused.message) from refused
        return (lambda: invoke_on_deck(binding.func, bound.args, bound.kwargs)), bound.recorded

    def save(self, save: Any, output: Any, scopes: list[Scope]) -> None:
        if save is None:
            return
        values: dict[str, Any]
        if isinstance(save, str):
            values = {save: output}
        else:
            if not isinstance(output, list | tuple) or len(output) != len(save):
                raise step_error(
                    "SAVE_MISMATCH", f"expected {len(save)} values to save, got {output!r}"
                )
            values = {name: item for name, item in zip(save, output, strict=True) if name}
        for scope in scopes:
            scope.variables.update(values)

    def sub_workflow(self, step: WorkflowCallStep, where: Where, scope: Scope) -> None:
        document: WorkflowDocument = self.runner.documents(step.workflow, step.version)
        params = {p.name: p.default for p in document.parameters}
        params.update({name: self.resolve(value, scope) for name, value in step.args.items()})
        inner = Scope(params=params)
        self.run_steps(
            document.script, Where(where.phase, where.iteration, f"{where.path}/"), [inner]
        )
        outputs = [inner.variables.get(name) for name in document.outputs]
        if isinstance(step.save, str):
            scope.variables[step.save] = dict(zip(document.outputs, outputs, strict=True))
        elif isinstance(step.save, list):
            for name, value in zip(step.save, outputs, strict=False):
                if name:
                    scope.variables[name] = value
