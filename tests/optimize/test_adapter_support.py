"""The pieces every adapter shares: grids, typed choices, point keys, outcomes, quiet libraries."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest

from labdeck.optimize.adapter_support import (
    PendingSuggestions,
    choice_position,
    fold_constants,
    grid_size,
    grid_top,
    grid_values,
    objective_values,
    point_key,
    quiet_warnings,
    single_value,
    snap,
    tidy,
)
from labdeck.optimize.base import (
    CampaignParameter,
    Objective,
    Observation,
    SearchSpace,
    UnsupportedCampaign,
    parse_constraint,
)


def make(**spec: Any) -> CampaignParameter:
    return CampaignParameter.model_validate({"name": "p", **spec})


def test_tidy_drops_float_noise() -> None:
    assert tidy(0.1 + 0.2) == 0.3
    assert tidy(1 / 3) == 0.333333333333


def test_grids() -> None:
    stepped = make(type="float", low=0.5, high=2.1, step=0.25)
    assert grid_values(stepped) == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
    assert grid_top(stepped) == 2.0
    tenths = make(type="float", low=0, high=1, step=0.1)
    assert grid_values(tenths)[3] == 0.3
    assert grid_size(tenths) == 11
    counted = make(type="int", low=2, high=17, step=3)
    assert grid_values(counted) == [2, 5, 8, 11, 14, 17]
    assert all(type(v) is int for v in grid_values(counted))
    assert grid_values(make(type="int", low=1, high=3)) == [1, 2, 3]
    assert single_value(make(type="int", low=0, high=2, step=5)) == (True, 0)
    assert single_value(make(type="choice", choices=["only"])) == (True, "only")
    assert single_value(make(type="int", low=0, high=2)) == (False, None)


def test_snap_rounds_onto_the_grid_and_keeps_the_type() -> None:
    stepped = make(type="float", low=0.5, high=2.1, step=0.25)
    assert snap(stepped, 0.8) == 0.75
    assert snap(stepped, 2.1) == 2.0  # the top of the grid, not high
    assert snap(stepped, 0.5000000001) == 0.5
    assert snap(make(type="int", low=0, high=10), 3.0000001) == 3
    assert type(snap(make(type="int", low=0, high=10), 3.0)) is int
    assert snap(make(type="int", low=2, high=17, step=3), 6) == 5
    assert snap(make(type="float", low=0, high=1), 0.123456789012345) == 0.123456789012345


def test_choice_position_matches_the_type() -> None:
    choices = make(type="choice", choices=[1, 1.0, "1", True])
    assert [choice_position(choices, v) for v in (1, 1.0, "1", True)] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="is not one of the choices"):
        choice_position(choices, False)


SPACE = SearchSpace(
    parameters=[
        make(name="x", type="float", low=0, high=1),
        make(name="n", type="int", low=0, high=5),
        make(name="s", type="choice", choices=[10, "10"]),
        make(name="f", type="fixed", value="same"),
    ],
    objectives=[Objective(name="a"), Objective(name="b", direction="minimize")],
)


def test_point_key_trims_noise_and_keeps_choice_types() -> None:
    key = point_key(SPACE, {"x": 0.1 + 0.2, "n": 3, "s": 10, "f": "other"})
    assert key == point_key(SPACE, {"x": 0.3, "n": 3.0, "s": 10})  # fixed values do not count
    assert key != point_key(SPACE, {"x": 0.3, "n": 3, "s": "10"})
    with pytest.raises(ValueError, match="no value for parameter 'n'"):
        point_key(SPACE, {"x": 0.3, "s": 10})
    with pytest.raises(ValueError, match=r"s=10\.0 is outside the search space"):
        point_key(SPACE, {"x": 0.3, "n": 3, "s": 10.0})


@pytest.mark.parametrize(
    ("observation", "values"),
    [
        (Observation(params={}, values={"a": 1, "b": 2}), [1.0, 2.0]),
        (Observation(params={}, values={"b": 2, "a": 1, "c": 3}), [1.0, 2.0]),
        (Observation(params={}, values={"a": 1, "b": 2}, failed=True), None),
        (Observation(params={}, values={"a": 1}), None),
        (Observation(params={}, values={"a": 1, "b": math.nan}), None),
        (Observation(params={}, values={"a": math.inf, "b": 2}), None),
    ],
)
def test_objective_values(observation: Observation, values: list[float] | None) -> None:
    assert objective_values(SPACE, observation) == values


def test_fold_constants() -> None:
    numeric = ["a", "b", "c"]
    mixed = parse_constraint("a + 2*c >= 4", numeric)
    assert fold_constants(0, mixed, {"c": 1}) == ({"a": -1.0}, -2.0)  # -a <= -(4 - 2)
    assert fold_constants(0, mixed, {}) == ({"a": -1.0, "c": -2.0}, -4.0)
    assert fold_constants(0, parse_constraint("c <= 3", numeric), {"c": 2}) is None
    with pytest.raises(UnsupportedCampaign, match="can never hold") as refused:
        fold_constants(4, parse_constraint("c >= 3", numeric), {"c": 2})
    assert refused.value.field == "constraints[4]"


def test_pending_suggestions_are_taken_oldest_first() -> None:
    pending: PendingSuggestions[int] = PendingSuggestions()
    pending.add((0.5,), 1)
    pending.add((0.5,), 2)
    pending.add((0.7,), 3)
    assert sorted(pending.handles()) == [1, 2, 3]
    assert pending.take((0.5,)) == 1
    assert pending.take((0.5,)) == 2
    assert pending.take((0.5,)) is None
    assert pending.handles() == [3]


def test_quiet_warnings_hides_the_library_s_warnings_only() -> None:
    with quiet_warnings("optuna", "ax"):
        for module in ("optuna", "optuna.samplers._tpe", "ax.api.client"):
            warnings.warn_explicit("library noise", DeprecationWarning, "lib.py", 1, module=module)
        with pytest.warns(UserWarning, match="ours"):
            warnings.warn_explicit("ours", UserWarning, "x.py", 1, module="labdeck.optimize")
        with pytest.warns(UserWarning, match="similar name"):
            warnings.warn_explicit("similar name", UserWarning, "x.py", 1, module="axolotl")
