"""Run modes: repeat and table sources, parameter tables from JSON and CSV, the mode body."""

from __future__ import annotations

from typing import Any

import pytest

from labdeck.errors import InvalidInput
from labdeck.runtime.modes import (
    Iteration,
    IterationSource,
    RepeatSource,
    Sample,
    TableSource,
    build_source,
    convert_table,
    csv_template,
    parse_csv,
)
from labdeck.workflow.model import Parameter, WorkflowDocument

SOLVENT = {
    "title": "Solvent",
    "enum": ["water", "ethanol", "dmso"],
    "x-enum-names": ["WATER", "ETHANOL", "DMSO"],
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "amount_mg": {"type": "integer", "minimum": 0},
    "temp_c": {"type": "number"},
    "stir": {"type": "boolean"},
    "solvent": SOLVENT,
    "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    "volume_ml": {"anyOf": [{"type": "number"}, {"type": "null"}]},
    "wells": {"type": "array", "items": {"type": "integer"}},
    "options": {"type": "object"},
    "label": {"type": "string"},
}
PARAMS = [
    Parameter(name="amount_mg"),
    Parameter(name="temp_c", default=25.0),
    Parameter(name="stir", default=False),
    Parameter(name="solvent", default="water"),
    Parameter(name="note"),
    Parameter(name="volume_ml"),
    Parameter(name="wells", default=[1]),
    Parameter(name="options", default={}),
    Parameter(name="label", default="x"),
]


def drain(source: IterationSource) -> list[Iteration]:
    iterations = []
    while (iteration := source.next_iteration()) is not None:
        iterations.append(iteration)
    return iterations


def fields_of(error: pytest.ExceptionInfo[InvalidInput]) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = error.value.detail["fields"]
    return fields


def document(*parameters: Parameter) -> WorkflowDocument:
    return WorkflowDocument(format="labdeck.workflow/1", name="screen", parameters=list(parameters))


# --- sources ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "batch_size", "sizes"),
    [(3, 1, [1, 1, 1]), (5, 2, [2, 2, 1]), (4, 2, [2, 2]), (2, 5, [2]), (0, 1, []), (0, 3, [])],
)
def test_repeat_groups_samples_into_iterations(
    count: int, batch_size: int, sizes: list[int]
) -> None:
    source = RepeatSource(count, {"amount_mg": 5}, batch_size=batch_size)
    assert source.total == len(sizes)
    iterations = drain(source)
    assert [len(it.samples) for it in iterations] == sizes
    assert [it.number for it in iterations] == list(range(1, len(sizes) + 1))
    samples = [s for it in iterations for s in it.samples]
    assert [s.index for s in samples] == list(range(count))
    assert all(s.params == {"amount_mg": 5} for s in samples)
    assert source.next_iteration() is None


def test_repeat_samples_do_not_share_mutable_defaults() -> None:
    source = RepeatSource(2, {"wells": [1, 2]})
    first, second = drain(source)
    first.samples[0].params["wells"].append(3)
    assert second.samples[0].params == {"wells": [1, 2]}


def test_table_source_keeps_row_order_in_batches() -> None:
    rows = [{"a": i} for i in range(5)]
    iterations = drain(TableSource(rows, batch_size=2))
    assert iterations[0] == Iteration(1, (Sample(0, {"a": 0}), Sample(1, {"a": 1})))
    assert iterations[2] == Iteration(3, (Sample(4, {"a": 4}),))


def test_stop_ends_after_the_current_iteration_and_report_is_accepted() -> None:
    source = TableSource([{"a": i} for i in range(6)], batch_size=2)
    current = source.next_iteration()
    assert current is not None
    source.report(current, [{"y": 1.0}, {"y": 2.0}])
    source.stop()
    assert source.next_iteration() is None
    assert source.total == 3  # the plan is kept: "stopped after iteration 1 of 3"

    repeat = RepeatSource(3, {})
    repeat.stop()
    assert drain(repeat) == []


