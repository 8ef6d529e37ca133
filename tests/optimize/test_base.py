"""The campaign's specs: parameters, objectives, linear constraints parsed from text, spaces."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from labdeck.optimize.base import (
    CampaignParameter,
    Objective,
    SearchSpace,
    UnsupportedCampaign,
    parse_constraint,
)

NUMERIC = ["a", "b", "c"]


# --- constraints -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "coefficients", "operator", "bound"),
    [
        ("a + b <= 80", {"a": 1.0, "b": 1.0}, "<=", 80.0),
        ("a + 2*b - c <= 80", {"a": 1.0, "b": 2.0, "c": -1.0}, "<=", 80.0),
        ("b*2.5 >= 1e-3", {"b": 2.5}, ">=", 0.001),
        ("-a + 3 <= 5", {"a": -1.0}, "<=", 2.0),
        ("80 >= a + b", {"a": -1.0, "b": -1.0}, ">=", -80.0),
        ("a <= b", {"a": 1.0, "b": -1.0}, "<=", 0.0),
        ("a + b - a + 1 >= 2 + c", {"b": 1.0, "c": -1.0}, ">=", 1.0),
        ("  a - -2*b <= 4  ", {"a": 1.0, "b": 2.0}, "<=", 4.0),
    ],
)
def test_parse_constraint(
    text: str, coefficients: dict[str, float], operator: str, bound: float
) -> None:
    constraint = parse_constraint(text, NUMERIC)
    assert constraint.coefficients == coefficients
    assert constraint.operator == operator
    assert constraint.bound == pytest.approx(bound)
    assert constraint.text == text.strip()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a + b", "write one inequality"),
        ("a + b < 80", "write one inequality"),
        ("a + b == 80", "write one inequality"),
        ("0 <= a <= 1", "write one inequality"),
        ("a +* b <= 1", "is not an inequality"),
        ("a * b <= 1", "only sums of parameters times numbers"),
        ("a / 2 <= 1", "only sums of parameters times numbers"),
        ("abs(a) <= 1", "only sums of parameters times numbers"),
        ("a ** 2 <= 1", "only sums of parameters times numbers"),
        ("True * a <= 1", "only sums of parameters times numbers"),
        ("a + 'x' <= 1", "only sums of parameters times numbers"),
        ("solvent + a <= 1", "'solvent' is not a float or int parameter"),
        ("1 <= 2", "names no parameter"),
        ("a - a <= 2", "names no parameter"),
        ("__import__('os') <= 1", "only sums of parameters times numbers"),
    ],
)
def test_parse_constraint_refuses_with_a_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        parse_constraint(text, NUMERIC)


def test_an_unknown_name_lists_the_numeric_parameters() -> None:
    with pytest.raises(ValueError, match=r"\(those are: a, b, c\)"):
        parse_constraint("d <= 1", NUMERIC)
    with pytest.raises(ValueError, match=r"\(those are: none\)"):
        parse_constraint("d <= 1", [])


@pytest.mark.parametrize(
    ("params", "satisfied"),
    [
        ({"a": 30, "b": 25}, True),  # 30 + 50 = 80: on the bound
        ({"a": 31, "b": 25}, False),
        ({"a": 80 + 1e-12, "b": 0}, True),  # within the tolerance
    ],
)
def test_constraint_satisfied(params: dict[str, float], satisfied: bool) -> None:
    assert parse_constraint("a + 2*b <= 80", NUMERIC).satisfied(params) is satisfied
    flipped = parse_constraint("-a - 2*b >= -80", NUMERIC)
    assert flipped.satisfied(params) is satisfied


# --- parameters --------------------------------------------------------------------------------


def make(**spec: Any) -> CampaignParameter:
    return CampaignParameter.model_validate({"name": "p", **spec})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "float", "low": 0}, "needs low and high"),
        ({"type": "float", "low": 1, "high": 1}, "low must be less than high"),
        ({"type": "float", "low": 0, "high": float("inf")}, "finite"),
        ({"type": "float", "low": 0, "high": 1, "log": True}, "log-scale range must have low > 0"),
        ({"type": "float", "low": 1, "high": 9, "log": True, "step": 1}, "either log scale or"),
        ({"type": "float", "low": 0, "high": 1, "step": 0}, "greater than 0"),
        ({"type": "int", "low": 0.5, "high": 3}, "whole-number low and high"),
        ({"type": "int", "low": 0, "high": 3, "step": 1.5}, "whole-number step"),
        ({"type": "choice"}, "at least one choice"),
        ({"type": "choice", "choices": []}, "at least one choice"),
        ({"type": "choice", "choices": ["a", "b", "a"]}, "choices must be distinct"),
        ({"type": "fixed"}, "needs a value"),
        ({"type": "fixed", "value": 1, "colour": "red"}, "Extra inputs are not permitted"),
        ({"type": "range", "low": 0, "high": 1}, "Input should be"),
        ({"name": "", "type": "fixed", "value": 1}, "at least 1 character"),
    ],
)
def test_parameter_specs_are_checked(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make(**spec)


def test_choices_of_different_types_are_distinct() -> None:
    parameter = make(type="choice", choices=[10, 10.0, "10", True, 1])
    assert parameter.choices == [10, 10.0, "10", True, 1]
    assert parameter.contains("10")
    assert parameter.contains(True)
    assert not parameter.contains(False)
    assert not parameter.contains("11")


@pytest.mark.parametrize(
    ("spec", "inside", "outside"),
    [
        ({"type": "float", "low": 0, "high": 1}, [0, 0.5, 1.0, 1], [-0.1, 1.01, "0.5", True, None]),
        ({"type": "int", "low": 1, "high": 5}, [1, 5, 3.0], [0, 6, 2.5, False, "3"]),
        ({"type": "choice", "choices": ["a", 2]}, ["a", 2], [2.0, "2", "b"]),
        ({"type": "fixed", "value": {"rows": 8}}, [{"rows": 8}], [{"rows": 9}, None]),
    ],
)
def test_parameter_contains(spec: dict[str, Any], inside: list[Any], outside: list[Any]) -> None:
    parameter = make(**spec)
    for value in inside:
        assert parameter.contains(value), value
    for value in outside:
        assert not parameter.contains(value), value


# --- objectives --------------------------------------------------------------------------------


def test_objective_met_and_better() -> None:
    up = Objective(name="yield", threshold=0.9)
    down = Objective(name="cost", direction="minimize", threshold=5)
    assert up.direction == "maximize"
    assert up.met(0.9)
    assert not up.met(0.89)
    assert down.met(5)
    assert not down.met(5.1)
    assert not Objective(name="free").met(1e9)  # no threshold: never met
    assert up.better(2, 1)
    assert not up.better(1, 1)
    assert down.better(1, 2)
    assert not down.better(2, 2)


# --- search spaces -----------------------------------------------------------------------------


def space(constraints: list[str] | None = None, **changes: Any) -> SearchSpace:
    parameters = [
        {"name": "a", "type": "float", "low": 0, "high": 50},
        {"name": "b", "type": "int", "low": 0, "high": 50},
        {"name": "solvent", "type": "choice", "choices": ["water", "ethanol"]},
        {"name": "plate", "type": "fixed", "value": "A"},
    ]
    document: dict[str, Any] = {
        "parameters": parameters,
        "objectives": [{"name": "yield"}],
        "constraints": [parse_constraint(text, ["a", "b"]) for text in constraints or []],
    }
    return SearchSpace.model_validate({**document, **changes})


def test_search_space_contains() -> None:
    checked = space(["a + 2*b <= 80"])
    point = {"a": 10.0, "b": 30, "solvent": "water", "plate": "A"}
    assert checked.contains(point)
    assert not checked.contains({**point, "b": 36})  # 10 + 72 > 80
    assert not checked.contains({**point, "plate": "B"})
    assert not checked.contains({**point, "solvent": "acetone"})
    assert not checked.contains({k: v for k, v in point.items() if k != "a"})
    assert [p.name for p in checked.tunable] == ["a", "b", "solvent"]
    assert checked.fixed == {"plate": "A"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {
                "parameters": [
                    {"name": "a", "type": "float", "low": 0, "high": 1},
                    {"name": "a", "type": "int", "low": 0, "high": 1},
                ]
            },
            "parameter names must be distinct",
        ),
        ({"objectives": [{"name": "y"}, {"name": "y"}]}, "objective names must be distinct"),
        ({"parameters": [{"name": "a", "type": "fixed", "value": 1}]}, "must not be fixed"),
        ({"parameters": []}, "at least 1 item"),
        ({"objectives": []}, "at least 1 item"),
    ],
)
def test_search_space_is_checked(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        space(**changes)


def test_unsupported_campaign_names_the_field() -> None:
    refused = UnsupportedCampaign("parameters[2].log", "no log scale here")
    assert isinstance(refused, ValueError)
    assert refused.field == "parameters[2].log"
    assert refused.message == str(refused) == "no log scale here"
