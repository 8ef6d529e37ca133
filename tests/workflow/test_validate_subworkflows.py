"""Sub-workflow steps (workflow/validate_subworkflows.py): lookup, args, saves, cycles."""

from __future__ import annotations

from typing import Any

import pytest

from labdeck.deck.schema import InterfaceSchema
from labdeck.workflow.model import WorkflowDocument
from labdeck.workflow.validate import parameter_schemas, validate_workflow
from tests.workflow.strategies import demo_schema
from tests.workflow.validate_helpers import call, document, found, one, param


@pytest.fixture(scope="module")
def deck() -> InterfaceSchema:
    return demo_schema()


def run(
    step_id: str, workflow: str, save: Any = None, version: int | None = None, **args: Any
) -> dict[str, Any]:
    step: dict[str, Any] = {"id": step_id, "kind": "workflow", "workflow": workflow, "args": args}
    if save is not None:
        step["save"] = save
    if version is not None:
        step["version"] = version
    return step


RINSE = document(
    call("d", "dispenser.dispense", volume_ml=param("volume"), solvent=param("solvent")),
    call("w", "balance.weigh", save="left"),
    parameters=["volume", {"name": "solvent", "default": "WATER"}],
    outputs=["left"],
    name="rinse",
)


class Library:
    """A lookup over named documents, with versions 1 and 2 of each, counting calls."""

    def __init__(self, *documents: WorkflowDocument) -> None:
        self.documents = {doc.name: doc for doc in documents}
        self.calls: list[tuple[str, int | None]] = []

    def __call__(self, name: str, version: int | None) -> WorkflowDocument | None:
        self.calls.append((name, version))
        if version not in (None, 1, 2):
            return None
        return self.documents.get(name)


def test_a_valid_sub_workflow_step(deck: InterfaceSchema) -> None:
    doc = document(run("r", "rinse", save="outs", volume=5), run("r2", "rinse", ["left"], volume=1))
    assert validate_workflow(doc, deck, Library(RINSE)) == []


def test_unknown_workflows_and_versions(deck: InterfaceSchema) -> None:
    library = Library(RINSE)
    assert one(document(run("r", "scrub")), deck, library) == (
        "r",
        "workflow",
        "no workflow named 'scrub'",
    )
    assert one(document(run("r", "rinse", version=7, volume=1)), deck, library) == (
        "r",
        "workflow",
        "workflow 'rinse' has no version 7",
    )


def test_without_a_lookup_sub_workflows_are_not_checked(deck: InterfaceSchema) -> None:
    assert found(document(run("r", "scrub", save="x", anything=1)), deck) == []


def test_args_are_the_sub_workflows_parameters(deck: InterfaceSchema) -> None:
    library = Library(RINSE)
    errors = found(document(run("r", "rinse", volum=5)), deck, library)
    assert errors == [
        (
            "r",
            "args.volum",
            "workflow 'rinse' has no parameter 'volum' (its parameters: volume, solvent)",
        ),
        ("r", "args.volume", "missing argument 'volume': workflow 'rinse' gives it no default"),
    ]
    assert one(document(run("r", "rinse", volume=50)), deck, library) == (
        "r",
        "args.volume",
        "volume: must be at most 20, not 50",
    )
    assert one(document(run("r", "rinse", volume=2, solvent="juice")), deck, library)[1] == (
        "args.solvent"
    )


def test_parameters_passed_on_take_the_sub_workflows_types(deck: InterfaceSchema) -> None:
    doc = document(
        run("r", "rinse", volume=param("v")),
        call("m", "spectrometer.measure", wavelength_nm=param("v")),
        parameters=["v"],
    )
    library = Library(RINSE)
    assert parameter_schemas(doc, deck, library)["v"]["maximum"] == 20
    step, field, message = one(doc, deck, library)
    assert (step, field) == ("m", "args.wavelength_nm")
    assert "a number at step 'r' (args.volume)" in message


def test_saves_receive_the_outputs(deck: InterfaceSchema) -> None:
    no_outputs = document(call("x", "hotplate.off"), name="quiet")
    library = Library(RINSE, no_outputs)
    assert one(document(run("r", "quiet", save="x")), deck, library) == (
        "r",
        "save",
        "workflow 'quiet' has no outputs, so there is nothing to save",
    )
    assert one(document(run("r", "rinse", ["a", "b"], volume=1)), deck, library) == (
        "r",
        "save",
        "workflow 'rinse' has 1 outputs (left) but save lists 2 names",
    )


def test_a_workflow_calling_itself(deck: InterfaceSchema) -> None:
    doc = document(run("again", "loop"), name="loop")
    assert one(doc, deck, Library()) == (
        "again",
        "workflow",
        "workflow 'loop' would run itself: loop → loop",
    )


def test_a_cycle_through_other_workflows_is_reported_on_the_step_that_enters_it(
    deck: InterfaceSchema,
) -> None:
    b = document(call("x", "hotplate.off"), run("to_c", "C"), name="B")
    c = document(run("to_a", "A", version=2), name="C")
    a = document(call("first", "hotplate.off"), run("to_b", "B"), name="A")
    library = Library(a, b, c)
    assert found(a, deck, library) == [
        ("to_b", "workflow", "workflow 'A' would run itself: A → B → C → A")
    ]


def test_a_cycle_below_is_reported_too_and_lookups_are_cached(deck: InterfaceSchema) -> None:
    b = document(run("to_c", "C"), name="B")
    c = document(run("to_b", "B"), name="C")
    a = document(run("first", "B"), run("second", "B"), name="A")
    library = Library(b, c)
    errors = found(a, deck, library)
    assert errors == [
        ("first", "workflow", "workflow 'B' would run itself forever: B → C → B"),
        ("second", "workflow", "workflow 'B' would run itself forever: B → C → B"),
    ]
    assert len(library.calls) == len(set(library.calls))  # each document looked up once


def test_prep_and_cleanup_calls_count_for_the_root_only(deck: InterfaceSchema) -> None:
    # A sub-workflow runs only its script, so a call in its prep is not part of a cycle.
    b = document(call("x", "hotplate.off"), prep=[run("back", "A")], name="B")
    a = document(call("x", "hotplate.off"), cleanup=[run("to_b", "B")], name="A")
    assert found(a, deck, Library(a, b)) == []
