"""The document format `labdeck.workflow/1` (workflow/model.py), without a deck."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from pydantic import ValidationError

from labdeck.workflow.model import (
    FORMAT,
    MAX_WHILE_ITERATIONS,
    CallStep,
    CommentStep,
    ExprRef,
    IfStep,
    InputStep,
    ParamRef,
    PauseStep,
    RepeatStep,
    SetStep,
    VarRef,
    WaitStep,
    WhileStep,
    WorkflowCallStep,
    WorkflowDocument,
    child_lists,
    iter_steps,
    workflow_json_schema,
)
from tests.workflow.strategies import document_dicts, documents

EVERY_KIND: dict[str, Any] = {
    "format": FORMAT,
    "name": "every kind",
    "description": "one step of each kind",
    "tags": ["test"],
    "parameters": [{"name": "amount_mg", "default": 5.0}, {"name": "count"}],
    "outputs": ["mass"],
    "prep": [{"id": "home", "kind": "call", "target": "slow_stage.home"}],
    "script": [
        {
            "id": "dose",
            "kind": "call",
            "target": "balance.dose_solid",
            "args": {"amount_mg": {"param": "amount_mg"}},
            "save": "mass",
            "timeout_s": 30,
            "per": "sample",
        },
        {
            "id": "sub",
            "kind": "workflow",
            "workflow": "tare and weigh",
            "version": 2,
            "args": {"x": 1},
            "save": ["a", None],
        },
        {
            "id": "check",
            "kind": "if",
            "condition": "mass > 4.5",
            "then": [{"id": "note", "kind": "comment", "text": "mass {mass}"}],
            "else": [{"id": "stop", "kind": "pause", "message": "low mass"}],
        },
        {
            "id": "loop",
            "kind": "while",
            "condition": "mass < 10",
            "max_iterations": 3,
            "do": [{"id": "more", "kind": "set", "name": "mass", "value": {"expr": "mass + 1"}}],
        },
        {
            "id": "again",
            "kind": "repeat",
            "times": {"param": "count"},
            "index": "i",
            "do": [{"id": "rest", "kind": "wait", "seconds": {"var": "mass"}}],
        },
        {
            "id": "ask",
            "kind": "input",
            "prompt": "Which?",
            "save": "choice",
            "type": "choice",
            "choices": ["a", 2],
            "timeout_s": 60,
        },
    ],
    "cleanup": [{"id": "off", "kind": "call", "target": "hotplate.off", "disabled": True}],
}


def doc_with(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(EVERY_KIND)
    document.update(changes)
    return document


def script_with(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "name": "w", "script": list(steps)}


def messages(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return " | ".join(error["msg"] for error in exc.value.errors())


def test_every_step_kind_parses_to_its_class() -> None:
    document = WorkflowDocument.model_validate(EVERY_KIND)
    by_id = {found.step.id: found.step for found in iter_steps(document)}
    expected = {
        "home": CallStep,
        "dose": CallStep,
        "sub": WorkflowCallStep,
        "check": IfStep,
        "note": CommentStep,
        "stop": PauseStep,
        "loop": WhileStep,
        "more": SetStep,
        "again": RepeatStep,
        "rest": WaitStep,
        "ask": InputStep,
        "off": CallStep,
    }
    assert {key: type(step) for key, step in by_id.items()} == expected
    assert by_id["off"].disabled is True
    assert isinstance(by_id["again"].times, ParamRef)
    assert isinstance(by_id["rest"].seconds, VarRef)
    assert isinstance(by_id["more"].value, ExprRef)


def test_iter_steps_gives_phase_and_path_depth_first() -> None:
    document = WorkflowDocument.model_validate(EVERY_KIND)
    found = [(f.phase, f.path, f.step.id) for f in iter_steps(document)]
    assert found[:3] == [("prep", (), "home"), ("script", (), "dose"), ("script", (), "sub")]
    assert ("script", ("check/then",), "note") in found
    assert ("script", ("check/else",), "stop") in found
    assert found[-1] == ("cleanup", (), "off")
    assert [name for name, _ in child_lists(document.script[2])] == ["then", "else"]


def test_round_trip_of_the_every_kind_document() -> None:
    document = WorkflowDocument.model_validate(EVERY_KIND)
    dumped = document.dump()
    assert WorkflowDocument.model_validate(dumped) == document
    assert "else" in dumped["script"][2]
    assert "else_" not in dumped["script"][2]
    assert "disabled" not in dumped["script"][0]  # defaults are left out


@settings(max_examples=150, deadline=None)
@given(documents())
def test_round_trip_of_drawn_documents(document: WorkflowDocument) -> None:
    dumped = document.dump()
    assert WorkflowDocument.model_validate(dumped) == document
    assert WorkflowDocument.model_validate(json.loads(json.dumps(dumped))) == document


@pytest.mark.parametrize(
    "path",
    [
        (),
        ("parameters", 0),
        ("prep", 0),
        ("script", 0),
        ("script", 1),
        ("script", 2),
        ("script", 2, "then", 0),
        ("script", 2, "else", 0),
        ("script", 3),
        ("script", 3, "do", 0),
        ("script", 4),
        ("script", 4, "do", 0),
        ("script", 5),
        ("cleanup", 0),
    ],
)
def test_unknown_keys_are_rejected_at_every_level(path: tuple[Any, ...]) -> None:
    document = copy.deepcopy(EVERY_KIND)
    node: Any = document
    for key in path:
        node = node[key]
    node["colour"] = "blue"
    with pytest.raises(ValidationError) as exc:
        WorkflowDocument.model_validate(document)
    assert "Extra inputs are not permitted" in messages(exc)


def test_missing_format_says_which_format_is_expected() -> None:
    document = copy.deepcopy(EVERY_KIND)
    del document["format"]
    with pytest.raises(ValidationError) as exc:
        WorkflowDocument.model_validate(document)
    assert "'format' is missing: this is a 'labdeck.workflow/1' document" in messages(exc)


def test_wrong_format_is_named() -> None:
    with pytest.raises(ValidationError) as exc:
        WorkflowDocument.model_validate(doc_with(format="ivoryos/2"))
    assert "'format' is 'ivoryos/2'" in messages(exc)
    assert "labdeck.workflow/1" in messages(exc)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("prep", "script"),
        ("script", "cleanup"),
        ("prep", "cleanup"),
    ],
)
def test_duplicate_ids_across_phases_are_rejected(first: str, second: str) -> None:
    step = {"id": "same", "kind": "comment", "text": "x"}
    document = {"format": FORMAT, "name": "w", first: [step], second: [dict(step)]}
    with pytest.raises(ValidationError) as exc:
        WorkflowDocument.model_validate(document)
    assert "step id 'same' is used more than once" in messages(exc)


def test_duplicate_ids_in_nested_blocks_are_rejected() -> None:
    inner = {"id": "twice", "kind": "comment"}
    document = script_with(
        {
            "id": "outer",
            "kind": "if",
            "condition": "True",
            "then": [{"id": "loop", "kind": "repeat", "times": 2, "do": [inner]}],
            "else": [dict(inner)],
        }
    )
    with pytest.raises(ValidationError) as exc:
        WorkflowDocument.model_validate(document)
    assert "step id 'twice' is used more than once" in messages(exc)


def test_duplicate_parameters_and_outputs_are_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        WorkflowDocument.model_validate(doc_with(parameters=[{"name": "a"}, {"name": "a"}]))
    assert "parameter 'a' is listed more than once" in messages(exc)
    with pytest.raises(ValidationError) as exc:
        WorkflowDocument.model_validate(doc_with(outputs=["m", "m"]))
    assert "output 'm' is listed more than once" in messages(exc)


def test_while_needs_a_cap_of_at_most_10000() -> None:
    loop: dict[str, Any] = {"id": "w", "kind": "while", "condition": "True"}
    with pytest.raises(ValidationError) as exc:
        WorkflowDocument.model_validate(script_with(loop))
    assert "Field required" in messages(exc)
    for bad in (0, MAX_WHILE_ITERATIONS + 1):
        with pytest.raises(ValidationError):
            WorkflowDocument.model_validate(script_with({**loop, "max_iterations": bad}))
    capped = WorkflowDocument.model_validate(
        script_with({**loop, "max_iterations": MAX_WHILE_ITERATIONS})
    )
    assert capped.script[0].max_iterations == MAX_WHILE_ITERATIONS


def test_input_choices_fit_the_type() -> None:
    base = {"id": "q", "kind": "input", "prompt": "?", "save": "answer"}
    with pytest.raises(ValidationError) as exc:
        WorkflowDocument.model_validate(script_with({**base, "type": "choice"}))
    assert "needs a non-empty 'choices' list" in messages(exc)
    with pytest.raises(ValidationError):
        WorkflowDocument.model_validate(script_with({**base, "type": "choice", "choices": []}))
    with pytest.raises(ValidationError) as exc:
        WorkflowDocument.model_validate(script_with({**base, "type": "number", "choices": [1]}))
    assert "'choices' is only for inputs of type 'choice'" in messages(exc)
    ok = WorkflowDocument.model_validate(script_with({**base, "type": "choice", "choices": [1]}))
    assert ok.script[0].choices == [1]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"param": "amount_mg"}, ParamRef(param="amount_mg")),
        ({"var": "mass"}, VarRef(var="mass")),
        ({"expr": "mass * 2"}, ExprRef(expr="mass * 2")),
        # Anything else is a literal, even when it looks almost like a reference.
        ({"param": "amount_mg", "unit": "mg"}, {"param": "amount_mg", "unit": "mg"}),
        ({"param": 3}, {"param": 3}),
        ({"param": "not a name"}, {"param": "not a name"}),
        ({"Param": "x"}, {"Param": "x"}),
        ("#amount_mg", "#amount_mg"),
        ("$mass", "$mass"),
        ([{"var": "mass"}], [{"var": "mass"}]),
        (2, 2),
        (None, None),
    ],
)
def test_literal_dicts_and_references(raw: Any, expected: Any) -> None:
    document = WorkflowDocument.model_validate(
        script_with({"id": "s", "kind": "set", "name": "x", "value": raw})
    )
    assert document.script[0].value == expected
    assert type(document.script[0].value) is type(expected)
    assert WorkflowDocument.model_validate(document.dump()) == document


def test_invalid_names_and_ids_are_rejected() -> None:
    for step in (
        {"id": "has space", "kind": "comment"},
        {"id": "s", "kind": "set", "name": "1abc", "value": 1},
        {"id": "s", "kind": "call", "target": "a.b.c"},
        {"id": "s", "kind": "call", "target": "a-b"},
        {"id": "s", "kind": "call", "target": "x", "save": ["ok", "no way"]},
        {"id": "s", "kind": "call", "target": "x", "timeout_s": 0},
        {"id": "s", "kind": "call", "target": "x", "per": "plate"},
        {"id": "s", "kind": "unknown"},
    ):
        with pytest.raises(ValidationError):
            WorkflowDocument.model_validate(script_with(step))


def test_json_schema_is_json_and_mentions_every_step_kind() -> None:
    schema = workflow_json_schema()
    text = json.dumps(schema)
    assert json.loads(text) == schema
    assert schema["title"] == FORMAT
    kinds = ["call", "workflow", "if", "while", "repeat", "wait", "set", "comment", "input"]
    for kind in [*kinds, "pause"]:
        assert f'"const": "{kind}"' in text, kind
    # Every reference points at a definition that exists.
    definitions = schema["$defs"]
    refs = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.add(node["$ref"])
            for item in node.values():
                collect(item)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(schema)
    assert refs
    for ref in refs:
        assert ref.startswith("#/$defs/")
        assert ref.removeprefix("#/$defs/") in definitions
    assert definitions["CallStep"]["additionalProperties"] is False


@settings(max_examples=50, deadline=None)
@given(document_dicts())
def test_drawn_document_dicts_parse_and_keep_their_ids(raw: dict[str, Any]) -> None:
    document = WorkflowDocument.model_validate(raw)
    ids = [found.step.id for found in iter_steps(document)]
    assert ids == [f"s{n}" for n in range(1, len(ids) + 1)]
