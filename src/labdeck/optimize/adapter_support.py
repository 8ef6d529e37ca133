"""What the optimizer adapters share, so each of them reads the campaign the same way.

Owns: the grid of an int or stepped float parameter (`grid_values`, `snap`), a choice found
by value *and* type (`choice_position`: 10, 10.0, "10" and True are four different choices),
the key that matches an observation to the suggestion it answers (`point_key`, float noise
trimmed), the objective values an observation gives (`objective_values`: None for a failed
experiment), constraints with single-valued parameters folded into the bound
(`fold_constants`), optimizer settings read or refused as `UnsupportedCampaign` (`read_settings`),
the suggestions waiting for their results (`PendingSuggestions`) and the context that keeps
an optimizer library's own warnings out of labdeck's (`quiet_warnings`).
"""

from __future__ import annotations

import math
import re
import warnings
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from labdeck.optimize.base import (
    CampaignParameter,
    LinearConstraint,
    Observation,
    SearchSpace,
    UnsupportedCampaign,
)

PointKey = tuple[Any, ...]
Handle = TypeVar("Handle")

SIGNIFICANT_DIGITS = 12  # enough for any lab setting; drops float noise like 0.1 + 0.2


def tidy(value: float) -> float:
    """`value` without float noise: 0.30000000000000004 → 0.3."""
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _bounds(parameter: CampaignParameter) -> tuple[float, float]:
    assert parameter.low is not None
    assert parameter.high is not None
    return parameter.low, parameter.high


def is_gridded(parameter: CampaignParameter) -> bool:
    """Whether the parameter takes values on a grid: an int, or a float with a step."""
    return parameter.type == "int" or (parameter.type == "float" and parameter.step is not None)


def grid_size(parameter: CampaignParameter) -> int:
    """How many values an int or stepped float parameter has (a step past `high` leaves 1)."""
    low, high = _bounds(parameter)
    step = parameter.step or 1.0
    return math.floor((high - low) / step + 1e-9) + 1


def grid_top(parameter: CampaignParameter) -> float:
    """The largest grid value: `high` itself when the range is a whole number of steps."""
    return _grid_value(parameter, grid_size(parameter) - 1)


def grid_values(parameter: CampaignParameter) -> list[float] | list[int]:
    """Every value of an int or stepped float parameter, ascending."""
    count = grid_size(parameter)
    if parameter.type == "int":
        return [int(_grid_value(parameter, k)) for k in range(count)]
    return [_grid_value(parameter, k) for k in range(count)]


def _grid_value(parameter: CampaignParameter, k: int) -> float:
    low, _ = _bounds(parameter)
    return tidy(low + k * (parameter.step or 1.0))


def snap(parameter: CampaignParameter, value: Any) -> float | int:
    """`value` as the parameter's type, on its grid if it has one (nearest grid value)."""
    number = float(value)
    if parameter.type == "int" and parameter.step is None:
        return round(number)
    if not is_gridded(parameter):
        return number
    low, _ = _bounds(parameter)
    k = round((number - low) / (parameter.step or 1.0))
    k = min(max(k, 0), grid_size(parameter) - 1)
    grid_value = _grid_value(parameter, k)
    return int(grid_value) if parameter.type == "int" else grid_value


def choice_position(parameter: CampaignParameter, value: Any) -> int:
    """Index of `value` among the parameter's choices, matching its type exactly."""
    assert parameter.choices is not None
    for position, choice in enumerate(parameter.choices):
        if type(choice) is type(value) and choice == value:
            return position
    raise ValueError(f"{value!r} is not one of the choices of {parameter.name!r}")


def single_value(parameter: CampaignParameter) -> tuple[bool, Any]:
    """`(True, value)` when a tunable parameter can take one value only, else `(False, None)`.

    A choice of one, or a step wider than the range. Ax and BayBE cannot vary such a
    parameter, so their adapters keep it out of the library like a fixed one.
    """
    if parameter.type == "choice" and parameter.choices is not None and len(parameter.choices) == 1:
        return True, parameter.choices[0]
    if is_gridded(parameter) and grid_size(parameter) == 1:
        return True, grid_values(parameter)[0]
    return False, None


