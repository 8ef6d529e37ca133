"""Python type hints and literals rebuilt from the deck's JSON Schemas, for the generated proxy.

Owns `TypeWriter`, which turns one JSON Schema (as `deck/jsonschema.py` produced it) into the
text of an annotation: `int`, `float`, `str`, `bool`, `None`, `list[...]`, `tuple[...]`,
`dict[str, ...]`, unions, `Literal[...]` for a Literal, and an Enum class for an Enum (the
schema's `x-enum-names` tell an Enum from a Literal). It collects the Enum classes it needs
(one per distinct Enum), keeps module-level names unique (`Names`), and writes Python literals
of JSON values (`py_literal`).
"""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["param", "return"]


def is_name(text: str) -> bool:
    """A usable Python name (labdeck only exposes public names, but schemas may come from afar)."""
    return text.isidentifier() and not keyword.iskeyword(text)


def camel(name: str) -> str:
    """`plate_reader` → `PlateReader`."""
    words = [word for word in re.split(r"[\W_]+", name) if word]
    text = "".join(word[:1].upper() + word[1:] for word in words) or "Value"
    return text if text[0].isalpha() else f"T{text}"


def py_string(text: str) -> str:
    """A string literal in the quotes a formatter would choose."""
    if '"' in text and "'" not in text:
        return "'" + json.dumps(text, ensure_ascii=False)[1:-1].replace('\\"', '"') + "'"
    return json.dumps(text, ensure_ascii=False)


def py_literal(value: Any) -> str:
    """Python source of a JSON value."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return py_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{py_string(str(key))}: {py_literal(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    return repr(value)


class Names:
    """Module-level names already taken; `claim` returns a free variant of the wanted one."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = set(taken)

    def claim(self, wanted: str, suffix: str = "") -> str:
        name = wanted
        if name in self.taken and suffix:
            name = f"{wanted}{suffix}"
        number = 2
        while name in self.taken:
            name = f"{wanted}{suffix}{number}"
            number += 1
        self.taken.add(name)
        return name


@dataclass
class EnumClass:
    """An Enum of the deck, as the proxy defines it: members by name, values as sent."""

    name: str
    alias: str  # the Literal of its values, e.g. `SolventValue`
    title: str
    members: list[tuple[str, Any]]

    @property
    def base(self) -> str:
        values = [value for _, value in self.members]
        if all(isinstance(value, str) for value in values):
            return "str, Enum"
        if all(isinstance(value, int) and not isinstance(value, bool) for value in values):
            return "int, Enum"
        return "Enum"

    def member_for(self, value: Any) -> str | None:
        for member, member_value in self.members:
            if type(member_value) is type(value) and member_value == value:
                return f"{self.name}.{member}"
        return None


@dataclass
class TypeWriter:
    """Annotations from JSON Schemas; remembers the Enums met on the way."""

    names: Names
    enums: list[EnumClass] = field(default_factory=list)
    _by_key: dict[str, EnumClass] = field(default_factory=dict)

    def annotation(self, schema: Any, mode: Mode = "param") -> str:
        """The hint for values of `schema`; `param` hints accept an Enum member or its value."""
        if not isinstance(schema, dict) or not schema:
            return "Any"
        if "x-enum-names" in schema and isinstance(schema.get("enum"), list):
            enum = self.enum_class(schema)
            return f"{enum.name} | {enum.alias}" if mode == "param" else enum.alias
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self._literal(schema["enum"])
        if "const" in schema:
            return self._literal([schema["const"]])
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list):
                return self._union([self.annotation(item, mode) for item in schema[key]])
        if isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
            return self.annotation(schema["allOf"][0], mode)
        kind = schema.get("type")
        if isinstance(kind, list):
            return self._union([self.annotation({**schema, "type": k}, mode) for k in kind])
        return self._typed(kind, schema, mode)

    def _typed(self, kind: Any, schema: dict[str, Any], mode: Mode) -> str:
        scalars = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
        if kind in scalars:
            return scalars[kind]
        if kind == "null":
            return "None"
        if kind == "array":
            prefix = schema.get("prefixItems")
            if isinstance(prefix, list) and prefix:
                fixed = schema.get("maxItems") == len(prefix) and not schema.get("items")
                items = [self.annotation(item, mode) for item in prefix]
                return f"tuple[{', '.join(items)}]" if fixed else "tuple[Any, ...]"
            return f"list[{self.annotation(schema.get('items'), mode)}]"
        if kind == "object":
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and extra and not schema.get("properties"):
                return f"dict[str, {self.annotation(extra, mode)}]"
            return "dict[str, Any]"
        return "Any"

    def _literal(self, values: list[Any]) -> str:
        return f"Literal[{', '.join(py_literal(value) for value in values)}]"

    def _union(self, members: list[str]) -> str:
        unique: list[str] = []
        for member in members:
            for part in _top_level_parts(member):
                if part not in unique:
                    unique.append(part)
        if "Any" in unique:
            return "Any"
        if "None" in unique:  # `X | None` reads best with None last
            unique = [part for part in unique if part != "None"] + ["None"]
        return " | ".join(unique)

    def enum_class(self, schema: dict[str, Any]) -> EnumClass:
        values = list(schema["enum"])
        labels = [str(name) for name in schema["x-enum-names"]]
        if len(labels) != len(values):
            labels = [str(value) for value in values]
        title = str(schema.get("title") or "Choice")
        key = json.dumps([title, values, labels], sort_keys=True, default=str)
        found = self._by_key.get(key)
        if found is not None:
            return found
        name = self.names.claim(camel(title), "Choice")
        alias = self.names.claim(f"{name}Value")
        members: list[tuple[str, Any]] = []
        used: set[str] = set()
        for label, value in zip(labels, values, strict=True):
            member = label if is_name(label) and not label.startswith("_") else f"V_{label}"
            member = re.sub(r"\W", "_", member)
            while member in used:
                member += "_"
            used.add(member)
            members.append((member, value))
        enum = EnumClass(name=name, alias=alias, title=title, members=members)
        self._by_key[key] = enum
        self.enums.append(enum)
        return enum

    def default(self, schema: Any, value: Any) -> str:
        """The default as source: an Enum member when the value is one of its values."""
        for enum in self.enums_in(schema):
            member = enum.member_for(value)
            if member is not None:
                return member
        return py_literal(value)

    def enums_in(self, schema: Any) -> list[EnumClass]:
        if not isinstance(schema, dict):
            return []
        if "x-enum-names" in schema and isinstance(schema.get("enum"), list):
            return [self.enum_class(schema)]
        found: list[EnumClass] = []
        for key in ("anyOf", "oneOf", "allOf"):
            for item in schema.get(key) or []:
                found.extend(self.enums_in(item))
        return found


def _top_level_parts(union: str) -> list[str]:
    """`list[int | None] | None` → `["list[int | None]", "None"]`."""
    parts: list[str] = []
    depth = start = 0
    quote: str | None = None
    for index, char in enumerate(union):
        if quote is not None:
            if char == quote and union[index - 1] != "\\":
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif depth == 0 and union.startswith(" | ", index):
            parts.append(union[start:index])
            start = index + 3
    parts.append(union[start:])
    return parts
