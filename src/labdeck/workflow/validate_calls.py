"""Call steps checked against the deck: targets, arguments, literal values, saves.

Owns `DeckIndex` (every callable target of an interface schema, looked up once per
validation) and the checks that depend on the deck only, which `drift` reruns when the deck
changes: unknown or private targets, methods that cannot be called, property reads and sets,
missing and unknown arguments, literal arguments that do not fit their JSON Schema, `save`
against what the target returns, and list-taking arguments in `per: "batch"` steps.

Each step's values (arguments, `times`, `seconds`, `value`) come out as `ValueSite`s with the
schema they must fit, for the parameter and variable checks elsewhere.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from labdeck.deck.schema import InterfaceSchema, MethodSchema, ReturnKind
from labdeck.workflow.model import (
    CallStep,
    ExprRef,
    ParamRef,
    RepeatStep,
    SetStep,
    VarRef,
    WaitStep,
)
from labdeck.workflow.validate_problems import Problems
from labdeck.workflow.validate_values import element_schema, literal_errors

TIMES_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 0}
SECONDS_SCHEMA: dict[str, Any] = {"type": "number", "minimum": 0}


@dataclass(frozen=True, slots=True)
class ValueSite:
    """One value of a step and what it feeds.

    `schema` is what the value must fit (None: unknown, e.g. the target does not exist);
    `param_schema` is what a parameter given here must be: the same, except in a
    `per: "batch"` step, where the parameter is one item of the list the argument takes.
    """

    field: str
    value: Any
    schema: dict[str, Any] | None
    param_schema: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Target:
    """A callable target of the deck, with what validation asks of it precomputed."""

    name: str
    kind: Literal["method", "function", "property"]
    method: MethodSchema | None = None
    value_schema: dict[str, Any] = field(default_factory=dict)
    settable: bool = False
    arguments: Mapping[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    unsettable: frozenset[str] = frozenset()
    extra: Any = False
    defs: dict[str, Any] = field(default_factory=dict)
    returns: ReturnKind = "any"
    arity: int | None = None


class DeckIndex:
    """Every target of an interface schema by its `instrument.member` or function name."""

    def __init__(self, deck: InterfaceSchema) -> None:
        self.deck = deck
        self._resolved: dict[str, Target | str] = {}

    def resolve(self, target: str) -> Target | str:
        """The target, or an operator-readable reason why it is not one."""
        found = self._resolved.get(target)
        if found is None:
            found = self._resolve(target)
            self._resolved[target] = found
        return found

    def _resolve(self, target: str) -> Target | str:
        parts = target.split(".")
        if any(part.startswith("_") for part in parts):
            return f"{target!r} is private: only public methods, properties and functions"
        if len(parts) == 1:
            function = self.deck.functions.get(target)
            if function is not None:
                return _method_target(target, "function", function)
            if target in self.deck.instruments:
                return f"{target!r} is an instrument: name one of its methods, as in {target}.x"
            return f"no deck function named {target!r}{_suggest(target, self.deck.functions)}"
        instrument_name, member = parts
        instrument = self.deck.instruments.get(instrument_name)
        if instrument is None:
            suggestion = _suggest(instrument_name, self.deck.instruments)
            return f"no instrument named {instrument_name!r} on deck {self.deck.name!r}{suggestion}"
        method = instrument.methods.get(member)
        if method is not None:
            return _method_target(target, "method", method)
        prop = instrument.properties.get(member)
        if prop is not None:
            kind, arity = _property_returns(prop.schema_)
            return Target(
                target,
                "property",
                value_schema=prop.schema_,
                settable=prop.settable,
                returns=kind,
                arity=arity,
            )
        members = [*instrument.methods, *instrument.properties]
        return (
            f"instrument {instrument_name!r} has no method or property {member!r}"
            f"{_suggest(member, members)}"
        )


def _method_target(name: str, kind: Literal["method", "function"], method: MethodSchema) -> Target:
    schema = method.params_schema
    arguments = schema.get("properties") or {}
    return Target(
        name,
        kind,
        method=method,
        arguments=arguments,
        required=tuple(schema.get("required") or ()),
        unsettable=frozenset(p.name for p in method.params if p.name not in arguments),
        extra=schema.get("additionalProperties", True) if method.accepts_extra else False,
        defs=schema.get("$defs") or {},
        returns=method.returns.kind,
        arity=method.returns.arity,
    )


def _property_returns(schema: dict[str, Any]) -> tuple[ReturnKind, int | None]:
    prefix = schema.get("prefixItems")
    if isinstance(prefix, list) and schema.get("maxItems") == len(prefix):
        return "tuple", len(prefix)
    return ("any", None) if not schema else ("scalar", None)


def _suggest(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def is_literal(value: Any) -> bool:
    return not isinstance(value, ParamRef | VarRef | ExprRef)


# --- checks ------------------------------------------------------------------------------


def check_call(step: CallStep, index: DeckIndex, problems: Problems) -> list[ValueSite]:
    """Report what the deck says is wrong with a call step; return its value sites."""
    target = index.resolve(step.target)
    if isinstance(target, str):
        problems.add(step.id, "target", target)
        return [ValueSite(f"args.{name}", value, None, None) for name, value in step.args.items()]
    if target.kind == "property":
        return _check_property(step, target, problems)
    assert target.method is not None
    if not target.method.callable:
        reason = target.method.reason or "its arguments cannot be given as JSON"
        problems.add(step.id, "target", f"{target.name} cannot be called from a workflow: {reason}")
    sites = []
    for name, value in step.args.items():
        schema = _argument_schema(step, target, name, problems)
        sites.append(_site(step, f"args.{name}", value, schema, target.defs, problems))
    for name in target.required:
        if name not in step.args:
            problems.add(step.id, f"args.{name}", f"missing required argument {name!r}")
    _check_save(step, target, problems)
    return sites


def _argument_schema(
    step: CallStep, target: Target, name: str, problems: Problems
) -> dict[str, Any] | None:
    schema = target.arguments.get(name)
    if isinstance(schema, dict):
        return schema
    if name in target.unsettable:
        problems.add(
            step.id,
            f"args.{name}",
            f"argument {name!r} cannot be given from a workflow (its type has no JSON form); "
            "leave it out to use its default",
        )
        return None
    if target.extra is not False:
        return target.extra if isinstance(target.extra, dict) else {}
    known = list(target.arguments)
    listed = f"its arguments are {', '.join(known)}" if known else "it takes no arguments"
    problems.add(
        step.id,
        f"args.{name}",
        f"{target.name} has no argument {name!r}: {listed}{_suggest(name, known)}",
    )
    return None


def _site(
    step: CallStep,
    field_name: str,
    value: Any,
    schema: dict[str, Any] | None,
    defs: dict[str, Any],
    problems: Problems,
) -> ValueSite:
    param_schema = schema
    if schema is not None and is_literal(value):
        label = field_name.removeprefix("args.")
        for error in literal_errors(value, schema, defs):
            problems.add(step.id, field_name, f"{label}: {error}")
    if schema is not None and step.per == "batch" and isinstance(value, ParamRef):
        param_schema = element_schema(schema)
        if param_schema is None:
            problems.add(
                step.id,
                field_name,
                f"a per-batch step passes parameter {value.param!r} as the list of the batch's "
                f"values, but {field_name.removeprefix('args.')!r} does not take a list",
            )
    return ValueSite(field_name, value, schema, param_schema)


def _check_property(step: CallStep, target: Target, problems: Problems) -> list[ValueSite]:
    if not step.args:
        _check_save(step, target, problems)
        return []
    if set(step.args) != {"set"}:
        problems.add(
            step.id,
            "args",
            f"{target.name} is a property: give no args to read it, or args "
            '{"set": value} to set it',
        )
        return []
    if not target.settable:
        problems.add(step.id, "args.set", f"{target.name} is read-only")
    if step.save is not None:
        problems.add(step.id, "save", f"setting {target.name} returns nothing to save")
    schema = target.value_schema if target.settable else None
    return [_site(step, "args.set", step.args["set"], schema, {}, problems)]


def _check_save(step: CallStep, target: Target, problems: Problems) -> None:
    save = step.save
    if save is None:
        return
    if target.returns == "none":
        problems.add(step.id, "save", f"{target.name} returns nothing, so there is nothing to save")
        return
    if not isinstance(save, list) or target.returns == "any":
        return
    if target.returns != "tuple":
        problems.add(
            step.id,
            "save",
            f"{target.name} returns one value, not a tuple: save it under one name",
        )
    elif target.arity is not None and len(save) != target.arity:
        problems.add(
            step.id,
            "save",
            f"{target.name} returns {target.arity} values but save lists {len(save)} names",
        )


def count_sites(step: Any, problems: Problems) -> list[ValueSite]:
    """`times`, `seconds` and `value`: literals checked here, strictly (no "3" for 3)."""
    if isinstance(step, RepeatStep):
        times = step.times
        if is_literal(times) and (
            not isinstance(times, int) or isinstance(times, bool) or times < 0
        ):
            problems.add(step.id, "times", "times must be a whole number, 0 or more")
        return [ValueSite("times", times, TIMES_SCHEMA, TIMES_SCHEMA)]
    if isinstance(step, WaitStep):
        seconds = step.seconds
        if is_literal(seconds) and (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not 0 <= seconds < math.inf
        ):
            problems.add(step.id, "seconds", "seconds must be a number, 0 or more")
        return [ValueSite("seconds", seconds, SECONDS_SCHEMA, SECONDS_SCHEMA)]
    if isinstance(step, SetStep):
        return [ValueSite("value", step.value, {}, {})]
    return []