def test_sources_refuse_nonsense_sizes() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        RepeatSource(1, {}, batch_size=0)
    with pytest.raises(ValueError, match="count"):
        RepeatSource(-1, {})


# --- converting tables -----------------------------------------------------------------------


def test_json_rows_are_checked_and_defaults_fill_missing_columns() -> None:
    rows = convert_table(
        [
            {"amount_mg": 5, "solvent": "ETHANOL", "wells": [2, 3]},
            {"amount_mg": 7.0, "temp_c": 30, "stir": True, "note": None, "options": {"k": 1}},
        ],
        PARAMS,
        SCHEMAS,
    )
    assert rows[0] == {
        "amount_mg": 5,
        "temp_c": 25.0,
        "stir": False,
        "solvent": "ethanol",
        "note": None,
        "volume_ml": None,
        "wells": [2, 3],
        "options": {},
        "label": "x",
    }
    assert rows[1]["amount_mg"] == 7
    assert type(rows[1]["amount_mg"]) is int
    assert rows[1]["temp_c"] == 30
    assert rows[1]["stir"] is True
    assert rows[1]["options"] == {"k": 1}


def test_csv_cells_are_converted_per_type() -> None:
    text = (
        "amount_mg,temp_c,stir,solvent,note,volume_ml,wells,options,label\n"
        '5,2.5,yes,DMSO,,,"[1, 2]","{""speed"": 3}", padded \n'
        "6,-1,0,water,hello,1.5,,,007\n"
        "7,30,true,ethanol,,,,,\n"
    )
    rows = convert_table(parse_csv(text), PARAMS, SCHEMAS)
    assert rows[0] == {
        "amount_mg": 5,
        "temp_c": 2.5,
        "stir": True,
        "solvent": "dmso",
        "note": None,
        "volume_ml": None,
        "wells": [1, 2],
        "options": {"speed": 3},
        "label": " padded ",
    }
    assert rows[1]["stir"] is False
    assert rows[1]["solvent"] == "water"
    assert rows[1]["note"] == "hello"
    assert rows[1]["volume_ml"] == 1.5
    assert rows[1]["wells"] == [1]  # blank: the default
    assert rows[1]["label"] == "007"  # a string keeps its exact text
    assert rows[2]["stir"] is True
    assert rows[2]["label"] == "x"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("false", False), ("1", True), ("0", False), ("yes", True), ("no", False)],
)
def test_boolean_words(text: str, expected: bool) -> None:
    rows = convert_table([{"amount_mg": "1", "stir": text}], PARAMS, SCHEMAS)
    assert rows[0]["stir"] is expected


def test_enums_by_value_name_and_number() -> None:
    levels = {"enum": [1, 2], "x-enum-names": ["LOW", "HIGH"], "title": "Level"}
    params = [Parameter(name="level")]
    rows = convert_table(
        [{"level": "HIGH"}, {"level": 1}, {"level": "2"}], params, {"level": levels}
    )
    assert [r["level"] for r in rows] == [2, 1, 2]
    with pytest.raises(InvalidInput) as error:
        convert_table([{"level": "MEDIUM"}], params, {"level": levels})
    assert "LOW (1), HIGH (2)" in fields_of(error)[0]["message"]


def test_missing_values_are_reported_for_every_row_with_row_numbers() -> None:
    rows: list[dict[str, Any]] = [
        {"amount_mg": 1},
        {"temp_c": 3},
        {"amount_mg": ""},
        {"amount_mg": 4},
        {},
    ]
    with pytest.raises(InvalidInput) as error:
        convert_table(rows, PARAMS, SCHEMAS)
    assert error.value.message == "the parameter table has 3 problems"
    assert fields_of(error) == [
        {
            "field": f"rows[{n}].amount_mg",
            "message": f"row {n} has no value for amount_mg",
            "type": "missing",
        }
        for n in (2, 3, 5)
    ]


