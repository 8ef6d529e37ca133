"""What the campaign API shows and prepares: optimizers, templates, history files, a run's view.

Owns:
- the installed optimizers and their capabilities (`GET /api/optimizers`);
- a workflow version's campaign template (`optimize.config.campaign_template`);
- history rows from a CSV file, converted by the workflow's parameter schemas, every bad
  cell reported with its row number (`POST /api/campaigns/history.csv`);
- a campaign run's view (`GET /api/runs/{id}/campaign`): its observations, the best value
  per objective, the best so far after each observation, the Pareto front of two
  objectives, parameter importance and why it stopped early. Everything comes from durable
  records (the history in the stored config, the run's sample rows, its events), never from
  a live optimizer, so the view is the same after a restart. Importance needs an optimizer
  rebuilt from those records; it is cached per (run, number of observations).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from labdeck.errors import Conflict, InvalidInput, NotFound, TooLarge
from labdeck.optimize.base import Objective, Observation
from labdeck.optimize.config import CampaignConfig, campaign_template, search_space
from labdeck.optimize.registry import (
    DEFAULT_OPTIMIZER,
    UnknownOptimizer,
    available_optimizers,
    get_factory,
)
from labdeck.runtime.campaign import stopped_reason
from labdeck.runtime.campaign_check import measured, objective_value, observation
from labdeck.runtime.modes import convert_value, default_value, has_default, parse_csv
from labdeck.runtime.service import RunService
from labdeck.workflow.library import WorkflowLibrary
from labdeck.workflow.model import Parameter, WorkflowDocument
from labdeck.workflow.validate_values import NO_VALUE

log = logging.getLogger(__name__)
MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_CSV_ROWS = 10_000
IMPORTANCE_CACHE_SIZE = 64
MAX_LISTED_PROBLEMS = 100


class NotACampaign(NotFound):
    code = "NOT_A_CAMPAIGN"


class CampaignService:
    def __init__(self, run_service: RunService, library: WorkflowLibrary) -> None:
        self._runs = run_service
        self._library = library
        self._importance: OrderedDict[tuple[int, int], dict[str, float] | None] = OrderedDict()
        self._lock = threading.Lock()

    # --- optimizers and templates ----------------------------------------------------------------

    def optimizers(self) -> dict[str, Any]:
        return {
            "default": DEFAULT_OPTIMIZER,
            "optimizers": [
                f.capabilities().model_dump(mode="json") for f in available_optimizers()
            ],
        }

    def template(self, workflow: str, version: int | Literal["active"]) -> dict[str, Any]:
        document, schemas = self._version(workflow, version)
        return campaign_template(document, schemas)

    def _version(
        self, workflow: str, version: int | Literal["active"]
    ) -> tuple[WorkflowDocument, dict[str, dict[str, Any]]]:
        record = self._library.get(workflow).record
        number = record.active_version if version == "active" else version
        if number is None:
            raise Conflict(
                f"{record.name!r} has no published version: publish first", code="NOT_PUBLISHED"
            )
        document = self._library.document(str(record.id), number)
        return document, self._library.parameter_schemas(document)

    # --- history from a CSV file -----------------------------------------------------------------

    def history_from_csv(
        self,
        data: bytes,
        *,
        workflow: str,
        version: int | Literal["active"],
        objectives: Sequence[str],
    ) -> dict[str, Any]:
        """`{"rows", "ignored_columns"}`: the file's rows as campaign history.

        The header must name every objective (each a workflow output) and at least one
        workflow parameter; other columns are ignored and listed. A blank parameter cell takes
        the parameter's default; a blank objective cell is an experiment that failed.
        """
        if len(data) > MAX_CSV_BYTES:
            raise TooLarge(f"the CSV file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB")
        document, schemas = self._version(workflow, version)
        names = list(dict.fromkeys(name.strip() for name in objectives if name.strip()))
        if not names:
            raise _one("objectives", "name the objective columns (comma-separated)")
        unknown = [name for name in names if name not in document.outputs]
        if unknown:
            listed = ", ".join(document.outputs) or "none"
            raise _one(
                "objectives",
                f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not an output of"
                f" the workflow (its outputs: {listed})",
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _one("file", "the CSV file is not UTF-8 text") from None
        rows = parse_csv(text)
        if not rows:
            raise _one("file", "the CSV file has no data rows under its header")
        if len(rows) > MAX_CSV_ROWS:
            raise _one("file", f"the CSV file has {len(rows)} rows; at most {MAX_CSV_ROWS}")
        header = list(rows[0])
        absent = [name for name in names if name not in header]
        if absent:
            raise _one(
                "header",
                f"the CSV file has no column for the objective{'s' if len(absent) > 1 else ''}"
                f" {', '.join(absent)}",
            )
        parameters = [p for p in document.parameters if p.name in header]
        if not parameters:
            listed = ", ".join(p.name for p in document.parameters) or "none"
            raise _one("header", f"the CSV file has no column for a parameter (they are: {listed})")
        used = {p.name for p in parameters} | set(names)
        problems: list[dict[str, Any]] = []
        converted = [
            _history_row(number, row, parameters, names, schemas, problems)
            for number, row in enumerate(rows, start=1)
        ]
        if problems:
            count = len(problems)
            raise InvalidInput(
                f"the CSV file has {count} problem{'s' if count > 1 else ''};"
                f" the first: {problems[0]['message']}",
                fields=problems[:MAX_LISTED_PROBLEMS],
            )
        return {"rows": converted, "ignored_columns": [c for c in header if c not in used]}

    # --- a campaign run --------------------------------------------------------------------------

    def view(self, run_id: int) -> dict[str, Any]:
        run = self._runs.get(run_id)
        stored = run.mode.get("campaign")
        if not isinstance(stored, Mapping):
            raise NotACampaign(f"run {run_id} is not an optimization campaign")
        config = CampaignConfig.model_validate(dict(stored))
        objectives = config.objectives
        names = [p.name for p in config.parameters]
        observations = _observations(config, self._runs.records.samples(run_id), names)
        return {
            "run": str(run.id),
            "status": run.status,
            "optimizer": config.optimizer,
            "budget": config.budget,
            "parameters": [p.model_dump(mode="json") for p in config.parameters],
            "objectives": [o.model_dump(mode="json") for o in objectives],
            "observations": observations,
            "best": {o.name: _best(observations, o) for o in objectives},
            "best_so_far": {o.name: _best_so_far(observations, o) for o in objectives},
            "pareto": _pareto(observations, objectives) if len(objectives) == 2 else None,
            "importance": self._cached_importance(run.id, config, observations),
            "stopped_reason": stopped_reason(self._runs.runs.events(run_id)),
        }

    def _cached_importance(
        self, run_id: int, config: CampaignConfig, observations: list[dict[str, Any]]
    ) -> dict[str, float] | None:
        key = (run_id, len(observations))
        with self._lock:
            if key in self._importance:
                self._importance.move_to_end(key)
                return self._importance[key]
        found = _importance(config, observations)
        with self._lock:
            self._importance[key] = found
            while len(self._importance) > IMPORTANCE_CACHE_SIZE:
                self._importance.popitem(last=False)
        return found


def _observations(
    config: CampaignConfig, samples: Sequence[Mapping[str, Any]], names: Sequence[str]
) -> list[dict[str, Any]]:
    objectives = [o.name for o in config.objectives]
    fixed = {p.name: p.value for p in config.parameters if p.type == "fixed"}
    found: list[dict[str, Any]] = []

    def add(
        source: str, iteration: Any, sample: Any, params: Mapping[str, Any], values: Any
    ) -> None:
        numbers = {name: measured(values.get(name)) for name in objectives}
        found.append(
            {
                "index": len(found),
                "source": source,
                "iteration": iteration,
                "sample": sample,
                "params": {name: params.get(name, fixed.get(name)) for name in names},
                "values": {name: v for name, v in numbers.items() if v is not None},
                "failed": any(v is None for v in numbers.values()),
            }
        )

    for row in config.history:
        add("history", None, None, row, row)
    for sample in samples:
        add("run", sample["iteration"], sample["sample"], sample["params"], sample["outputs"] or {})
    return found


def _best(observations: list[dict[str, Any]], objective: Objective) -> dict[str, Any] | None:
    best: dict[str, Any] | None = None
    for seen in observations:
        value = seen["values"].get(objective.name)
        if seen["failed"] or value is None:
            continue
        if best is None or objective.better(value, best["value"]):
            best = {"index": seen["index"], "value": value, "params": seen["params"]}
    return best


def _best_so_far(observations: list[dict[str, Any]], objective: Objective) -> list[float | None]:
    best: float | None = None
    trace: list[float | None] = []
    for seen in observations:
        value = seen["values"].get(objective.name)
        if (
            not seen["failed"]
            and value is not None
            and (best is None or objective.better(value, best))
        ):
            best = value
        trace.append(best)
    return trace


def _pareto(observations: list[dict[str, Any]], objectives: Sequence[Objective]) -> list[int]:
    """Indices of the observations no other one dominates (at least as good in both objectives
    and better in one); failed ones and ones missing a value take no part."""
    first, second = objectives
    points = [
        (seen["index"], seen["values"][first.name], seen["values"][second.name])
        for seen in observations
        if not seen["failed"] and first.name in seen["values"] and second.name in seen["values"]
    ]

    def dominates(a: tuple[int, float, float], b: tuple[int, float, float]) -> bool:
        no_worse = not first.better(b[1], a[1]) and not second.better(b[2], a[2])
        return no_worse and (first.better(a[1], b[1]) or second.better(a[2], b[2]))

    return [p[0] for p in points if not any(dominates(q, p) for q in points if q is not p)]


def _importance(
    config: CampaignConfig, observations: list[dict[str, Any]]
) -> dict[str, float] | None:
    """Parameter importance from an optimizer rebuilt from the observations, when it can say."""
    if sum(1 for seen in observations if not seen["failed"]) < 2:
        return None
    try:
        factory = get_factory(config.optimizer)
        if not factory.available() or not factory.capabilities().importance:
            return None
        space = search_space(config)
        optimizer = factory.create(
            space, seed=config.seed, initial_random=config.initial_random, settings=config.settings
        )
        told: list[Observation] = [
            observation(seen["params"], seen["values"], space) for seen in observations
        ]
        optimizer.observe(told)
        return optimizer.importance()
    except (UnknownOptimizer, ValueError, RuntimeError, ArithmeticError) as exc:
        log.warning("parameter importance of a campaign could not be computed: %s", exc)
        return None


def _history_row(
    number: int,
    row: Mapping[str, str],
    parameters: Sequence[Parameter],
    objectives: Sequence[str],
    schemas: Mapping[str, Mapping[str, Any]],
    problems: list[dict[str, Any]],
) -> dict[str, Any]:
    """One CSV row as a history row; problems are added to `problems` with the row number."""
    values: dict[str, Any] = {}
    for parameter in parameters:
        schema = schemas.get(parameter.name, {})
        cell = row[parameter.name]
        field = f"rows[{number}].{parameter.name}"
        if not cell.strip():
            if has_default(parameter):
                values[parameter.name] = default_value(parameter, schema)
            else:
                message = f"row {number} has no value for {parameter.name}"
                problems.append(_problem(field, message, "missing"))
            continue
        try:
            values[parameter.name] = convert_value(cell, schema)
        except ValueError as bad:
            problems.append(_problem(field, f"row {number}, {parameter.name}: {bad}"))
    for name in objectives:
        value = objective_value(row[name])
        if value is NO_VALUE:
            message = f"row {number}, {name}: {row[name]!r} is not a number"
            problems.append(_problem(f"rows[{number}].{name}", message))
        else:
            values[name] = value
    return values


def _problem(field: str, message: str, kind: str = "invalid") -> dict[str, Any]:
    return {"field": field, "message": message, "type": kind}


def _one(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, fields=[_problem(field, message)])
