"""Argument conversion: one pydantic model per callable, each conversion rule proven here.

The Enum and Literal rules of `annotations.py` are proven in `test_annotations.py`.
This module uses `from __future__ import annotations`, so every function below has string
annotations: resolving them is part of what is tested.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, BinaryIO, Optional, TextIO, Union

import annotated_types
import pytest
from pydantic import BaseModel, Field

from labdeck.deck.convert import (
    build_call_spec,
    make_value_converter,
)
from labdeck.deck.jsonschema import schema_for
from labdeck.errors import InvalidInput
from tests.deck.helpers import call, fields_of, spec, value_of


class Solvent(Enum):
    WATER = "water"
    ETHANOL = "ethanol"


class Opaque:
    """An arbitrary class: no JSON value can become one."""


class Point(BaseModel):
    x: float
    y: float


class Tree(BaseModel):
    label: str
    children: list[Tree] = []


# --- scalars --------------------------------------------------------------------------------


def takes_bool(x: bool) -> None: ...
def takes_int(x: int) -> None: ...
def takes_float(x: float) -> None: ...
def takes_str(x: str) -> None: ...


@pytest.mark.parametrize("raw", ["false", "False", "0", "no", False])
def test_bool_false_spellings_become_false(raw: Any) -> None:
    assert value_of(takes_bool, raw) is False


@pytest.mark.parametrize("raw", ["true", "True", "1", "yes", True])
def test_bool_true_spellings_become_true(raw: Any) -> None:
    assert value_of(takes_bool, raw) is True


def test_numbers_come_from_numeric_strings() -> None:
    assert value_of(takes_int, "5") == 5
    assert type(value_of(takes_int, "5")) is int
    assert value_of(takes_float, "2.5") == 2.5
    assert value_of(takes_float, "1e3") == 1000.0


def test_a_fractional_number_is_not_an_int() -> None:
    assert fields_of(takes_int, {"x": "2.5"})[0]["type"] == "int_parsing"
    assert fields_of(takes_int, {"x": 2.5})[0]["type"] == "int_from_float"


@pytest.mark.parametrize("raw", ["1e3", "'a'", " spaced ", "007", "", "None", "[1, 2]"])
def test_str_parameter_keeps_exactly_the_string_given(raw: str) -> None:
    assert value_of(takes_str, raw) == raw


def test_str_parameter_does_not_turn_a_number_into_text() -> None:
    assert fields_of(takes_str, {"x": 5})[0]["type"] == "string_type"


# --- unions and optionals -------------------------------------------------------------------


def takes_int_or_str(x: Union[int, str]) -> None: ...  # noqa: UP007 - the spelling under test
def takes_float_or_str(x: float | str) -> None: ...
def takes_optional_int(x: Optional[int] = 1) -> None: ...  # noqa: UP045
def takes_optional_str(x: str | None) -> None: ...


def test_union_with_str_never_converts_a_string() -> None:
    assert value_of(takes_int_or_str, "5") == "5"
    assert value_of(takes_int_or_str, 5) == 5
    assert value_of(takes_float_or_str, "1.5") == "1.5"
    assert value_of(takes_optional_str, "007") == "007"


def test_optional_accepts_null() -> None:
    assert value_of(takes_optional_int, None) is None
    assert value_of(takes_optional_int, "7") == 7


# --- containers -----------------------------------------------------------------------------


def takes_list(x: list[int]) -> None: ...
def takes_tuple(x: tuple[int, str]) -> None: ...
def takes_set(x: set[int]) -> None: ...
def takes_dict(x: dict[str, float]) -> None: ...
def takes_nested(x: list[dict[str, int]]) -> None: ...


def test_containers_convert_their_items() -> None:
    assert value_of(takes_list, [1, "2"]) == [1, 2]
    assert value_of(takes_tuple, [1, "x"]) == (1, "x")
    assert value_of(takes_set, [1, 2, 2]) == {1, 2}
    assert value_of(takes_dict, {"a": "1.5"}) == {"a": 1.5}
    assert value_of(takes_nested, [{"a": "1"}]) == [{"a": 1}]


def test_an_error_inside_a_container_names_the_dotted_path() -> None:
    (error,) = fields_of(takes_list, {"x": [1, "two"]})
    assert error["field"] == "x.1"
    assert error["type"] == "int_parsing"
    (error,) = fields_of(takes_nested, {"x": [{"a": 1}, {"b": "no"}]})
    assert error["field"] == "x.1.b"


def test_union_branch_tags_are_not_part_of_the_field_path() -> None:
    errors = fields_of(takes_optional_int, {"x": "nope"})
    assert {error["field"] for error in errors} == {"x"}


# --- constraints and schema -------------------------------------------------------------------


def takes_percent(x: Annotated[float, Field(ge=0, le=100)]) -> None: ...
def takes_positive(x: Annotated[int, annotated_types.Gt(0), annotated_types.Lt(10)]) -> None: ...


def test_field_constraints_are_enforced_and_shown() -> None:
    assert value_of(takes_percent, "50") == 50.0
    assert fields_of(takes_percent, {"x": 150})[0]["type"] == "less_than_equal"
    assert fields_of(takes_percent, {"x": -1})[0]["type"] == "greater_than_equal"
    prop = spec(takes_percent).params_schema["properties"]["x"]
    assert (prop["minimum"], prop["maximum"]) == (0, 100)


def test_annotated_types_constraints_are_enforced_and_shown() -> None:
    assert fields_of(takes_positive, {"x": 0})[0]["type"] == "greater_than"
    prop = spec(takes_positive).params_schema["properties"]["x"]
    assert (prop["exclusiveMinimum"], prop["exclusiveMaximum"]) == (0, 10)


def documented(
    volume: float, solvent: Solvent = Solvent.ETHANOL, when: Any = datetime.date(2024, 1, 1)
) -> None: ...


def test_params_schema_is_a_closed_object_with_required_names_and_json_defaults() -> None:
    schema = build_call_spec(documented, target="t", param_docs={"volume": "In mL."})
    params_schema = schema.params_schema
    assert params_schema["type"] == "object"
    assert params_schema["required"] == ["volume"]
    assert params_schema["additionalProperties"] is False
    props = params_schema["properties"]
    assert props["volume"]["description"] == "In mL."
    assert props["solvent"]["default"] == "ethanol"
    assert "default" not in props["when"]  # a date is not a JSON value
    assert [(p.name, p.required, p.default) for p in schema.params] == [
        ("volume", True, None),
        ("solvent", False, "ethanol"),
        ("when", False, None),
    ]


def takes_object_default(x: int, marker: object = Opaque()) -> tuple[int, Any]:
    return x, marker


def test_a_non_json_default_is_not_shown_not_required_and_not_passed() -> None:
    # A warning here would fail the test: the suite runs with warnings as errors.
    schema = spec(takes_object_default).params_schema
    assert "default" not in schema["properties"]["marker"]
    assert schema["required"] == ["x"]
    bound = call(takes_object_default, {"x": "1"})
    assert bound.kwargs == {"x": 1}
    assert takes_object_default(*bound.args, **bound.kwargs)[1].__class__ is Opaque


def annotated_default(x: Annotated[Any, Field(default=Opaque())] = 3) -> None: ...


def test_a_default_inside_annotated_field_neither_clashes_nor_warns() -> None:
    described = spec(annotated_default)
    assert described.callable is True
    assert described.params_schema["properties"]["x"]["default"] == 3
    assert schema_for(Annotated[int, Field(default=Opaque())]) == {"type": "integer"}


def takes_anything(x, y=None):  # type: ignore[no-untyped-def]
    return x, y


@pytest.mark.parametrize("raw", ["5", 5, [1, {"b": None}], {"k": "v"}, None, 2.5])
def test_unannotated_parameters_accept_any_json_value_as_is(raw: Any) -> None:
    assert value_of(takes_anything, raw) == raw
    assert spec(takes_anything).params_schema["properties"]["x"] == {"title": "X"}


def takes_point(p: Point, tree: Optional[Tree] = None) -> None: ...  # noqa: UP045


def test_model_parameters_are_inlined_and_only_recursion_keeps_defs() -> None:
    schema = spec(takes_point).params_schema
    assert schema["properties"]["p"]["properties"]["x"]["type"] == "number"
    assert "$ref" not in str(schema["properties"]["p"])
    assert set(schema["$defs"]) == {"Tree"}
    assert value_of(takes_point, {"x": "1", "y": 2}, name="p") == Point(x=1, y=2)


# --- which parameters are passed, and how -----------------------------------------------------


def with_defaults(a: int, b: int = 2, c: str = "c") -> tuple[int, int, str]:
    return a, b, c


def test_only_given_parameters_are_passed_so_python_defaults_apply() -> None:
    bound = call(with_defaults, {"a": 1, "c": "z"})
    assert bound.args == ()
    assert bound.kwargs == {"a": 1, "c": "z"}
    assert with_defaults(*bound.args, **bound.kwargs) == (1, 2, "z")


def positional(a: int, b: int = 2, /, c: int = 3) -> tuple[int, int, int]:
    return a, b, c


def all_positional(a: int = 1, b: int = 2, /) -> tuple[int, int]:
    return a, b


def test_positional_only_parameters_are_passed_positionally_in_order() -> None:
    bound = call(positional, {"c": "5", "a": "1"})
    assert (bound.args, bound.kwargs) == ((1,), {"c": 5})
    assert positional(*bound.args, **bound.kwargs) == (1, 2, 5)
    assert [p.kind for p in spec(positional).params] == [
        "positional_only",
        "positional_only",
        "positional_or_keyword",
    ]


def test_a_skipped_positional_only_parameter_gets_its_own_default() -> None:
    bound = call(all_positional, {"b": 5})
    assert bound.args == (1, 5)
    assert all_positional(*bound.args) == (1, 5)


def untyped_kwargs(x: int, **options):  # type: ignore[no-untyped-def]
    return x, options


def typed_kwargs(x: int = 0, **limits: float) -> dict[str, float]:
    return limits


def test_untyped_kwargs_pass_extra_keys_through_as_is() -> None:
    bound = call(untyped_kwargs, {"x": "1", "speed": "fast", "n": [1]})
    assert bound.kwargs == {"x": 1, "speed": "fast", "n": [1]}
    described = spec(untyped_kwargs)
    assert described.accepts_extra is True
    assert described.params_schema["additionalProperties"] is True


def test_typed_kwargs_validate_each_extra() -> None:
    assert call(typed_kwargs, {"low": "1.5"}).kwargs == {"low": 1.5}
    (error,) = fields_of(typed_kwargs, {"low": "cold"})
    assert error["field"] == "low"
    assert error["type"] == "float_parsing"
    assert spec(typed_kwargs).params_schema["additionalProperties"] == {"type": "number"}


def test_unknown_keys_are_reported_per_field_without_kwargs() -> None:
    errors = fields_of(with_defaults, {"a": 1, "speed": 3, "p0": 1})
    assert {(e["field"], e["type"]) for e in errors} == {
        ("speed", "extra_forbidden"),
        ("p0", "extra_forbidden"),  # internal field names are not accepted either
    }


def test_missing_required_parameter_is_reported() -> None:
    assert fields_of(with_defaults, {}) == [
        {"field": "a", "message": "Field required", "type": "missing"}
    ]


@pytest.mark.parametrize("raw", [[1, 2], "a=1", 5, None])
def test_arguments_that_are_not_an_object_are_invalid(raw: Any) -> None:
    (error,) = fields_of(with_defaults, raw)
    assert error["field"] == ""
    assert error["type"] == "model_type"


def star_args(*args: int, x: int) -> tuple[Any, ...]:
    return args


def test_star_args_are_ignored_and_never_required() -> None:
    described = spec(star_args)
    assert list(described.params_schema["properties"]) == ["x"]
    assert described.params_schema["required"] == ["x"]
    assert call(star_args, {"x": 1}).kwargs == {"x": 1}


def clashing(
    model_config: int,
    schema: str,
    json: bool,
    copy: float,
    validate: list[int],
    _private: int = 0,
    model_fields: Optional[str] = None,  # noqa: UP045
) -> None: ...


def test_parameter_names_that_clash_with_basemodel_work() -> None:
    args = {
        "model_config": "1",
        "schema": "s",
        "json": "no",
        "copy": "2.5",
        "validate": ["3"],
        "_private": 4,
        "model_fields": "m",
    }
    bound = call(clashing, args)
    assert bound.kwargs == {
        "model_config": 1,
        "schema": "s",
        "json": False,
        "copy": 2.5,
        "validate": [3],
        "_private": 4,
        "model_fields": "m",
    }
    assert list(spec(clashing).params_schema["properties"]) == list(args)


def takes_solvents(x: list[Solvent]) -> None: ...


def test_recorded_arguments_are_json_safe_and_keyed_by_parameter_name() -> None:
    assert call(takes_solvents, {"x": ["WATER"]}).recorded == {"x": ["water"]}
    assert call(takes_tuple, {"x": [1, "a"]}).recorded == {"x": [1, "a"]}
    assert call(takes_set, {"x": [3, 1]}).recorded == {"x": [1, 3]}
    assert call(untyped_kwargs, {"x": 1, "extra": "e"}).recorded == {"x": 1, "extra": "e"}


# --- what cannot come from JSON -------------------------------------------------------------


def reads_file(f: BinaryIO) -> None: ...
def writes_text(out: TextIO, mode: str = "w") -> None: ...
def takes_callback(callback: Callable[[int], None]) -> None: ...
def takes_lock(lock: threading.Lock) -> None: ...
def takes_opaque(thing: Opaque, n: int) -> None: ...
def takes_class(kind: type[Opaque]) -> None: ...


@pytest.mark.parametrize(
    ("func", "reason"),
    [
        (reads_file, "parameter 'f': type BinaryIO cannot be given as JSON"),
        (writes_text, "parameter 'out': type TextIO cannot be given as JSON"),
        (takes_callback, "parameter 'callback': type Callable[[int], None] cannot be given"),
        (takes_lock, "parameter 'lock': type threading.Lock cannot be given as JSON"),
        (takes_opaque, "parameter 'thing': type Opaque cannot be given as JSON"),
        (takes_class, "parameter 'kind': type type[Opaque] cannot be given as JSON"),
    ],
)
def test_required_parameter_that_json_cannot_express_makes_it_not_callable(
    func: Callable[..., Any], reason: str
) -> None:
    described = spec(func)
    assert described.callable is False
    assert described.reason is not None
    assert described.reason.startswith(reason)
    with pytest.raises(InvalidInput) as caught:
        described.converter({})
    assert caught.value.code == "NOT_CALLABLE"


def optional_stream(
    n: int,
    stream: Optional[BinaryIO] = None,  # noqa: UP045 - the spelling under test
    on_done: Callable[[], None] | None = None,
) -> None: ...


def test_optional_parameter_that_json_cannot_express_is_left_out() -> None:
    described = spec(optional_stream)
    assert described.callable is True
    assert list(described.params_schema["properties"]) == ["n"]
    stream_info = next(p for p in described.params if p.name == "stream")
    assert "Not settable from JSON: type Optional[BinaryIO] cannot" in stream_info.doc
    assert call(optional_stream, {"n": 1}).kwargs == {"n": 1}
    (error,) = fields_of(optional_stream, {"n": 1, "stream": "data"})
    assert (error["field"], error["type"]) == ("stream", "not_settable")


def number_or_callback(x: int | Callable[[], int]) -> None: ...


def test_a_union_branch_json_cannot_express_is_dropped_without_a_warning() -> None:
    described = spec(number_or_callback)
    assert described.callable is True
    assert "integer" in str(described.params_schema["properties"]["x"])
    assert value_of(number_or_callback, "4") == 4


def unresolvable(x: int, y: NotDefinedAnywhere) -> None: ...  # type: ignore[name-defined]  # noqa: F821
def unresolvable_optional(x: int, y: NotDefinedAnywhere = None) -> None: ...  # type: ignore[name-defined]  # noqa: F821


def test_a_hint_that_cannot_be_resolved_names_the_parameter() -> None:
    described = spec(unresolvable)
    assert described.callable is False
    assert described.reason is not None
    assert "parameter 'y'" in described.reason
    assert "NotDefinedAnywhere" in described.reason
    optional = spec(unresolvable_optional)
    assert optional.callable is True
    assert call(unresolvable_optional, {"x": "2"}).kwargs == {"x": 2}


class Unsignable:
    __signature__ = "not a signature"

    def __call__(self) -> None: ...


def test_a_callable_without_a_readable_signature_is_not_callable() -> None:
    described = spec(Unsignable())
    assert described.callable is False
    assert described.reason is not None
    assert "signature" in described.reason


def test_real_annotations_work_as_well_as_strings() -> None:
    def real(x, n=1):  # type: ignore[no-untyped-def]
        return x, n

    real.__annotations__ = {"x": Solvent, "n": int}
    assert call(real, {"x": "WATER", "n": "2"}).kwargs == {"x": Solvent.WATER, "n": 2}


# --- helpers used by introspection ------------------------------------------------------------


def test_value_converter_rewrites_enums_and_reports_the_value_field() -> None:
    convert = make_value_converter(Optional[Solvent], target="pump.solvent")  # noqa: UP045
    assert convert is not None
    assert convert("WATER") is Solvent.WATER
    with pytest.raises(InvalidInput) as caught:
        convert("milk")
    assert caught.value.message == "invalid value for pump.solvent"
    assert {f["field"] for f in caught.value.detail["fields"]} == {"value"}
    assert make_value_converter(BinaryIO, target="x") is None
