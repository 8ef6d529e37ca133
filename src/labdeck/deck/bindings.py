"""Live bindings of a loaded deck: the objects behind the interface schema.

`Deck` is what introspection returns: the schema plus, per exposed member, a binding that
knows how to convert JSON arguments (with the same pydantic model the schema came from) and
which Python callable to invoke. Services look members up here; a missing or private name is
a `NotFound`, arguments that do not fit are `InvalidInput` with per-field messages.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from labdeck.deck.schema import InterfaceSchema, MethodSchema, PropertySchema
from labdeck.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class BoundCall:
    """Arguments ready to pass to a driver, plus their JSON-safe form for the records."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    recorded: dict[str, Any]


@dataclass
class MethodBinding:
    """A method of an instrument or a deck function.

    `convert(raw)` validates JSON arguments with the method's pydantic model and returns a
    `BoundCall`: positional-only parameters go into `args`, the rest into `kwargs`, only the
    parameters the caller gave are passed (Python defaults apply to the others), Enum
    parameters receive the Enum member. Raises `InvalidInput` (422) when they do not fit, or
    when the method is not callable from JSON (code `NOT_CALLABLE`, message = the reason).
    """

    target: str
    schema: MethodSchema
    func: Callable[..., Any]
    is_async: bool
    converter: Callable[[Mapping[str, Any]], BoundCall]

    def convert(self, raw_args: Mapping[str, Any]) -> BoundCall:
        if not self.schema.callable:
            raise InvalidInput(
                f"{self.target} cannot be called with JSON arguments: {self.schema.reason}",
                code="NOT_CALLABLE",
            )
        return self.converter(raw_args)


@dataclass
class PropertyBinding:
    """A property of an instrument: `get()` reads it, `convert(value)` checks a new value."""

    target: str
    schema: PropertySchema
    owner: Any
    name: str
    value_converter: Callable[[Any], Any] | None = None

    def get(self) -> Any:
        return getattr(self.owner, self.name)

    def convert(self, value: Any) -> Any:
        if not self.schema.settable or self.value_converter is None:
            raise InvalidInput(f"{self.target} is read-only", code="READ_ONLY")
        return self.value_converter(value)

    def set(self, value: Any) -> None:
        setattr(self.owner, self.name, value)


@dataclass
class InstrumentBinding:
    name: str
    obj: Any
    methods: dict[str, MethodBinding] = field(default_factory=dict)
    properties: dict[str, PropertyBinding] = field(default_factory=dict)


@dataclass
class Deck:
    """A loaded, introspected deck."""

    module: types.ModuleType
    schema: InterfaceSchema
    instruments: dict[str, InstrumentBinding] = field(default_factory=dict)
    functions: dict[str, MethodBinding] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.schema.name

    @property
    def fingerprint(self) -> str:
        return self.schema.fingerprint

    def instrument(self, name: str) -> InstrumentBinding:
        found = self.instruments.get(name)
        if found is None:
            raise NotFound(f"no instrument named {name!r} on deck {self.name!r}")
        return found

    def method(self, instrument: str, method: str) -> MethodBinding:
        found = self.instrument(instrument).methods.get(method)
        if found is None:
            raise NotFound(f"instrument {instrument!r} has no public method {method!r}")
        return found

    def property(self, instrument: str, name: str) -> PropertyBinding:
        found = self.instrument(instrument).properties.get(name)
        if found is None:
            raise NotFound(f"instrument {instrument!r} has no property {name!r}")
        return found

    def function(self, name: str) -> MethodBinding:
        found = self.functions.get(name)
        if found is None:
            raise NotFound(f"no deck function named {name!r}")
        return found
