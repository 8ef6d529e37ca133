"""What labdeck does to a type annotation before pydantic sees it.

Owns the rewriting of Enums and Literals, where the integrator's intent differs from
pydantic's default:

- every Enum accepts a member name or value (or "3" for the value 3) and the driver receives
  the member; its schema is inline and lists names in `x-enum-names` for the form's select;
- a Literal accepts only its exact JSON values (or a numeric string equal to a numeric
  choice) and the driver receives the literal itself;
- inside a Union that contains `str`, nothing is converted from strings (IvoryOS #83).

Also owns the small questions asked of an annotation elsewhere in `deck/`: whether one was
written at all (`NO_HINT`), whether it asks for a class (`mentions_class_type`), and its short
name for messages (`type_name`).
"""

from __future__ import annotations

import inspect
import json
import math
import re
import types
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from labdeck.deck.jsonsafe import json_number, to_jsonable

NO_HINT: Any = inspect.Parameter.empty


def rewrite_annotation(annotation: Any, *, numeric_strings: bool = True) -> Any:
    """Return `annotation` with every Enum and Literal inside it made JSON-friendly."""
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return Annotated[
            annotation,
            BeforeValidator(_enum_validator(annotation, numeric_strings)),
            WithJsonSchema(enum_json_schema(annotation)),
        ]
    origin = get_origin(annotation)
    if origin is None:
        return annotation
    args = get_args(annotation)
    if origin is Literal:
        return Annotated[annotation, BeforeValidator(_literal_validator(args, numeric_strings))]
    if origin is Annotated:
        inner = rewrite_annotation(args[0], numeric_strings=numeric_strings)
        if inner is args[0]:
            return annotation
        return Annotated[(inner, *annotation.__metadata__)]
    if origin is Union or origin is types.UnionType:
        keep_strings = numeric_strings and not any(_is_str(arg) for arg in args)
        new_args = tuple(rewrite_annotation(arg, numeric_strings=keep_strings) for arg in args)
        if all(new is old for new, old in zip(new_args, args, strict=True)):
            return annotation
        return Union[new_args]  # noqa: UP007 - built from a tuple at runtime
    if origin is type or origin is Callable:
        return annotation
    new_args = tuple(rewrite_annotation(arg, numeric_strings=numeric_strings) for arg in args)
    if all(new is old for new, old in zip(new_args, args, strict=True)):
        return annotation
    try:
        if hasattr(annotation, "copy_with"):
            return annotation.copy_with(new_args)
        return origin[new_args]
    except Exception:  # an exotic generic: keep pydantic's default behaviour
        return annotation


def enum_json_schema(enum_cls: type[Enum]) -> dict[str, Any]:
    """Inline schema of an Enum: values in `enum`, member names in `x-enum-names`."""
    members = list(enum_cls)
    names = [member.name for member in members]
    schema: dict[str, Any] = {"title": enum_cls.__name__}
    values = [member.value for member in members]
    if not _json_scalars(values):
        return {**schema, "enum": names, "x-enum-names": names, "type": "string"}
    schema.update({"enum": values, "x-enum-names": names})
    json_type = _common_json_type(values)
    if json_type:
        schema["type"] = json_type
    return schema


def enum_json_value(member: Enum) -> Any:
    """What the schema lists for `member`: its value, or its name when values are not JSON."""
    values = [item.value for item in type(member)]
    return member.value if _json_scalars(values) else member.name


def _enum_validator(enum_cls: type[Enum], numeric_strings: bool) -> Callable[[Any], Any]:
    members = list(enum_cls)
    json_values = [to_jsonable(member.value) for member in members]

    def by_name_or_value(value: Any) -> Any:
        if isinstance(value, enum_cls):
            return value
        for member, json_value in zip(members, json_values, strict=True):
            if _json_equal(json_value, value):
                return member
        if isinstance(value, str):
            named = enum_cls.__members__.get(value)
            if named is not None:
                return named
            number = json_number(value) if numeric_strings else None
            if number is not None:
                found = [m for m, v in zip(members, json_values, strict=True) if _num_eq(v, number)]
                if len(found) == 1:
                    return found[0]
        choices = ", ".join(f"{m.name} ({v!r})" for m, v in zip(members, json_values, strict=True))
        raise PydanticCustomError(
            "enum",
            "Input should be a {enum} name or value: {expected}",
            {"enum": enum_cls.__name__, "expected": choices},
        )

    return by_name_or_value


def _literal_validator(choices: tuple[Any, ...], numeric_strings: bool) -> Callable[[Any], Any]:
    expected = ", ".join(repr(to_jsonable(choice)) for choice in choices)

    def exact_choice(value: Any) -> Any:
        for choice in choices:
            if isinstance(choice, Enum):
                if value is choice or value == choice.name:
                    return choice
                if _json_equal(to_jsonable(choice.value), value):
                    return choice
            elif _json_equal(choice, value):
                return choice
        number = json_number(value) if numeric_strings and isinstance(value, str) else None
        if number is not None:
            for choice in choices:
                if not isinstance(choice, Enum) and _num_eq(choice, number):
                    return choice
        raise PydanticCustomError(
            "literal_error", "Input should be one of {expected}", {"expected": expected}
        )

    return exact_choice


def _json_equal(choice: Any, value: Any) -> bool:
    """Equality as JSON sees it: 3 == 3.0, but True is not 1 and "3" is not 3."""
    try:
        if isinstance(choice, bool) or isinstance(value, bool):
            return type(choice) is type(value) and bool(choice == value)
        if _is_number(choice) and _is_number(value):
            return bool(choice == value)
        return isinstance(value, type(choice)) and bool(choice == value)
    except Exception:
        return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _num_eq(choice: Any, number: float) -> bool:
    return _is_number(choice) and bool(choice == number)


def _json_scalars(values: list[Any]) -> bool:
    def scalar(value: Any) -> bool:
        if isinstance(value, float):
            return math.isfinite(value)
        return value is None or isinstance(value, str | int)

    if not all(scalar(value) for value in values):
        return False
    spelled = {json.dumps(value) for value in values}
    return len(spelled) == len(values)


def _common_json_type(values: list[Any]) -> str | None:
    kinds = set()
    for value in values:
        if isinstance(value, bool):
            kinds.add("boolean")
        elif isinstance(value, int):
            kinds.add("integer")
        elif isinstance(value, float):
            kinds.add("number")
        elif isinstance(value, str):
            kinds.add("string")
        else:
            kinds.add("null")
    if kinds == {"integer", "number"}:
        return "number"
    return kinds.pop() if len(kinds) == 1 else None


def _is_str(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return (
        isinstance(annotation, type)
        and issubclass(annotation, str)
        and not issubclass(annotation, Enum)
    )


# --- questions asked of an annotation -------------------------------------------------------


def mentions_class_type(annotation: Any) -> bool:
    """`type[X]` validates in pydantic, but no JSON value is a class."""
    if annotation is type or get_origin(annotation) is type:
        return True
    return any(mentions_class_type(arg) for arg in get_args(annotation))


def type_name(annotation: Any) -> str:
    """A short readable name for an annotation, for messages: `BinaryIO`, `list[Plate]`."""
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__qualname__
    if get_origin(annotation) is None and callable(annotation):
        return str(getattr(annotation, "__qualname__", repr(annotation)))
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])", "", repr(annotation))
