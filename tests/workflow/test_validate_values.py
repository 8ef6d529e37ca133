"""The literal checker and parameter types (workflow/validate_values.py).

The checker sees only JSON Schemas, yet must accept what direct calls accept: the property
tests compare it with the pydantic conversion of the same annotations (`deck/annotations.py`
rewriting included), on the schema introspection emits for each.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from labdeck.deck.annotations import rewrite_annotation
from labdeck.deck.jsonschema import schema_for
from labdeck.workflow.validate_values import (
    describe_type,
    element_schema,
    literal_errors,
    type_key,
)


class Color(enum.Enum):
    RED = 1
    BLUE = 2


class Solvent(enum.StrEnum):
    WATER = "water"
    METHANOL = "methanol"


class Plate(BaseModel):
    rows: int
    wells: list[str] = []


ANNOTATIONS: list[Any] = [
    int,
    float,
    bool,
    str,
    type(None),
    int | None,
    int | str,
    list[int],
    tuple[int, str],
    tuple[float, ...],
    dict[str, float],
    dict[str, list[int]],
    set[int],
    Color,
    Solvent,
    Solvent | None,
    list[Color],
    Literal["a", 3],
    Literal[3],
    Annotated[float, Field(gt=0, le=20)],
    Annotated[int, Field(ge=1, le=10)],
    Annotated[float, Field(multiple_of=0.5)],
    Annotated[str, Field(min_length=2, max_length=4, pattern=r"^[A-H][0-9]+$")],
    list[str] | None,
    Plate,
    Any,
]
SPELLED = [
    *("1", " 2 ", "1.0", "1.5", "1e3", "01", "1_000", "1__0", "5.", ".5", "+3", "-0", "0x1"),
    *("inf", "nan", "Infinity", "yes", "off", "TRUE", " true", "t", "RED", "BLUE", "2"),
    *("water", "METHANOL", "Water", "a", "3", "3.0", "A12", "Z1", "A", ""),
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-50, 50),
    st.floats(-100, 100),
    st.sampled_from(SPELLED),
    st.from_regex(r" ?[+-]?[0-9_.eE]{1,6} ?", fullmatch=True),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["rows", "wells", "a"]), inner, max_size=2),
    ),
    max_leaves=5,
)


def pydantic_accepts(annotation: Any, value: Any) -> bool:
    try:
        TypeAdapter(rewrite_annotation(annotation)).validate_python(value)
    except ValidationError:
        return False
    return True


def checker_accepts(annotation: Any, value: Any) -> bool:
    schema = schema_for(annotation)
    assert schema is not None
    return not literal_errors(value, schema, schema.get("$defs"))


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(ANNOTATIONS), JSON)
def test_the_checker_agrees_with_the_conversion_of_direct_calls(
    annotation: Any, value: Any
) -> None:
    assert checker_accepts(annotation, value) == pydantic_accepts(annotation, value)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from([int, float, bool, int | None]), st.text(max_size=8))
def test_no_false_alarm_on_any_text(annotation: Any, text: str) -> None:
    if pydantic_accepts(annotation, text):
        assert checker_accepts(annotation, text)


DISPENSE_VOLUME = {"type": "number", "exclusiveMinimum": 0, "maximum": 20}
SOLVENT = schema_for(Solvent)


@pytest.mark.parametrize(
    ("value", "schema", "message"),
    [
        (25, DISPENSE_VOLUME, "must be at most 20, not 25"),
        (0, DISPENSE_VOLUME, "must be greater than 0, not 0"),
        ("lots", DISPENSE_VOLUME, 'must be a number, not "lots"'),
        (2.5, {"type": "integer"}, "must be a whole number, not 2.5"),
        (True, {"type": "string"}, "must be text, not true"),
        ("juice", SOLVENT, '"juice" is not a Solvent: use a name or value: WATER ("water")'),
        ("b", {"enum": ["a", 3]}, 'must be one of "a", 3, not "b"'),
        (4, {"const": 3}, "must be one of 3, not 4"),
        (["A1", 2], {"type": "array", "items": {"type": "string"}}, "at [1]: must be text"),
        ([1, 2, 3], {"type": "array", "maxItems": 2}, "must have at most 2 items, not 3"),
        ("Z1", {"type": "string", "pattern": "^[A-H]"}, "must match the pattern ^[A-H]"),
        ("A", {"type": "string", "minLength": 2}, "at least 2 characters"),
        ({"b": 1}, schema_for(Plate), "needs the key 'rows'"),
        (None, schema_for(int), "must be a whole number, not null"),
        (None, schema_for(Solvent | None), None),
        ("juice", schema_for(Solvent | None), '"juice" is not a Solvent'),
        ("x", schema_for(int | None), "must be a whole number"),
        (3, schema_for(int | None), None),
    ],
)
def test_messages_say_what_is_expected(value: Any, schema: Any, message: str | None) -> None:
    errors = literal_errors(value, schema)
    if message is None:
        assert errors == []
    else:
        assert len(errors) >= 1
        assert message in errors[0]


def test_enum_members_by_name_or_value_like_direct_calls() -> None:
    for value in ("METHANOL", "methanol"):
        assert literal_errors(value, SOLVENT) == []
    assert literal_errors("Methanol", SOLVENT)
    color = schema_for(Color)
    for value in ("RED", 1, 1.0, "1"):
        assert literal_errors(value, color) == [], value
    assert literal_errors(True, color)
    assert literal_errors(" 1", color)


def test_recursive_schemas_resolve_their_refs() -> None:
    schema = {
        "$ref": "#/$defs/Tree",
        "$defs": {
            "Tree": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}}},
            }
        },
    }
    defs = schema["$defs"]
    assert literal_errors({"children": [{"children": []}]}, schema, defs) == []
    assert literal_errors({"children": [{"children": 3}]}, schema, defs)
    assert literal_errors({"x": 1}, {"$ref": "#/$defs/Unknown"}) == []


def test_unknown_keywords_and_empty_schemas_accept() -> None:
    assert literal_errors(object(), {}) == []
    assert literal_errors("not-a-date", {"type": "string", "format": "date-time"}) == []
    assert literal_errors(1, {"type": "mystery"}) == []
    assert literal_errors(1, False) == ["no value is allowed here"]


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        (float, float | None, True),
        (Annotated[float, Field(gt=0)], Annotated[float, Field(le=5)], True),
        (int, float, False),
        (int, str, False),
        (Solvent, Solvent | None, True),
        (Solvent, str, False),
        (list[int], list[int] | None, True),
        (list[int], list[float], False),
        (tuple[float, float], list[float], False),
    ],
)
def test_type_keys_ignore_nullability_and_constraints(first: Any, second: Any, same: bool) -> None:
    assert (type_key(schema_for(first)) == type_key(schema_for(second))) is same


def test_type_key_of_anything_is_none() -> None:
    assert type_key({}) is None
    assert type_key(schema_for(Any)) is None
    assert type_key({"anyOf": [{}, {"type": "null"}]}) is None


def test_describe_type() -> None:
    assert describe_type(schema_for(float)) == "a number"
    assert describe_type(schema_for(int | None)) == "a whole number"
    assert describe_type(SOLVENT) == "a Solvent"
    assert describe_type(schema_for(Literal["a", "b"])) == 'one of "a", "b"'
    assert describe_type(schema_for(list[int])) == "a list"
    assert describe_type({}) == "any value"


def test_element_schema_of_list_arguments() -> None:
    assert element_schema(schema_for(list[str] | None)) == {"type": "string"}
    assert element_schema(schema_for(list[int])) == {"type": "integer"}
    assert element_schema(schema_for(float)) is None
    assert element_schema({}) == {}
