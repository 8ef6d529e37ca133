"""JSON Schemas of annotations: inline, and None for what JSON cannot express."""

from __future__ import annotations

from enum import Enum
from typing import BinaryIO

from labdeck.deck.annotations import enum_json_schema
from labdeck.deck.jsonschema import schema_for


class Solvent(Enum):
    WATER = "water"
    ETHANOL = "ethanol"


class Opaque:
    """An arbitrary class: no JSON value can become one."""


def test_schema_for_is_inline_and_none_for_non_json_types() -> None:
    assert schema_for(list[Solvent]) == {
        "type": "array",
        "items": enum_json_schema(Solvent),
    }
    assert schema_for(BinaryIO) is None
    assert schema_for(type[Opaque]) is None
