"""JSON Schemas of Python types, as the UI and the API show them.

Owns `schema_for` (the inline schema of one annotation, after the rewriting in
`annotations.py`), `inline_refs` (pydantic's `$ref`s replaced by their definitions), the
JSON form of a default value (`json_default`) and the generator that keeps schema
generation quiet (`QuietJsonSchema`).
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaWarningKind

from labdeck.deck.annotations import (
    NO_HINT,
    enum_json_value,
    mentions_class_type,
    rewrite_annotation,
)


class QuietJsonSchema(GenerateJsonSchema):
    """Schema generator that drops what cannot be shown instead of warning about it."""

    def emit_warning(self, kind: JsonSchemaWarningKind, detail: str) -> None:
        return None


def schema_for(annotation: Any) -> dict[str, Any] | None:
    """Inline JSON Schema of a type (Enums and Literals rewritten), or None when it has none."""
    if annotation is NO_HINT:
        return {}
    if mentions_class_type(annotation):
        return None
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(rewrite_annotation(annotation))
        return inline_refs(adapter.json_schema(schema_generator=QuietJsonSchema))
    except Exception:
        return None


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace `$ref`s by their definitions; only recursive ones stay in `$defs`."""
    defs = schema.get("$defs")
    if not defs:
        return schema
    kept: dict[str, Any] = {}

    def resolve(node: Any, stack: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [resolve(item, stack) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs:
            name = ref[8:]
            if name in stack:
                if name not in kept:
                    kept[name] = None  # placeholder: breaks the cycle while resolving it
                    kept[name] = resolve(defs[name], frozenset({name}))
                return node
            siblings = {key: resolve(value, stack) for key, value in node.items() if key != "$ref"}
            return {**resolve(defs[name], stack | {name}), **siblings}
        return {key: resolve(value, stack) for key, value in node.items() if key != "$defs"}

    result: dict[str, Any] = resolve(schema, frozenset())
    if kept:
        result["$defs"] = kept
    return result


def json_default(value: Any) -> tuple[bool, Any]:
    """(True, JSON form) when a default can be shown in a schema as is, else (False, None)."""
    if value is None or isinstance(value, bool | str):
        return True, value
    if isinstance(value, Enum):
        return json_default(enum_json_value(value))
    if isinstance(value, int):
        return True, int(value)
    if isinstance(value, float):
        return (True, value) if math.isfinite(value) else (False, None)
    if isinstance(value, list | tuple):
        items = [json_default(item) for item in value]
        return (True, [item for _, item in items]) if all(ok for ok, _ in items) else (False, None)
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        entries = {key: json_default(item) for key, item in value.items()}
        if all(ok for ok, _ in entries.values()):
            return True, {key: item for key, (_, item) in entries.items()}
    return False, None
