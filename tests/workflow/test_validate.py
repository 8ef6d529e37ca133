"""Validation against the demo deck (workflow/validate.py, validate_calls.py): targets,
properties, arguments, literals, saves, expressions, parameter schemas, drift, order, and
properties over drawn documents.

Variables (test_validate_flow.py), parameters and outputs (test_validate_parameters.py) and
sub-workflows (test_validate_subworkflows.py) have their own files.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from labdeck.deck.bindings import Deck
from labdeck.deck.schema import InterfaceSchema, ParamInfo
from labdeck.workflow.model import FORMAT, WorkflowDocument
from labdeck.workflow.validate import Problem, drift, parameter_schemas, validate_workflow
from tests.workflow.strategies import deck_documents, demo_schema, documents
from tests.workflow.validate_helpers import (
    call,
    comment,
    document,
    expr,
    found,
    if_,
    one,
    param,
    set_,
    var,
    warnings_of,
)

DOSE_AND_MEASURE: dict[str, Any] = {
    "format": FORMAT,
    "name": "dose-and-measure",
    "description": "Dose a solid and a solvent, then measure.",
    "parameters": [
        {"name": "amount_mg", "default": 5.0},
        {"name": "solvent", "default": "METHANOL"},
        {"name": "celsius", "default": 40},
    ],
    "outputs": ["absorbance", "mass"],
    "prep": [
        {"id": "reset", "kind": "call", "target": "reset_bench", "args": {"seed": 1}},
        {"id": "blank", "kind": "call", "target": "spectrometer.blank"},
        {"id": "unit", "kind": "call", "target": "balance.unit", "save": "unit"},
    ],
    "script": [
        {"id": "empty", "kind": "call", "target": "dispenser.empty_vial"},
        {"id": "tare", "kind": "call", "target": "balance.tare"},
        {
            "id": "dose",
            "kind": "call",
            "target": "balance.dose_solid",
            "args": {"amount_mg": {"param": "amount_mg"}},
            "save": "mass",
        },
        {
            "id": "check",
            "kind": "if",
            "condition": "mass > 4.5",
            "then": [
                {
                    "id": "solv",
                    "kind": "call",
                    "target": "dispenser.dispense",
                    "args": {"volume_ml": 2, "solvent": {"param": "solvent"}},
                    "save": "added",
                }
            ],
            "else": [
                {"id": "warn", "kind": "comment", "text": "low mass {mass} {unit}"},
                {"id": "none", "kind": "set", "name": "added", "value": 0},
            ],
        },
        {
            "id": "heat",
            "kind": "call",
            "target": "hotplate.target_temperature",
            "args": {"set": {"param": "celsius"}},
        },
        {"id": "settle", "kind": "call", "target": "hotplate.wait_for_temperature"},
        {
            "id": "reads",
            "kind": "repeat",
            "times": 3,
            "index": "n",
            "do": [
                {
                    "id": "read",
                    "kind": "call",
                    "target": "spectrometer.measure",
                    "args": {"wavelength_nm": 450, "integration_ms": {"expr": "100 * n"}},
                    "save": ["absorbance", "peak_nm"],
                },
            ],
        },
        {"id": "report", "kind": "comment", "text": "A={absorbance} after {added} mL"},
    ],
    "cleanup": [{"id": "off", "kind": "call", "target": "hotplate.off"}],
}


@pytest.fixture(scope="module")
def deck() -> InterfaceSchema:
    return demo_schema()


def edited(deck: InterfaceSchema) -> InterfaceSchema:
    return deck.model_copy(deep=True)


def test_the_dose_and_measure_workflow_has_no_problems(
    deck: InterfaceSchema, demo_deck: Deck
) -> None:
    doc = WorkflowDocument.model_validate(DOSE_AND_MEASURE)
    assert validate_workflow(doc, deck) == []
    assert validate_workflow(doc, demo_deck.schema) == []
    assert drift(doc, deck) == []


# --- a) targets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("centrifuge.spin", "no instrument named 'centrifuge' on deck 'labdeck.demo.deck'"),
        ("balanse.weigh", "(did you mean 'balance'?)"),
        ("balance.wiegh", "instrument 'balance' has no method or property 'wiegh'"),
        ("balance.wiegh", "(did you mean 'weigh'?)"),
        ("make_coffee", "no deck function named 'make_coffee'"),
        ("balance", "'balance' is an instrument: name one of its methods"),
        ("_secret", "'_secret' is private"),
        ("balance._calibrate", "'balance._calibrate' is private"),
        ("balance.__init__", "is private"),
        ("__import__", "is private"),
    ],
)
def test_unknown_and_private_targets(deck: InterfaceSchema, target: str, message: str) -> None:
    step, field, text = one(document(call("s", target)), deck)
    assert (step, field) == ("s", "target")
    assert message in text


def test_a_method_that_cannot_be_called_says_why(deck: InterfaceSchema) -> None:
    changed = edited(deck)
    prime = changed.instruments["broken_pump"].methods["prime"]
    prime.callable = False
    prime.reason = "parameter 'port': type Serial cannot be given as JSON"
    assert one(document(call("p", "broken_pump.prime")), changed) == (
        "p",
        "target",
        "broken_pump.prime cannot be called from a workflow: parameter 'port': type Serial "
        "cannot be given as JSON",
    )
    # The demo's broken pump fails only when run: it validates.
    assert found(document(call("p", "broken_pump.prime")), deck) == []


# --- b) properties ---------------------------------------------------------------------------


def test_property_reads_and_sets(deck: InterfaceSchema) -> None:
    ok = document(
        call("read", "balance.unit", save="unit"),
        call("set", "hotplate.target_temperature", set=60),
        call("set2", "hotplate.target_temperature", set=var("unit_c")),
        prep=[set_("u", "unit_c", 30)],
    )
    assert found(ok, deck) == []
    assert one(document(call("s", "balance.unit", set="g")), deck) == (
        "s",
        "args.set",
        "balance.unit is read-only",
    )
    step, field, message = one(document(call("s", "hotplate.target_temperature", value=60)), deck)
    assert (step, field) == ("s", "args")
    assert 'give no args to read it, or args {"set": value} to set it' in message
    assert one(document(call("s", "hotplate.target_temperature", save="x", set=60)), deck) == (
        "s",
        "save",
        "setting hotplate.target_temperature returns nothing to save",
    )
    assert one(document(call("s", "hotplate.target_temperature", set="hot")), deck) == (
        "s",
        "args.set",
        'set: must be a number, not "hot"',
    )


# --- c) arguments ----------------------------------------------------------------------------


def test_missing_required_arguments(deck: InterfaceSchema) -> None:
    doc = document(call("d", "dispenser.dispense", solvent="WATER"))
    assert one(doc, deck) == ("d", "args.volume_ml", "missing required argument 'volume_ml'")
    errors = found(document(call("p", "prepare_sample")), deck)
    assert [field for _, field, _ in errors] == ["args.amount_mg", "args.volume_ml"]


def test_unknown_arguments(deck: InterfaceSchema) -> None:
    doc = document(call("d", "dispenser.dispense", volume_ml=1, volume=2))
    assert one(doc, deck) == (
        "d",
        "args.volume",
        "dispenser.dispense has no argument 'volume': its arguments are volume_ml, solvent, "
        "rate_ml_min (did you mean 'volume_ml'?)",
    )
    assert one(document(call("o", "hotplate.off", now=True)), deck)[2] == (
        "hotplate.off has no argument 'now': it takes no arguments"
    )


def test_extra_arguments_when_the_method_takes_kwargs(deck: InterfaceSchema) -> None:
    changed = edited(deck)
    stir = changed.instruments["hotplate"].methods["stir"]
    stir.accepts_extra = True
    stir.params_schema["additionalProperties"] = {"type": "integer"}
    assert found(document(call("s", "hotplate.stir", rpm=300, ramp_s=5)), changed) == []
    assert one(document(call("s", "hotplate.stir", ramp_s="slow")), changed) == (
        "s",
        "args.ramp_s",
        'ramp_s: must be a whole number, not "slow"',
    )


def test_an_argument_without_a_json_form(deck: InterfaceSchema) -> None:
    changed = edited(deck)
    stir = changed.instruments["hotplate"].methods["stir"]
    stir.params.append(ParamInfo(name="callback", required=False))
    step, field, message = one(document(call("s", "hotplate.stir", callback=1)), changed)
    assert (step, field) == ("s", "args.callback")
    assert "cannot be given from a workflow" in message


# --- d) literal values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "args", "problem"),
    [
        ("dispenser.dispense", {"volume_ml": 25}, "volume_ml: must be at most 20, not 25"),
        ("dispenser.dispense", {"volume_ml": 0}, "volume_ml: must be greater than 0, not 0"),
        ("dispenser.dispense", {"volume_ml": "2"}, None),
        ("dispenser.dispense", {"volume_ml": "two"}, 'volume_ml: must be a number, not "two"'),
        ("dispenser.dispense", {"volume_ml": 2, "solvent": "METHANOL"}, None),
        ("dispenser.dispense", {"volume_ml": 2, "solvent": "methanol"}, None),
        ("dispenser.dispense", {"volume_ml": 2, "solvent": "juice"}, '"juice" is not a Solvent'),
        ("dispenser.refill", {"solvent": None}, None),
        ("dispenser.refill", {"solvent": "ETHANOL"}, None),
        ("spectrometer.measure", {"wavelength_nm": 450.5}, "must be a whole number, not 450.5"),
        ("spectrometer.measure", {"wavelength_nm": "450"}, None),
        ("spectrometer.measure", {"wavelength_nm": 100}, "must be at least 200, not 100"),
        ("spectrometer.set_mode", {"mode": "absorbance"}, None),
        ("spectrometer.set_mode", {"mode": "fluorescence"}, 'must be one of "absorbance"'),
        ("reset_bench", {"seed": None}, None),
        ("reset_bench", {"seed": 1.5}, "seed: must be a whole number, not 1.5"),
        ("plate_reader.read_absorbance", {"wells": ["A1", "B2"]}, None),
        ("plate_reader.read_absorbance", {"wells": ["A1", 2]}, "at [1]: must be text, not 2"),
        ("plate_reader.read_absorbance", {"wells": "A1"}, "wells: must be a list"),
    ],
)
def test_literal_arguments_fit_their_schema(
    deck: InterfaceSchema, target: str, args: dict[str, Any], problem: str | None
) -> None:
    errors = found(document(call("s", target, **args)), deck)
    if problem is None:
        assert errors == []
    else:
        assert len(errors) == 1, errors
        assert errors[0][1].startswith("args.")
        assert problem in errors[0][2]


def test_references_are_not_checked_as_literals(deck: InterfaceSchema) -> None:
    doc = document(
        call("d", "dispenser.dispense", volume_ml=param("v"), solvent=expr("'juice'")),
        parameters=["v"],
    )
    assert found(doc, deck) == []


# --- h) saves --------------------------------------------------------------------------------


def test_saves_against_what_the_target_returns(deck: InterfaceSchema) -> None:
    assert one(document(call("m", "spectrometer.measure", save=["a", "b", "c"])), deck) == (
        "m",
        "save",
        "spectrometer.measure returns 2 values but save lists 3 names",
    )
    assert one(document(call("w", "balance.weigh", save=["a", "b"])), deck) == (
        "w",
        "save",
        "balance.weigh returns one value, not a tuple: save it under one name",
    )
    assert one(document(call("o", "hotplate.off", save="x")), deck) == (
        "o",
        "save",
        "hotplate.off returns nothing, so there is nothing to save",
    )
    fine = document(
        call("m", "spectrometer.measure", save="both"),
        call("m2", "spectrometer.measure", save=["a", None]),
        call("p", "prepare_sample", save="result", amount_mg=1, volume_ml=1),
        call("u", "balance.unit", save="unit"),
    )
    assert found(fine, deck) == []


def test_saving_a_name_twice_is_a_warning(deck: InterfaceSchema) -> None:
    doc = document(call("m", "spectrometer.measure", save=["a", "a"]))
    assert found(doc, deck) == []
    assert [p.message for p in warnings_of(doc, deck)] == [
        "save lists 'a' twice: only the last value is kept"
    ]


# --- i) expressions and counts -----------------------------------------------------------------


def test_expressions_that_do_not_parse(deck: InterfaceSchema) -> None:
    doc = document(
        if_("c", "mass >", []),
        {"id": "w", "kind": "while", "condition": "x.y", "max_iterations": 3},
        call("t", "hotplate.set_temperature", celsius=expr("import os")),
        set_("s", "v", expr("lambda: 1")),
    )
    assert found(doc, deck) == [
        ("c", "condition", "invalid expression: not a valid expression: invalid syntax"),
        ("w", "condition", "invalid expression: attribute access (x.y) is not allowed"),
        ("t", "args.celsius", "invalid expression: imports are not allowed"),
        ("s", "value", "invalid expression: lambda is not allowed"),
    ]


@pytest.mark.parametrize(
    ("step", "field", "problem"),
    [
        ({"id": "r", "kind": "repeat", "times": -1}, "times", "whole number, 0 or more"),
        ({"id": "r", "kind": "repeat", "times": 2.5}, "times", "whole number, 0 or more"),
        ({"id": "r", "kind": "repeat", "times": "3"}, "times", "whole number, 0 or more"),
        ({"id": "r", "kind": "repeat", "times": True}, "times", "whole number, 0 or more"),
        ({"id": "r", "kind": "repeat", "times": 0}, None, None),
        ({"id": "w", "kind": "wait", "seconds": -1}, "seconds", "a number, 0 or more"),
        ({"id": "w", "kind": "wait", "seconds": "5"}, "seconds", "a number, 0 or more"),
        ({"id": "w", "kind": "wait", "seconds": None}, "seconds", "a number, 0 or more"),
        ({"id": "w", "kind": "wait", "seconds": 0.5}, None, None),
    ],
)
def test_literal_times_and_seconds(
    deck: InterfaceSchema, step: dict[str, Any], field: str | None, problem: str | None
) -> None:
    errors = found(document(step), deck)
    if problem is None:
        assert errors == []
    else:
        assert len(errors) == 1
        assert errors[0][1] == field
        assert problem in errors[0][2]


# --- parameter schemas, drift, order -------------------------------------------------------------


def test_parameter_schemas_come_from_the_first_argument_fed(deck: InterfaceSchema) -> None:
    doc = WorkflowDocument.model_validate(DOSE_AND_MEASURE)
    schemas = parameter_schemas(doc, deck)
    assert list(schemas) == ["amount_mg", "solvent", "celsius"]
    assert schemas["amount_mg"]["type"] == "number"
    assert schemas["amount_mg"]["maximum"] == 100
    assert "default" not in schemas["solvent"]  # the deck's default is not the parameter's
    assert schemas["solvent"]["x-enum-names"][1] == "METHANOL"
    assert schemas["celsius"] == {"type": "number"}
    only_expr = document(set_("s", "x", expr("k * 2")), parameters=["k"])
    assert parameter_schemas(only_expr, deck) == {"k": {}}
    times = document({"id": "r", "kind": "repeat", "times": param("n")}, parameters=["n"])
    assert parameter_schemas(times, deck) == {"n": {"type": "integer", "minimum": 0}}


def test_drift_reports_what_a_deck_change_broke_and_nothing_else(deck: InterfaceSchema) -> None:
    raw = {**DOSE_AND_MEASURE, "script": [*DOSE_AND_MEASURE["script"], comment("late", "{nope}")]}
    doc = WorkflowDocument.model_validate(raw)  # with a flow problem, which is not drift
    assert [p.step for p in validate_workflow(doc, deck)] == ["late"]
    assert drift(doc, deck) == []

    changed = edited(deck)
    balance = changed.instruments["balance"]
    balance.methods["dose_mg"] = balance.methods.pop("dose_solid")
    spectrometer = changed.instruments["spectrometer"].methods["measure"]
    spectrometer.returns.arity = 3
    spectrometer.params_schema["properties"]["wavelength_nm"]["maximum"] = 400
    del changed.instruments["hotplate"].methods["off"]
    assert [(p.step, p.field) for p in drift(doc, changed)] == [
        ("dose", "target"),
        ("read", "args.wavelength_nm"),
        ("read", "save"),
        ("off", "target"),
    ]


def test_problems_come_in_document_order(deck: InterfaceSchema) -> None:
    doc = document(
        call("first", "nope.x"),
        if_("block", "True", [call("inner", "nope.y")]),
        call("last", "nope.z"),
        prep=[call("early", "nope.w")],
        outputs=["missing"],
    )
    assert [p.step for p in validate_workflow(doc, deck)] == [
        None,
        "early",
        "first",
        "inner",
        "last",
    ]


# --- properties over drawn documents -----------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_validation_never_raises(doc: WorkflowDocument) -> None:
    problems = validate_workflow(doc, demo_schema())
    assert all(isinstance(problem, Problem) for problem in problems)
    drift(doc, demo_schema())
    parameter_schemas(doc, demo_schema())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deck_documents())
def test_documents_drawn_valid_for_the_deck_have_no_errors(doc: WorkflowDocument) -> None:
    # Two rules the drawing does not follow: a per-batch step gets a parameter as the list of
    # the batch's values (so only list-taking arguments may take one there), and two Enums
    # with different values are two types (the drawing may reuse a parameter across them).
    errors = [
        problem
        for problem in validate_workflow(doc, demo_schema())
        if problem.severity == "error"
        and "per-batch step" not in problem.message
        and not ("a parameter has one type" in problem.message and "one of" in problem.message)
    ]
    assert errors == []
