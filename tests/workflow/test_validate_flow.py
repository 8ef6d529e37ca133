"""Variables defined before use (workflow/validate_flow.py), rule by rule, on the demo deck."""

from __future__ import annotations

from typing import Any

import pytest

from labdeck.deck.schema import InterfaceSchema
from tests.workflow.strategies import demo_schema
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
)

UNDEFINED = "may not be defined here: it is saved later, or only on some paths"


@pytest.fixture(scope="module")
def deck() -> InterfaceSchema:
    return demo_schema()


def weigh(step_id: str, save: str) -> dict[str, Any]:
    return call(step_id, "balance.weigh", save=save)


def use(step_id: str, name: str) -> dict[str, Any]:
    """A step that reads `name` as a variable."""
    return call(step_id, "hotplate.set_temperature", celsius=var(name))


def repeat(step_id: str, times: Any, do: list[dict[str, Any]], index: str | None = None) -> Any:
    step = {"id": step_id, "kind": "repeat", "times": times, "do": do}
    return {**step, "index": index} if index else step


def test_a_variable_read_before_it_is_saved(deck: InterfaceSchema) -> None:
    step, field, message = one(document(use("early", "mass"), weigh("w", "mass")), deck)
    assert (step, field) == ("early", "args.celsius")
    assert f"variable 'mass' {UNDEFINED}" in message
    assert found(document(weigh("w", "mass"), use("late", "mass")), deck) == []


def test_an_unknown_name_everywhere_it_can_be_read(deck: InterfaceSchema) -> None:
    doc = document(
        use("v", "ghost"),
        call("e", "hotplate.set_temperature", celsius=expr("ghost + 1")),
        if_("i", "ghost > 1", []),
        {"id": "w", "kind": "while", "condition": "ghost", "max_iterations": 2},
        comment("c", "value {ghost}"),
        repeat("r", var("ghost"), []),
        {"id": "z", "kind": "wait", "seconds": expr("ghost")},
        set_("s", "copy", var("ghost")),
    )
    errors = found(doc, deck)
    assert [(step, field) for step, field, _ in errors] == [
        ("v", "args.celsius"),
        ("e", "args.celsius"),
        ("i", "condition"),
        ("w", "condition"),
        ("c", "text"),
        ("r", "times"),
        ("z", "seconds"),
        ("s", "value"),
    ]
    assert errors[0][2] == "unknown variable 'ghost': not a variable saved by an earlier step"
    assert errors[1][2] == (
        "unknown name 'ghost': not a parameter or a variable saved by an earlier step"
    )


def test_every_kind_of_step_that_saves_defines_its_names(deck: InterfaceSchema) -> None:
    doc = document(
        weigh("w", "mass"),
        call("m", "spectrometer.measure", save=["absorbance", None]),
        set_("s", "ratio", expr("mass * 2")),
        {"id": "q", "kind": "input", "prompt": "Volume?", "save": "answer", "type": "number"},
        comment("c", "{mass} {absorbance} {ratio} {answer}"),
    )
    assert found(doc, deck) == []


def test_if_defines_what_both_branches_define(deck: InterfaceSchema) -> None:
    then_only = document(if_("i", "True", [weigh("w", "mass")]), use("u", "mass"))
    assert one(then_only, deck)[0] == "u"
    else_only = document(if_("i", "True", [], [weigh("w", "mass")]), use("u", "mass"))
    assert one(else_only, deck)[0] == "u"
    both = document(
        if_("i", "True", [weigh("w", "mass")], [set_("s", "mass", 0)]), use("u", "mass")
    )
    assert found(both, deck) == []
    nested = document(
        if_("i", "True", [if_("j", "False", [weigh("w", "mass")], [set_("s", "mass", 0)])], []),
        use("u", "mass"),
    )
    assert one(nested, deck)[0] == "u"
    # Inside the branch, the name is defined after its step.
    inside = document(if_("i", "True", [weigh("w", "mass"), use("u", "mass")]))
    assert found(inside, deck) == []


