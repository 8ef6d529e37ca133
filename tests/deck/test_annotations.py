"""Enum and Literal rewriting: each rule of `annotations.py`, proven through a converter.

This module uses `from __future__ import annotations`, so every function below has string
annotations: resolving them is part of what is tested.
"""

from __future__ import annotations

from enum import Enum, IntEnum
from typing import Annotated, Any, Literal, Optional, Union

import pytest
from pydantic import Field

from labdeck.deck.annotations import enum_json_schema
from tests.deck.helpers import fields_of, spec, value_of


class Solvent(Enum):
    WATER = "water"
    ETHANOL = "ethanol"


class Speed(IntEnum):
    SLOW = 1
    FAST = 3


class Corner(Enum):
    """Values that are not JSON: forms show and send names."""

    TOP_LEFT = (0, 0)
    BOTTOM_RIGHT = (7, 11)


class Swapped(Enum):
    """A name that is also another member's value: the value wins."""

    A = "B"
    B = "C"


# --- literals -------------------------------------------------------------------------------


def takes_int_literal(x: Literal[1, 2, 3]) -> None: ...
def takes_str_literal(x: Literal["a", "b"]) -> None: ...
def takes_literal_or_str(x: Literal[1, 2] | str) -> None: ...


@pytest.mark.parametrize("raw", [3, "3", 3.0, "3.0"])
def test_int_literal_accepts_the_value_or_its_numeric_string_and_passes_the_int(raw: Any) -> None:
    value = value_of(takes_int_literal, raw)
    assert value == 3
    assert type(value) is int


@pytest.mark.parametrize("raw", [4, "4", True, "three", " 3", "03", None, "\u0663", "\uff13"])
def test_int_literal_rejects_anything_else(raw: Any) -> None:
    (error,) = fields_of(takes_int_literal, {"x": raw})
    assert error["field"] == "x"
    assert error["type"] == "literal_error"


def test_str_literal_passes_the_string_and_rejects_others() -> None:
    assert value_of(takes_str_literal, "a") == "a"
    assert fields_of(takes_str_literal, {"x": "c"})[0]["type"] == "literal_error"
    assert spec(takes_str_literal).params_schema["properties"]["x"]["enum"] == ["a", "b"]


def test_literal_inside_a_union_with_str_keeps_the_string() -> None:
    assert value_of(takes_literal_or_str, "1") == "1"
    assert value_of(takes_literal_or_str, 1) == 1


# --- enums ----------------------------------------------------------------------------------


def takes_solvent(x: Solvent) -> None: ...
def takes_optional_solvent(x: Optional[Solvent] = None) -> None: ...  # noqa: UP045
def takes_solvents(x: list[Solvent]) -> None: ...
def takes_solvent_map(x: dict[str, Solvent]) -> None: ...
def takes_solvent_or_str(x: Union[Solvent, str]) -> None: ...  # noqa: UP007
def takes_annotated_solvent(x: Annotated[Solvent, Field(description="Which one.")]) -> None: ...
def takes_speed(x: Speed) -> None: ...
def takes_corner(x: Corner = Corner.TOP_LEFT) -> None: ...
def takes_swapped(x: Swapped) -> None: ...


@pytest.mark.parametrize("raw", ["WATER", "water", Solvent.WATER])
def test_enum_accepts_member_name_or_value_and_passes_the_member(raw: Any) -> None:
    assert value_of(takes_solvent, raw) is Solvent.WATER


def test_enum_inside_optional_list_dict_union_and_annotated() -> None:
    assert value_of(takes_optional_solvent, "ETHANOL") is Solvent.ETHANOL
    assert value_of(takes_optional_solvent, None) is None
    assert value_of(takes_solvents, ["WATER", "ethanol"]) == [Solvent.WATER, Solvent.ETHANOL]
    assert value_of(takes_solvent_map, {"a": "ETHANOL"}) == {"a": Solvent.ETHANOL}
    assert value_of(takes_solvent_or_str, "WATER") is Solvent.WATER
    assert value_of(takes_solvent_or_str, "acetone") == "acetone"
    assert value_of(takes_annotated_solvent, "water") is Solvent.WATER


@pytest.mark.parametrize("raw", [3, "3", "FAST"])
def test_int_enum_accepts_the_value_its_string_form_or_the_name(raw: Any) -> None:
    assert value_of(takes_speed, raw) is Speed.FAST


@pytest.mark.parametrize("raw", [True, "2", "fast", 2])
def test_enum_rejects_what_is_neither_name_nor_value(raw: Any) -> None:
    (error,) = fields_of(takes_speed, {"x": raw})
    assert error["type"] == "enum"
    assert "SLOW (1)" in error["message"]


def test_enum_value_wins_over_a_member_name() -> None:
    assert value_of(takes_swapped, "B") is Swapped.A
    assert value_of(takes_swapped, "A") is Swapped.A


def test_enum_schema_is_inline_with_values_and_names() -> None:
    assert spec(takes_solvent).params_schema["properties"]["x"] == {
        "title": "Solvent",
        "enum": ["water", "ethanol"],
        "x-enum-names": ["WATER", "ETHANOL"],
        "type": "string",
    }
    assert enum_json_schema(Speed)["type"] == "integer"
    nested = spec(takes_solvents).params_schema
    assert "$defs" not in nested
    assert nested["properties"]["x"]["items"]["x-enum-names"] == ["WATER", "ETHANOL"]
    described = spec(takes_annotated_solvent).params_schema["properties"]["x"]
    assert (described["description"], described["enum"]) == ("Which one.", ["water", "ethanol"])


def test_enum_with_non_json_values_uses_names_only() -> None:
    prop = spec(takes_corner).params_schema["properties"]["x"]
    assert prop["enum"] == prop["x-enum-names"] == ["TOP_LEFT", "BOTTOM_RIGHT"]
    assert prop["default"] == "TOP_LEFT"
    assert value_of(takes_corner, "BOTTOM_RIGHT") is Corner.BOTTOM_RIGHT
    # The recorded form of a member ([7, 11]) is accepted back, so records can be replayed.
    assert value_of(takes_corner, [7, 11]) is Corner.BOTTOM_RIGHT
