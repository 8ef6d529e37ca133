"""Python import: each construct, argument mapping, loud failures, no execution, round trip.

Sources are only parsed by the importer; the tests check that nothing in them ever runs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from labdeck.deck.schema import InterfaceSchema
from labdeck.workflow.import_python import import_python
from labdeck.workflow.model import WorkflowDocument
from labdeck.workflow.render_python import render_python
from labdeck.workflow.report import ImportFailed, ImportResult
from labdeck.workflow.validate import validate_workflow
from tests.workflow.examples import DEMO_WORKFLOW
from tests.workflow.strategies import deck_documents, demo_schema, equivalent, normalized


@pytest.fixture(scope="module")
def deck() -> InterfaceSchema:
    return demo_schema()


def run_import(deck: InterfaceSchema, source: str, **options: Any) -> ImportResult:
    return import_python(textwrap.dedent(source).lstrip("\n"), deck, **options)


def script_of(deck: InterfaceSchema, body: str, header: str = "def wf():") -> list[dict[str, Any]]:
    """The script steps (without ids) of a function whose body is `body`; no notes allowed."""
    source = header + "\n" + textwrap.indent(textwrap.dedent(body), "    ")
    result = import_python(source, deck)
    assert result.report == []
    assert result.document is not None
    return [_without_ids(step) for step in result.document.dump()["script"]]


def _without_ids(step: dict[str, Any]) -> dict[str, Any]:
    result = {key: value for key, value in step.items() if key != "id"}
    for branch in ("then", "else", "do"):
        if branch in result:
            result[branch] = [_without_ids(child) for child in result[branch]]
    return result


def messages(result: ImportResult) -> list[tuple[str, int | None, str]]:
    return [(note.severity, note.line, note.message) for note in result.report]


# --- calls and values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            "dispenser.dispense(volume_ml=2, solvent='water')",
            {"target": "dispenser.dispense", "args": {"volume_ml": 2, "solvent": "water"}},
        ),
        (
            "dispenser.dispense(2.5, 'ethanol', 10)",
            {
                "target": "dispenser.dispense",
                "args": {"volume_ml": 2.5, "solvent": "ethanol", "rate_ml_min": 10},
            },
        ),
        (
            "dispenser.dispense(1, **{'solvent': 'water', 'rate_ml_min': -1.5})",
            {
                "target": "dispenser.dispense",
                "args": {"volume_ml": 1, "solvent": "water", "rate_ml_min": -1.5},
            },
        ),
        (
            "dispenser.dispense(volume_ml=1, solvent=Solvent.METHANOL)",
            {"target": "dispenser.dispense", "args": {"volume_ml": 1, "solvent": "methanol"}},
        ),
        ("deck.balance.tare()", {"target": "balance.tare"}),
        ("await plate_reader.setup()", {"target": "plate_reader.setup"}),
        ("reset_bench(None)", {"target": "reset_bench", "args": {"seed": None}}),
        ("deck.reset_bench(seed=3)", {"target": "reset_bench", "args": {"seed": 3}}),
        (
            "plate_reader.read_absorbance(wells=['A1', 'B2'], wavelength_nm=True)",
            {
                "target": "plate_reader.read_absorbance",
                "args": {"wells": ["A1", "B2"], "wavelength_nm": True},
            },
        ),
    ],
)
def test_deck_calls(deck: InterfaceSchema, code: str, expected: dict[str, Any]) -> None:
    assert script_of(deck, code) == [{"kind": "call", **expected}]


def test_argument_values_become_literals_params_vars_and_expressions(
    deck: InterfaceSchema,
) -> None:
    steps = script_of(
        deck,
        """
        hotplate.set_temperature(celsius)
        hotplate.stir(rpm=speed)
        slow_stage.move_to(position_mm=(speed * 2 + offset), speed_mm_s=-5)
        """,
        header="def wf(celsius=60.0):",
    )
    assert [step["args"] for step in steps] == [
        {"celsius": {"param": "celsius"}},
        {"rpm": {"var": "speed"}},
        {"position_mm": {"expr": "speed * 2 + offset"}, "speed_mm_s": -5},
    ]


def test_saves_tuple_saves_and_property_access(deck: InterfaceSchema) -> None:
    steps = script_of(
        deck,
        """
        mass = balance.weigh()
        absorbance, _ = spectrometer.measure(wavelength_nm=500)
        t = hotplate.temperature
        hotplate.target_temperature = t
        deck.hotplate.target_temperature = 70
        _ = balance.weigh()
        """,
    )
    assert steps == [
        {"kind": "call", "target": "balance.weigh", "save": "mass"},
        {
            "kind": "call",
            "target": "spectrometer.measure",
            "args": {"wavelength_nm": 500},
            "save": ["absorbance", None],
        },
        {"kind": "call", "target": "hotplate.temperature", "save": "t"},
        {"kind": "call", "target": "hotplate.target_temperature", "args": {"set": {"var": "t"}}},
        {"kind": "call", "target": "hotplate.target_temperature", "args": {"set": 70}},
        {"kind": "call", "target": "balance.weigh"},
    ]


def test_trailing_comments_carry_step_fields(deck: InterfaceSchema) -> None:
    steps = script_of(
        deck,
        """
        balance.tare()  # timeout_s=30.0, per="batch"
        x = rinse_vial(times=2)  # workflow="rinse vial", version=3
        answer = ask("Ready?", "boolean")  # timeout_s=5
        balance.tare()  # just a remark
        """,
    )
    assert steps == [
        {"kind": "call", "target": "balance.tare", "timeout_s": 30.0, "per": "batch"},
        {
            "kind": "workflow",
            "workflow": "rinse vial",
            "version": 3,
            "args": {"times": 2},
            "save": "x",
        },
        {
            "kind": "input",
            "prompt": "Ready?",
            "save": "answer",
            "type": "boolean",
            "timeout_s": 5.0,
        },
        {"kind": "call", "target": "balance.tare"},
    ]


def test_step_ids_come_from_targets_and_kinds(deck: InterfaceSchema) -> None:
    result = run_import(
        deck,
        """
        def wf_prep():
            balance.tare()

        def wf():
            dispenser.dispense(1)
            dispenser.dispense(2)
            if True:
                dispenser.dispense(3)
            time.sleep(1)

        def wf_cleanup():
            balance.tare()
        """,
    )
    assert result.document is not None
    data = result.document.dump()
    assert [step["id"] for step in data["prep"] + data["script"] + data["cleanup"]] == [
        "tare",
        "dispense",
        "dispense_2",
        "if",
        "wait",
        "tare_2",
    ]
    assert data["script"][2]["then"][0]["id"] == "dispense_3"


# --- the other statements ----------------------------------------------------------------------


def test_assignments_become_set_steps(deck: InterfaceSchema) -> None:
    steps = script_of(
        deck,
        """
        x = 1.5
        label = 'vial "A"'
        y = x
        z = max(x, 2) * 3
        z += 1
        w: int = -2
        """,
    )
    assert steps == [
        {"kind": "set", "name": "x", "value": 1.5},
        {"kind": "set", "name": "label", "value": 'vial "A"'},
        {"kind": "set", "name": "y", "value": {"var": "x"}},
        {"kind": "set", "name": "z", "value": {"expr": "max(x, 2) * 3"}},
        {"kind": "set", "name": "z", "value": {"expr": "z + 1"}},
        {"kind": "set", "name": "w", "value": -2},
    ]


def test_if_elif_else_nests_in_else(deck: InterfaceSchema) -> None:
    steps = script_of(
        deck,
        """
        if mass > 4.5:
            balance.tare()
        elif mass < 1 and not done:
            pass
        else:
            balance.weigh()
        """,
    )
    assert steps == [
        {
            "kind": "if",
            "condition": "mass > 4.5",
            "then": [{"kind": "call", "target": "balance.tare"}],
            "else": [
                {
                    "kind": "if",
                    "condition": "mass < 1 and not done",
                    "else": [{"kind": "call", "target": "balance.weigh"}],
                }
            ],
        }
    ]


def test_while_with_the_export_counter_keeps_its_cap(deck: InterfaceSchema) -> None:
    steps = script_of(
        deck,
        """
        _iterations = 0
        while t < 60:
            _iterations += 1
            if _iterations > 25:
                raise RuntimeError("cap")
            t = hotplate.temperature
        for _iteration in range(7):
            if not (t > 20):
                break
            time.sleep(1)
        else:
            raise RuntimeError("cap")
        """,
    )
    assert steps == [
        {
            "kind": "while",
            "condition": "t < 60",
            "max_iterations": 25,
            "do": [{"kind": "call", "target": "hotplate.temperature", "save": "t"}],
        },
        {
            "kind": "while",
            "condition": "t > 20",
            "max_iterations": 7,
            "do": [{"kind": "wait", "seconds": 1}],
        },
    ]


def test_while_without_a_cap_gets_a_default_and_a_warning(deck: InterfaceSchema) -> None:
    result = run_import(deck, "def wf():\n    while x:\n        balance.tare()\n")
    assert result.document is not None
    assert result.document.script[0].max_iterations == 1000
    assert messages(result) == [
        (
            "warning",
            2,
            "no iteration cap found for this while loop: max_iterations set to 1000",
        )
    ]


def test_a_cap_outside_the_limit_is_clamped_with_a_warning(deck: InterfaceSchema) -> None:
    result = run_import(
        deck,
        """
        def wf():
            n = 0
            while x:
                n += 1
                if n > 20000:
                    raise RuntimeError("cap")
        """,
    )
    assert result.document is not None
    assert result.document.script[0].max_iterations == 10_000
    assert messages(result) == [
        ("warning", 3, "a cap of 20000 iterations is outside 1-10000: 10000 kept")
    ]


def test_range_loops_become_repeats(deck: InterfaceSchema) -> None:
    steps = script_of(
        deck,
        """
        for _ in range(3):
            balance.tare()
        for i in range(1, n + 1):
            pass
        for k in range(1, 5):
            pass
        for _ in range(count * 2):
            pass
        """,
        header="def wf(n: int = 2):",
    )
    assert steps == [
        {"kind": "repeat", "times": 3, "do": [{"kind": "call", "target": "balance.tare"}]},
        {"kind": "repeat", "times": {"param": "n"}, "index": "i"},
        {"kind": "repeat", "times": 4, "index": "k"},
        {"kind": "repeat", "times": {"expr": "count * 2"}},
    ]


def test_operator_steps(deck: InterfaceSchema) -> None:
    steps = script_of(
        deck,
        """
        time.sleep(2.5)
        sleep(wait_s)
        await asyncio.sleep(1)
        volume = ask("Volume?", "number")
        pick = ask("Which?", type_="choice", choices=["a", 2])
        name = input("Name?")
        count = int(input("How many?"))
        pause("Check the vial")
        print(f"mass {mass} g, {{braces}}")
        print("plain", mass)
        "A bare string is a comment too"
        """,
    )
    assert steps == [
        {"kind": "wait", "seconds": 2.5},
        {"kind": "wait", "seconds": {"var": "wait_s"}},
        {"kind": "wait", "seconds": 1},
        {"kind": "input", "prompt": "Volume?", "save": "volume", "type": "number"},
        {
            "kind": "input",
            "prompt": "Which?",
            "save": "pick",
            "type": "choice",
            "choices": ["a", 2],
        },
        {"kind": "input", "prompt": "Name?", "save": "name"},
        {"kind": "input", "prompt": "How many?", "save": "count", "type": "integer"},
        {"kind": "pause", "message": "Check the vial"},
        {"kind": "comment", "text": "mass {mass} g, {braces}"},
        {"kind": "comment", "text": "plain {mass}"},
        {"kind": "comment", "text": "A bare string is a comment too"},
    ]


def test_parameters_outputs_and_phases(deck: InterfaceSchema) -> None:
    result = run_import(
        deck,
        '''
        def ask(prompt, type_="text", choices=None):
            return input(prompt)

        def screen_prep():
            start = hotplate.temperature
            return {"start": start}

        async def screen(amount_mg=5.0, solvent="water", n=None, *, start, tag=[1, "a"]):
            """Dose and read."""
            mass = balance.dose_solid(amount_mg)
            absorbance, peak = spectrometer.measure()
            return {"absorbance": absorbance, "mass": mass}

        def screen_cleanup(*, start):
            hotplate.off()
        ''',
    )
    assert result.report == []
    assert result.document is not None
    data = result.document.dump()
    assert data["name"] == "screen"
    assert data["description"] == "Dose and read."
    assert data["parameters"] == [
        {"name": "amount_mg", "default": 5.0},
        {"name": "solvent", "default": "water"},
        {"name": "n"},
        {"name": "tag", "default": [1, "a"]},
    ]
    assert data["outputs"] == ["absorbance", "mass"]
    assert [step["target"] for step in data["prep"]] == ["hotplate.temperature"]
    assert [step["target"] for step in data["cleanup"]] == ["hotplate.off"]
    assert data["script"][0]["args"] == {"amount_mg": {"param": "amount_mg"}}


def test_function_is_chosen_by_name_or_as_the_first_non_helper(deck: InterfaceSchema) -> None:
    source = """
    def pause(message):
        input(message)

    def _private():
        balance.tare()

    def first_prep():
        balance.tare()

    def first():
        balance.weigh()

    def second():
        hotplate.off()
    """
    first = run_import(deck, source)
    second = run_import(deck, source, function="second", name="my second")
    assert first.document is not None
    assert second.document is not None
    assert (first.document.name, first.document.script[0].target) == ("first", "balance.weigh")
    assert first.document.prep[0].target == "balance.tare"
    assert (second.document.name, second.document.script[0].target) == ("my second", "hotplate.off")
    assert second.document.prep == []
    with pytest.raises(ImportFailed, match="no function 'third'") as failed:
        run_import(deck, source, function="third")
    assert "_private, first_prep, first, second" in failed.value.report[0].message


def test_a_call_to_another_function_of_the_file_is_a_sub_workflow(deck: InterfaceSchema) -> None:
    source = "def rinse(volume):\n    pass\n\ndef wf():\n    rinse(volume=2)\n"
    result = run_import(deck, source, function="wf")
    assert result.document is not None
    assert [_without_ids(step) for step in result.document.dump()["script"]] == [
        {"kind": "workflow", "workflow": "rinse", "args": {"volume": 2}}
    ]


# --- disabled steps ----------------------------------------------------------------------------


def test_disabled_comment_blocks_become_disabled_steps(deck: InterfaceSchema) -> None:
    steps = script_of(
        deck,
        """
        # disabled: step 'a' (4 lines)
        # if x > 1:
        #     # disabled: step 'b' (1 line)
        #     # balance.tare()  # timeout_s=2.0
        #     pass
        balance.weigh()
        # a plain comment
        """,
    )
    assert steps == [
        {
            "kind": "if",
            "disabled": True,
            "condition": "x > 1",
            "then": [
                {"kind": "call", "target": "balance.tare", "disabled": True, "timeout_s": 2.0}
            ],
        },
        {"kind": "call", "target": "balance.weigh"},
    ]


def test_a_disabled_header_without_its_lines_stays_a_comment(deck: InterfaceSchema) -> None:
    result = run_import(
        deck,
        """
        def wf():
            # disabled: step 'a' (2 lines)
            # balance.tare()
            balance.weigh()
        """,
    )
    assert result.document is not None
    assert [step.target for step in result.document.script] == ["balance.weigh"]
    assert [(note.severity, note.line) for note in result.report] == [("warning", 2)]


# --- failing loudly ------------------------------------------------------------------------------


def test_unconvertible_statements_are_errors_with_their_lines(deck: InterfaceSchema) -> None:
    result = run_import(
        deck,
        """
        def wf(*args):
            balance.tare()
            try:
                balance.weigh()
            except Exception:
                pass
            with open("x") as f:
                pass
            for well in ["A1", "B1"]:
                balance.tare()
            pump.dispense(1)
            balance.explode()
            hotplate.temperature()
            x = os.getcwd()
            spectrometer.measure(1, 2, 3)
            if hotplate.status()["t"] > 1:
                balance.tare()
            for i in range(n):
                print(i)
            a = b = 1
            return mass
        """,
    )
    assert result.document is not None
    assert [step.target for step in result.document.script] == ["balance.tare"]
    assert result.document.outputs == ["mass"]
    errors = [(note.line, note.message) for note in result.errors]
    assert [line for line, _ in errors] == [1, 3, 7, 9, 11, 12, 13, 14, 15, 16, 18, 20]
    assert "*args" in errors[0][1]
    assert errors[1][1] == "try/except has no workflow step equivalent: not converted"
    assert errors[2][1] == "a with block has no workflow step equivalent: not converted"
    assert "not a loop over ['A1', 'B1']" in errors[3][1]
    assert errors[4][1] == "pump is not an instrument of the deck 'labdeck.demo.deck'"
    assert errors[5][1] == "balance has no method or property explode"
    assert errors[6][1] == "hotplate.temperature is a property: read it without ()"
    assert errors[7][1] == "os is not an instrument of the deck 'labdeck.demo.deck'"
    assert errors[8][1] == "spectrometer.measure takes 2 positional arguments, got 3"
    assert "the if block (lines 16-17) was not converted" in errors[9][1]
    assert "counts from 0" in errors[10][1]
    assert "chained assignment" in errors[11][1]


def test_an_unsafe_argument_expression_is_an_error(deck: InterfaceSchema) -> None:
    result = run_import(
        deck, "def wf():\n    balance.tare()\n    hotplate.stir(rpm=__import__('os'))\n"
    )
    ((line, message),) = [(note.line, note.message) for note in result.errors]
    assert line == 3
    assert message.startswith(
        "__import__('os') is not a labdeck expression (unknown function '__import__'"
    )


def test_nothing_convertible_fails(deck: InterfaceSchema) -> None:
    with pytest.raises(ImportFailed, match=r"nothing in wf\(\) could be converted") as failed:
        run_import(deck, "def wf():\n    import os\n    os.remove('x')\n")
    assert [(note.severity, note.line) for note in failed.value.report] == [
        ("error", 2),
        ("error", 3),
    ]
    with pytest.raises(ImportFailed, match="nothing in"):
        run_import(deck, 'def wf():\n    """Only a docstring."""\n')
    with pytest.raises(ImportFailed, match="no workflow function"):
        run_import(deck, "x = 1\n")


def test_a_syntax_error_fails_with_its_line(deck: InterfaceSchema) -> None:
    with pytest.raises(ImportFailed, match=r"line 3") as failed:
        run_import(deck, "def wf():\n    balance.tare()\n    if x >:\n        pass\n")
    (note,) = failed.value.report
    assert (note.severity, note.line) == ("error", 3)
    assert note.message.startswith("not valid Python")


def test_importing_never_executes_the_source(deck: InterfaceSchema, tmp_path: Path) -> None:
    marker = tmp_path / "executed.txt"
    source = f"""
    open({str(marker)!r}, "w").write("module level ran")
    raise SystemExit("the module level ran")

    def wf(default=open({str(marker)!r}, "w")):
        open({str(marker)!r}, "w").write("the function ran")
        balance.tare()
        1 / 0

    if __name__ == "__main__":
        wf()
    """
    result = run_import(deck, source)
    assert not marker.exists()
    assert result.document is not None
    assert [step.target for step in result.document.script] == ["balance.tare"]
    assert len(result.errors) == 2  # the open(...) call and the division statement
    assert any("default of default" in note.message for note in result.report)


# --- round trip ----------------------------------------------------------------------------------


def test_the_demo_workflow_round_trips(deck: InterfaceSchema) -> None:
    original = WorkflowDocument.model_validate(DEMO_WORKFLOW)
    result = import_python(render_python(original, deck), deck)
    assert result.report == []
    assert result.document is not None
    assert equivalent(original, result.document)
    assert result.document.name == "dose_and_measure"
    assert result.document.description == original.description
    assert result.document.script[1].else_[0].text == "low mass {mass}"


def test_equivalence_ignores_ids_and_spelling_but_not_values(deck: InterfaceSchema) -> None:
    def wait(seconds: Any, step_id: str = "w") -> WorkflowDocument:
        step = {"id": step_id, "kind": "wait", "seconds": seconds}
        return WorkflowDocument.model_validate(
            {"format": "labdeck.workflow/1", "name": "x", "script": [step]}
        )

    assert equivalent(wait({"expr": "a*2"}), wait({"expr": "(a * 2)"}, step_id="other"))
    assert equivalent(wait({"expr": "a"}), wait({"var": "a"}))
    assert equivalent(wait({"expr": "-1"}), wait(-1))
    assert not equivalent(wait(1), wait(1.0))
    assert not equivalent(wait(1), wait(True))
    assert not equivalent(wait({"var": "a"}), wait({"param": "a"}))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deck_documents())
def test_export_then_import_gives_an_equivalent_document(doc: WorkflowDocument) -> None:
    deck = demo_schema()
    result = import_python(render_python(doc, deck), deck)
    assert result.errors == []
    assert result.document is not None
    assert normalized(result.document) == normalized(doc)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deck_documents())
def test_the_round_trip_documents_are_valid_on_the_deck(doc: WorkflowDocument) -> None:
    assert validate_workflow(doc, demo_schema()) == []
