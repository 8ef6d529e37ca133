"""Optimization campaigns as a run mode: iterations suggested by an optimizer, and replays.

Owns `mode: {"campaign": CampaignConfig}` of a run once it is checked (`campaign_check`):
- `CampaignSource`, the runner's `IterationSource`: warm-starts the optimizer with the
  history (which does not count against the budget), asks it for `min(batch_size, budget
  left)` points per iteration, merges them with the defaults of the parameters the campaign
  leaves alone, and tells it each sample's outputs (`report`); an experiment whose
  objective is missing or not a finite number is a failed one. A suggestion equal to an
  experiment already made is asked again (`MAX_REPEAT_ASKS` times) and, if the optimizer
  insists, run with a note in the run log. When one experiment reaches every objective's
  threshold (objectives without a threshold do not count; with none there is no early stop)
  the campaign stops and says why in the run log (a durable run event). An optimizer error
  fails the run like a failed step, so cleanup still runs;
- `continued_campaign`, how a replay rebuilds a campaign from durable records. An optimizer
  is never pickled: the replay's history is the original history plus every experiment the
  original run recorded (params and outputs of its sample rows; failed ones as failed), so
  the new optimizer knows all of them and does not suggest them again. A run that ended
  before its budget was spent (failed, cancelled, stopped pending, or cut by a server
  restart) is continued with the budget it had left; a completed run (its budget spent, or
  stopped early at its thresholds) starts a new campaign with the full budget again,
  warm-started with everything the first one learned. Renamed parameters follow the
  replay's mapping (`renamed_campaign`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from labdeck.errors import StructuredError
from labdeck.optimize.base import Observation, Optimizer, SearchSpace
from labdeck.runtime.campaign_check import (
    CheckedCampaign,
    check_campaign,
    measured,
    observation,
    point_key,
)
from labdeck.runtime.modes import Iteration, Sample, convert_value
from labdeck.runtime.run_types import RunFailed
from labdeck.runtime.states import EventBus
from labdeck.store.repo_runs import RunRecord, RunRepository
from labdeck.workflow.model import WorkflowDocument

MAX_REPEAT_ASKS = 3
Note = Callable[[str, str], None]  # (kind, message): "repeat" or "stopped"


def campaign_source(
    value: Any,
    document: WorkflowDocument,
    schemas: Mapping[str, Mapping[str, Any]],
    batch_size: int,
) -> CampaignSource:
    """`build_source` for `{"campaign": value}`; 422 (`InvalidInput`) for a bad campaign."""
    return CampaignSource(check_campaign(value, document, schemas, batch_size), batch_size)


# --- the source --------------------------------------------------------------------------------


class CampaignSource:
    """Iterations chosen by an optimizer, `batch_size` experiments each, up to the budget."""

    def __init__(self, checked: CheckedCampaign, batch_size: int = 1) -> None:
        self.checked = checked
        self.total: int | None = -(-checked.config.budget // batch_size)
        self.stopped_reason: str | None = None
        self.note: Note = lambda _kind, _message: None  # the run log, once the run starts
        self._budget = checked.config.budget
        self._batch_size = batch_size
        self._optimizer: Optimizer | None = None
        self._asked = 0
        self._iterations = 0
        self._stopped = False
        self._names = [p.name for p in checked.space.tunable]
        self._seen = {point_key(o.params, self._names) for o in checked.history}
        self._points: dict[int, dict[str, Any]] = {}  # sample index -> the optimizer's point

    @property
    def stored_mode(self) -> dict[str, Any]:
        return self.checked.stored

    def next_iteration(self) -> Iteration | None:
        if self._stopped or self._asked >= self._budget:
            return None
        wanted = min(self._batch_size, self._budget - self._asked)
        points = self._suggest(wanted)
        if not points:
            self._stop("the optimizer has no new experiment to suggest")
            return None
        self._iterations += 1
        samples = []
        for offset, point in enumerate(points):
            index = self._asked + offset
            self._points[index] = point
            samples.append(Sample(index=index, params=self._params(point)))
        self._asked += len(points)
        return Iteration(number=self._iterations, samples=tuple(samples))

    def report(self, iteration: Iteration, outputs: list[dict[str, Any]]) -> None:
        space = self.checked.space
        observations = [
            observation(self._points.pop(sample.index), sample_outputs, space)
            for sample, sample_outputs in zip(iteration.samples, outputs, strict=True)
        ]
        try:
            self._ready().observe(observations)
        except Exception as exc:
            raise _optimizer_failed("could not learn from the results", exc) from exc
        reached = _threshold_reached(observations, space)
        if reached and self._asked < self._budget:
            self._stop(
                f"{reached} in iteration {iteration.number}: the campaign stopped early after"
                f" {self._asked} of {self._budget} experiments"
            )

    def stop(self) -> None:
        self._stopped = True

    # --- helpers -------------------------------------------------------------------------------

    def _ready(self) -> Optimizer:
        """The optimizer, created and warm-started with the history on first use."""
        if self._optimizer is None:
            try:
                optimizer = self.checked.create_optimizer()
                if self.checked.history:
                    optimizer.observe(self.checked.history)
            except Exception as exc:
                raise _optimizer_failed("could not start", exc) from exc
            self._optimizer = optimizer
        return self._optimizer

    def _suggest(self, wanted: int) -> list[dict[str, Any]]:
        """`wanted` points not run before; a point the optimizer insists on is run again."""
        optimizer = self._ready()
        fresh: list[dict[str, Any]] = []
        repeats: list[dict[str, Any]] = []
        for _ask in range(1 + MAX_REPEAT_ASKS):
            if len(fresh) >= wanted:
                break
            repeats = []
            try:
                points = optimizer.suggest(wanted - len(fresh))
            except Exception as exc:
                raise _optimizer_failed("could not suggest an experiment", exc) from exc
            for point in points:
                key = point_key(point, self._names)
                if key in self._seen:
                    repeats.append(point)
                else:
                    self._seen.add(key)
                    fresh.append(point)
        for point in repeats[: wanted - len(fresh)]:
            shown = json.dumps({name: point.get(name) for name in self._names}, default=str)
            self.note(
                "repeat",
                f"the optimizer suggested {shown} again after {MAX_REPEAT_ASKS} more asks:"
                " it is run again (a repeat of an experiment already made)",
            )
            fresh.append(point)
        return fresh

    def _params(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """The sample's parameters: the defaults, the fixed values, then the point, converted."""
        params = copy.deepcopy(self.checked.defaults)
        for parameter in self.checked.space.parameters:
            value = point.get(parameter.name, parameter.value)
            try:
                params[parameter.name] = convert_value(
                    value, self.checked.schemas.get(parameter.name, {})
                )
            except ValueError:
                params[parameter.name] = value  # the step reports it, as for a bad argument
        return params

    def _stop(self, reason: str) -> None:
        self._stopped = True
        self.stopped_reason = reason
        self.note("stopped", reason)


