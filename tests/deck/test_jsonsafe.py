"""`to_jsonable`: whatever a driver takes or returns can be recorded as strict JSON."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import itertools
import json
import math
import uuid
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from labdeck.deck.jsonsafe import MAX_REPR_CHARS, to_jsonable


class Solvent(Enum):
    WATER = "water"
    AIR = float("nan")
    GRID = (1, 2)


@dataclasses.dataclass
class Reading:
    value: float
    when: datetime.date


class Sample(BaseModel):
    name: str
    solvent: Solvent


class FakeArray:
    """Quacks like a numpy array: converted through `.tolist()`."""

    def tolist(self) -> list[Any]:
        return [[1.0, math.inf], [2, None]]


class Anything:
    """Answers every attribute, like a mock or a remote proxy."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self

    def __repr__(self) -> str:
        return "<Anything>"


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def strict_json(value: Any) -> str:
    return json.dumps(value, allow_nan=False)


def test_enum_members_become_their_json_safe_value() -> None:
    assert to_jsonable(Solvent.WATER) == "water"
    assert to_jsonable(Solvent.AIR) == "NaN"
    assert to_jsonable(Solvent.GRID) == [1, 2]


def test_non_finite_floats_become_strings_everywhere() -> None:
    assert to_jsonable([math.nan, math.inf, -math.inf, 1.5]) == [
        "NaN",
        "Infinity",
        "-Infinity",
        1.5,
    ]
    assert to_jsonable({"x": (math.inf,)}) == {"x": ["Infinity"]}


def test_mapping_keys_become_strings() -> None:
    converted = to_jsonable({1: "a", None: "b", False: "c", Solvent.WATER: "d", (1, 2): "e"})
    assert converted == {"1": "a", "null": "b", "false": "c", "water": "d", "[1, 2]": "e"}
    assert to_jsonable({2.5: 1, math.inf: 2}) == {"2.5": 1, "Infinity": 2}


def test_sets_become_sorted_lists_and_tuples_lists() -> None:
    assert to_jsonable({3, 1, 2}) == [1, 2, 3]
    assert to_jsonable(frozenset({"b", "a"})) == ["a", "b"]
    assert to_jsonable((1, (2, 3))) == [1, [2, 3]]
    assert sorted(to_jsonable({1, "a"}), key=str) == [1, "a"]  # unsortable: any order


def test_standard_types_use_pydantics_json_form() -> None:
    when = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)
    ident = uuid.UUID(int=1)
    assert to_jsonable(when) == "2024-05-01T12:30:00Z"
    assert to_jsonable(datetime.timedelta(seconds=90)) == "PT1M30S"
    assert to_jsonable(ident) == str(ident)
    assert to_jsonable(PurePosixPath("/data/run.csv")) == "/data/run.csv"
    assert to_jsonable(Path("/data/run.csv")) == str(Path("/data/run.csv"))
    assert to_jsonable(decimal.Decimal("1.25")) == "1.25"
    assert to_jsonable(b"abc") == "abc"


def test_bytes_that_are_not_text_become_their_repr() -> None:
    assert to_jsonable(b"\xff\x00") == repr(b"\xff\x00")


def test_models_and_dataclasses_become_dicts_with_safe_values() -> None:
    reading = Reading(value=math.nan, when=datetime.date(2024, 1, 2))
    assert to_jsonable(reading) == {"value": "NaN", "when": "2024-01-02"}
    assert to_jsonable(Sample(name="s1", solvent=Solvent.WATER)) == {
        "name": "s1",
        "solvent": "water",
    }


def test_array_likes_go_through_tolist() -> None:
    assert to_jsonable(FakeArray()) == [[1.0, "Infinity"], [2, None]]


def test_unknown_objects_become_a_truncated_repr() -> None:
    class Long:
        def __repr__(self) -> str:
            return "x" * 5000

    assert to_jsonable(object()).startswith("<object object at")
    assert to_jsonable(Long()) == "x" * MAX_REPR_CHARS
    assert to_jsonable(BrokenRepr()) == "<unrepresentable BrokenRepr>"
    assert to_jsonable(1 + 2j) == "1+2j"


def test_objects_that_answer_every_attribute_are_not_mistaken_for_arrays() -> None:
    assert to_jsonable(Anything()) == "<Anything>"
    assert to_jsonable({"proxy": Anything()}) == {"proxy": "<Anything>"}


def test_iterators_are_not_drained() -> None:
    counter = itertools.count()
    assert to_jsonable(counter) == repr(counter)
    generator = (n for n in range(3))
    to_jsonable(generator)
    assert list(generator) == [0, 1, 2]


def test_self_referencing_structures_do_not_recurse_forever() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    strict_json(to_jsonable(loop))


json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary(max_size=20)
    | st.decimals()
    | st.datetimes()
    | st.uuids()
    | st.complex_numbers()
    | st.sampled_from(Solvent)
    | st.builds(object)
)
hashable_keys = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
python_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.frozensets(hashable_keys, max_size=4)
        | st.dictionaries(hashable_keys, children, max_size=4)
    ),
    max_leaves=20,
)


@given(python_values)
def test_output_always_survives_strict_json(value: Any) -> None:
    converted = to_jsonable(value)
    assert json.loads(strict_json(converted)) == converted
    assert to_jsonable(converted) == converted