def test_while_bodies_define_nothing_after_the_loop(deck: InterfaceSchema) -> None:
    loop = {"id": "l", "kind": "while", "condition": "True", "max_iterations": 3}
    doc = document({**loop, "do": [weigh("w", "mass")]}, use("u", "mass"))
    assert one(doc, deck)[0] == "u"
    # The condition sees only what was defined before the loop.
    reads_body = document(
        {**loop, "condition": "mass < 5", "do": [weigh("w", "mass")]},
    )
    assert one(reads_body, deck)[:2] == ("l", "condition")


@pytest.mark.parametrize(
    ("times", "defined_after"),
    [(1, True), (3, True), (0, False), ({"param": "n"}, False), ({"expr": "2"}, False)],
)
def test_repeat_bodies_define_names_after_only_for_literal_counts(
    deck: InterfaceSchema, times: Any, defined_after: bool
) -> None:
    doc = document(
        repeat("r", times, [weigh("w", "mass")]),
        use("u", "mass"),
        parameters=["n"] if isinstance(times, dict) and "param" in times else [],
    )
    errors = found(doc, deck)
    assert (errors == []) is defined_after, errors


def test_the_repeat_index_is_defined_inside_the_body_only(deck: InterfaceSchema) -> None:
    doc = document(
        repeat("r", 3, [call("m", "spectrometer.measure", wavelength_nm=expr("400 + i"))], "i"),
        comment("after", "last {i}"),
    )
    assert found(doc, deck) == [
        ("after", "text", f"variable 'i' {UNDEFINED} (in one branch of an if, or in a loop body)")
    ]


def test_prep_variables_reach_script_and_cleanup_but_script_variables_do_not(
    deck: InterfaceSchema,
) -> None:
    doc = document(
        use("s1", "start"),
        weigh("s2", "mass"),
        prep=[weigh("p", "start")],
        cleanup=[use("c1", "start"), use("c2", "mass")],
    )
    assert found(doc, deck) == [
        (
            "c2",
            "args.celsius",
            "variable 'mass' is saved in script, and cleanup sees only the variables saved in prep",
        )
    ]
    prep_reads_script = document(weigh("s", "mass"), prep=[use("p", "mass")])
    assert one(prep_reads_script, deck) == (
        "p",
        "args.celsius",
        "variable 'mass' is saved in script, which runs after prep",
    )


def test_parameters_are_names_in_script_only(deck: InterfaceSchema) -> None:
    doc = document(
        set_("s", "double", expr("amount * 2")),
        comment("c", "dosing {amount}"),
        parameters=["amount"],
    )
    assert found(doc, deck) == []
    as_variable = document(use("u", "amount"), parameters=["amount"])
    assert one(as_variable, deck) == (
        "u",
        "args.celsius",
        """'amount' is a parameter, not a variable: use {"param": "amount"}""",
    )


def test_disabled_steps_define_nothing_and_their_reads_are_not_checked(
    deck: InterfaceSchema,
) -> None:
    disabled_save = document({**weigh("w", "mass"), "disabled": True}, use("u", "mass"))
    assert one(disabled_save, deck)[0] == "u"
    disabled_block = document(
        {**if_("i", "True", [weigh("w", "mass")], [set_("s", "mass", 1)]), "disabled": True},
        use("u", "mass"),
    )
    assert one(disabled_block, deck)[0] == "u"
    disabled_reader = document(
        {**use("u", "ghost"), "disabled": True},
        {**if_("i", "ghost > 1", [comment("c", "{ghost}")]), "disabled": True},
    )
    assert found(disabled_reader, deck) == []
    # Their targets, arguments, expressions and parameters are still checked.
    still_checked = document(
        {**call("x", "nope.x"), "disabled": True},
        {**set_("e", "v", expr("1 +")), "disabled": True},
        {**call("p", "balance.dose_solid", amount_mg=param("unlisted")), "disabled": True},
    )
    assert [step for step, _, _ in found(still_checked, deck)] == ["x", "e", "p"]


def test_variables_assigned_in_every_iteration_are_fine_inside_it(deck: InterfaceSchema) -> None:
    doc = document(
        set_("zero", "total", 0),
        repeat("r", 5, [weigh("w", "mass"), set_("add", "total", expr("total + mass"))]),
        comment("done", "total {total}, last {mass}"),
        outputs=["total"],
    )
    assert found(doc, deck) == []
