"""Literal arguments checked against a deck's JSON Schemas, and the types those schemas name.

Validation sees only the interface schema, not the Python types behind it, so it cannot run
the pydantic models direct calls use. Instead `literal_errors` walks the JSON Schema that
introspection emitted and accepts what those models accept (pydantic's lax mode, plus the
rules of `deck/annotations.py`): a number for `integer` only when it is whole, numeric
strings for numbers, `0`/`1`/`"yes"`/`"off"`… for booleans, an Enum member's name or value
(or its value spelled as a string), a Literal's exact values. Constraints are checked on the
converted value. Keywords introspection does not emit, and `format`, are ignored: when in
doubt a literal is accepted, because a false alarm would block publishing a workflow that runs.

`type_key` and `describe_type` reduce a schema to the type a parameter feeding it must have
(nullability, titles, descriptions, defaults and constraints ignored), to find a parameter
feeding arguments of different types and to say so.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Hashable
from typing import Any

from labdeck.deck.jsonsafe import json_number

# What pydantic's lax mode reads as a number in a string, after trimming Unicode white space
# as Rust's `trim` does: an integer's digits may be grouped by single underscores and it may
# end in ".0" (leading zeros may mix with underscores: "0__1"); a float's underscores are
# handled in `_to_number`. Booleans are matched without trimming, in any case.
_INTEGER_TEXT = re.compile(r"[+-]?(?:0[0_]*)?\d+(?:_\d+)*(?:\.0+)?", re.ASCII)
_FLOAT_TEXT = re.compile(
    r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity|nan)",
    re.ASCII | re.IGNORECASE,
)
# An Enum or Literal takes a number spelled as a string only in plain JSON syntax.
_WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
_WHITE_SPACE += "\u2028\u2029\u202f\u205f\u3000"
_TRUE_TEXT = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE_TEXT = frozenset({"0", "off", "f", "false", "n", "no"})
_MAX_ERRORS = 5
NO_VALUE: Any = object()


def literal_errors(value: Any, schema: Any, defs: dict[str, Any] | None = None) -> list[str]:
    """Why `value` does not fit `schema`, one message per problem; empty when it fits.

    `defs` are the `$defs` of the enclosing schema (introspection keeps only recursive ones).
    """
    errors = _check(value, schema, defs or {}, "", 0)
    return errors[:_MAX_ERRORS]


def _check(value: Any, schema: Any, defs: dict[str, Any], where: str, depth: int) -> list[str]:
    if schema is False:
        return [_at(where, "no value is allowed here")]
    if not isinstance(schema, dict) or not schema or depth > 50:
        return []
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.removeprefix("#/$defs/")) if ref.startswith("#/$defs/") else None
        if target is None:
            return []
        return _check(value, {**target, **schema, "$ref": None}, defs, where, depth + 1)
    for branches_key in ("anyOf", "oneOf"):
        branches = schema.get(branches_key)
        if isinstance(branches, list) and branches:
            errors = _check_union(value, branches, defs, where, depth)
            if errors:
                return errors
    for branch in schema.get("allOf") or []:
        errors = _check(value, branch, defs, where, depth + 1)
        if errors:
            return errors
    if "enum" in schema and isinstance(schema["enum"], list):
        return _check_enum(value, schema, where)
    if "const" in schema:
        return _check_enum(value, {**schema, "enum": [schema["const"]]}, where)
    types = schema.get("type")
    if types is None:
        return []
    converted = NO_VALUE
    for json_type in types if isinstance(types, list) else [types]:
        converted = lax_convert(value, json_type)
        if converted is not NO_VALUE:
            break
    if converted is NO_VALUE:
        expected = " or ".join(_TYPE_WORDS.get(t, str(t)) for t in _as_list(types))
        return [_at(where, f"must be {expected}, not {_show(value)}")]
    if isinstance(converted, int | float) and not isinstance(converted, bool):
        return _check_number(converted, schema, where)
    if isinstance(converted, str):
        return _check_string(converted, schema, where)
    if isinstance(converted, list | tuple):
        return _check_array(list(converted), schema, defs, where, depth)
    if isinstance(converted, dict):
        return _check_object(converted, schema, defs, where, depth)
    return []


def _check_union(
    value: Any, branches: list[Any], defs: dict[str, Any], where: str, depth: int
) -> list[str]:
    best: list[str] | None = None
    for branch in branches:
        errors = _check(value, branch, defs, where, depth + 1)
        if not errors:
            return []
        # Report the branch whose JSON type the value has: "must be one of…" for a wrong
        # Enum name beats "must be empty (null)".
        if best is None or (isinstance(branch, dict) and same_kind(value, branch)):
            best = errors
    if value is None:
        return [_at(where, "must not be empty (null)")]
    return best or []


def same_kind(value: Any, branch: dict[str, Any]) -> bool:
    kinds = _as_list(branch.get("type"))
    if "enum" in branch and not kinds:
        kinds = list({_json_kind(choice) for choice in branch["enum"]})
    return _json_kind(value) in kinds or (_json_kind(value) == "integer" and "number" in kinds)


def _check_enum(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    choices: list[Any] = schema["enum"]
    names = schema.get("x-enum-names")
    if any(json_equal(choice, value) for choice in choices):
        return []
    if isinstance(names, list) and isinstance(value, str) and value in names:
        return []
    number = json_number(value) if isinstance(value, str) else None
    if number is not None:
        numeric = [choice for choice in choices if _is_number(choice) and choice == number]
        # An Enum takes a numeric string only when it names exactly one value.
        if len(numeric) == 1 or (numeric and not isinstance(names, list)):
            return []
    if isinstance(names, list) and len(names) == len(choices):
        title = schema.get("title") or "choice"
        listed = ", ".join(f"{n} ({_show(c)})" for n, c in zip(names, choices, strict=True))
        return [_at(where, f"{_show(value)} is not a {title}: use a name or value: {listed}")]
    listed = ", ".join(_show(choice) for choice in choices)
    return [_at(where, f"must be one of {listed}, not {_show(value)}")]


def lax_convert(value: Any, json_type: str) -> Any:
    """`value` as pydantic's lax mode would convert it to `json_type`, or `NO_VALUE`."""
    if json_type == "null":
        return value if value is None else NO_VALUE
    if json_type == "boolean":
        return _to_bool(value)
    if json_type == "integer":
        return _to_integer(value)
    if json_type == "number":
        return _to_number(value)
    if json_type == "string":
        return value if isinstance(value, str) else NO_VALUE
    if json_type == "array":
        return value if isinstance(value, list | tuple) else NO_VALUE
    if json_type == "object":
        return value if isinstance(value, dict) else NO_VALUE
    return value  # an unknown type word: accept