def point_key(space: SearchSpace, params: Mapping[str, Any]) -> PointKey:
    """What identifies a point: its tunable values (numbers trimmed, choices with their type).

    Raises ValueError when a tunable parameter is missing or outside the space.
    """
    key: list[Any] = []
    for parameter in space.tunable:
        if parameter.name not in params:
            raise ValueError(f"the observation has no value for parameter {parameter.name!r}")
        value = params[parameter.name]
        if not parameter.contains(value):
            raise ValueError(
                f"the observation's {parameter.name}={value!r} is outside the search space"
            )
        if parameter.type == "choice":
            key.append((type(value).__name__, value))
        else:
            key.append(tidy(float(value)))
    return tuple(key)


def objective_values(space: SearchSpace, observation: Observation) -> list[float] | None:
    """The observation's values in objective order; None when it failed or lacks a number."""
    if observation.failed:
        return None
    values: list[float] = []
    for objective in space.objectives:
        value = observation.values.get(objective.name)
        if value is None or not math.isfinite(value):
            return None
        values.append(float(value))
    return values


def fold_constants(
    index: int, constraint: LinearConstraint, constants: Mapping[str, Any]
) -> tuple[dict[str, float], float] | None:
    """The constraint's coefficients over varying parameters and its bound, as `<=`.

    Parameters in `constants` (fixed or single-valued) move into the bound. Returns None when
    no varying parameter is left and the constraint holds anyway; raises UnsupportedCampaign
    when it cannot hold.
    """
    sign = 1.0 if constraint.operator == "<=" else -1.0
    bound = sign * constraint.bound
    coefficients: dict[str, float] = {}
    for name, coefficient in constraint.coefficients.items():
        if name in constants:
            bound -= sign * coefficient * float(constants[name])
        else:
            coefficients[name] = sign * coefficient
    if coefficients:
        return coefficients, bound
    if bound >= -1e-9:
        return None
    raise UnsupportedCampaign(
        f"constraints[{index}]",
        f"{constraint.text!r} can never hold: its parameters have single values that break it",
    )


Settings = TypeVar("Settings", bound=BaseModel)


def read_settings(model: type[Settings], settings: Mapping[str, Any]) -> Settings:
    """An optimizer's settings, or its first problem pointing at `settings.<name>`."""
    try:
        return model.model_validate(dict(settings))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise UnsupportedCampaign(
            f"settings.{where}" if where else "settings", error["msg"]
        ) from None


class PendingSuggestions(Generic[Handle]):
    """Suggestions waiting for their results, found again by the point they suggested."""

    def __init__(self) -> None:
        self._waiting: defaultdict[PointKey, deque[Handle]] = defaultdict(deque)

    def add(self, key: PointKey, handle: Handle) -> None:
        self._waiting[key].append(handle)

    def take(self, key: PointKey) -> Handle | None:
        """The oldest suggestion of this point, no longer pending; None if there is none."""
        waiting = self._waiting.get(key)
        if not waiting:
            return None
        handle = waiting.popleft()
        if not waiting:
            del self._waiting[key]
        return handle

    def handles(self) -> list[Handle]:
        return [handle for waiting in self._waiting.values() for handle in waiting]


@contextmanager
def quiet_warnings(*packages: str) -> Iterator[None]:
    """Ignore warnings raised from within `packages` (their deprecations, numerics notes).

    They are the library's business, not the lab's: a campaign cannot act on them. Warnings
    that point at labdeck's own code (a wrong call) still show.
    """
    pattern = "|".join(re.escape(package) for package in packages)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=rf"(?:{pattern})(?:\.|$)")
        yield
