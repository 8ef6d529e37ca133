"""Hypothesis strategies for workflow documents, shared by the workflow tests.

`documents()` draws `WorkflowDocument`s that the model accepts: every step kind, nested
blocks, literal / parameter / variable / expression values, disabled steps and notes, unique
step ids (`s1`, `s2`, ... in document order). They need not make sense on a deck: targets are
drawn from the demo deck's names and from made-up ones, variables may be read before they are
saved. `document_dicts()` gives the same in JSON form.

Names are Python identifiers that are not keywords, so the documents also suit code that
renders them as Python.

`deck_documents()` draws documents that are also valid against a deck (the demo deck by
default): real targets and arguments, variables defined before use (see its section below).
`equivalent(a, b)` compares two documents the way an export/import round trip must keep them.
"""

from __future__ import annotations

import ast
import functools
import json
import keyword
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from labdeck.deck.schema import InterfaceSchema
from labdeck.server import load_deck
from labdeck.workflow.model import FORMAT, PHASES, WorkflowDocument

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(
    lambda name: not keyword.iskeyword(name)
)
DEMO_TARGETS = (
    "balance.dose_solid",
    "balance.weigh",
    "balance.tare",
    "balance.unit",
    "dispenser.dispense",
    "spectrometer.measure",
    "hotplate.set_temperature",
    "hotplate.target_temperature",
    "hotplate.off",
    "prepare_sample",
)
TARGETS = st.one_of(
    st.sampled_from(DEMO_TARGETS),
    st.builds(lambda a, b: f"{a}.{b}", NAMES, NAMES),
    NAMES,
)
WORKFLOW_NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,11}", fullmatch=True)

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)


@functools.cache
def json_literals() -> st.SearchStrategy[Any]:
    """Small JSON values; dicts never have exactly one of the keys param/var/expr."""
    return st.recursive(
        _SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.sampled_from(["a", "b", "volume", "x_1"]), inner, max_size=3),
        ),
        max_leaves=6,
    )


@functools.cache
def expressions() -> st.SearchStrategy[str]:
    """Valid labdeck expressions over drawn names."""
    atoms = st.one_of(NAMES, st.integers(0, 100).map(str), st.sampled_from(["1.5", "True"]))
    return st.one_of(
        atoms,
        st.builds(
            lambda a, op, b: f"{a} {op} {b}",
            atoms,
            st.sampled_from(["+", "-", "*", "/", ">", "<=", "==", "and", "or"]),
            atoms,
        ),
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(["abs", "round", "str"]), atoms),
    )


@functools.cache
def values() -> st.SearchStrategy[Any]:
    """A value in JSON form: a literal, or a `param` / `var` / `expr` reference."""
    return st.one_of(
        json_literals(),
        NAMES.map(lambda name: {"param": name}),
        NAMES.map(lambda name: {"var": name}),
        expressions().map(lambda text: {"expr": text}),
    )


def _common() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={"disabled": st.booleans(), "note": st.text(max_size=10)},
    )


def _saves() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), NAMES, st.lists(st.one_of(NAMES, st.none()), max_size=3))


@functools.cache
def _leaf_steps() -> st.SearchStrategy[dict[str, Any]]:
    args = st.dictionaries(NAMES, values(), max_size=3)
    kinds = [
        st.fixed_dictionaries(
            {"kind": st.just("call"), "target": TARGETS},
            optional={
                "args": args,
                "save": _saves(),
                "timeout_s": st.floats(0.1, 100),
                "per": st.sampled_from(["sample", "batch"]),
            },
        ),
        st.fixed_dictionaries(
            {"kind": st.just("workflow"), "workflow": WORKFLOW_NAMES},
            optional={"version": st.integers(1, 9), "args": args, "save": _saves()},
        ),
        st.fixed_dictionaries({"kind": st.just("wait"), "seconds": values()}),
        st.fixed_dictionaries({"kind": st.just("set"), "name": NAMES, "value": values()}),
        st.fixed_dictionaries({"kind": st.just("comment"), "text": st.text(max_size=20)}),
        st.fixed_dictionaries({"kind": st.just("pause"), "message": st.text(max_size=20)}),
        st.fixed_dictionaries(
            {
                "kind": st.just("input"),
                "prompt": st.text(max_size=20),
                "save": NAMES,
                "type": st.sampled_from(["number", "integer", "text", "boolean"]),
            },
            optional={"timeout_s": st.floats(0.1, 100)},
        ),
        st.fixed_dictionaries(
            {
                "kind": st.just("input"),
                "prompt": st.text(max_size=20),
                "save": NAMES,
                "type": st.just("choice"),
                "choices": st.lists(st.one_of(st.text(max_size=5), st.integers()), min_size=1),
            }
        ),
    ]
    return st.builds(lambda step, common: {**common, **step}, st.one_of(kinds), _common())


