"""Checking a campaign against the workflow version it runs, before the run is queued.

Owns `check_campaign`: everything that can be wrong with a campaign is a 422 before the run
is queued, each problem pointing at its field (`mode.campaign.parameters[1].low`):
parameters that are not the workflow's, workflow parameters left out that have no default,
values and ranges the argument a parameter feeds would refuse (checked with the same lax
conversion as parameter tables), objectives that are not outputs, constraints that do not
parse, an unknown optimizer or one that cannot do what is asked (`UnsupportedCampaign`),
history rows lacking columns (named with their rows) or holding values that do not fit.
The checked config, values and history rows converted, is what the run stores, so the run
and any replay of it use exactly what was checked.

Also owns what an experiment is for an optimizer: `observation` from a row of parameters and
objective values, an objective that is missing or not a finite number making it a failed one.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from labdeck.errors import InvalidInput
from labdeck.optimize.base import (
    CampaignParameter,
    Observation,
    Optimizer,
    OptimizerFactory,
    SearchSpace,
    UnsupportedCampaign,
    parse_constraint,
)
from labdeck.optimize.config import CampaignConfig
from labdeck.optimize.registry import UnknownOptimizer, get_factory
from labdeck.runtime.modes import convert_value, default_value, has_default
from labdeck.workflow.model import WorkflowDocument
from labdeck.workflow.validate_values import NO_VALUE, lax_convert

FIELD = "mode.campaign"
MAX_LISTED_PROBLEMS = 100

_PARAMETER_FIELDS = (
    ("log scale or a step", "step"),
    ("whole-number step", "step"),
    ("needs a value", "value"),
    ("choice", "choices"),
    ("low must be less than high", "high"),
    ("low", "low"),
)


@dataclasses.dataclass(frozen=True)
class CheckedCampaign:
    """A campaign that fits its workflow version, ready to run."""

    config: CampaignConfig  # values and history converted; what the run stores
    space: SearchSpace
    factory: OptimizerFactory
    defaults: dict[str, Any]  # the workflow parameters the campaign leaves alone
    schemas: dict[str, dict[str, Any]]
    history: list[Observation]
    # The optimizer the check created (it refuses what it cannot do when it is created); the
    # campaign's source takes it rather than creating a second one.
    checked_optimizer: list[Optimizer] = dataclasses.field(default_factory=list)

    @property
    def stored(self) -> dict[str, Any]:
        return {"campaign": self.config.model_dump(mode="json", exclude={"notes"})}

    def create_optimizer(self) -> Optimizer:
        """A fresh optimizer for this campaign (the one made by the check, the first time)."""
        if self.checked_optimizer:
            return self.checked_optimizer.pop()
        return self.factory.create(
            self.space,
            seed=self.config.seed,
            initial_random=self.config.initial_random,
            settings=self.config.settings,
        )


# --- checking ----------------------------------------------------------------------------------


def check_campaign(
    value: Any,
    document: WorkflowDocument,
    schemas: Mapping[str, Mapping[str, Any]],
    batch_size: int = 1,
) -> CheckedCampaign:
    if not isinstance(value, Mapping):
        raise _invalid([_problem(FIELD, "a campaign must be an object", "invalid")])
    try:
        config = CampaignConfig.model_validate(dict(value))
    except ValidationError as exc:
        raise _invalid([_pydantic_problem(error) for error in exc.errors()]) from None
    plain_schemas = {name: dict(schema) for name, schema in schemas.items()}
    problems: list[dict[str, Any]] = []
    parameters = _check_parameters(config, document, plain_schemas, problems)
    outputs = set(document.outputs)
    for i, objective in enumerate(config.objectives):
        if objective.name not in outputs:
            listed = ", ".join(document.outputs) or "none"
            problems.append(
                _problem(
                    f"{FIELD}.objectives[{i}].name",
                    f"{objective.name!r} is not an output of the workflow (its outputs: {listed})",
                    "unknown_output",
                )
            )
    numeric = [p.name for p in parameters if p.type in ("float", "int")]
    constraints = []
    for i, text in enumerate(config.constraints):
        try:
            constraints.append(parse_constraint(text, numeric))
        except ValueError as bad:
            problems.append(_problem(f"{FIELD}.constraints[{i}]", str(bad), "invalid"))
    if problems:
        raise _invalid(problems)
    try:
        space = SearchSpace(
            parameters=parameters, objectives=config.objectives, constraints=constraints
        )
    except ValidationError as exc:
        message = _message(exc.errors()[0])
        where = "objectives" if "objective" in message else "parameters"
        raise _invalid([_problem(f"{FIELD}.{where}", message, "invalid")]) from None
    factory = _factory(config.optimizer, batch_size)
    rows, history = _check_history(config, space, plain_schemas)
    config = config.model_copy(update={"parameters": parameters, "history": rows, "notes": {}})
    checked = CheckedCampaign(
        config=config,
        space=space,
        factory=factory,
        defaults={
            p.name: default_value(p, plain_schemas.get(p.name, {}))
            for p in document.parameters
            if p.name not in {c.name for c in parameters}
        },
        schemas=plain_schemas,
        history=history,
    )
    try:
        checked.checked_optimizer.append(checked.create_optimizer())
    except UnsupportedCampaign as unsupported:
        raise _invalid(
            [_problem(f"{FIELD}.{unsupported.field}", unsupported.message, "unsupported")]
        ) from None
    return checked


def _check_parameters(
    config: CampaignConfig,
    document: WorkflowDocument,
    schemas: Mapping[str, dict[str, Any]],
    problems: list[dict[str, Any]],
) -> list[CampaignParameter]:
    """The campaign's parameters with their values converted to what the workflow takes."""
    known = {p.name: p for p in document.parameters}
    converted: list[CampaignParameter] = []
    for i, parameter in enumerate(config.parameters):
        where = f"{FIELD}.parameters[{i}]"
        if parameter.name not in known:
            listed = ", ".join(known) or "none"
            message = (
                f"{parameter.name!r} is not a parameter of the workflow (its parameters: {listed})"
            )
            problems.append(_problem(f"{where}.name", message, "unknown_parameter"))
            continue
        converted.append(_fit(parameter, schemas.get(parameter.name, {}), where, problems))
    named = {p.name for p in config.parameters}
    for left_out in document.parameters:
        if left_out.name not in named and not has_default(left_out):
            message = (
                f"{left_out.name} has no default: add it to the campaign's parameters"
                " (as fixed to keep one value)"
            )
            problems.append(_problem(f"{FIELD}.parameters", message, "missing"))
    return converted


