"""Optuna as a campaign optimizer: the default, installed with labdeck.

Owns `OptunaFactory` (registry entry "optuna"), its `OptunaSettings` and `OptunaOptimizer`.

- Samplers: auto (the default: GP for one objective when PyTorch is installed, else TPE),
  TPE, random, GP (offered only when PyTorch is installed) and NSGA-II; all of them take one
  or several objectives. On the demo's dye campaign (30 experiments) GP beat random search
  in 5 of 5 seeds, TPE in about 2 of 3 (benchmarks/campaign.py). `initial_random` is TPE's
  and GP's number of random startup trials and NSGA-II's population size (at least 2).
- Parameters: float and int (log scale, step), choices of any JSON scalars (told to Optuna
  as category positions, so 10, 10.0, "10" and True stay four choices and come back with
  their type) and fixed values (never shown to Optuna, merged into every suggestion).
- Linear constraints are refused: Optuna's samplers cannot keep hard linear constraints.
- Ask/tell: `suggest` asks trials and keeps them pending; an observation of a pending
  point tells that trial (COMPLETE, or FAIL when failed or an objective is missing); any
  other observation is added as a finished trial (history, warm start, rebuild).
- `importance`: fANOVA shares (PED-ANOVA without scikit-learn) once two finished trials
  differ; None when they cannot be computed.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from labdeck.optimize.adapter_support import (
    PendingSuggestions,
    choice_position,
    grid_top,
    objective_values,
    point_key,
    quiet_warnings,
    read_settings,
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
    import optuna
    from optuna.distributions import BaseDistribution

Sampler = Literal["auto", "tpe", "random", "gp", "nsga2"]
MIN_TRIALS_FOR_IMPORTANCE = 2
FANOVA_TREES = 32
FANOVA_DEPTH = 8  # as good as the default 64 on campaign-sized studies, 5x quicker at 200


class OptunaSettings(BaseModel):
    """Optuna's own settings of a campaign (`CampaignConfig.settings`)."""

    model_config = ConfigDict(extra="forbid", title="Optuna settings")

    sampler: Sampler = Field(
        default="auto",
        description="auto (default): gp when PyTorch is installed and there is one objective,"
        " else tpe; tpe: Tree-structured Parzen Estimator, quick and robust; random: random"
        " search; gp: Gaussian-process Bayesian optimization, best for small budgets (needs"
        " PyTorch); nsga2: a genetic algorithm for several objectives.",
    )


def _torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


class OptunaFactory:
    """Registry entry "optuna"."""

    name = "optuna"

    def available(self) -> bool:
        return importlib.util.find_spec("optuna") is not None

    def capabilities(self) -> Capabilities:
        schema = OptunaSettings.model_json_schema()
        if not _torch_installed():
            sampler = schema["properties"]["sampler"]
            sampler["enum"] = [name for name in sampler["enum"] if name != "gp"]
        return Capabilities(
            name=self.name,
            label="Optuna",
            description="Gaussian-process Bayesian optimization when PyTorch is installed,"
            " else Tree-structured Parzen Estimator (also random and NSGA-II). Installed"
            " with labdeck; no linear constraints.",
            parameter_types=["float", "int", "choice", "fixed"],
            log_scale=True,
            multi_objective=True,
            constraints=False,
            batch=True,
            importance=True,
            settings_schema=schema,
        )

    def create(
        self,
        space: SearchSpace,
        *,
        seed: int | None,
        initial_random: int,
        settings: Mapping[str, Any],
    ) -> OptunaOptimizer:
        chosen = read_settings(OptunaSettings, settings)
        if space.constraints:
            raise UnsupportedCampaign(
                "constraints",
                "Optuna cannot keep linear constraints: use the ax or baybe optimizer",
            )
        if chosen.sampler == "gp" and not _torch_installed():
            raise UnsupportedCampaign(
                "settings.sampler",
                "the gp sampler needs PyTorch, which is not installed here"
                " (pip install 'labdeck[bo]'); use tpe",
            )
        sampler = chosen.sampler
        if sampler == "auto":
            # GP learns far more from the few experiments a lab can afford (benchmarks/campaign.py).
            single = len(space.objectives) == 1
            sampler = "gp" if single and _torch_installed() else "tpe"
        return OptunaOptimizer(space, seed=seed, initial_random=initial_random, sampler=sampler)


