"""IvoryOS import: each conversion rule, the report's positions and severities, the shapes.

The fixtures in `fixtures/ivoryos/` are written from the structure described in the IvoryOS
notes (not copied from IvoryOS). Every converted document must validate as a workflow
document, and every action that cannot be converted must leave an error note at its position.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from labdeck.deck.schema import (
    InstrumentSchema,
    InterfaceSchema,
    MethodSchema,
    PropertySchema,
)
from labdeck.workflow.import_ivoryos import import_ivoryos, looks_like_ivoryos
from labdeck.workflow.model import WorkflowDocument, iter_steps
from labdeck.workflow.report import ImportFailed, ImportNote, ImportResult

FIXTURES = Path(__file__).parent / "fixtures" / "ivoryos"
PARAMS_NOTE = "IvoryOS keeps parameter values in config CSV files"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def convert(data: Any, deck: InterfaceSchema | None = None) -> tuple[dict[str, Any], ImportResult]:
    result = import_ivoryos(data, deck)
    assert result.document is not None
    dumped = result.document.dump()
    # The dump is a valid document on its own (what the library stores).
    assert WorkflowDocument.model_validate(dumped).dump() == dumped
    return dumped, result


def notes(result: ImportResult | list[ImportNote]) -> list[tuple[str, str | None]]:
    found = result.report if isinstance(result, ImportResult) else result
    return [(note.severity, note.where) for note in found]


def message(result: ImportResult, where: str | None, severity: str = "error") -> str:
    found = [n.message for n in result.report if n.where == where and n.severity == severity]
    assert len(found) == 1, (where, result.report)
    return found[0]


def script_of(actions: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": "t", "deck": "abstract_sdl", "script_dict": {"script": actions}, **extra}


def call(action: str, args: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"instrument": "deck.sdl", "action": action, "args": args or {}, **extra}


def deck() -> InterfaceSchema:
    return InterfaceSchema(
        name="abstract_sdl",
        instruments={
            "sdl": InstrumentSchema(
                class_="abstract_sdl.SDL",
                methods={"dose_solid": MethodSchema(), "analyze": MethodSchema()},
            ),
            "pump": InstrumentSchema(
                class_="abstract_sdl.Pump",
                methods={"dose": MethodSchema()},
                properties={
                    "temperature": PropertySchema(settable=True),
                    "pressure": PropertySchema(settable=False),
                },
            ),
        },
        functions={"log_sample": MethodSchema()},
    )


# --- the stored example and the fixtures ---------------------------------------------------


def test_the_abstract_sdl_example_converts_exactly() -> None:
    document, result = convert(load("example.json"))
    assert document == {
        "format": "labdeck.workflow/1",
        "name": "example",
        "parameters": [{"name": "amount"}, {"name": "rate"}, {"name": "solvent"}],
        "outputs": ["mass"],
        "script": [
            {
                "id": "dose_solid",
                "kind": "call",
                "target": "sdl.dose_solid",
                "args": {"amount_in_mg": {"param": "amount"}, "bring_in": True},
                "save": "mass",
            },
            {
                "id": "dose_solvent",
                "kind": "call",
                "target": "sdl.dose_solvent",
                # "1" was stored as text for a float argument: typed here.
                "args": {
                    "amount_in_ml": {"param": "rate"},
                    "rate_ml_per_minute": 1.0,
                    "solvent_name": {"param": "solvent"},
                },
            },
            {"id": "analyze", "kind": "call", "target": "sdl.analyze"},
        ],
    }
    assert notes(result) == [("warning", None)]
    assert PARAMS_NOTE in result.report[0].message
    assert "amount, rate, solvent have no defaults" in result.report[0].message


def test_markers_nested_two_deep_become_nested_blocks() -> None:
    document, result = convert(load("nested_blocks.json"))
    assert document["name"] == "dose until heavy"
    assert document["description"] == "Dose, then read until enough tries."
    assert document["parameters"] == [
        {"name": "amount"},
        {"name": "max_tries"},
        {"name": "n_reads"},
    ]
    assert document["outputs"] == ["mass", "reading"]
    assert document["script"][:2] == [
        {"id": "set_tries", "kind": "set", "name": "tries", "value": 0},
        {
            "id": "dose_solid",
            "kind": "call",
            "target": "sdl.dose_solid",
            "args": {"amount_in_mg": {"param": "amount"}},
            "save": "mass",
        },
    ]
    assert document["script"][2] == {
        "id": "if_1",
        "kind": "if",
        "condition": "mass > 4.5",
        "then": [
            {
                "id": "while_1",
                "kind": "while",
                "condition": "tries < max_tries",
                "max_iterations": 1000,
                "do": [
                    {
                        "id": "repeat_1",
                        "kind": "repeat",
                        "times": {"param": "n_reads"},
                        "do": [
                            {
                                "id": "analyze",
                                "kind": "call",
                                "target": "sdl.analyze",
                                "save": "reading",
                            }
                        ],
                    },
                    {
                        "id": "set_tries_2",
                        "kind": "set",
                        "name": "tries",
                        "value": {"expr": "int(tries + 1)"},
                    },
                ],
            }
        ],
        "else": [{"id": "comment_1", "kind": "comment", "text": "mass too low: {mass}"}],
    }
    assert len(document["script"]) == 3
    assert notes(result) == [("warning", "script[3]"), ("warning", None)]
    assert "no iteration cap" in result.report[0].message
    assert "1000" in result.report[0].message


def test_built_in_blocks() -> None:
    document, result = convert(load("builtins.json"))
    assert document["prep"] == [{"id": "set_offset", "kind": "set", "name": "offset", "value": 0.5}]
    steps = {step["id"]: step for step in document["script"]}
    assert list(steps) == [
        "set_count",
        "set_label",
        "set_tag",
        "set_flag",
        "set_total",
        "input_answer",
        "wait_1",
        "wait_2",
        "pause_1",
        "comment_1",
        "set_ratio",
    ]
    assert steps["set_count"]["value"] == 3
    assert steps["set_label"]["value"] == "run A"  # a str variable's text stays text
    assert steps["set_tag"]["value"] == {"expr": "str(label + '_x')"}  # …unless it reads #names
    assert steps["set_flag"]["value"] is True
    # Math keeps IvoryOS's cast to the declared type; prep variables are variables in script.
    assert steps["set_total"]["value"] == {"expr": "float(count * 2 + offset)"}
    assert steps["input_answer"] == {
        "id": "input_answer",
        "kind": "input",
        "prompt": "How many vials?",
        "save": "answer",
        "type": "integer",
    }
    assert steps["wait_1"]["seconds"] == {"param": "settle_s"}
    assert steps["wait_2"]["seconds"] == 2.5
    assert steps["pause_1"]["message"] == "Check the vials"
    # `#var` → `{var}`; the author's own braces are doubled so they stay braces.
    assert steps["comment_1"]["text"] == "total is {total} {{ok}}"
    assert steps["set_ratio"]["value"] == {"expr": "float(sqrt(total) / answer)"}
    # IvoryOS stores a blank pause message as 1.
    assert document["cleanup"] == [{"id": "pause_2", "kind": "pause"}]
    assert document["parameters"] == [{"name": "settle_s"}]
    assert document["outputs"] == ["answer"]  # IvoryOS reports an input's variable
    assert notes(result) == [("warning", None)]


def test_calls_setters_getters_blocks_workflows_disabled_and_batch() -> None:
    document, result = convert(load("calls.json"))
    assert document["prep"] == [
        {
            "id": "set_temperature",
            "kind": "call",
            "target": "pump.temperature",
            "args": {"set": 37.5},
        }
    ]
    steps = {step["id"]: step for step in document["script"]}
    assert steps["measure"] == {
        "id": "measure",
        "kind": "call",
        "target": "spectro.measure",
        "args": {"wavelength_nm": 450, "label": "7", "averaged": False},
        "save": ["absorbance", None, "peak_nm"],
    }
    assert steps["temperature"] == {
        "id": "temperature",
        "kind": "call",
        "target": "pump.temperature",
        "save": "jacket_temp",
    }
    assert steps["log_sample"] == {
        "id": "log_sample",
        "kind": "call",
        "target": "log_sample",
        "args": {"label": {"param": "sample_id"}, "count": 2},
    }
    assert steps["prime_pump"] == {
        "id": "prime_pump",
        "kind": "workflow",
        "workflow": "prime_pump",
        "args": {"volume": {"param": "prime_volume"}},
    }
    # `primed` is set inside the registered workflow, so it is a variable here.
    assert steps["dose"]["disabled"] is True
    assert steps["dose"]["args"] == {"volume_ml": {"var": "primed"}}
    assert steps["move_to_reader"]["per"] == "batch"
    assert steps["dose_2"]["args"] == {
        "volume_ml": {"var": "absorbance"},
        "rate": "fast",
        "solvent": "water",  # an Enum's value, as IvoryOS stores it
    }
    assert steps["dose_3"]["args"] == {"volume_ml": 1, "rate": None, "positions": [1, 2, 3]}
    assert "coroutine" not in json.dumps(document)
    assert document["outputs"] == ["absorbance", "peak_nm", "jacket_temp"]
    assert document["parameters"] == [
        {"name": "sample_id"},
        {"name": "prime_volume"},
        {"name": "well"},
        {"name": "speed"},
    ]
    assert notes(result) == [
        ("warning", "script[3]"),
        ("warning", "script[5]"),
        ("warning", "script[6]"),
        ("warning", None),
    ]
    workflow_note = message(result, "script[3]", "warning")
    assert "library workflow 'prime_pump'" in workflow_note
    assert "embedded copy (1 step) is dropped in favour of the library version" in workflow_note
    assert "sets primed" in workflow_note
    assert "speed" in message(result, "script[5]", "warning")
    assert "'fast' is not one; kept as text" in message(result, "script[6]", "warning")


def test_an_old_file_without_optional_keys_converts() -> None:
    document, result = convert(load("old_format.json"))
    assert document["script"] == [
        {
            "id": "dose_solid",
            "kind": "call",
            "target": "sdl.dose_solid",
            "args": {"amount_in_mg": {"param": "amount"}},
        },
        {
            "id": "if_1",
            "kind": "if",
            "condition": "amount > 2",
            "then": [{"id": "analyze", "kind": "call", "target": "sdl.analyze"}],
        },
    ]
    assert "outputs" not in document
    assert notes(result) == [("warning", None)]  # markers without uuids match


@pytest.mark.parametrize("name", sorted(path.name for path in FIXTURES.glob("*.json")))
def test_every_fixture_gives_a_valid_document_with_unique_ids(name: str) -> None:
    document, _ = convert(load(name))
    ids = [found.step.id for found in iter_steps(WorkflowDocument.model_validate(document))]
    assert len(ids) == len(set(ids))


# --- broken structure ------------------------------------------------------------------------


def test_an_unmatched_endif_and_a_missing_endwhile_are_reported_at_their_positions() -> None:
    document, result = convert(load("broken_unmatched_endif.json"))
    assert [step["id"] for step in document["script"]] == ["dose_solid", "analyze", "while_1"]
    assert [step["id"] for step in document["script"][2]["do"]] == ["dose_solid_2"]
    assert notes(result) == [
        ("error", "script[1]"),
        ("warning", "script[3]"),
        ("error", "script[3]"),
    ]
    assert "'endif' without an open 'if'; dropped" in message(result, "script[1]")
    assert "'while' has no 'endwhile'; closed at the end of script" in message(result, "script[3]")


def test_uuid_mismatches_and_unclosed_inner_blocks_are_reported() -> None:
    document, result = convert(load("broken_uuid_mismatch.json"))
    block = document["script"][0]
    assert block["kind"] == "if"
    assert [step["id"] for step in block["then"]] == ["repeat_1"]
    assert [step["id"] for step in block["then"][0]["do"]] == ["analyze"]
    assert "else" not in block  # the else branch is empty
    assert document["script"][1]["id"] == "analyze_2"
    assert notes(result) == [("error", "script[1]"), ("error", "script[4]")]
    assert "'repeat' has no 'endrepeat' before the 'else' at script[3]" in message(
        result, "script[1]"
    )
    assert "uuid 4999 but the 'if' at script[0] has uuid 4001" in message(result, "script[4]")


def test_mismatched_markers_close_the_block_their_uuid_names() -> None:
    actions = [
        {"instrument": "if", "action": "if", "args": {"statement": "True"}, "uuid": 1},
        {"instrument": "while", "action": "while", "args": {"statement": "False"}, "uuid": 2},
        call("analyze"),
        {"instrument": "if", "action": "endif", "uuid": 1},
        {"instrument": "while", "action": "endwhile", "uuid": 2},
        {"instrument": "if", "action": "else", "uuid": 3},
    ]
    document, result = convert(script_of(actions))
    assert document["script"][0]["then"][0]["do"][0]["id"] == "analyze"
    assert notes(result) == [
        ("warning", "script[1]"),
        ("error", "script[1]"),
        ("error", "script[4]"),
        ("error", "script[5]"),
    ]
    assert "before the 'endif' at script[3]; closed there" in message(result, "script[1]")
    assert "'endwhile' without an open 'while'; dropped" in message(result, "script[4]")
    assert "'else' without an open 'if'; dropped" in message(result, "script[5]")


def test_a_second_else_is_dropped() -> None:
    actions = [
        {"instrument": "if", "action": "if", "args": {"statement": "True"}, "uuid": 1},
        call("analyze"),
        {"instrument": "if", "action": "else", "uuid": 1},
        {"instrument": "if", "action": "else", "uuid": 1},
        {"instrument": "if", "action": "endif", "uuid": 1},
    ]
    _, result = convert(script_of(actions))
    assert notes(result) == [("error", "script[3]")]
    assert "a second 'else' for the 'if' at script[0]" in message(result, "script[3]")


def test_unconvertible_actions_are_reported_never_silently_dropped() -> None:
    document, result = convert(load("broken_unknown_action.json"))
    assert [(n.severity, n.where) for n in result.errors] == [
        ("error", "prep[0]"),
        ("error", "script[1]"),
        ("error", "script[2]"),
        ("error", "script[3]"),
        ("error", "script[4]"),
        ("error", "script[5]"),
        ("error", "script[8]"),
    ]
    assert "#amount" in message(result, "prep[0]")
    assert "only allowed in script" in message(result, "prep[0]")
    assert "unknown action kind (instrument 'balance_1', action 'tare')" in message(
        result, "script[1]"
    )
    assert "Python code block" in message(result, "script[2]")
    assert "action 'elif'" in message(result, "script[3]")
    assert "not an action object" in message(result, "script[4]")
    assert "attribute access" in message(result, "script[5]")
    assert "comprehension" in message(result, "script[8]")
    # The prep call is kept without the argument it could not take.
    assert document["prep"] == [{"id": "dose_solid", "kind": "call", "target": "sdl.dose_solid"}]
    # The if with an unconvertible condition keeps its steps, disabled, never taken.
    block = document["script"][1]
    assert block["condition"] == "False"
    assert block["disabled"] is True
    assert block["note"] == "IvoryOS condition (not converted): #deck.sdl.ready()"
    assert block["then"][0]["save"] == "reading"
    assert [step["id"] for step in document["script"]] == ["analyze", "if_1"]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ({"instrument": "deck.sdl", "args": {}}, "names no method"),
        ({"instrument": "deck.sdl.arm", "action": "home"}, "not an instrument.member target"),
        ({"instrument": "blocks.general", "action": "not a name"}, "not a function name"),
        ({"instrument": "workflows", "action": "!!"}, "names no workflow"),
        ({"instrument": "variable", "action": "", "args": {"statement": 1}}, "names no variable"),
        ({"instrument": "input", "action": "", "return": ""}, "no variable to save"),
        ({"instrument": "deck.pump", "action": "temperature_(setter)"}, "needs a value"),
        ({"instrument": "magic", "action": "wand"}, "unknown action kind"),
        ({"instrument": None}, "unknown action kind"),
        ({"instrument": "wait", "action": "wait", "args": {"statement": "1 +"}}, "not converted"),
        (
            {"instrument": "deck.sdl", "action": "analyze", "args": {"x": "#a b"}},
            "argument 'x' '#a b'",
        ),
    ],
)
def test_each_unconvertible_action_has_an_error_at_its_position(
    action: dict[str, Any], expected: str
) -> None:
    _, result = convert(script_of([call("analyze"), action]))
    assert expected in message(result, "script[1]")


# --- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "arg_type", "expected"),
    [
        ("1", "int", 1),
        ("1", "float", 1.0),
        ("2.5", "float", 2.5),
        ("true", "bool", True),
        ("False", "bool", False),
        ("1e3", "str", "1e3"),  # text stays exactly as typed
        ("'a'", "str", "'a'"),
        ("None", ["int", "NoneType"], None),
        ("", ["float", "NoneType"], None),
        ("3", ["int", "NoneType"], 3),
        ("[1, 2]", "list", [1, 2]),
        ("a, b", "list", ["a", "b"]),
        ("(1, 2)", "tuple", [1, 2]),
        ("{'k': 1}", "dict", {"k": 1}),
        ("water", "Enum:deck.Solvent", "water"),
        ("3", "Literal:1,2,3", "3"),
        ("3", "", "3"),
        ("3", None, "3"),
        (5, "float", 5),
        (True, "bool", True),
        ([1, 2], "list", [1, 2]),
    ],
)
def test_typed_literals(raw: Any, arg_type: Any, expected: Any) -> None:
    action = call("analyze", {"x": raw}, arg_types={"x": arg_type})
    document, result = convert(script_of([action]))
    assert document["script"][0]["args"] == {"x": expected}
    assert result.report == []


def test_text_that_is_not_of_the_declared_type_is_kept_with_a_warning() -> None:
    document, result = convert(script_of([call("analyze", {"x": "abc"}, arg_types={"x": "int"})]))
    assert document["script"][0]["args"] == {"x": "abc"}
    assert "typed int but 'abc' is not one; kept as text" in message(result, "script[0]", "warning")


def test_a_hash_name_is_a_param_until_a_step_saves_it() -> None:
    actions = [
        call("dose_solid", {"amount_in_mg": "#mass"}),
        call("dose_solid", {"amount_in_mg": 1}, **{"return": "mass"}),
        call("dose_solid", {"amount_in_mg": "#mass"}),
    ]
    document, _ = convert(script_of(actions))
    assert [step["args"]["amount_in_mg"] for step in document["script"]] == [
        {"param": "mass"},
        1,
        {"var": "mass"},
    ]


def test_prep_variables_are_variables_in_cleanup_and_params_are_refused_there() -> None:
    data = {
        "name": "t",
        "script_dict": {
            "prep": [
                {
                    "instrument": "variable",
                    "action": "v",
                    "args": {"statement": 1},
                    "arg_types": {"statement": "int"},
                },
            ],
            "script": [call("analyze")],
            "cleanup": [
                call("dose_solid", {"amount_in_mg": "#v"}),
                call("dose_solid", {"amount_in_mg": "#p"}),
                {"instrument": "if", "action": "if", "args": {"statement": "#q > 1"}, "uuid": 1},
                {"instrument": "if", "action": "endif", "uuid": 1},
            ],
        },
    }
    document, result = convert(data)
    assert document["cleanup"][0]["args"] == {"amount_in_mg": {"var": "v"}}
    assert "args" not in document["cleanup"][1]
    assert document["cleanup"][2]["condition"] == "q > 1"  # kept as written, reported
    assert "parameters" not in document
    assert notes(result) == [("error", "cleanup[1]"), ("error", "cleanup[2]")]
    assert "reads 'q'" in message(result, "cleanup[2]")


def test_an_expression_in_an_argument_is_converted_with_a_warning() -> None:
    document, result = convert(script_of([call("dose_solid", {"amount_in_mg": "#a * 2"})]))
    assert document["script"][0]["args"] == {"amount_in_mg": {"expr": "a * 2"}}
    assert document["parameters"] == [{"name": "a"}]
    assert "is an expression" in message(result, "script[0]", "warning")


@pytest.mark.parametrize(
    ("statement", "kind", "expected"),
    [
        ("3", "int", 3),
        ("3.7", "int", 3),  # IvoryOS evaluates, then casts
        (2, "float", 2.0),
        ("yes", "bool", True),
        ("0", "bool", False),
        ("None", "int", None),
        ("hello", "str", "hello"),
        ("'quoted'", "str", "quoted"),
        ("#src", "str", {"param": "src"}),
        ("f'vial_{#n}'", "str", {"expr": "str('vial_' + str(n))"}),
        ("#n / 2", "int", {"expr": "int(n / 2)"}),
        ("#n > 1", "bool", {"expr": "n > 1"}),
        ("[1, 2]", "", [1, 2]),
        ("plain words", "", "plain words"),
        ("sample #3 is odd", "str", "sample #3 is odd"),
    ],
)
def test_variable_statements(statement: Any, kind: str, expected: Any) -> None:
    action = {
        "instrument": "variable",
        "action": "v",
        "args": {"statement": statement},
        "arg_types": {"statement": kind},
    }
    document, result = convert(script_of([action]))
    assert document["script"][0] == {"id": "set_v", "kind": "set", "name": "v", "value": expected}
    assert all(note.where in (None, "script[0]") for note in result.report)
    assert result.errors == []


@pytest.mark.parametrize(
    ("declared", "expected", "warned"),
    [
        ("int", "integer", False),
        ("float", "number", False),
        ("str", "text", False),
        ("bool", "boolean", False),
        (None, "text", False),
        ("date", "text", True),
    ],
)
def test_input_types(declared: str | None, expected: str, warned: bool) -> None:
    action: dict[str, Any] = {
        "instrument": "input",
        "action": "answer",
        "args": {"statement": "Ready?"},
        "return": "answer",
    }
    if declared is not None:
        action["arg_types"] = {"statement": declared}
    document, result = convert(script_of([action]))
    assert document["script"][0].get("type", "text") == expected
    assert document["script"][0]["save"] == "answer"
    assert notes(result) == ([("warning", "script[0]")] if warned else [])


@pytest.mark.parametrize(
    ("statement", "expected"),
    [(3, 3), ("4", 4), ("#n", {"param": "n"}), ("#n * 2", {"expr": "int(n * 2)"})],
)
def test_repeat_counts(statement: Any, expected: Any) -> None:
    actions = [
        {"instrument": "repeat", "action": "repeat", "args": {"statement": statement}, "uuid": 1},
        call("analyze"),
        {"instrument": "repeat", "action": "endrepeat", "uuid": 1},
    ]
    document, _ = convert(script_of(actions))
    assert document["script"][0]["times"] == expected
    assert document["script"][0]["do"][0]["id"] == "analyze"


def test_an_unconvertible_repeat_count_keeps_the_block_disabled() -> None:
    actions = [
        {"instrument": "repeat", "action": "repeat", "args": {"statement": "1 +"}, "uuid": 1},
        call("analyze"),
        {"instrument": "repeat", "action": "endrepeat", "uuid": 1},
    ]
    document, result = convert(script_of(actions))
    block = document["script"][0]
    assert (block["times"], block["disabled"]) == (1, True)
    assert block["note"] == "IvoryOS repeat count (not converted): 1 +"
    assert notes(result) == [("error", "script[0]")]
    assert "kept but disabled" in message(result, "script[0]")


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("#a > 1 and #b", "a > 1 and b"),
        ("math.sqrt(#a) < 2", "sqrt(a) < 2"),
        ("abs(#a - 1) <= 0.1", "abs(a - 1) <= 0.1"),
        (True, "True"),
    ],
)
def test_conditions(condition: Any, expected: str) -> None:
    actions = [
        {"instrument": "if", "action": "if", "args": {"statement": condition}, "uuid": 1},
        {"instrument": "if", "action": "endif", "uuid": 1},
    ]
    document, result = convert(script_of([call("analyze"), *actions]))
    assert document["script"][1]["condition"] == expected
    assert result.errors == []


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ("deck.sdl.ready", "attribute access"),
        ("open('x')", "unknown function 'open'"),
        ("__import__('os')", "__import__"),
        ("#a if #b else 1", "is not a labdeck expression"),
        ("#n >", "is not a labdeck expression"),
    ],
)
def test_forbidden_conditions_disable_the_block_and_are_reported(
    condition: str, problem: str
) -> None:
    actions = [
        {"instrument": "while", "action": "while", "args": {"statement": condition}, "uuid": 1},
        call("analyze"),
        {"instrument": "while", "action": "endwhile", "uuid": 1},
    ]
    document, result = convert(script_of(actions))
    block = document["script"][0]
    assert (block["condition"], block["disabled"]) == ("False", True)
    assert block["note"] == f"IvoryOS condition (not converted): {condition}"
    assert block["do"][0]["id"] == "analyze"
    assert problem in message(result, "script[0]")


# --- step fields -----------------------------------------------------------------------------


def test_returns() -> None:
    actions = [
        call("analyze", **{"return": ["", ""]}),
        call("analyze", **{"return": "my mass"}),
        call("analyze", **{"return": ["a", None, "b"]}),
    ]
    document, result = convert(script_of(actions))
    assert "save" not in document["script"][0]
    assert document["script"][1]["save"] == "my_mass"
    assert document["script"][2]["save"] == ["a", None, "b"]
    assert document["outputs"] == ["my_mass", "a", "b"]
    assert "renamed to 'my_mass'" in message(result, "script[1]", "warning")


def test_return_values_come_first_in_outputs() -> None:
    data = script_of([call("analyze", **{"return": "reading"})], return_values=["mass", "reading"])
    document, _ = convert(data)
    assert document["outputs"] == ["mass", "reading"]


def test_batch_action_is_kept_only_for_calls() -> None:
    actions = [
        {"instrument": "wait", "action": "wait", "args": {"statement": 1}, "batch_action": True},
        call("dose_solid", {"amount_in_mg": "#a"}, batch_action=True, consolidate_batch_args=True),
    ]
    document, result = convert(script_of(actions))
    assert "per" not in document["script"][0]
    assert document["script"][1]["per"] == "batch"
    assert notes(result) == [("warning", "script[0]"), ("warning", None)]
    assert "'batch_action' is dropped" in message(result, "script[0]", "warning")


def test_disabled_blocks_stay_disabled() -> None:
    actions = [
        {
            "instrument": "if",
            "action": "if",
            "args": {"statement": "1"},
            "uuid": 1,
            "disabled": True,
        },
        {"instrument": "if", "action": "endif", "uuid": 1},
        {
            "instrument": "comment",
            "action": "comment",
            "args": {"statement": "x"},
            "disabled": True,
        },
    ]
    document, _ = convert(script_of(actions))
    assert document["script"][0]["disabled"] is True
    assert document["script"][1]["disabled"] is True


def test_step_ids_are_unique_and_readable() -> None:
    actions = [
        call("if_1"),
        {"instrument": "if", "action": "if", "args": {"statement": "True"}, "uuid": 1},
        call("analyze"),
        call("analyze"),
        {"instrument": "if", "action": "endif", "uuid": 1},
        {"instrument": "if", "action": "if", "args": {"statement": "True"}, "uuid": 2},
        {"instrument": "if", "action": "endif", "uuid": 2},
        call("analyze"),
    ]
    document, _ = convert(script_of(actions))
    ids = [found.step.id for found in iter_steps(WorkflowDocument.model_validate(document))]
    assert ids == ["if_1", "if_2", "analyze", "analyze_2", "if_3", "analyze_3"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("example", "example"),
        ("  dose & measure v2 ", "dose _ measure v2"),
        ("_private.run", "private.run"),
        ("!!!", "ivoryos-import"),
        (None, "ivoryos-import"),
    ],
)
def test_workflow_names_are_sanitized(name: Any, expected: str) -> None:
    data = script_of([call("analyze")])
    data["name"] = name
    document, result = convert(data)
    assert document["name"] == expected
    renamed = [n for n in result.report if n.where == "name"]
    assert len(renamed) == (0 if name == "example" else 1)


# --- the deck --------------------------------------------------------------------------------


def test_targets_are_checked_against_the_deck() -> None:
    data = {
        "name": "t",
        "deck": "other_deck",
        "script_dict": {
            "script": [
                call("dose_solid"),
                call("fly"),
                {"instrument": "deck.arm", "action": "home"},
                {"instrument": "deck.pump", "action": "temperature"},
                {"instrument": "deck.pump", "action": "pressure_(setter)", "args": {"value": 1}},
                {"instrument": "deck.pump", "action": "volume_(setter)", "args": {"value": 1}},
                {"instrument": "blocks.general", "action": "log_sample"},
                {"instrument": "blocks.general", "action": "shake"},
            ]
        },
    }
    document, result = convert(data, deck())
    assert len(document["script"]) == 8  # the document is still produced
    assert notes(result) == [
        ("warning", "deck"),
        ("warning", "script[1]"),
        ("warning", "script[2]"),
        ("warning", "script[4]"),
        ("warning", "script[5]"),
        ("error", "script[7]"),
    ]
    assert "written for the deck 'other_deck'" in message(result, "deck", "warning")
    assert "no method or property 'fly'" in message(result, "script[1]", "warning")
    assert "no instrument 'arm'" in message(result, "script[2]", "warning")
    assert "read-only" in message(result, "script[4]", "warning")
    assert "no property 'volume'" in message(result, "script[5]", "warning")
    assert "blocks.general.shake is not a function of the deck" in message(result, "script[7]")


# --- shapes ----------------------------------------------------------------------------------


def test_accepted_shapes_give_the_same_document() -> None:
    row = load("example.json")
    expected, _ = convert(row)
    for shape in (
        {"script": row, "python_script": "def example(): ..."},
        {**row, "script_dict": json.dumps(row["script_dict"])},
    ):
        assert looks_like_ivoryos(shape)
        assert convert(shape)[0] == expected
    for bare in (row["script_dict"], {"script": row["script_dict"]}):
        assert looks_like_ivoryos(bare)
        document, result = convert(copy.deepcopy(bare))
        assert document | {"name": "example"} == expected
        assert ("warning", "name") in notes(result)


def test_looks_like_ivoryos() -> None:
    ours = {
        "format": "labdeck.workflow/1",
        "name": "x",
        "script": [{"id": "a", "kind": "call", "target": "sdl.analyze"}],
    }
    assert not looks_like_ivoryos(ours)
    assert not looks_like_ivoryos({k: v for k, v in ours.items() if k != "format"})
    assert not looks_like_ivoryos({"python": "def f():\n    pass\n", "function": "f"})
    assert not looks_like_ivoryos({})
    assert not looks_like_ivoryos([load("example.json")])
    assert not looks_like_ivoryos({"script": []})
    assert looks_like_ivoryos(load("example.json"))
    assert looks_like_ivoryos(load("old_format.json"))


def test_unknown_sections_are_ignored_with_a_warning() -> None:
    data = script_of([call("analyze")])
    data["script_dict"]["setup"] = [call("analyze")]
    data["script_dict"]["prep"] = "nope"
    _, result = convert(data)
    assert notes(result) == [("error", "prep"), ("warning", "setup")]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"name": "x", "script_dict": {"prep": [], "script": [], "cleanup": []}}, "no actions"),
        ({"name": "x", "script_dict": {}}, "no actions"),
        (script_of([{"instrument": "magic"}, "x"]), "no action could be converted"),
        ({"hello": "world"}, "not an IvoryOS workflow"),
        ({"script_dict": "{not json"}, "not an IvoryOS workflow"),
        (["not", "a", "mapping"], "not an IvoryOS workflow"),
    ],
)
def test_nothing_convertible_raises_import_failed_with_the_notes(data: Any, reason: str) -> None:
    with pytest.raises(ImportFailed) as failed:
        import_ivoryos(data)
    assert reason in str(failed.value)
    assert failed.value.report
    assert all(note.severity in ("error", "warning") for note in failed.value.report)


def test_when_no_action_converts_each_one_is_still_reported() -> None:
    with pytest.raises(ImportFailed) as failed:
        import_ivoryos(script_of([{"instrument": "magic"}, "x"]))
    assert notes(failed.value.report) == [
        ("error", "script[0]"),
        ("error", "script[1]"),
        ("error", None),
    ]
