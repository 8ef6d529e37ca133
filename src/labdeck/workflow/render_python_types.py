"""Python annotations for a workflow's run parameters in an exported script.

A parameter's type is the type of the deck argument it feeds (WORKFLOW_FORMAT.md,
"Parameters and outputs"), read from the argument's JSON Schema: `number` → `float`,
`integer` → `int`, an enum → its value type with a comment listing the values (the script
passes enum values, which is what labdeck stores), `anyOf [X, null]` → `X | None`. A
parameter that feeds arguments of different types, or none the deck describes, is left
unannotated rather than guessed (its default's type is used when it has one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labdeck.deck.schema import InterfaceSchema
from labdeck.workflow.model import (
    CallStep,
    ParamRef,
    RepeatStep,
    WaitStep,
    WorkflowDocument,
    iter_steps,
)
from labdeck.workflow.render_python_text import python_literal

Annotation = tuple[str | None, str | None]  # (annotation, comment naming the enum)

_JSON_TYPES = {
    "number": "float",
    "integer": "int",
    "string": "str",
    "boolean": "bool",
    "array": "list",
    "object": "dict",
    "null": "None",
}
_DEFAULT_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "bool"),  # before int: a bool is an int to isinstance
    (int, "int"),
    (float, "float"),
    (str, "str"),
    (list, "list"),
    (dict, "dict"),
)


def parameter_annotations(
    document: WorkflowDocument, deck: InterfaceSchema | None
) -> dict[str, Annotation]:
    """Annotation and enum comment of each parameter that has a single known type."""
    fed: dict[str, set[Annotation]] = {}
    for found in iter_steps(document):
        step = found.step
        if isinstance(step, CallStep):
            for argument, value in step.args.items():
                schema = _argument_schema(deck, step.target, argument)
                if isinstance(value, ParamRef) and schema is not None:
                    fed.setdefault(value.param, set()).add(python_type(schema))
        elif isinstance(step, RepeatStep) and isinstance(step.times, ParamRef):
            fed.setdefault(step.times.param, set()).add(("int", None))
        elif isinstance(step, WaitStep) and isinstance(step.seconds, ParamRef):
            fed.setdefault(step.seconds.param, set()).add(("float", None))
    annotations: dict[str, Annotation] = {}
    for parameter in document.parameters:
        kinds = fed.get(parameter.name, set())
        types = {annotation for annotation, _ in kinds}
        if len(types) == 1 and None not in types:
            notes = sorted(note for _, note in kinds if note)
            annotations[parameter.name] = (types.pop(), notes[0] if notes else None)
        elif not kinds:
            default = _default_type(parameter.default)
            if default:
                annotations[parameter.name] = (default, None)
    return annotations


def python_type(schema: Mapping[str, Any]) -> Annotation:
    """The Python annotation of a JSON Schema, and a comment naming an enum's values."""
    if "enum" in schema:
        values = list(schema["enum"])
        kinds = {_default_type(value) for value in values}
        annotation = kinds.pop() if len(kinds) == 1 else None
        title = schema.get("title")
        listed = ", ".join(python_literal(value) for value in values)
        return annotation, f"enum {title}: {listed}" if title else f"one of {listed}"
    members = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(members, list):
        nullable = any(_is_null(member) for member in members)
        others = [member for member in members if not _is_null(member)]
        if len(others) != 1 or not isinstance(others[0], Mapping):
            return None, None
        annotation, note = python_type(others[0])
        if annotation is not None and nullable:
            annotation = f"{annotation} | None"
        return annotation, note
    kind = schema.get("type")
    if isinstance(kind, list):
        names = [_JSON_TYPES.get(item) for item in kind if isinstance(item, str)]
        if not names or None in names or len(names) != len(kind):
            return None, None
        return " | ".join(sorted({str(name) for name in names}, key=names.index)), None
    if isinstance(kind, str):
        return _JSON_TYPES.get(kind), None
    return None, None


def _is_null(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null"


def _argument_schema(
    deck: InterfaceSchema | None, target: str, argument: str
) -> Mapping[str, Any] | None:
    if deck is None:
        return None
    head, dot, member = target.partition(".")
    if not dot:
        function = deck.functions.get(head)
        method = function
    else:
        instrument = deck.instruments.get(head)
        if instrument is None:
            return None
        prop = instrument.properties.get(member)
        if prop is not None:
            return prop.schema_ if argument == "set" else None
        method = instrument.methods.get(member)
    if method is None:
        return None
    schema = method.params_schema.get("properties", {}).get(argument)
    return schema if isinstance(schema, Mapping) else None


def _default_type(value: Any) -> str | None:
    for kind, name in _DEFAULT_TYPES:
        if isinstance(value, kind):
            return name
    return None
