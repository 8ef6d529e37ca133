"""BayBE (Merck's Bayesian back end) as a campaign optimizer; `labdeck[bo]`.

Owns `BayBEFactory` (registry entry "baybe"), its `BayBESettings` and `BayBEOptimizer`, over
BayBE 0.15's `Campaign`: random points first (`initial_random`, at least 1), then BoTorch
Bayesian optimization (`TwoPhaseMetaRecommender`).

- Parameters: floats are continuous; ints, stepped floats and numeric choices are discrete
  numbers; other choices are categories (mixed-type ones as position labels, so every
  choice comes back with its own type). Fixed and single-valued parameters stay outside
  BayBE and are merged into each suggestion. BayBE enumerates the discrete combinations:
  more than `MAX_DISCRETE_COMBINATIONS` is refused; between discrete and continuous
  parameters, the optimization samples at most `MAX_HYBRID_COMBINATIONS` of them.
- Refused: log scale (BayBE has none), and linear constraints over anything but floats
  without a step (BayBE keeps them over continuous parameters only). Several objectives are
  optimized for their Pareto front.
- Failed experiments: BayBE has no failed measurements, so a failed observation is not
  measured; it is remembered and passed with every request as a pending experiment, which
  keeps BayBE from suggesting that point again (for discrete points it is excluded; near a
  continuous one the model expects no gain).
- Seeds: each request runs under `baybe.Settings(random_seed=...)`, seeds drawn in turn from
  the campaign's seed (the global random state is restored afterwards).
- BayBE names parameters and targets in one namespace, so it sees `x0`, `y0`... instead of
  the campaign's names. `importance` is not offered (None).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import math
import random
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

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
    from baybe import Campaign
    from baybe.parameters.base import Parameter

BAYBE_PACKAGES = ("baybe", "botorch", "gpytorch", "linear_operator", "torch", "pyro")
MAX_DISCRETE_COMBINATIONS = 100_000
MAX_HYBRID_COMBINATIONS = 8
Kind = Literal["continuous", "numbers", "labels"]


class BayBESettings(BaseModel):
    """BayBE takes no settings of its own in labdeck."""

    model_config = ConfigDict(extra="forbid", title="BayBE settings")


class BayBEFactory:
    """Registry entry "baybe"."""

    name = "baybe"

    def available(self) -> bool:
        return importlib.util.find_spec("baybe") is not None

    def capabilities(self) -> Capabilities:
        return Capabilities(
            name=self.name,
            label="BayBE",
            description="Bayesian optimization for chemistry and materials (Merck's BayBE,"
            " BoTorch). Linear constraints over float parameters; several objectives; no log"
            " scale. Needs pip install 'labdeck[bo]'.",
            parameter_types=["float", "int", "choice", "fixed"],
            log_scale=False,
            multi_objective=True,
            constraints=True,
            batch=True,
            importance=False,
            settings_schema=BayBESettings.model_json_schema(),
        )

    def create(
        self,
        space: SearchSpace,
        *,
        seed: int | None,
        initial_random: int,
        settings: Mapping[str, Any],
    ) -> BayBEOptimizer:
        read_settings(BayBESettings, settings)
        encoding = _Encoding.of(space)
        with _quiet():
            campaign = encoding.campaign(initial_random)
        return BayBEOptimizer(space, encoding, campaign, seed)


@dataclass(frozen=True)
class _Dimension:
    """One parameter as BayBE sees it."""

    parameter: CampaignParameter
    alias: str
    kind: Kind
    values: list[Any] | None  # the discrete numbers or labels BayBE is given


@dataclass(frozen=True)
class _Encoding:
    space: SearchSpace
    dimensions: list[_Dimension]
    constants: dict[str, Any]  # fixed and single-valued parameters, kept out of BayBE
    constraints: list[tuple[dict[str, float], float]]  # aliases → coefficients, `<=` bound

    @classmethod
    def of(cls, space: SearchSpace) -> _Encoding:
        constants = dict(space.fixed)
        dimensions: list[_Dimension] = []
        for index, parameter in enumerate(space.parameters):
            if parameter.type == "fixed":
                continue
            if parameter.log:
                raise UnsupportedCampaign(
                    f"parameters[{index}].log",
                    f"BayBE has no log scale ({parameter.name}): use optuna or ax, or a"
                    " linear range",
                )
            single, value = single_value(parameter)
            if single:
                constants[parameter.name] = value
                continue
            dimensions.append(_dimension(parameter, f"x{len(dimensions)}"))
        if not dimensions:
            raise UnsupportedCampaign(
                "parameters", "every parameter has a single possible value: nothing to optimize"
            )
        combinations = _combinations(dimensions)
        if combinations > MAX_DISCRETE_COMBINATIONS:
            raise UnsupportedCampaign(
                "parameters",
                f"BayBE lists every combination of int, stepped and choice parameters: these"
                f" make {combinations:,}, more than {MAX_DISCRETE_COMBINATIONS:,}. Use fewer"
                " values (larger steps, float ranges) or the optuna or ax optimizer",
            )
        by_name = {d.parameter.name: d for d in dimensions}
        constraints: list[tuple[dict[str, float], float]] = []
        for index, constraint in enumerate(space.constraints):
            folded = fold_constants(index, constraint, constants)
            if folded is None:
                continue
            coefficients, bound = folded
            for name in coefficients:
                if by_name[name].kind != "continuous":
                    raise UnsupportedCampaign(
                        f"constraints[{index}]",
                        f"BayBE keeps linear constraints over float parameters without a step"
                        f" only, and {name!r} is not one: use the ax optimizer",
                    )
            constraints.append(
                ({by_name[name].alias: c for name, c in coefficients.items()}, bound)
            )
        return cls(space, dimensions, constants, constraints)

    def campaign(self, initial_random: int) -> Campaign:
        from baybe import Campaign
        from baybe.constraints import ContinuousLinearConstraint
        from baybe.objectives import ParetoObjective, SingleTargetObjective
        from baybe.recommenders import (
            BotorchRecommender,
            RandomRecommender,
            TwoPhaseMetaRecommender,
        )
        from baybe.searchspace import SearchSpace as BayBESearchSpace
        from baybe.targets import NumericalTarget

        parameters = [self._parameter(d) for d in self.dimensions]
        constraints = [
            ContinuousLinearConstraint(
                parameters=list(coefficients),
                coefficients=list(coefficients.values()),
                operator="<=",
                rhs=bound,
            )
            for coefficients, bound in self.constraints
        ]
        searchspace = BayBESearchSpace.from_product(parameters, constraints=constraints or None)
        targets = [
            NumericalTarget(f"y{number}", minimize=objective.direction == "minimize")
            for number, objective in enumerate(self.space.objectives)
        ]
        objective = (
            SingleTargetObjective(targets[0]) if len(targets) == 1 else ParetoObjective(targets)
        )
        # Between discrete and continuous parameters BayBE optimizes the continuous ones for
        # each discrete combination: a sample of them keeps a suggestion within seconds
        combinations = _combinations(self.dimensions)
        continuous = any(d.kind == "continuous" for d in self.dimensions)
        bayesian = (
            BotorchRecommender(
                hybrid_sampler="Random",
                sampling_percentage=MAX_HYBRID_COMBINATIONS / combinations,
            )
            if continuous and combinations > MAX_HYBRID_COMBINATIONS
            else BotorchRecommender()
        )
        recommender = TwoPhaseMetaRecommender(
            initial_recommender=RandomRecommender(),
            recommender=bayesian,
            switch_after=max(1, initial_random),
        )
        return Campaign(searchspace=searchspace, objective=objective, recommender=recommender)

    @staticmethod
    def _parameter(dimension: _Dimension) -> Parameter:
        from baybe.parameters import (
            CategoricalParameter,
            NumericalContinuousParameter,
            NumericalDiscreteParameter,
        )

        parameter = dimension.parameter
        if dimension.kind == "continuous":
            assert parameter.low is not None
            assert parameter.high is not None
            return NumericalContinuousParameter(
                dimension.alias, bounds=(parameter.low, parameter.high)
            )
        assert dimension.values is not None
        if dimension.kind == "numbers":
            return NumericalDiscreteParameter(dimension.alias, values=dimension.values)
        return CategoricalParameter(dimension.alias, values=dimension.values)

    def decode(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A full suggestion (every parameter, in campaign order) from a recommended row."""
        point = copy.deepcopy(self.constants)
        for dimension in self.dimensions:
            parameter = dimension.parameter
            value = row[dimension.alias]
            if parameter.type == "choice":
                assert parameter.choices is not None
                assert dimension.values is not None
                if dimension.kind == "numbers":
                    position = _nearest(dimension.values, float(value))
                else:
                    position = dimension.values.index(str(value))
                point[parameter.name] = parameter.choices[position]
            elif dimension.kind == "continuous":
                assert parameter.low is not None
                assert parameter.high is not None
                point[parameter.name] = min(max(float(value), parameter.low), parameter.high)
            else:
                point[parameter.name] = snap(parameter, value)
        return {p.name: point[p.name] for p in self.space.parameters}

    def encode(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """BayBE's row (parameters only) for a campaign point."""
        row: dict[str, Any] = {}
        for dimension in self.dimensions:
            parameter = dimension.parameter
            value = params[parameter.name]
            if parameter.type == "choice":
                assert dimension.values is not None
                row[dimension.alias] = dimension.values[choice_position(parameter, value)]
            else:
                row[dimension.alias] = float(snap(parameter, value))
        return row

    @staticmethod
    def frame(rows: Sequence[Mapping[str, Any]]) -> Any:
        """A pandas DataFrame of `rows` (pandas comes with BayBE; it has no type stubs here)."""
        return importlib.import_module("pandas").DataFrame(list(rows))


def _combinations(dimensions: Sequence[_Dimension]) -> int:
    """How many combinations the discrete dimensions make (1 when there are none)."""
    return math.prod(len(d.values) for d in dimensions if d.kind != "continuous" and d.values)


def _nearest(numbers: Sequence[float], value: float) -> int:
    """The position of the number closest to `value` (BayBE returns them as floats)."""
    return min(range(len(numbers)), key=lambda position: abs(numbers[position] - value))


def _dimension(parameter: CampaignParameter, alias: str) -> _Dimension:
    if parameter.type == "choice":
        assert parameter.choices is not None
        choices = parameter.choices
        numbers = [
            float(c) for c in choices if isinstance(c, int | float) and not isinstance(c, bool)
        ]
        if len(numbers) == len(choices) and len(set(numbers)) == len(numbers):
            return _Dimension(parameter, alias, "numbers", numbers)
        if all(isinstance(c, str) for c in choices):
            return _Dimension(parameter, alias, "labels", [str(c) for c in choices])
        return _Dimension(parameter, alias, "labels", [str(k) for k in range(len(choices))])
    if is_gridded(parameter):
        return _Dimension(parameter, alias, "numbers", [float(v) for v in grid_values(parameter)])
    return _Dimension(parameter, alias, "continuous", None)


class BayBEOptimizer:
    """One campaign's BayBE `Campaign`, with the suggestions still pending and the failures."""

    def __init__(
        self, space: SearchSpace, encoding: _Encoding, campaign: Campaign, seed: int | None
    ) -> None:
        self.space = space
        self._encoding = encoding
        self._campaign = campaign
        self._seeds = random.Random(seed) if seed is not None else None  # noqa: S311
        self._pending: PendingSuggestions[dict[str, Any]] = PendingSuggestions()
        self._failed: list[dict[str, Any]] = []

    def suggest(self, n: int) -> list[dict[str, Any]]:
        from baybe.exceptions import NotEnoughPointsLeftError

        avoid = [*self._pending.handles(), *self._failed]
        with _quiet():
            pending = self._encoding.frame(avoid) if avoid else None
            for size in range(n, 0, -1):  # a discrete space may have fewer points left
                try:
                    with self._seeded():
                        frame = self._campaign.recommend(
                            batch_size=size, pending_experiments=pending
                        )
                    break
                except NotEnoughPointsLeftError:
                    continue
            else:
                return []
        points: list[dict[str, Any]] = []
        for row in frame.to_dict("records"):
            point = self._encoding.decode(row)
            self._pending.add(point_key(self.space, point), self._encoding.encode(point))
            points.append(point)
        return points

    def observe(self, observations: Sequence[Observation]) -> None:
        keys = [point_key(self.space, o.params) for o in observations]  # all valid, or none told
        measured: list[dict[str, Any]] = []
        for observation, key in zip(observations, keys, strict=True):
            values = objective_values(self.space, observation)
            self._pending.take(key)
            row = self._encoding.encode(observation.params)
            if values is None:
                self._failed.append(row)
            else:
                measured.append(row | {f"y{k}": value for k, value in enumerate(values)})
        if measured:
            with _quiet():
                self._campaign.add_measurements(
                    self._encoding.frame(measured),
                    numerical_measurements_must_be_within_tolerance=False,
                )

    def importance(self) -> dict[str, float] | None:
        return None

    def _seeded(self) -> AbstractContextManager[Any]:
        if self._seeds is None:
            return nullcontext()
        from baybe import Settings

        seeded: AbstractContextManager[Any] = Settings(random_seed=self._seeds.randrange(2**31))
        return seeded


def _quiet() -> AbstractContextManager[None]:
    return quiet_warnings(*BAYBE_PACKAGES)