def _to_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.lower()
        if text in _TRUE_TEXT:
            return True
        if text in _FALSE_TEXT:
            return False
    return NO_VALUE


def _to_integer(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else NO_VALUE
    if isinstance(value, str):
        text = value.strip(_WHITE_SPACE)
        if _INTEGER_TEXT.fullmatch(text):
            return int(text.split(".")[0].replace("_", ""))
    return NO_VALUE


def _to_number(value: Any) -> Any:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip(_WHITE_SPACE)
        if "_" in text:
            # pydantic drops single underscores between two other characters ("1_0", "-_0"),
            # but not in text it had to trim (" 1_0").
            if text != value or "__" in text or text[0] == "_" or text[-1] == "_":
                return NO_VALUE
            text = text.replace("_", "")
        if _FLOAT_TEXT.fullmatch(text):
            return float(text)
    return NO_VALUE


_BOUNDS: tuple[tuple[str, Callable[[float, float], bool], str], ...] = (
    ("minimum", operator.ge, "at least"),
    ("exclusiveMinimum", operator.gt, "greater than"),
    ("maximum", operator.le, "at most"),
    ("exclusiveMaximum", operator.lt, "less than"),
)


def _check_number(number: float, schema: dict[str, Any], where: str) -> list[str]:
    errors = []
    for keyword, holds, words in _BOUNDS:
        bound = schema.get(keyword)
        if isinstance(bound, int | float) and not holds(number, bound):
            errors.append(_at(where, f"must be {words} {_show(bound)}, not {_show(number)}"))
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and step > 0 and math.isfinite(number):
        ratio = number / step
        # Generous on rounding: a false alarm would block a workflow that runs.
        if abs(ratio - round(ratio)) > 1e-6:
            errors.append(_at(where, f"must be a multiple of {_show(step)}, not {_show(number)}"))
    return errors


def _check_string(text: str, schema: dict[str, Any], where: str) -> list[str]:
    errors = []
    shortest, longest = schema.get("minLength"), schema.get("maxLength")
    if isinstance(shortest, int) and len(text) < shortest:
        errors.append(_at(where, f"must be at least {shortest} characters long"))
    if isinstance(longest, int) and len(text) > longest:
        errors.append(_at(where, f"must be at most {longest} characters long"))
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            matches = re.search(pattern, text) is not None
        except re.error:
            matches = True  # a pattern Python cannot read: pydantic's engine decides
        if not matches:
            errors.append(_at(where, f"must match the pattern {pattern}"))
    return errors


def _check_array(
    items: list[Any], schema: dict[str, Any], defs: dict[str, Any], where: str, depth: int
) -> list[str]:
    errors = []
    fewest, most = schema.get("minItems"), schema.get("maxItems")
    if isinstance(fewest, int) and len(items) < fewest:
        errors.append(_at(where, f"must have at least {fewest} items, not {len(items)}"))
    if isinstance(most, int) and len(items) > most:
        errors.append(_at(where, f"must have at most {most} items, not {len(items)}"))
    prefix = schema.get("prefixItems")
    prefix = prefix if isinstance(prefix, list) else []
    rest = schema.get("items", True)
    for index, item in enumerate(items):
        item_schema = prefix[index] if index < len(prefix) else rest
        errors += _check(item, item_schema, defs, f"{where}[{index}]", depth + 1)
        if len(errors) >= _MAX_ERRORS:
            break
    return errors


def _check_object(
    mapping: dict[Any, Any], schema: dict[str, Any], defs: dict[str, Any], where: str, depth: int
) -> list[str]:
    errors = []
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    for name in schema.get("required") or []:
        if name not in mapping:
            errors.append(_at(where, f"needs the key {name!r}"))
    extra = schema.get("additionalProperties", True)
    for key, item in mapping.items():
        if key in properties:
            errors += _check(item, properties[key], defs, f"{where}[{key!r}]", depth + 1)
        elif extra is False:
            errors.append(_at(where, f"has an unknown key {key!r}"))
        else:
            errors += _check(item, extra, defs, f"{where}[{key!r}]", depth + 1)
        if len(errors) >= _MAX_ERRORS:
            break
    return errors


# --- small helpers -----------------------------------------------------------------------------

_TYPE_WORDS = {
    "integer": "a whole number",
    "number": "a number",
    "string": "text",
    "boolean": "true or false",
    "null": "empty (null)",
    "array": "a list",
    "object": "an object",
}


def _at(where: str, message: str) -> str:
    return f"at {where}: {message}" if where else message


def _as_list(types: Any) -> list[Any]:
    if types is None:
        return []
    return list(types) if isinstance(types, list) else [types]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def json_equal(choice: Any, value: Any) -> bool:
    """Equality as JSON sees it: 3 == 3.0, but True is not 1 and "3" is not 3."""
    if isinstance(choice, bool) or isinstance(value, bool):
        return type(choice) is type(value) and choice == value
    if _is_number(choice) and _is_number(value):
        return bool(choice == value)
    return type(choice) is type(value) and bool(choice == value)


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- types of parameters -----------------------------------------------------------------------


def type_key(schema: Any) -> Hashable | None:
    """What a value feeding `schema` must be, as a comparable key; None when anything goes.

    Null branches, titles, descriptions, defaults and constraints do not count: a parameter
    feeding `float | None` and `float` has one type; `int` and `float` are two.
    """
    if not isinstance(schema, dict) or not schema:
        return None
    for branches_key in ("anyOf", "oneOf"):
        branches = schema.get(branches_key)
        if isinstance(branches, list) and branches:
            keys = {type_key(branch) for branch in branches if not _is_null(branch)}
            if not keys:
                return "null"
            if None in keys:
                return None
            return keys.pop() if len(keys) == 1 else frozenset(keys)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        return type_key(all_of[0])
    if isinstance(schema.get("enum"), list):
        return ("enum", frozenset(_show(choice) for choice in schema["enum"]))
    if "const" in schema:
        return ("enum", frozenset({_show(schema["const"])}))
    types = _as_list(schema.get("type"))
    if not types:
        return None
    keys = set()
    for json_type in types:
        if json_type == "array":
            prefix = schema.get("prefixItems")
            if isinstance(prefix, list):
                keys.add(("tuple", tuple(type_key(item) for item in prefix)))
            else:
                keys.add(("array", type_key(schema.get("items"))))
        elif json_type == "object":
            properties = schema.get("properties")
            names = frozenset(properties) if isinstance(properties, dict) else frozenset()
            keys.add(("object", names, type_key(schema.get("additionalProperties"))))
        elif json_type != "null":
            keys.add(json_type)
    if not keys:
        return "null"
    return keys.pop() if len(keys) == 1 else frozenset(keys)


def describe_type(schema: Any) -> str:
    """A few words for the type `schema` asks for: "a number", "a Solvent", "a list"."""
    if not isinstance(schema, dict) or not schema:
        return "any value"
    for branches_key in ("anyOf", "oneOf"):
        branches = schema.get(branches_key)
        if isinstance(branches, list) and branches:
            words = [describe_type(branch) for branch in branches if not _is_null(branch)]
            return " or ".join(dict.fromkeys(words)) or "empty (null)"
    if isinstance(schema.get("enum"), list):
        title = schema.get("title")
        if title and "x-enum-names" in schema:
            return f"a {title}"
        return "one of " + ", ".join(_show(choice) for choice in schema["enum"])
    if "const" in schema:
        return f"exactly {_show(schema['const'])}"
    types = [t for t in _as_list(schema.get("type")) if t != "null"]
    if not types:
        return "any value"
    return " or ".join(_TYPE_WORDS.get(t, str(t)) for t in types)


def element_schema(schema: Any) -> dict[str, Any] | None:
    """The item schema of a list-taking argument (nullability ignored), or None if it takes none.

    A `per: "batch"` step passes a parameter as the list of the batch's values.
    """
    if not isinstance(schema, dict) or not schema:
        return {}
    for branches_key in ("anyOf", "oneOf"):
        branches = schema.get(branches_key)
        if isinstance(branches, list) and branches:
            for branch in branches:
                found = None if _is_null(branch) else element_schema(branch)
                if found is not None:
                    return found
            return None
    if "array" not in _as_list(schema.get("type")):
        return None
    items = schema.get("items")
    return items if isinstance(items, dict) else {}


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null" and "enum" not in schema
