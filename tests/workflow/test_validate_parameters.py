"""Parameters, outputs and names in validation, on the demo deck: parameters only in script
and listed, unused ones, one type per parameter, defaults, batches, outputs, and names that
cannot be variables."""

from __future__ import annotations

import pytest

from labdeck.deck.schema import InterfaceSchema
from labdeck.workflow.validate import Problem, parameter_schemas
from tests.workflow.strategies import demo_schema
from tests.workflow.validate_helpers import (
    call,
    document,
    expr,
    found,
    one,
    param,
    set_,
    warnings_of,
)


@pytest.fixture(scope="module")
def deck() -> InterfaceSchema:
    return demo_schema()


# --- f) parameters and outputs -----------------------------------------------------------------


def test_parameters_only_in_script(deck: InterfaceSchema) -> None:
    doc = document(
        call("dose", "balance.dose_solid", amount_mg=param("amount")),
        prep=[call("heat", "hotplate.set_temperature", celsius=param("amount"))],
        cleanup=[set_("after", "x", expr("amount * 2"))],
        parameters=["amount"],
    )
    assert found(doc, deck) == [
        (
            "heat",
            "args.celsius",
            "parameter 'amount' cannot be used in prep: parameters exist only in script",
        ),
        (
            "after",
            "value",
            "parameter 'amount' cannot be used in cleanup: parameters exist only in script",
        ),
    ]


def test_parameters_must_be_listed(deck: InterfaceSchema) -> None:
    doc = document(call("dose", "balance.dose_solid", amount_mg=param("amount")))
    assert one(doc, deck) == (
        "dose",
        "args.amount_mg",
        "parameter 'amount' is not listed in the parameters",
    )


def test_unused_parameters_are_warnings(deck: InterfaceSchema) -> None:
    doc = document(set_("s", "x", expr("used + 1")), parameters=["used", "spare"])
    assert found(doc, deck) == []
    assert warnings_of(doc, deck) == [
        Problem(
            step=None,
            field="parameters.spare",
            message="parameter 'spare' is not used",
            severity="warning",
        )
    ]


def test_parameter_defaults_fit_the_argument(deck: InterfaceSchema) -> None:
    doc = document(
        call("d", "dispenser.dispense", volume_ml=param("v"), solvent=param("s")),
        parameters=[{"name": "v", "default": 50}, {"name": "s", "default": "METHANOL"}],
    )
    assert one(doc, deck) == (None, "parameters.v", "default: must be at most 20, not 50")


def test_outputs_must_be_saved_in_script_or_prep(deck: InterfaceSchema) -> None:
    doc = document(
        call("w", "balance.weigh", save="mass"),
        call("c", "balance.weigh", save="late"),
        prep=[call("u", "balance.unit", save="unit")],
        cleanup=[call("c2", "balance.weigh", save="after")],
        outputs=["mass", "unit", "after", "never"],
    )
    assert found(doc, deck) == [
        (None, "outputs", "output 'after' is not saved by any step in script or prep"),
        (None, "outputs", "output 'never' is not saved by any step in script or prep"),
    ]


# --- g) one type per parameter -------------------------------------------------------------------


def test_a_parameter_feeding_different_types(deck: InterfaceSchema) -> None:
    doc = document(
        call("d", "dispenser.dispense", volume_ml=param("n")),
        call("m", "spectrometer.measure", wavelength_nm=param("n")),
        parameters=["n"],
    )
    assert one(doc, deck) == (
        "m",
        "args.wavelength_nm",
        "parameter 'n' feeds a whole number here but a number at step 'd' (args.volume_ml): "
        "a parameter has one type",
    )


def test_same_type_with_other_constraints_or_nullability_is_one_type(
    deck: InterfaceSchema,
) -> None:
    doc = document(
        call("d", "dispenser.dispense", volume_ml=param("x"), solvent=param("s")),
        call("t", "hotplate.set_temperature", celsius=param("x")),
        call("r", "dispenser.refill", solvent=param("s")),
        call("c", "reset_bench", seed=param("seed")),
        {"id": "loop", "kind": "repeat", "times": param("seed"), "do": []},
        parameters=["x", "s", "seed"],
    )
    assert found(doc, deck) == []


def test_times_and_seconds_give_parameters_a_type(deck: InterfaceSchema) -> None:
    doc = document(
        {"id": "loop", "kind": "repeat", "times": param("n"), "do": []},
        call("d", "dispenser.dispense", volume_ml=param("n")),
        {"id": "rest", "kind": "wait", "seconds": param("n")},
        parameters=["n"],
    )
    errors = found(doc, deck)
    assert [(step, field) for step, field, _ in errors] == [
        ("d", "args.volume_ml"),
        ("rest", "seconds"),
    ]
    assert "feeds a number here but a whole number at step 'loop' (times)" in errors[0][2]


# --- k) batches ------------------------------------------------------------------------------


def test_per_batch_steps_pass_parameters_as_lists(deck: InterfaceSchema) -> None:
    well_list = {
        **call("read", "plate_reader.read_absorbance", wells=param("well")),
        "per": "batch",
    }
    scalar = {**call("dose", "balance.dose_solid", amount_mg=param("amount")), "per": "batch"}
    doc = document(well_list, parameters=["well"])
    assert found(doc, deck) == []
    assert parameter_schemas(doc, deck) == {"well": {"type": "string"}}
    step, field, message = one(document(scalar, parameters=["amount"]), deck)
    assert (step, field) == ("dose", "args.amount_mg")
    assert "passes parameter 'amount' as the list of the batch's values" in message


# --- names ---------------------------------------------------------------------------------------


def test_names_that_cannot_be_variables(deck: InterfaceSchema) -> None:
    doc = document(
        call("w", "balance.weigh", save="amount"),
        set_("k", "None", 1),
        set_("f", "max", 1),
        parameters=["amount", {"name": "lambda", "default": 1}],
    )
    errors = found(doc, deck)
    assert errors == [
        (None, "parameters.lambda", "'lambda' is a Python keyword: choose another name"),
        ("w", "save", "'amount' is a parameter: a variable with the same name would hide it"),
        ("k", "name", "'None' is a Python keyword: choose another name"),
    ]
    assert "'max' is an expression function" in warnings_of(doc, deck)[-1].message