def _block_steps(children: st.SearchStrategy[list[dict[str, Any]]]) -> st.SearchStrategy[Any]:
    kinds = [
        st.fixed_dictionaries(
            {"kind": st.just("if"), "condition": expressions()},
            optional={"then": children, "else": children},
        ),
        st.fixed_dictionaries(
            {
                "kind": st.just("while"),
                "condition": expressions(),
                "max_iterations": st.integers(1, 10_000),
            },
            optional={"do": children},
        ),
        st.fixed_dictionaries(
            {"kind": st.just("repeat"), "times": st.one_of(st.integers(0, 5), values())},
            optional={"do": children, "index": NAMES},
        ),
    ]
    return st.builds(lambda step, common: {**common, **step}, st.one_of(kinds), _common())


@functools.cache
def step_lists(max_leaves: int = 12) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Lists of steps in JSON form, without ids (`document_dicts` numbers them).

    Strategies are built once per argument: building them on every draw is slow.
    """
    return st.recursive(
        st.lists(_leaf_steps(), max_size=3),
        lambda children: st.lists(st.one_of(_leaf_steps(), _block_steps(children)), max_size=3),
        max_leaves=max_leaves,
    )


def _number_steps(document: dict[str, Any]) -> dict[str, Any]:
    counter = 0

    def number(steps: list[dict[str, Any]]) -> None:
        nonlocal counter
        for step in steps:
            counter += 1
            step["id"] = f"s{counter}"
            for key in ("then", "else", "do"):
                number(step.get(key, []))

    for phase in ("prep", "script", "cleanup"):
        number(document.get(phase, []))
    return document


@st.composite
def document_dicts(draw: st.DrawFn, max_leaves: int = 12) -> dict[str, Any]:
    """A workflow document in JSON form that `WorkflowDocument` accepts."""
    parameters = draw(st.lists(NAMES, max_size=4, unique=True))
    document: dict[str, Any] = {
        "format": FORMAT,
        "name": draw(WORKFLOW_NAMES),
        "parameters": [{"name": name, "default": draw(json_literals())} for name in parameters],
        "outputs": draw(st.lists(NAMES, max_size=3, unique=True)),
        "prep": draw(step_lists(max_leaves // 3 or 1)),
        "script": draw(step_lists(max_leaves)),
        "cleanup": draw(step_lists(max_leaves // 3 or 1)),
    }
    if draw(st.booleans()):
        document["description"] = draw(st.text(max_size=20))
        document["tags"] = draw(st.lists(st.text(min_size=1, max_size=8), max_size=3))
    return _number_steps(document)


def documents(max_leaves: int = 12) -> st.SearchStrategy[WorkflowDocument]:
    return document_dicts(max_leaves).map(WorkflowDocument.model_validate)


# --- documents that are valid against a deck ---------------------------------------------
#
# `deck_documents()` draws documents a deck accepts: real targets (the demo deck's by
# default) with their real argument names and literal values of the argument's type and
# range, parameters only in `script` and each feeding arguments of one type, variables read
# only after an enabled step saved them in the same block or an enclosing one (or in prep),
# expressions over numeric names only, nested if/while/repeat blocks, tuple saves on
# tuple-returning methods, property reads and assignments, sub-workflow calls, disabled steps
# and notes. Parameters, variables and workflow function names never collide with each other
# or with the deck's instruments and functions, so the documents also suit Python export.

_VARIABLE_POOL = (
    "mass",
    "volume",
    "absorbance",
    "peak_nm",
    "reading",
    "temp_c",
    "total",
    "ratio",
    "answer",
    "level",
    "spectrum",
    "result",
)
_INDEX_POOL = ("i", "j", "k")
_SUB_WORKFLOWS = ("rinse-vial", "blank check", "warm_up.v2")
_DOCUMENT_NAMES = ("dose-and-measure", "screen v2", "Calibration.run", "plate_read_1", "3-step")
_TEXT = st.text(st.characters(blacklist_characters="{}"), max_size=16)
_NUMERIC = ("number", "integer")


@functools.cache
def demo_schema() -> InterfaceSchema:
    """The interface schema of the demo deck (`labdeck.demo.deck`)."""
    return load_deck("labdeck.demo.deck").schema


def literal_for(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """JSON literals that satisfy an argument's JSON Schema (types, enums and ranges)."""
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    members = schema.get("anyOf")
    if isinstance(members, list):
        return st.one_of([literal_for(member) for member in members])
    kind = schema.get("type")
    if kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        floats = st.floats(
            low,
            high,
            exclude_min="exclusiveMinimum" in schema,
            exclude_max="exclusiveMaximum" in schema,
            allow_nan=False,
            allow_infinity=False,
        )
        ints = st.integers(
            -1000 if low is None else math.floor(low) + 1,
            1000 if high is None else math.floor(high) - ("exclusiveMaximum" in schema),
        )
        return st.one_of(floats, ints)
    if kind == "integer":
        return st.integers(schema.get("minimum", -(10**6)), schema.get("maximum", 10**6))
    if kind == "string":
        return _TEXT
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(literal_for(schema.get("items", {})), max_size=3)
    if kind == "object":
        items = schema.get("additionalProperties")
        return st.dictionaries(
            st.text(max_size=5), literal_for(items if isinstance(items, dict) else {}), max_size=2
        )
    return st.one_of(st.none(), st.booleans(), st.integers(-100, 100), _TEXT)