def test_wrong_values_and_unknown_columns_are_reported_together() -> None:
    rows: list[dict[str, Any]] = [
        {"amount_mg": "five", "colour": "red"},
        {"amount_mg": -1, "stir": "maybe", "colour": "blue", "wells": "not json"},
    ]
    with pytest.raises(InvalidInput) as error:
        convert_table(rows, PARAMS, SCHEMAS)
    fields = {f["field"]: f for f in fields_of(error)}
    assert set(fields) == {
        "rows[1].colour",
        "rows[1].amount_mg",
        "rows[2].amount_mg",
        "rows[2].stir",
        "rows[2].wells",
    }
    assert fields["rows[1].colour"]["type"] == "unknown_column"
    assert "amount_mg" in fields["rows[1].colour"]["message"]
    assert fields["rows[1].amount_mg"]["message"].startswith("row 1, amount_mg: must be a whole")
    assert "at least 0" in fields["rows[2].amount_mg"]["message"]


def test_nested_and_nullable_schemas() -> None:
    schemas: dict[str, dict[str, Any]] = {
        "ids": {"type": "array", "items": {"type": "integer"}},
        "solvent": {"anyOf": [SOLVENT, {"type": "null"}]},
        "pick": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
    }
    params = [Parameter(name=n) for n in schemas]
    rows = convert_table(
        parse_csv('ids,solvent,pick\n"[1, ""2""]",DMSO,5\n[],,x\n'), params, schemas
    )
    assert rows == [
        {"ids": [1, 2], "solvent": "dmso", "pick": "5"},  # text stays text for `int | str`
        {"ids": [], "solvent": None, "pick": "x"},
    ]
    assert convert_table([{"ids": [3], "solvent": None, "pick": 5}], params, schemas) == [
        {"ids": [3], "solvent": None, "pick": 5}
    ]


def test_problem_list_is_capped() -> None:
    with pytest.raises(InvalidInput) as error:
        convert_table([{}] * 150, [Parameter(name="a")], {"a": {"type": "integer"}})
    fields = fields_of(error)
    assert error.value.message == "the parameter table has 150 problems"
    assert len(fields) == 101
    assert fields[-1]["message"] == "and 50 more"


def test_unknown_type_reads_numbers_and_requires_a_value() -> None:
    params = [Parameter(name="x")]
    assert convert_table([{"x": "5"}, {"x": "abc"}], params, {}) == [{"x": 5}, {"x": "abc"}]
    with pytest.raises(InvalidInput):
        convert_table([{"x": ""}], params, {})


def test_non_finite_numbers_are_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        convert_table([{"amount_mg": 1, "temp_c": "nan"}], PARAMS, SCHEMAS)
    assert error.value.message == "the parameter table has 1 problem"
    assert "finite" in fields_of(error)[0]["message"]


# --- CSV -------------------------------------------------------------------------------------


def test_csv_semicolons_tabs_bom_and_blank_lines() -> None:
    expected = [{"a": "1,5", "b": "x"}, {"a": "2", "b": "y"}]
    assert parse_csv("\ufeffa;b\r\n\r\n1,5;x\r\n;\r\n2;y\r\n\r\n") == expected
    assert parse_csv("a\tb\n1,5\tx\n2\ty\n") == expected
    assert parse_csv(" a , b\n1,2\n") == [{"a": "1", "b": "2"}]
    assert parse_csv("a\n1\n2\n") == [{"a": "1"}, {"a": "2"}]
    assert parse_csv("a,b\n1\n") == [{"a": "1", "b": ""}]