class OptunaOptimizer:
    """One campaign's Optuna study, in memory, driven by ask and tell."""

    def __init__(
        self, space: SearchSpace, *, seed: int | None, initial_random: int, sampler: Sampler
    ) -> None:
        import optuna

        optuna.logging.set_verbosity(logging.WARNING)
        self.space = space
        self._distributions = {p.name: _distribution(p) for p in space.tunable}
        self._pending: PendingSuggestions[optuna.trial.Trial] = PendingSuggestions()
        with _quiet():
            self.study = optuna.create_study(
                directions=[objective.direction for objective in space.objectives],
                sampler=_sampler(sampler, seed, initial_random),
            )

    def suggest(self, n: int) -> list[dict[str, Any]]:
        points: list[dict[str, Any]] = []
        with _quiet():
            for _ in range(n):
                trial = self.study.ask(self._distributions)
                point = {**copy.deepcopy(self.space.fixed), **self._decode(trial.params)}
                point = {p.name: point[p.name] for p in self.space.parameters}
                self._pending.add(point_key(self.space, point), trial)
                points.append(point)
        return points

    def observe(self, observations: Sequence[Observation]) -> None:
        import optuna

        failed = optuna.trial.TrialState.FAIL
        with _quiet():
            for observation in observations:
                values = objective_values(self.space, observation)
                trial = self._pending.take(point_key(self.space, observation.params))
                if trial is not None:
                    if values is None:
                        self.study.tell(trial, state=failed)
                    else:
                        self.study.tell(trial, values)
                    continue
                self.study.add_trial(
                    optuna.trial.create_trial(
                        state=failed if values is None else optuna.trial.TrialState.COMPLETE,
                        values=values,
                        params=self._encode(observation.params),
                        distributions=self._distributions,
                    )
                )

    def importance(self) -> dict[str, float] | None:
        try:
            return self._importance()
        except Exception:  # importance is a hint for people: never break a campaign over it
            return None

    def _importance(self) -> dict[str, float] | None:
        import optuna

        finished = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if len(finished) < MIN_TRIALS_FOR_IMPORTANCE:
            return None
        names = [p.name for p in self.space.tunable]
        varying = [name for name in names if len({t.params[name] for t in finished}) > 1]
        if not varying:
            return None
        target = None
        if len(self.space.objectives) > 1:
            # The first objective; PED-ANOVA ranks what makes a target low (fANOVA has no side)
            sign = -1.0 if self.space.objectives[0].direction == "maximize" else 1.0
            target = partial(_signed_first_value, sign)
        with _quiet():
            shares = optuna.importance.get_param_importances(
                self.study, evaluator=_importance_evaluator(), params=varying, target=target
            )
        total = sum(float(share) for share in shares.values())
        if not total > 0:
            return None
        return {name: float(shares.get(name, 0.0)) / total for name in names}

    def _decode(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        point: dict[str, Any] = {}
        for parameter in self.space.tunable:
            value = raw[parameter.name]
            if parameter.type == "choice":
                assert parameter.choices is not None
                point[parameter.name] = parameter.choices[int(value)]
            else:
                point[parameter.name] = snap(parameter, value)
        return point

    def _encode(self, params: Mapping[str, Any]) -> dict[str, Any]:
        encoded: dict[str, Any] = {}
        for parameter in self.space.tunable:
            value = params[parameter.name]
            if parameter.type == "choice":
                encoded[parameter.name] = choice_position(parameter, value)
            else:
                encoded[parameter.name] = snap(parameter, value)
        return encoded


def _distribution(parameter: CampaignParameter) -> BaseDistribution:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if parameter.type == "choice":
        assert parameter.choices is not None
        return CategoricalDistribution(list(range(len(parameter.choices))))
    assert parameter.low is not None
    assert parameter.high is not None
    # The top of the grid, not `high`: Optuna warns when the range is not whole steps
    if parameter.type == "int":
        step = int(parameter.step or 1)
        high = int(grid_top(parameter))
        return IntDistribution(int(parameter.low), high, log=parameter.log, step=step)
    if parameter.step is not None:
        return FloatDistribution(parameter.low, grid_top(parameter), step=parameter.step)
    return FloatDistribution(parameter.low, parameter.high, log=parameter.log)


def _sampler(
    sampler: Sampler, seed: int | None, initial_random: int
) -> optuna.samplers.BaseSampler:
    import optuna

    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if sampler == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=initial_random)
    if sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(2, initial_random))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=initial_random)


def _importance_evaluator() -> optuna.importance.BaseImportanceEvaluator:
    """fANOVA when scikit-learn is installed (it comes with `labdeck[bo]`), else PED-ANOVA.

    On the tens of trials a lab campaign makes, fANOVA's random forest ranks parameters
    steadily where Optuna's default PED-ANOVA, made for hundreds, is close to even shares.
    """
    import optuna

    if importlib.util.find_spec("sklearn") is not None:
        return optuna.importance.FanovaImportanceEvaluator(
            n_trees=FANOVA_TREES, max_depth=FANOVA_DEPTH, seed=0
        )
    return optuna.importance.PedAnovaImportanceEvaluator()


def _signed_first_value(sign: float, trial: optuna.trial.FrozenTrial) -> float:
    return sign * float(trial.values[0])


def _quiet() -> AbstractContextManager[None]:
    return quiet_warnings("optuna")