def _kind(schema: Mapping[str, Any] | None) -> str:
    """number / integer / enum / other: what a reference may feed this argument."""
    if not schema:
        return "other"
    if "enum" in schema:
        return "enum"
    kind = schema.get("type")
    return kind if kind in _NUMERIC else "other"


@dataclass(frozen=True)
class _Target:
    target: str
    args: tuple[tuple[str, Mapping[str, Any], bool], ...]  # name, schema, required
    returns: str  # none / number / tuple / any
    arity: int = 0
    setter: Mapping[str, Any] | None = None  # schema of a settable property's value


def _targets(schema: InterfaceSchema) -> list[_Target]:
    def method_target(target: str, method: Any) -> _Target:
        properties = method.params_schema.get("properties", {})
        args = tuple(
            (param.name, properties.get(param.name, {}), param.required) for param in method.params
        )
        returns = method.returns
        kind = returns.kind
        if kind == "scalar":
            kind = "number" if returns.schema_.get("type") == "number" else "any"
        elif kind == "dict" or (kind == "tuple" and not returns.arity):
            kind = "any"
        return _Target(target, args, kind, returns.arity or 0)

    found = [method_target(name, method) for name, method in schema.functions.items()]
    for instrument_name, instrument in schema.instruments.items():
        for name, method in instrument.methods.items():
            if method.callable:
                found.append(method_target(f"{instrument_name}.{name}", method))
        for name, prop in instrument.properties.items():
            kind = "number" if prop.schema_.get("type") == "number" else "any"
            found.append(_Target(f"{instrument_name}.{name}", (), kind))
            if prop.settable:
                found.append(_Target(f"{instrument_name}.{name}", (), "none", setter=prop.schema_))
    return found


