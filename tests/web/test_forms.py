"""Widget rules of generated forms and the conversion of submitted forms to call arguments."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labdeck.deck.schema import ParamInfo
from labdeck.web.forms import EXTRA_FIELD, FormField, form_fields, form_to_args


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict:
    return {"type": "object", "properties": properties, "required": required or [], **extra}


def only(schema: dict[str, Any], params: list[ParamInfo] | None = None) -> FormField:
    [field] = form_fields(schema, params or [])
    return field


SOLVENT = {
    "enum": ["water", "methanol"],
    "x-enum-names": ["WATER", "METHANOL"],
    "title": "Solvent",
    "type": "string",
}

# --- widgets ------------------------------------------------------------------------------------


def test_float_with_limits_is_a_number_input_with_any_step() -> None:
    field = only(
        obj(
            {"volume_ml": {"type": "number", "exclusiveMinimum": 0, "maximum": 20}},
            ["volume_ml"],
        )
    )
    assert field.widget == "number"
    assert field.step == "any"
    assert (field.minimum, field.maximum) == (0, 20)
    assert field.required
    assert not field.nullable
    assert not field.optional
    assert field.type_hint == "number above 0, at most 20"
    assert field.default == ""


def test_int_with_default_is_a_whole_number_prefilled() -> None:
    field = only(obj({"cycles": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1}}))
    assert field.widget == "number"
    assert field.step == "1"
    assert field.type_hint == "whole number from 1 to 10"
    assert field.default == "1"
    assert field.optional


def test_float_default_without_trailing_zero() -> None:
    field = only(obj({"rate": {"type": "number", "default": 5.0}}))
    assert field.default == "5"
    assert only(obj({"rate": {"type": "number", "default": 0.25}})).default == "0.25"


def test_one_sided_limits_read_naturally() -> None:
    assert only(obj({"x": {"type": "number", "minimum": 0}})).type_hint == "number at least 0"
    assert only(obj({"x": {"type": "integer", "exclusiveMaximum": 5}})).type_hint == (
        "whole number below 5"
    )
    assert only(obj({"x": {"type": "number"}})).type_hint == "number"


def test_enum_is_a_select_showing_names_and_submitting_values() -> None:
    field = only(obj({"solvent": {**SOLVENT, "default": "water"}}))
    assert field.widget == "select"
    # A name that is the value in capitals reads better as the value.
    assert field.options == [("water", '"water"'), ("methanol", '"methanol"')]
    assert field.default == '"water"'
    assert field.type_hint == "one of water / methanol"


def test_enum_names_that_differ_from_values_are_shown() -> None:
    schema = {"enum": [1, 2], "x-enum-names": ["LOW", "HIGH"], "type": "integer"}
    field = only(obj({"level": schema}, ["level"]))
    assert field.options == [("LOW", "1"), ("HIGH", "2")]


def test_literal_and_const_are_selects() -> None:
    literal = only(obj({"mode": {"enum": ["absorbance", "transmittance"], "type": "string"}}))
    assert literal.widget == "select"
    assert [label for label, _ in literal.options] == ["absorbance", "transmittance"]
    const = only(obj({"unit": {"const": "mg", "type": "string"}}))
    assert const.widget == "select"
    assert const.options == [("mg", '"mg"')]


def test_many_options_are_counted_not_listed() -> None:
    field = only(obj({"n": {"enum": list(range(10))}}))
    assert field.type_hint == "one of 10 choices"


def test_bool_is_a_checkbox() -> None:
    field = only(obj({"vent": {"type": "boolean", "default": True}}))
    assert field.widget == "checkbox"
    assert field.default == "true"
    assert only(obj({"vent": {"type": "boolean"}}, ["vent"])).default == ""


def test_string_is_text() -> None:
    field = only(obj({"label": {"type": "string", "default": "sample"}}))
    assert (field.widget, field.default, field.type_hint) == ("text", "sample", "text")


def test_optional_enum_is_a_select_with_a_none_choice() -> None:
    field = only(obj({"solvent": {"anyOf": [SOLVENT, {"type": "null"}], "default": None}}))
    assert field.widget == "select"
    assert field.nullable
    assert field.optional
    assert field.options[0] == ("— none —", "")
    assert field.default == ""


def test_optional_number_may_be_left_blank() -> None:
    field = only(obj({"seed": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}}))
    assert field.widget == "number"
    assert field.nullable
    assert field.step == "1"


def test_optional_bool_is_a_three_way_select() -> None:
    field = only(obj({"vent": {"anyOf": [{"type": "boolean"}, {"type": "null"}]}}))
    assert field.widget == "select"
    assert field.options == [("— none —", ""), ("yes", "true"), ("no", "false")]


def test_type_list_with_null_is_optional() -> None:
    field = only(obj({"x": {"type": ["number", "null"]}}))
    assert (field.widget, field.nullable) == ("number", True)


def test_lists_dicts_tuples_sets_and_unknowns_are_json() -> None:
    schema = obj(
        {
            "wells": {"type": "array", "items": {"type": "string"}},
            "volumes": {"type": "array", "items": {"type": "number"}},
            "point": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}]},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            "amounts": {"type": "object", "additionalProperties": {"type": "number"}},
            "anything": {},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        }
    )
    fields = {field.name: field for field in form_fields(schema)}
    assert {field.widget for field in fields.values()} == {"json"}
    assert fields["wells"].type_hint == "list of text values (JSON)"
    assert fields["wells"].placeholder == '["A1", "B12"]'
    assert fields["volumes"].type_hint == "list of numbers (JSON)"
    assert fields["point"].type_hint == "list of 2 values (JSON)"
    assert fields["tags"].type_hint == "list of distinct text values (JSON)"
    assert fields["amounts"].type_hint == "names mapped to numbers (JSON object)"
    assert fields["anything"].type_hint.startswith("any JSON value")


def test_json_default_is_prefilled_as_json() -> None:
    field = only(obj({"wells": {"type": "array", "items": {"type": "string"}, "default": ["A1"]}}))
    assert field.default == '["A1"]'


def test_ref_into_defs_is_followed() -> None:
    schema = obj(
        {"solvent": {"$ref": "#/$defs/Solvent", "default": "methanol"}},
        **{"$defs": {"Solvent": SOLVENT}},
    )
    field = only(schema)
    assert field.widget == "select"
    assert field.default == '"methanol"'


def test_allof_wrapper_and_optional_ref() -> None:
    schema = obj(
        {
            "a": {"allOf": [{"$ref": "#/$defs/Solvent"}], "default": "water"},
            "b": {"anyOf": [{"$ref": "#/$defs/Solvent"}, {"type": "null"}], "default": None},
        },
        **{"$defs": {"Solvent": SOLVENT}},
    )
    a, b = form_fields(schema)
    assert (a.widget, a.default, a.nullable) == ("select", '"water"', False)
    assert (b.widget, b.nullable) == ("select", True)


def test_params_give_order_docs_and_defaults() -> None:
    schema = obj(
        {"b": {"type": "number"}, "a": {"type": "integer", "default": 3}},
        ["b"],
    )
    params = [
        ParamInfo(name="a", doc="First.", required=False, default=3),
        ParamInfo(name="b", doc="Second.", required=True),
    ]
    a, b = form_fields(schema, params)
    assert (a.name, a.doc, a.default) == ("a", "First.", "3")
    assert (b.name, b.doc, b.required) == ("b", "Second.", True)


def test_description_is_the_doc_without_params() -> None:
    field = only(obj({"x": {"type": "number", "description": "How far."}}))
    assert field.doc == "How far."


def test_kwargs_offer_an_extra_json_field() -> None:
    fields = form_fields(obj({"x": {"type": "number"}}, additionalProperties=True))
    assert [field.name for field in fields] == ["x", EXTRA_FIELD]
    assert fields[1].widget == "json"
    assert form_fields(obj({}, additionalProperties=False)) == []
    assert form_fields(obj({})) == []
    assert [f.name for f in form_fields(obj({}), extra=True)] == [EXTRA_FIELD]


# --- form → args --------------------------------------------------------------------------------

DISPENSE = obj(
    {
        "volume_ml": {"type": "number", "exclusiveMinimum": 0, "maximum": 20},
        "solvent": {**SOLVENT, "default": "water"},
        "rate_ml_min": {"type": "number", "default": 5.0},
    },
    ["volume_ml"],
)


def test_numbers_stay_strings_and_selects_send_values() -> None:
    args, problems = form_to_args(
        DISPENSE, {"volume_ml": "3.5", "solvent": '"methanol"', "rate_ml_min": "5"}
    )
    assert problems == []
    assert args == {"volume_ml": "3.5", "solvent": "methanol", "rate_ml_min": "5"}


def test_numeric_enum_values_are_sent_as_numbers() -> None:
    schema = obj({"level": {"enum": [1, 2.5], "x-enum-names": ["LOW", "HIGH"]}}, ["level"])
    args, problems = form_to_args(schema, {"level": "2.5"})
    assert (args, problems) == ({"level": 2.5}, [])
    assert isinstance(form_to_args(schema, {"level": "1"})[0]["level"], int)


def test_unknown_select_value_is_a_field_problem() -> None:
    args, problems = form_to_args(DISPENSE, {"volume_ml": "1", "solvent": '"gin"'})
    assert args == {"volume_ml": "1"}
    assert problems == [
        {"field": "solvent", "message": "choose one of the listed options", "type": "enum"}
    ]


def test_blank_optional_is_omitted_and_blank_required_is_a_problem() -> None:
    args, problems = form_to_args(DISPENSE, {"volume_ml": " ", "rate_ml_min": ""})
    assert args == {}
    assert problems == [
        {"field": "volume_ml", "message": "required: enter a value", "type": "missing"}
    ]


def test_blank_optional_with_none_default_is_omitted() -> None:
    schema = obj({"seed": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}})
    assert form_to_args(schema, {"seed": ""}) == ({}, [])
    assert form_to_args(schema, {"seed": "7"}) == ({"seed": "7"}, [])


def test_blank_required_nullable_is_sent_as_null() -> None:
    schema = obj({"seed": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}, ["seed"])
    assert form_to_args(schema, {"seed": ""}) == ({"seed": None}, [])
    schema_with_default = obj({"s": {"anyOf": [SOLVENT, {"type": "null"}], "default": "water"}})
    assert form_to_args(schema_with_default, {"s": ""}) == ({"s": None}, [])


def test_checkbox_unchecked_is_false_checked_is_true() -> None:
    schema = obj({"vent": {"type": "boolean", "default": True}})
    # The page puts a hidden "false" before the checkbox, so a checked box submits both.
    assert form_to_args(schema, {"vent": ["false", "true"]}) == ({"vent": True}, [])
    assert form_to_args(schema, {"vent": ["false"]}) == ({"vent": False}, [])


def test_optional_bool_select() -> None:
    schema = obj({"vent": {"anyOf": [{"type": "boolean"}, {"type": "null"}], "default": None}})
    assert form_to_args(schema, {"vent": "false"}) == ({"vent": False}, [])
    assert form_to_args(schema, {"vent": ""}) == ({}, [])


def test_text_is_sent_as_typed() -> None:
    schema = obj({"label": {"type": "string"}}, ["label"])
    assert form_to_args(schema, {"label": " run 1 "}) == ({"label": " run 1 "}, [])


def test_json_fields_are_parsed() -> None:
    schema = obj(
        {
            "wells": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
            "anything": {},
        }
    )
    args, problems = form_to_args(schema, {"wells": '["A1", "B12"]', "anything": "5"})
    assert problems == []
    assert args == {"wells": ["A1", "B12"], "anything": 5}


def test_invalid_json_is_a_field_problem() -> None:
    schema = obj({"wells": {"type": "array"}}, ["wells"])
    args, problems = form_to_args(schema, {"wells": '["A1",'})
    assert args == {}
    [problem] = problems
    assert problem["field"] == "wells"
    assert problem["type"] == "json_invalid"
    assert problem["message"].startswith("not valid JSON: ")


def test_missing_fields_are_omitted_and_unknown_ones_ignored() -> None:
    assert form_to_args(DISPENSE, {"volume_ml": "1", "__force__": "true", "x": "1"}) == (
        {"volume_ml": "1"},
        [],
    )


def test_extra_arguments_are_merged() -> None:
    schema = obj({"x": {"type": "number"}}, additionalProperties={"type": "number"})
    args, problems = form_to_args(schema, {"x": "1", EXTRA_FIELD: '{"speed": 2}'})
    assert (args, problems) == ({"x": "1", "speed": 2}, [])
    assert form_to_args(schema, {EXTRA_FIELD: ""}) == ({}, [])
    assert form_fields(schema)[-1].type_hint == "names mapped to numbers (JSON object)"


def test_extra_arguments_must_be_an_object_and_not_shadow_fields() -> None:
    schema = obj({"x": {"type": "number"}}, additionalProperties=True)
    _, problems = form_to_args(schema, {EXTRA_FIELD: "[1]"})
    assert [p["type"] for p in problems] == ["dict_type"]
    _, problems = form_to_args(schema, {"x": "1", EXTRA_FIELD: json.dumps({"x": 2})})
    assert [p["field"] for p in problems] == [EXTRA_FIELD]


def test_extra_field_is_ignored_when_kwargs_are_not_accepted() -> None:
    assert form_to_args(DISPENSE, {"volume_ml": "1", EXTRA_FIELD: '{"a": 1}'}) == (
        {"volume_ml": "1"},
        [],
    )


@pytest.mark.parametrize(
    ("instrument", "method"),
    [("dispenser", "dispense"), ("plate_reader", "read_absorbance"), ("dispenser", "refill")],
)
def test_demo_defaults_round_trip(demo_deck: Any, instrument: str, method: str) -> None:
    """Submitting a demo form as pre-filled gives arguments the method's converter accepts."""
    schema = demo_deck.schema.instruments[instrument].methods[method]
    fields = form_fields(schema.params_schema, schema.params)
    form = {
        f.name: f.default if f.has_default else (f.options[0][1] if f.options else "1")
        for f in fields
    }
    args, problems = form_to_args(schema.params_schema, form)
    assert problems == []
    demo_deck.method(instrument, method).convert(args)