def _threshold_reached(observations: Sequence[Observation], space: SearchSpace) -> str | None:
    """Words for the first experiment meeting every threshold, or None."""
    targets = [o for o in space.objectives if o.threshold is not None]
    if not targets:
        return None
    for seen in observations:
        if seen.failed:
            continue
        if all(o.name in seen.values and o.met(seen.values[o.name]) for o in targets):
            return " and ".join(
                f"{o.name} {seen.values[o.name]:g} reached its threshold {o.threshold:g}"
                for o in targets
                if o.threshold is not None
            )
    return None


def _optimizer_failed(what: str, exc: Exception) -> RunFailed:
    """Fails the run the way a failed step does, so cleanup still runs."""
    error = StructuredError(
        code="OPTIMIZER_ERROR", message=f"the optimizer {what}: {exc}", retryable=False
    )
    return RunFailed(error, "campaign")


def attach_run_log(source: Any, runs: RunRepository, bus: EventBus, run_id: int) -> None:
    """A campaign source's notes go to the run's events (durable) and its log."""
    if not isinstance(source, CampaignSource):
        return

    def note(kind: str, message: str) -> None:
        runs.add_event(run_id, "log", {"message": message, "campaign": kind})
        bus.publish({"kind": "log", "run_id": run_id, "message": message})

    source.note = note


def stopped_reason(events: Sequence[Mapping[str, Any]]) -> str | None:
    """Why a campaign run stopped early, from its events (None if it did not)."""
    for event in reversed(events):
        data = event.get("data") or {}
        if event.get("kind") == "log" and data.get("campaign") == "stopped":
            return str(data.get("message", ""))
    return None


# --- replay ------------------------------------------------------------------------------------


def continued_campaign(run: RunRecord, samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The campaign mode of a replay of `run`: its experiments become history (see above)."""
    config = copy.deepcopy(dict(run.mode["campaign"]))
    names = [p["name"] for p in config.get("parameters", [])]
    objectives = [o["name"] for o in config.get("objectives", [])]
    made = [
        {
            **{name: sample["params"].get(name) for name in names if name in sample["params"]},
            **{name: measured((sample.get("outputs") or {}).get(name)) for name in objectives},
        }
        for sample in samples
    ]
    config["history"] = [*config.get("history", []), *made]
    left = int(config.get("budget", 1)) - len(samples)
    if run.status != "completed" and left > 0:
        config["budget"] = left
    return {"campaign": config}


def renamed_campaign(mode: Mapping[str, Any], mapping: Mapping[str, str | None]) -> dict[str, Any]:
    """A campaign for a version whose parameters were renamed (`mapping` old -> new or None)."""
    config = copy.deepcopy(dict(mode["campaign"]))
    if not mapping:
        return {"campaign": config}

    def rename(name: str) -> str | None:
        return mapping.get(name, name)

    config["parameters"] = [
        {**p, "name": rename(p["name"])} for p in config.get("parameters", []) if rename(p["name"])
    ]
    config["history"] = [
        {rename(k): v for k, v in row.items() if rename(k)} for row in config.get("history", [])
    ]
    targets = {old: new for old, new in mapping.items() if new}
    if targets:
        words = re.compile(r"\b(" + "|".join(re.escape(old) for old in targets) + r")\b")
        config["constraints"] = [
            words.sub(lambda m: targets[m.group(1)], text) for text in config.get("constraints", [])
        ]
    return {"campaign": config}