def _fit(
    parameter: CampaignParameter,
    schema: dict[str, Any],
    where: str,
    problems: list[dict[str, Any]],
) -> CampaignParameter:
    """`parameter` with values the argument it feeds takes (problems noted, not raised)."""
    name = parameter.name

    def convert(value: Any, field: str) -> Any:
        try:
            return convert_value(copy.deepcopy(value), schema)
        except ValueError as bad:
            problems.append(_problem(f"{where}.{field}", f"{name}: {bad}", "invalid"))
            return value

    if parameter.type in ("float", "int"):
        assert parameter.low is not None
        assert parameter.high is not None
        if parameter.type == "float" and _whole_numbers_only(schema):
            message = f"{name} takes whole numbers: use type int"
            problems.append(_problem(f"{where}.type", message, "invalid"))
        for field, bound in (("low", parameter.low), ("high", parameter.high)):
            convert(int(bound) if parameter.type == "int" else bound, field)
        return parameter
    if parameter.type == "choice":
        assert parameter.choices is not None
        choices = [convert(c, f"choices[{j}]") for j, c in enumerate(parameter.choices)]
        keys = [_value_key(c) for c in choices]
        for j, key in enumerate(keys):
            if key in keys[:j]:
                message = f"{name}: choice {j} is the same value as choice {keys.index(key)}"
                problems.append(_problem(f"{where}.choices[{j}]", message, "duplicate"))
        try:
            return parameter.model_copy(update={"choices": choices})
        except ValidationError:  # pragma: no cover - reported above
            return parameter
    return parameter.model_copy(update={"value": convert(parameter.value, "value")})


def _whole_numbers_only(schema: Mapping[str, Any]) -> bool:
    try:
        convert_value(0.5, schema)
    except ValueError:
        try:
            convert_value(1, schema)
        except ValueError:
            return False  # not a number at all: the bounds' check says so
        return True
    return False


def _factory(name: str, batch_size: int) -> OptimizerFactory:
    try:
        factory = get_factory(name)
    except UnknownOptimizer as unknown:
        raise _invalid([_problem(f"{FIELD}.optimizer", str(unknown), "unknown")]) from None
    if not factory.available():
        message = f"the optimizer {name!r} is not installed on this server"
        raise _invalid([_problem(f"{FIELD}.optimizer", message, "not_installed")])
    if batch_size > 1 and not factory.capabilities().batch:
        message = f"the optimizer {name!r} suggests one experiment at a time: use batch_size 1"
        raise _invalid([_problem("batch_size", message, "unsupported")])
    return factory