def test_csv_rows_with_too_many_cells_are_numbered() -> None:
    with pytest.raises(InvalidInput) as error:
        parse_csv("a,b\n1,2\n\n3,4,5\n6,7\n8,9,10,11\n")
    fields = fields_of(error)
    assert [f["field"] for f in fields] == ["rows[2]", "rows[4]"]
    assert fields[0]["message"] == "row 2 (line 4) has 3 cells but the header has 2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,a\n1,2,3\n", "column 'a' appears twice"),
        ("a,,b\n1,2,3\n", "column 2 has no name"),
    ],
)
def test_csv_header_problems(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_csv(text)
    assert fields_of(error) == [{"field": "header", "message": message, "type": "csv"}]


def test_empty_csv_is_refused() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        parse_csv("\ufeff\n\n")


def test_missing_values_in_csv_name_the_data_row() -> None:
    with pytest.raises(InvalidInput) as error:
        convert_table(parse_csv("amount_mg,temp_c\n1,2\n\n,3\n"), PARAMS, SCHEMAS)
    assert fields_of(error)[0]["message"] == "row 2 has no value for amount_mg"


def test_template_round_trips() -> None:
    params = [p for p in PARAMS if p.default is not None]
    template = csv_template(params, SCHEMAS)
    assert template.splitlines()[0] == "temp_c,stir,solvent,wells,options,label"
    rows = convert_table(parse_csv(template), params, SCHEMAS)
    assert rows == [
        {
            "temp_c": 25.0,
            "stir": False,
            "solvent": "water",
            "wells": [1],
            "options": {},
            "label": "x",
        }
    ]


def test_template_leaves_required_cells_blank() -> None:
    assert csv_template([Parameter(name="amount_mg"), Parameter(name="n", default=2)], {}) == (
        "amount_mg,n\n,2\n"
    )


# --- the mode body ---------------------------------------------------------------------------


def test_build_repeat_uses_defaults() -> None:
    doc = document(Parameter(name="solvent", default="ETHANOL"), Parameter(name="n", default=2))
    source = build_source({"repeat": 3}, doc, {"solvent": SOLVENT}, batch_size=2)
    iterations = drain(source)
    assert [len(it.samples) for it in iterations] == [2, 1]
    assert iterations[0].samples[0].params == {"solvent": "ethanol", "n": 2}


def test_build_repeat_without_defaults_asks_for_a_table() -> None:
    doc = document(Parameter(name="amount_mg"), Parameter(name="n", default=1))
    with pytest.raises(InvalidInput, match="amount_mg has none: give the values in a table"):
        build_source({"repeat": 2}, doc, SCHEMAS, batch_size=1)


def test_build_table() -> None:
    doc = document(Parameter(name="amount_mg"))
    source = build_source({"table": [{"amount_mg": "5"}, {"amount_mg": 7}]}, doc, SCHEMAS, 1)
    assert source.total == 2
    assert [s.params for it in drain(source) for s in it.samples] == [
        {"amount_mg": 5},
        {"amount_mg": 7},
    ]


def test_build_campaign_checks_the_campaign() -> None:
    # The campaign's own checks are tests/runtime/test_campaign.py's; here: it is one of the modes.
    with pytest.raises(InvalidInput) as error:
        build_source({"campaign": {"budget": 3}}, document(), {}, 1)
    assert {f["field"] for f in fields_of(error)} == {
        "mode.campaign.parameters",
        "mode.campaign.objectives",
    }


@pytest.mark.parametrize(
    ("mode", "batch_size", "field"),
    [
        ({"repeat": -1}, 1, "mode.repeat"),
        ({"repeat": True}, 1, "mode.repeat"),
        ({"repeat": "3"}, 1, "mode.repeat"),
        ({"table": {"amount_mg": 1}}, 1, "mode.table"),
        ({"table": [1]}, 1, "rows[1]"),
        ({"sweep": 3}, 1, "mode"),
        ({}, 1, "mode"),
        ({"repeat": 1, "table": []}, 1, "mode"),
        ({"repeat": 1}, 0, "batch_size"),
    ],
)
def test_build_refuses_bad_modes(mode: dict[str, Any], batch_size: int, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        build_source(mode, document(), {}, batch_size)
    assert fields_of(error)[0]["field"] == field
