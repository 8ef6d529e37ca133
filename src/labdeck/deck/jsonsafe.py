"""JSON-safe copies of arbitrary Python values, for records and API output.

Driver arguments and results end up in the database (SQLite JSON, PostgreSQL JSONB) and in
HTTP responses, so every value must survive a strict `json.dumps(..., allow_nan=False)`.
`to_jsonable` owns that guarantee: it never raises, and whatever it cannot represent becomes a
(truncated) `repr` instead of a failed record. It also owns reading a JSON number from text
(`json_number`), shared by argument conversion and workflow values.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from enum import Enum
from pathlib import PurePath
from typing import Any

from pydantic_core import to_jsonable_python

MAX_REPR_CHARS = 1000
# JSON's number grammar; ASCII digits only (Python's int() also reads other scripts' digits).
JSON_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?", re.ASCII)


def json_number(text: str) -> int | float | None:
    """The number `text` spells in JSON's grammar (int when it has no fraction), else None."""
    if not JSON_NUMBER.fullmatch(text):
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


# Deep or self-referencing structures stop here instead of hitting RecursionError.
MAX_DEPTH = 64

_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def to_jsonable(value: Any) -> Any:
    """Return a copy of `value` made only of dict, list, str, int, float, bool and None.

    Enum members become their value, numpy arrays and scalars go through `.tolist()`,
    non-finite floats become the strings "NaN", "Infinity" and "-Infinity", mapping keys
    become strings, models, dataclasses, dates, UUIDs, paths and bytes use pydantic's JSON
    conversion, and anything else becomes its `repr`, cut to 1000 characters.
    """
    try:
        return _convert(value, 0)
    except Exception:  # a hostile __repr__ or __eq__ must not break a record
        return _safe_repr(value)


def _convert(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        return _safe_repr(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        return _convert(value.value, depth + 1)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _float(float(value))
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {_key(key, depth): _convert(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_convert(item, depth + 1) for item in value]
    if isinstance(value, set | frozenset):
        return [_convert(item, depth + 1) for item in _stable_order(value)]
    if isinstance(value, bytes | bytearray | memoryview):
        return _bytes(bytes(value))
    if isinstance(value, PurePath):  # pydantic knows Path but not the pure flavours
        return str(value)
    # Looked up on the type so that proxies answering every attribute are not mistaken for numpy.
    tolist = getattr(type(value), "tolist", None)
    if callable(tolist):
        return _convert(tolist(value), depth + 1)
    if isinstance(value, Iterator):
        # pydantic would drain it (forever, for itertools.count): keep the driver's iterator intact.
        return _safe_repr(value)
    try:
        plain = to_jsonable_python(value)
    except Exception:
        return _safe_repr(value)
    return _convert(plain, depth + 1)


def _float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    return _NON_FINITE.get(value, value)


def _key(key: Any, depth: int) -> str:
    if isinstance(key, str):
        return str(key)
    converted = _convert(key, depth + 1)
    if isinstance(converted, str):
        return converted
    try:
        # Same spelling json.dumps uses for non-string keys: true, null, 1.5.
        return json.dumps(converted, allow_nan=False)
    except (TypeError, ValueError):
        return _safe_repr(key)


def _stable_order(items: set[Any] | frozenset[Any]) -> list[Any]:
    # Sorted when possible so that the same set is recorded the same way every time.
    try:
        return sorted(items)
    except TypeError:
        return list(items)


def _bytes(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return _safe_repr(value)


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # includes a __repr__ that returns a non-string
        text = f"<unrepresentable {type(value).__qualname__}>"
    return text[:MAX_REPR_CHARS]