def _check_history(
    config: CampaignConfig, space: SearchSpace, schemas: Mapping[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[Observation]]:
    """History rows converted (parameters to their types, objectives to numbers or null).

    A row must give every parameter the optimizer varies and every objective (null for an
    experiment that failed); a fixed parameter may be left out (it had the fixed value).
    """
    objectives = [o.name for o in space.objectives]
    required = [p.name for p in space.tunable] + objectives
    missing: dict[str, list[int]] = {}
    problems: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    observations: list[Observation] = []
    for number, row in enumerate(config.history, start=1):
        for column in required:
            if column not in row:
                missing.setdefault(column, []).append(number)
        if any(column not in row for column in required):
            continue
        converted: dict[str, Any] = {}
        for parameter in space.parameters:
            where = f"{FIELD}.history[{number}].{parameter.name}"
            raw = row.get(parameter.name, parameter.value)
            try:
                value = convert_value(copy.deepcopy(raw), schemas.get(parameter.name, {}))
            except ValueError as bad:
                message = f"row {number}, {parameter.name}: {bad}"
                problems.append(_problem(where, message, "invalid"))
                continue
            if not parameter.contains(value):
                message = (
                    f"row {number}: {parameter.name} {json.dumps(value)} is {_outside(parameter)}"
                )
                problems.append(_problem(where, message, "out_of_range"))
            converted[parameter.name] = value
        for name in objectives:
            number_value = objective_value(row[name])
            if number_value is NO_VALUE:
                message = f"row {number}, {name}: {json.dumps(row[name])} is not a number"
                problems.append(_problem(f"{FIELD}.history[{number}].{name}", message, "invalid"))
            converted[name] = None if number_value is NO_VALUE else number_value
        rows.append(converted)
        observations.append(observation(converted, converted, space))
    if missing:
        listed = "; ".join(f"{column} in {_rows(numbers)}" for column, numbers in missing.items())
        fields = [
            _problem(f"{FIELD}.history[{n}].{column}", f"row {n} has no {column}", "missing")
            for column, numbers in missing.items()
            for n in numbers
        ]
        raise _invalid(fields, f"history rows lack values: {listed}")
    if problems:
        raise _invalid(problems)
    return rows, observations


def _outside(parameter: CampaignParameter) -> str:
    if parameter.type == "fixed":
        return f"not the campaign's fixed value {json.dumps(parameter.value)}"
    if parameter.type == "choice":
        return "not one of the campaign's choices"
    return f"outside the campaign's range {parameter.low:g}..{parameter.high:g}"


def _rows(numbers: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    more = f" and {len(numbers) - 10} more" if len(numbers) > 10 else ""
    return f"row{'s' if len(numbers) > 1 else ''} {shown}{more}"


# --- observations ------------------------------------------------------------------------------


def objective_value(value: Any) -> Any:
    """A history cell as an objective: a float, None (not measured: a failed experiment), or
    `NO_VALUE` when it is no number at all. Non-finite numbers count as failed."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return NO_VALUE
    number = lax_convert(value, "number")
    if number is NO_VALUE:
        return NO_VALUE
    return float(number) if math.isfinite(number) else None


def measured(value: Any) -> float | None:
    """An output as an objective value: a finite number, else None (the experiment failed)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def observation(
    params: Mapping[str, Any], outputs: Mapping[str, Any], space: SearchSpace
) -> Observation:
    """An experiment for the optimizer: its parameters and what it measured."""
    values = {o.name: measured(outputs.get(o.name)) for o in space.objectives}
    return Observation(
        params={p.name: params.get(p.name, p.value) for p in space.parameters},
        values={name: v for name, v in values.items() if v is not None},
        failed=any(v is None for v in values.values()),
    )


def point_key(params: Mapping[str, Any], names: Sequence[str]) -> tuple[Any, ...]:
    """Compares points as JSON does (3 == 3.0; True is not 1)."""
    return tuple(_value_key(params.get(name)) for name in names)


def _value_key(value: Any) -> tuple[str, Any]:
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    return ("json", json.dumps(value, sort_keys=True, default=str))


# --- problems ----------------------------------------------------------------------------------


def _problem(field: str, message: str, kind: str) -> dict[str, Any]:
    return {"field": field, "message": message, "type": kind}


def _invalid(problems: list[dict[str, Any]], message: str | None = None) -> InvalidInput:
    count = len(problems)
    listed = problems[:MAX_LISTED_PROBLEMS]
    if count > MAX_LISTED_PROBLEMS:
        listed.append(_problem(FIELD, f"and {count - MAX_LISTED_PROBLEMS} more", "too_many"))
    if message is None:
        message = (
            f"the campaign does not fit the workflow: {problems[0]['message']}"
            if count == 1
            else f"the campaign has {count} problems; the first: {problems[0]['message']}"
        )
    return InvalidInput(message, fields=listed)


def _message(error: Mapping[str, Any]) -> str:
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def _pydantic_problem(error: Mapping[str, Any]) -> dict[str, Any]:
    loc = [part for part in error.get("loc", ()) if not isinstance(part, str) or part]
    path = FIELD
    for position, part in enumerate(loc):
        if isinstance(part, int):
            # History rows are numbered as people count them, like table rows.
            shown = part + 1 if position and loc[position - 1] == "history" else part
            path += f"[{shown}]"
        else:
            path += f".{part}"
    message = _message(error)
    if len(loc) == 2 and loc[0] == "parameters" and isinstance(loc[1], int):
        # A parameter's own consistency check ("name: what is wrong"): point at its setting.
        about = message.split(": ", 1)[-1]
        path += next((f".{field}" for words, field in _PARAMETER_FIELDS if words in about), "")
    return _problem(path, message, str(error.get("type", "invalid")))
