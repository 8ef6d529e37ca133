"""Campaign configs as people write them, and the template a workflow version suggests."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from labdeck.deck.bindings import Deck
from labdeck.demo.workflows import DYE_ABSORBANCE
from labdeck.optimize.config import CampaignConfig, campaign_template, search_space
from labdeck.optimize.registry import DEFAULT_OPTIMIZER
from labdeck.workflow.model import WorkflowDocument
from labdeck.workflow.validate import parameter_schemas

MINIMAL: dict[str, Any] = {
    "parameters": [{"name": "a", "type": "float", "low": 0, "high": 1}],
    "objectives": [{"name": "y"}],
    "budget": 3,
}


def test_a_config_has_the_defaults_of_the_api() -> None:
    config = CampaignConfig.model_validate(MINIMAL)
    assert config.optimizer == DEFAULT_OPTIMIZER == "optuna"
    assert config.initial_random == 5
    assert config.constraints == []
    assert config.history == []
    assert config.seed is None
    assert config.settings == {}
    assert config.objectives[0].direction == "maximize"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"budget": 0}, ("budget",)),
        ({"budget": 10_001}, ("budget",)),
        ({"initial_random": -1}, ("initial_random",)),
        ({"colour": "red"}, ("colour",)),
        ({"parameters": []}, ("parameters",)),
        ({"objectives": []}, ("objectives",)),
        ({"history": [1]}, ("history", 0)),
    ],
)
def test_a_config_refuses_what_the_api_does_not_allow(
    change: dict[str, Any], where: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationError) as error:
        CampaignConfig.model_validate({**MINIMAL, **change})
    assert error.value.errors()[0]["loc"] == where


def test_the_budget_is_required() -> None:
    with pytest.raises(ValidationError):
        CampaignConfig.model_validate({k: v for k, v in MINIMAL.items() if k != "budget"})


def test_search_space_parses_constraints_over_the_numeric_parameters() -> None:
    config = CampaignConfig.model_validate(
        {
            **MINIMAL,
            "parameters": [
                {"name": "a", "type": "float", "low": 0, "high": 10},
                {"name": "b", "type": "int", "low": 0, "high": 10},
                {"name": "c", "type": "choice", "choices": ["x", "y"]},
            ],
            "constraints": ["a + 2*b <= 12"],
        }
    )
    space = search_space(config)
    assert space.constraints[0].coefficients == {"a": 1.0, "b": 2.0}
    with pytest.raises(ValueError, match="not a float or int parameter"):
        search_space(config.model_copy(update={"constraints": ["a + c <= 3"]}))


# --- the template ------------------------------------------------------------------------------

SCHEMAS: dict[str, dict[str, Any]] = {
    "closed": {"type": "number", "minimum": 1, "maximum": 5},
    "open": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 20},
    "count": {"type": "integer", "minimum": 0, "maximum": 1500},
    "open_count": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
    "optional": {"anyOf": [{"type": "number", "minimum": 0, "maximum": 2}, {"type": "null"}]},
    "solvent": {"$ref": "#/$defs/Solvent", "$defs": {"Solvent": {"enum": ["water", "dmso"]}}},
    "mode": {"enum": [1, 2.5, 4]},
    "stir": {"type": "boolean"},
    "unbounded": {"type": "number", "minimum": 0},
    "label": {"type": "string"},
    "wells": {"type": "array", "items": {"type": "integer"}},
    "one": {"const": "only"},
    "either": {"anyOf": [{"type": "number"}, {"type": "string"}]},
    "free": {},
    "no_default": {"type": "number"},
}
DEFAULTS: dict[str, Any] = {
    "closed": 2.0,
    "open": 3.0,
    "count": 400,
    "open_count": 1,
    "optional": 1.0,
    "solvent": "water",
    "mode": 1,
    "stir": False,
    "unbounded": 7.5,
    "label": "x",
    "wells": [1, 2],
    "one": "only",
    "either": 3,
    "free": {"k": 1},
}


def template() -> dict[str, Any]:
    document = WorkflowDocument.model_validate(
        {
            "format": "labdeck.workflow/1",
            "name": "t",
            "parameters": [
                {"name": name, "default": DEFAULTS[name]} if name in DEFAULTS else {"name": name}
                for name in SCHEMAS
            ],
            "outputs": ["absorbance", "peak_nm"],
        }
    )
    return campaign_template(document, SCHEMAS)


def test_the_template_has_the_documented_shape() -> None:
    found = template()
    assert list(found) == [
        "optimizer",
        "parameters",
        "objectives",
        "budget",
        "initial_random",
        "constraints",
        "seed",
        "settings",
        "notes",
    ]
    assert found["optimizer"] == DEFAULT_OPTIMIZER
    assert (found["budget"], found["initial_random"]) == (20, 5)
    assert (found["constraints"], found["seed"], found["settings"]) == ([], None, {})
    # One goal to start from: the first output (the form offers the others).
    assert found["objectives"] == [
        {"name": "absorbance", "direction": "maximize", "threshold": None},
    ]


def test_bounded_numbers_become_ranges_inside_their_bounds() -> None:
    specs = {p["name"]: p for p in template()["parameters"]}
    assert specs["closed"] == {
        "name": "closed",
        "type": "float",
        "low": 1.0,
        "high": 5.0,
        "log": False,
    }
    # Exclusive bounds move inward: a thousandth of the range for floats, one for integers.
    assert (specs["open"]["low"], specs["open"]["high"]) == (0.02, 19.98)
    assert specs["count"] == {"name": "count", "type": "int", "low": 0, "high": 1500, "log": False}
    assert (specs["open_count"]["low"], specs["open_count"]["high"]) == (1, 9)
    assert (specs["optional"]["type"], specs["optional"]["high"]) == ("float", 2.0)


def test_enums_literals_and_booleans_become_choices_in_order() -> None:
    specs = {p["name"]: p for p in template()["parameters"]}
    assert specs["solvent"] == {"name": "solvent", "type": "choice", "choices": ["water", "dmso"]}
    assert specs["mode"]["choices"] == [1, 2.5, 4]
    assert specs["stir"]["choices"] == [True, False]


def test_everything_else_is_fixed_at_its_default_with_a_note() -> None:
    found = template()
    specs = {p["name"]: p for p in found["parameters"]}
    fixed = {name for name, p in specs.items() if p["type"] == "fixed"}
    assert fixed == {"unbounded", "label", "wells", "one", "either", "free", "no_default"}
    assert specs["unbounded"]["value"] == 7.5
    assert specs["wells"]["value"] == [1, 2]
    assert specs["one"]["value"] == "only"
    assert specs["no_default"]["value"] is None
    assert set(found["notes"]) == fixed
    assert "low and high" in found["notes"]["unbounded"]
    assert "text" in found["notes"]["label"]
    assert "no default" in found["notes"]["no_default"]


def test_the_dye_workflow_template_searches_the_instruments_ranges(demo_deck: Deck) -> None:
    document = WorkflowDocument.model_validate(DYE_ABSORBANCE)
    found = campaign_template(document, parameter_schemas(document, demo_deck.schema))
    specs = {p["name"]: p for p in found["parameters"]}
    assert (specs["amount_mg"]["low"], specs["amount_mg"]["high"]) == (0.1, 100.0)
    assert (specs["volume_ml"]["low"], specs["volume_ml"]["high"]) == (0.02, 20.0)
    assert specs["solvent"]["choices"] == ["water", "methanol", "ethanol", "acetonitrile"]
    assert (specs["stir_rpm"]["type"], specs["stir_rpm"]["high"]) == ("int", 1500)
    assert (specs["temperature_c"]["low"], specs["temperature_c"]["high"]) == (20.0, 150.0)
    assert found["notes"] == {}
    # The template, as it is, is a valid config.
    CampaignConfig.model_validate(found)
