"""Ax (Meta's adaptive experimentation platform) as a campaign optimizer; `labdeck[bo]`.

Owns `AxFactory` (registry entry "ax"), its `AxSettings` and `AxOptimizer`, over the
`ax.Client` API of ax-platform 1.3: Sobol points first (`initial_random`, at least 1),
then Gaussian-process Bayesian optimization (Ax's "fast" strategy).

- Parameters: float and int ranges (log scale), stepped ones and choices as Ax choice
  parameters with the exact values (mixed-type choices as position labels, so every choice
  comes back with its own type); fixed and single-valued parameters stay outside Ax and
  are merged into each suggestion.
- Several objectives (Pareto front) and linear constraints (`a + 2*b <= 80`) are kept;
  Ax refuses a linear constraint on a log-scale parameter, so does this adapter.
- Ax sees parameters and objectives under neutral names (`x0`, `y0`...): Ax parses its
  objective and constraint strings with SymPy, where names like `E`, `I` or `a-b` break.
- `observe` completes the pending trial of a point, marks it failed, or attaches an unknown
  point as a new trial (warm start, rebuild). Ax refuses a point that breaks a linear
  constraint (history from before the constraint): such an observation is left out.
  `importance` is not offered (None).
- Ax's INFO logs and the warnings raised inside Ax, BoTorch, GPyTorch and PyTorch are kept
  quiet.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from labdeck.optimize.adapter_support import (
    PendingSuggestions,
    choice_position,
    fold_constants,
    grid_values,
    is_gridded,
    objective_values,
    point_key,
    quiet_warnings,
    read_settings,
    single_value,
    snap,
)
from labdeck.optimize.base import (
    CampaignParameter,
    Capabilities,
    Observation,
    SearchSpace,
    UnsupportedCampaign,
)

if TYPE_CHECKING:
    from ax import ChoiceParameterConfig, Client, RangeParameterConfig

AX_PACKAGES = ("ax", "botorch", "gpytorch", "linear_operator", "torch", "pyro")
# Logged while `ax` is imported, before its log level can be set
_IMPORT_TIME_LOGGER = "ax.storage.sqa_store.with_db_settings_base"


class AxSettings(BaseModel):
    """Ax takes no settings of its own in labdeck."""

    model_config = ConfigDict(extra="forbid", title="Ax settings")


class AxFactory:
    """Registry entry "ax"."""

    name = "ax"

    def available(self) -> bool:
        return importlib.util.find_spec("ax") is not None

    def capabilities(self) -> Capabilities:
        return Capabilities(
            name=self.name,
            label="Ax",
            description="Bayesian optimization with Gaussian processes (Meta's Ax, BoTorch)."
            " Keeps linear constraints; several objectives. Slower per suggestion; for"
            " small budgets. Needs pip install 'labdeck[bo]'.",
            parameter_types=["float", "int", "choice", "fixed"],
            log_scale=True,
            multi_objective=True,
            constraints=True,
            batch=True,
            importance=False,
            settings_schema=AxSettings.model_json_schema(),
        )

    def create(
        self,
        space: SearchSpace,
        *,
        seed: int | None,
        initial_random: int,
        settings: Mapping[str, Any],
    ) -> AxOptimizer:
        read_settings(AxSettings, settings)
        encoding = _Encoding.of(space)
        client = _client(encoding, seed=seed, initial_random=initial_random)
        return AxOptimizer(space, encoding, client)


@dataclass(frozen=True)
class _Dimension:
    """One parameter as Ax sees it: its neutral name and the values Ax is given, if listed."""

    parameter: CampaignParameter
    alias: str
    values: list[Any] | None  # choice values told to Ax; None for a range


@dataclass(frozen=True)
class _Encoding:
    space: SearchSpace
    dimensions: list[_Dimension]
    constants: dict[str, Any]  # fixed and single-valued parameters, kept out of Ax
    constraints: list[str]
    objective: str

    @classmethod
    def of(cls, space: SearchSpace) -> _Encoding:
        constants = dict(space.fixed)
        dimensions: list[_Dimension] = []
        for parameter in space.tunable:
            single, value = single_value(parameter)
            if single:
                constants[parameter.name] = value
                continue
            alias = f"x{len(dimensions)}"
            dimensions.append(_Dimension(parameter, alias, _listed_values(parameter)))
        if not dimensions:
            raise UnsupportedCampaign(
                "parameters", "every parameter has a single possible value: nothing to optimize"
            )
        aliases = {d.parameter.name: d for d in dimensions}
        constraints: list[str] = []
        for index, constraint in enumerate(space.constraints):
            folded = fold_constants(index, constraint, constants)
            if folded is None:
                continue
            coefficients, bound = folded
            for name in coefficients:
                if aliases[name].parameter.log:
                    raise UnsupportedCampaign(
                        f"constraints[{index}]",
                        f"Ax cannot keep a linear constraint on the log-scale parameter"
                        f" {name!r}: drop its log scale or the constraint",
                    )
            terms = " + ".join(f"{c!r}*{aliases[name].alias}" for name, c in coefficients.items())
            constraints.append(f"{terms} <= {bound!r}")
        objective = ", ".join(
            ("" if objective.direction == "maximize" else "-") + f"y{number}"
            for number, objective in enumerate(space.objectives)
        )
        return cls(space, dimensions, constants, constraints, objective)

    def configs(self) -> list[RangeParameterConfig | ChoiceParameterConfig]:
        from ax import ChoiceParameterConfig, RangeParameterConfig

        configs: list[RangeParameterConfig | ChoiceParameterConfig] = []
        for dimension in self.dimensions:
            parameter = dimension.parameter
            if dimension.values is None:
                assert parameter.low is not None
                assert parameter.high is not None
                integer = parameter.type == "int"
                configs.append(
                    RangeParameterConfig(
                        name=dimension.alias,
                        bounds=(
                            (int(parameter.low), int(parameter.high))
                            if integer
                            else (parameter.low, parameter.high)
                        ),
                        parameter_type="int" if integer else "float",
                        scaling="log" if parameter.log else "linear",
                    )
                )
                continue
            kind = _value_type(dimension.values)
            configs.append(
                ChoiceParameterConfig(
                    name=dimension.alias,
                    values=dimension.values,
                    parameter_type=kind,
                    is_ordered=kind in ("int", "float"),
                )
            )
        return configs

    def decode(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """A full suggestion (every parameter, in campaign order) from Ax's parameters."""
        point = copy.deepcopy(self.constants)
        for dimension in self.dimensions:
            parameter = dimension.parameter
            value = raw[dimension.alias]
            if parameter.type == "choice":
                assert parameter.choices is not None
                assert dimension.values is not None
                position = dimension.values.index(value)
                point[parameter.name] = parameter.choices[position]
            elif parameter.type == "float" and not is_gridded(parameter):
                assert parameter.low is not None
                assert parameter.high is not None
                point[parameter.name] = min(max(float(value), parameter.low), parameter.high)
            else:
                point[parameter.name] = snap(parameter, value)
        return {p.name: point[p.name] for p in self.space.parameters}

    def encode(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Ax's parameters for a campaign point (an observation Ax did not suggest)."""
        encoded: dict[str, Any] = {}
        for dimension in self.dimensions:
            parameter = dimension.parameter
            value = params[parameter.name]
            if parameter.type == "choice":
                assert dimension.values is not None
                encoded[dimension.alias] = dimension.values[choice_position(parameter, value)]
            else:
                encoded[dimension.alias] = snap(parameter, value)
        return encoded

    def outcome(self, values: Sequence[float]) -> dict[str, float]:
        return {f"y{number}": value for number, value in enumerate(values)}


def _listed_values(parameter: CampaignParameter) -> list[Any] | None:
    """The values Ax gets for a choice or a stepped parameter; None for a plain range."""
    if parameter.type == "choice":
        assert parameter.choices is not None
        kinds = {type(choice) for choice in parameter.choices}
        if len(kinds) == 1:
            return list(parameter.choices)
        return [str(position) for position in range(len(parameter.choices))]
    if parameter.step is not None:
        return list(grid_values(parameter))
    return None


def _value_type(values: Sequence[Any]) -> Any:
    first = values[0]
    if isinstance(first, bool):
        return "bool"
    if isinstance(first, int):
        return "int"
    if isinstance(first, float):
        return "float"
    return "str"


def _client(encoding: _Encoding, *, seed: int | None, initial_random: int) -> Client:
    with _quiet():
        logging.getLogger(_IMPORT_TIME_LOGGER).addFilter(_below_warning)
        from ax import Client
        from ax.utils.common.logger import set_stderr_log_level

        set_stderr_log_level(logging.WARNING)
        client = Client(random_seed=seed)
        try:
            client.configure_experiment(
                parameters=encoding.configs(), parameter_constraints=encoding.constraints
            )
        except Exception as exc:  # Ax's own checks of a space labdeck accepted
            raise UnsupportedCampaign("parameters", f"Ax refuses this search space: {exc}") from exc
        client.configure_optimization(objective=encoding.objective)
        client.configure_generation_strategy(
            method="fast",
            initialization_budget=max(1, initial_random),
            initialization_random_seed=seed,
            initialize_with_center=False,
            use_existing_trials_for_initialization=True,
            allow_exceeding_initialization_budget=True,
        )
    return client


def _below_warning(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


class AxOptimizer:
    """One campaign's Ax client: an experiment in memory, trials by index."""

    def __init__(self, space: SearchSpace, encoding: _Encoding, client: Client) -> None:
        self.space = space
        self._encoding = encoding
        self._client = client
        self._pending: PendingSuggestions[int] = PendingSuggestions()

    def suggest(self, n: int) -> list[dict[str, Any]]:
        points: list[dict[str, Any]] = []
        with _quiet():
            while len(points) < n:
                trials = self._client.get_next_trials(max_trials=n - len(points))
                if not trials:
                    break
                for index, raw in trials.items():
                    point = self._encoding.decode(raw)
                    self._pending.add(point_key(self.space, point), index)
                    points.append(point)
        return points

    def observe(self, observations: Sequence[Observation]) -> None:
        with _quiet():
            for observation in observations:
                values = objective_values(self.space, observation)
                index = self._pending.take(point_key(self.space, observation.params))
                if index is None:
                    if not _within_constraints(self.space, observation.params):
                        continue  # Ax takes no point that breaks its constraints
                    index = self._client.attach_trial(self._encoding.encode(observation.params))
                if values is None:
                    self._client.mark_trial_failed(index)
                else:
                    self._client.complete_trial(index, raw_data=self._encoding.outcome(values))

    def importance(self) -> dict[str, float] | None:
        return None


def _within_constraints(space: SearchSpace, params: Mapping[str, Any]) -> bool:
    return all(constraint.satisfied(params) for constraint in space.constraints)


def _quiet() -> AbstractContextManager[None]:
    return quiet_warnings(*AX_PACKAGES)