def _parameter_names(targets: list[_Target]) -> dict[tuple[str, str], str]:
    """A parameter name per (target, argument): the argument's own name when every argument of
    that name takes the same kind of value, else one qualified by the member."""
    kinds: dict[str, set[str]] = {}
    for target in targets:
        for name, schema, _ in target.args:
            kinds.setdefault(name, set()).add(json.dumps(_kind_key(schema), sort_keys=True))
    names: dict[tuple[str, str], str] = {}
    for target in targets:
        member = target.target.rpartition(".")[2]
        for name, _, _ in target.args:
            unique = len(kinds[name]) == 1
            names[(target.target, name)] = name if unique else f"{member}_{name}"
    return names


def _kind_key(schema: Mapping[str, Any]) -> Any:
    if "enum" in schema:
        return sorted(map(str, schema["enum"]))
    return schema.get("type") or schema.get("anyOf")


class _DeckDrawer:
    def __init__(self, draw: st.DrawFn, schema: InterfaceSchema, max_depth: int) -> None:
        self.draw = draw
        self.schema = schema
        self.max_depth = max_depth
        self.targets = _targets(schema)
        self.parameter_names = _parameter_names(self.targets)
        self.parameters: dict[str, Mapping[str, Any]] = {}  # name → schema of what it feeds
        self.next_id = 0

    # --- blocks and steps ----------------------------------------------------------------

    def steps(
        self, phase: str, scope: dict[str, str], depth: int, min_size: int = 0, max_size: int = 3
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """A block's steps and the variables defined at its end (scope is block-local)."""
        scope = dict(scope)
        count = self.draw(st.integers(min_size, max_size))
        return [self.step(phase, scope, depth) for _ in range(count)], scope

    def step(self, phase: str, scope: dict[str, str], depth: int) -> dict[str, Any]:
        kinds = ["call", "call", "call", "set", "wait", "comment", "input", "pause", "workflow"]
        if depth < self.max_depth:
            kinds += ["if", "while", "repeat"]
        kind = self.draw(st.sampled_from(kinds))
        self.next_id += 1
        step: dict[str, Any] = {"id": f"{kind}-{self.next_id}", "kind": kind}
        disabled = self.draw(st.integers(0, 9)) == 0
        if disabled:
            step["disabled"] = True
        if self.draw(st.integers(0, 9)) == 0:
            step["note"] = self.draw(_TEXT)
        saved: dict[str, str] = {}
        getattr(self, f"_{kind}")(step, phase, scope, depth, saved)
        if not disabled:  # a disabled step never defines its variables
            scope.update(saved)
        return step

    def _call(
        self, step: dict[str, Any], phase: str, scope: dict[str, str], depth: int, saved: Any
    ) -> None:
        # Tuple returns, property assignments and calls with arguments are the interesting
        # cases, but few among the deck's members: draw them more often.
        favoured = [t for t in self.targets if t.returns == "tuple" or t.setter or t.args]
        target = self.draw(st.sampled_from(self.targets) | st.sampled_from(favoured))
        step["target"] = target.target
        if target.setter is not None:
            step["args"] = {"set": self.value(phase, scope, None, target.setter)}
            return
        args = {}
        for name, schema, required in target.args:
            if required or self.draw(st.booleans()):
                parameter = self.parameter_names[(target.target, name)]
                args[name] = self.value(phase, scope, parameter, schema)
        if args:
            step["args"] = args
        if target.returns == "tuple":
            names = st.one_of(st.none(), st.sampled_from(_VARIABLE_POOL))
            drawn = self.draw(st.lists(names, min_size=target.arity, max_size=target.arity))
            # A name saved twice by one tuple is an error; a repeat becomes a dropped slot.
            save = [name if name not in drawn[:at] else None for at, name in enumerate(drawn)]
            step["save"] = save
            saved.update({name: "number" for name in save if name})
        elif target.returns != "none" and self.draw(st.integers(0, 2)):
            step["save"] = self.draw(st.sampled_from(_VARIABLE_POOL))
            saved[step["save"]] = target.returns
        if self.draw(st.integers(0, 4)) == 0:
            step["timeout_s"] = self.draw(st.floats(0.5, 600))
        # A per-batch step would get a parameter as the list of the batch's values: keep
        # those to steps whose arguments are literals or variables.
        plain = not any(
            isinstance(value, dict) and ({"param", "expr"} & set(value))
            for value in step.get("args", {}).values()
        )
        if phase == "script" and plain and self.draw(st.integers(0, 4)) == 0:
            step["per"] = "batch"

    def _workflow(
        self, step: dict[str, Any], phase: str, scope: dict[str, str], depth: int, saved: Any
    ) -> None:
        step["workflow"] = self.draw(st.sampled_from(_SUB_WORKFLOWS))
        if self.draw(st.booleans()):
            step["version"] = self.draw(st.integers(1, 9))
        numbers = [name for name, kind in scope.items() if kind in _NUMERIC]
        value = st.one_of(st.integers(1, 5), _TEXT)
        if numbers:
            value = st.one_of(value, st.sampled_from(numbers).map(lambda name: {"var": name}))
        step["args"] = self.draw(st.dictionaries(st.sampled_from(["times", "volume"]), value))
        if self.draw(st.booleans()):
            step["save"] = self.draw(st.sampled_from(_VARIABLE_POOL))
            saved[step["save"]] = "any"

    def _set(
        self, step: dict[str, Any], phase: str, scope: dict[str, str], depth: int, saved: Any
    ) -> None:
        step["name"] = name = self.draw(st.sampled_from(_VARIABLE_POOL))
        numbers = self.numeric_names(phase, scope)
        choices = ["number", "text", "bool"] + (["var", "expr"] if numbers else [])
        choice = self.draw(st.sampled_from(choices))
        if choice == "var":
            source = self.draw(st.sampled_from(numbers))
            step["value"] = self.reference(source)
        elif choice == "expr":
            step["value"] = {"expr": self.expression(numbers)}
        else:
            strategies = {"number": literal_for({"type": "number"}), "text": _TEXT}
            step["value"] = self.draw(strategies.get(choice, st.booleans()))
        saved[name] = "number" if choice in ("number", "var", "expr") else choice

    def _wait(
        self, step: dict[str, Any], phase: str, scope: dict[str, str], depth: int, saved: Any
    ) -> None:
        schema = {"type": "number", "minimum": 0, "maximum": 2}
        step["seconds"] = self.value(phase, scope, "wait_s", schema)

    def _comment(
        self, step: dict[str, Any], phase: str, scope: dict[str, str], depth: int, saved: Any
    ) -> None:
        parts = self.draw(st.lists(_TEXT, min_size=1, max_size=3))
        if scope and self.draw(st.booleans()):
            parts.insert(1, "{" + self.draw(st.sampled_from(sorted(scope))) + "}")
        step["text"] = "".join(parts)

    def _input(
        self, step: dict[str, Any], phase: str, scope: dict[str, str], depth: int, saved: Any
    ) -> None:
        kind = self.draw(st.sampled_from(["number", "integer", "text", "boolean", "choice"]))
        step.update(prompt=self.draw(_TEXT), type=kind)
        step["save"] = self.draw(st.sampled_from(_VARIABLE_POOL))
        if kind == "choice":
            options = st.one_of(_TEXT, st.integers(-5, 5))
            step["choices"] = self.draw(st.lists(options, min_size=1, max_size=3))
        if self.draw(st.integers(0, 3)) == 0:
            step["timeout_s"] = self.draw(st.floats(1, 3600))
        saved[step["save"]] = {"boolean": "bool", "choice": "text"}.get(kind, kind)

    def _pause(
        self, step: dict[str, Any], phase: str, scope: dict[str, str], depth: int, saved: Any
    ) -> None:
        step["message"] = self.draw(_TEXT)

    def _if(
        self, step: dict[str, Any], phase: str, scope: dict[str, str], depth: int, saved: Any
    ) -> None:
        step["condition"] = self.condition(phase, scope)
        step["then"], _ = self.steps(phase, scope, depth + 1)
        if self.draw(st.booleans()):
            step["else"], _ = self.steps(phase, scope, depth + 1)

    def _while(
        self, step: dict[str, Any], phase: str, scope: dict[str, str], depth: int, saved: Any
    ) -> None:
        step["condition"] = self.condition(phase, scope)
        step["max_iterations"] = self.draw(st.integers(1, 10_000))
        step["do"], _ = self.steps(phase, scope, depth + 1)

    def _repeat(
        self, step: dict[str, Any], phase: str, scope: dict[str, str], depth: int, saved: Any
    ) -> None:
        step["times"] = self.value(
            phase, scope, "n_repeats", {"type": "integer", "minimum": 1, "maximum": 5}
        )
        inner = dict(scope)
        free = [name for name in _INDEX_POOL if name not in scope]
        if free and self.draw(st.booleans()):
            step["index"] = self.draw(st.sampled_from(free))
            inner[step["index"]] = "integer"
        step["do"], _ = self.steps(phase, inner, depth + 1)

    # --- values --------------------------------------------------------------------------

    def value(
        self, phase: str, scope: dict[str, str], parameter: str | None, schema: Mapping[str, Any]
    ) -> Any:
        """A literal, parameter, variable or expression that may feed `schema`."""
        kind = _kind(schema)
        choices = ["literal"]
        fits = self.parameters.get(parameter or "")
        fitting = fits is None or _kind_key(fits) == _kind_key(schema)
        if phase == "script" and parameter and kind != "other" and fitting:
            choices.append("param")
        # A number argument takes any numeric variable; an integer argument integer ones only.
        accepted = {"number": _NUMERIC, "integer": ("integer",)}.get(kind, ())
        numbers = [name for name, found in scope.items() if found in accepted]
        if phase == "script":  # a parameter feeds arguments of one type only
            numbers += [name for name, fed in self.parameters.items() if _kind(fed) == kind]
        if numbers:
            choices += ["var", "expr"]
        choice = self.draw(st.sampled_from(choices))
        if choice == "param":
            assert parameter is not None
            self.parameters.setdefault(parameter, schema)
            return {"param": parameter}
        if choice == "var":
            return self.reference(self.draw(st.sampled_from(numbers)))
        if choice == "expr":
            return {"expr": self.expression(numbers)}
        return self.draw(literal_for(schema))

    def reference(self, name: str) -> dict[str, str]:
        return {"param": name} if name in self.parameters else {"var": name}

    def numeric_names(self, phase: str, scope: dict[str, str]) -> list[str]:
        names = [name for name, kind in scope.items() if kind in _NUMERIC]
        if phase == "script":
            names += [name for name, schema in self.parameters.items() if _kind(schema) in _NUMERIC]
        return sorted(names)

    def expression(self, names: list[str]) -> str:
        a, b = self.draw(st.sampled_from(names)), self.draw(st.sampled_from(names))
        template = self.draw(
            st.sampled_from(
                ["{a} * 2", "{a} + {b}", "max({a}, 1)", "abs({a} - {b}) / 2", "round({a}, 1)"]
            )
        )
        return template.format(a=a, b=b)

    def condition(self, phase: str, scope: dict[str, str]) -> str:
        names = self.numeric_names(phase, scope)
        if not names:
            return self.draw(st.sampled_from(["True", "1 < 2", "not False"]))
        a, b = self.draw(st.sampled_from(names)), self.draw(st.sampled_from(names))
        n = self.draw(st.integers(0, 100))
        template = self.draw(
            st.sampled_from(
                [
                    "{a} > {n}",
                    "{a} <= {b}",
                    "not ({a} == {n})",
                    "{a} > 1 and {b} < 100",
                    "abs({a}) >= {n}",
                    "{a}*2 < {b}+{n}",
                ]
            )
        )
        return template.format(a=a, b=b, n=n)


@st.composite
def deck_document_dicts(
    draw: st.DrawFn, schema: InterfaceSchema | None = None, max_depth: int = 3
) -> dict[str, Any]:
    """A document in JSON form that is valid against `schema` (default: the demo deck)."""
    drawer = _DeckDrawer(draw, schema or demo_schema(), max_depth)
    prep, prep_scope = drawer.steps("prep", {}, 0, max_size=2)
    script, script_scope = drawer.steps("script", prep_scope, 0, min_size=1, max_size=5)
    cleanup, _ = drawer.steps("cleanup", prep_scope, 0, max_size=2)
    numeric = sorted(name for name in _saved_at_top(script) if script_scope.get(name) in _NUMERIC)
    document: dict[str, Any] = {
        "format": FORMAT,
        "name": draw(st.sampled_from(_DOCUMENT_NAMES)),
        "parameters": [
            {"name": name, "default": draw(st.one_of(st.none(), literal_for(fed)))}
            for name, fed in drawer.parameters.items()
        ],
        "outputs": draw(st.lists(st.sampled_from(numeric), unique=True)) if numeric else [],
        "prep": prep,
        "script": script,
        "cleanup": cleanup,
    }
    if draw(st.booleans()):
        document["description"] = draw(st.text(max_size=30))
    return document


def _saved_at_top(steps: list[dict[str, Any]]) -> set[str]:
    """Variables that the enabled steps of this list (not of nested blocks) save."""
    names: set[str] = set()
    for step in steps:
        if step.get("disabled"):
            continue
        save = step.get("name") if step["kind"] == "set" else step.get("save")
        if isinstance(save, str):
            names.add(save)
        elif isinstance(save, list):
            names.update(name for name in save if name)
    return names


def deck_documents(
    schema: InterfaceSchema | None = None, max_depth: int = 3
) -> st.SearchStrategy[WorkflowDocument]:
    """Documents valid against `schema` (default: the demo deck); see `deck_document_dicts`."""
    return deck_document_dicts(schema, max_depth).map(WorkflowDocument.model_validate)


# --- comparing documents ---------------------------------------------------------------------


def equivalent(a: WorkflowDocument, b: WorkflowDocument) -> bool:
    """Same phases, step kinds, targets, args, saves, conditions, outputs and parameters.

    Step ids, notes, comment text, name, description and tags may differ; expressions are
    compared by their syntax tree (spacing and parentheses may differ), and an expression
    that is just a name or a literal equals that reference or literal.
    """
    return normalized(a) == normalized(b)


def normalized(document: WorkflowDocument) -> dict[str, Any]:
    """The parts of a document that `equivalent` compares, with every scalar tagged by type
    (so that `1`, `1.0` and `true` stay different under ==)."""
    data = document.dump()
    parameters = {parameter["name"] for parameter in data.get("parameters", [])}

    def step(found: dict[str, Any]) -> dict[str, Any]:
        result = {key: value for key, value in found.items() if key not in ("id", "note")}
        if result["kind"] == "comment":
            result.pop("text", None)
        if "condition" in result:
            result["condition"] = _expression_tree(result["condition"])
        for key in ("then", "else", "do"):
            if key in result:
                result[key] = [step(child) for child in result[key]]
        return value(result)

    def value(item: Any) -> Any:
        if isinstance(item, dict):
            if set(item) == {"expr"} and isinstance(item["expr"], str):
                return _expression_value(item["expr"], parameters, value)
            return {key: value(child) for key, child in item.items()}
        if isinstance(item, list):
            return [value(child) for child in item]
        return [type(item).__name__, item]

    return {
        "parameters": value(data.get("parameters", [])),
        "outputs": data.get("outputs", []),
        **{phase: [step(found) for found in data.get(phase, [])] for phase in PHASES},
    }


def _expression_tree(text: str) -> Any:
    try:
        return ast.dump(ast.parse(text.strip(), mode="eval"))
    except SyntaxError:
        return text


def _expression_value(text: str, parameters: set[str], tag: Any) -> Any:
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return {"expr": text}
    if isinstance(tree, ast.Name):
        reference = {"param": tree.id} if tree.id in parameters else {"var": tree.id}
        return tag(reference)
    try:
        return tag(ast.literal_eval(tree))
    except ValueError:
        return {"expr": ast.dump(tree)}
