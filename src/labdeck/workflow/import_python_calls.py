"""Calls and values in a Python import: what `pump.dispense(2, solvent=s)` becomes.

Owns the mapping from a call in the source to one step: deck methods and functions (with
positional arguments named by the interface schema's signature order, `**{...}` literals
and enum members like `Solvent.WATER` turned into their values), property reads and
assignments, the export's stand-ins (`time.sleep` → wait, `ask`/`input` → input, `pause`,
`print` → comment), and calls of other workflows. Arguments become literals, `{"param"}`
(a name among the function's parameters), `{"var"}` (any other name) or `{"expr"}` (only
inside labdeck's expression language).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

from labdeck.deck.schema import InterfaceSchema, MethodSchema, PropertySchema
from labdeck.workflow.expressions import FUNCTIONS
from labdeck.workflow.import_python_expr import expression_problem, literal_value
from labdeck.workflow.import_python_source import PreparedSource
from labdeck.workflow.render_python_text import read_trailing_fields

_CAST_INPUT = {"float": "number", "int": "integer", "str": "text"}


class NotConverted(Exception):
    """A statement that cannot become a step; `message` says why."""

    def __init__(self, message: str, node: ast.AST | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node


class CallReader:
    def __init__(
        self,
        deck: InterfaceSchema,
        source: PreparedSource,
        workflows: set[str],
        warn: Callable[[str, ast.AST], None],
    ) -> None:
        self.deck = deck
        self.source = source
        self.workflows = workflows
        self.warn = warn
        self.params: set[str] = set()

    # --- steps -----------------------------------------------------------------------

    def is_call_like(self, node: ast.expr) -> bool:
        """Whether `x = node` is a step that saves into x (rather than a `set`)."""
        if isinstance(node, ast.Await):
            return True
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name in FUNCTIONS and name not in self.deck.functions:
                return _cast_input(node) is not None  # `float(input(...))` is an input
            return True
        if isinstance(node, ast.Attribute):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            return isinstance(root, ast.Name) and (
                root.id == "deck" or root.id in self.deck.instruments
            )
        return False

    def read(
        self, value: ast.expr, save: Any, node: ast.stmt, tuple_save: bool = False
    ) -> dict[str, Any]:
        """The step of `save = value` (or of a bare `value` when save is None)."""
        fields = self._fields(node)
        inner = value.value if isinstance(value, ast.Await) else value
        if isinstance(inner, ast.Attribute):
            target = self._target(inner)
            method, prop = self._member(target)
            if prop is None or target is None:
                what = f"{target} is a method: call it" if method else self._not_on_deck(inner)
                raise NotConverted(what)
            return self._with_fields({"kind": "call", "target": target, "save": save}, fields)
        if not isinstance(inner, ast.Call):
            raise NotConverted(f"{ast.unparse(inner)} is not a call: nothing to run")
        func = inner.func
        if isinstance(func, ast.Name) and func.id in self.deck.functions:
            return self._deck_call(func.id, self.deck.functions[func.id], inner, save, fields)
        dotted = _dotted(func)
        if dotted in ("time.sleep", "sleep", "asyncio.sleep"):
            _no_save(save, "a wait")
            if len(inner.args) != 1 or inner.keywords:
                raise NotConverted("a wait needs one argument: the seconds")
            return {"kind": "wait", "seconds": self.value(inner.args[0])}
        if dotted in ("ask", "input") or _cast_input(inner) is not None:
            if tuple_save:
                raise NotConverted("an input saves a single answer")
            return self._input(inner, save, fields, node)
        if dotted == "pause":
            _no_save(save, "a pause")
            return {"kind": "pause", "message": self._text(inner.args, node)}
        if dotted == "print":
            _no_save(save, "a comment")
            if inner.keywords:
                self.warn("print() keyword arguments are ignored", node)
            return {"kind": "comment", "text": self._text(inner.args, node)}
        if isinstance(func, ast.Name) and (
            func.id in self.workflows or isinstance(fields.get("workflow"), str)
        ):
            return self._workflow(func.id, inner, save, fields)
        if isinstance(func, ast.Attribute):
            target = self._target(func)
            method, prop = self._member(target)
            if target is not None and method is not None:
                return self._deck_call(target, method, inner, save, fields)
            if prop is not None:
                raise NotConverted(f"{target} is a property: read it without ()")
            raise NotConverted(self._not_on_deck(func))
        raise NotConverted(
            f"{ast.unparse(func)}() is not a function of the deck {self.deck.name!r}, "
            "a workflow in this file, or a labdeck step"
        )

    def property_assignment(
        self, target: ast.Attribute, value: ast.expr, node: ast.stmt
    ) -> dict[str, Any]:
        resolved = self._target(target)
        _, prop = self._member(resolved)
        if resolved is None or prop is None:
            raise NotConverted(
                f"cannot assign to {ast.unparse(target)}: {self._not_on_deck(target)}"
            )
        if not prop.settable:
            self.warn(f"{resolved} is read-only in the deck", node)
        step = {
            "kind": "call",
            "target": resolved,
            "args": {"set": self.value(value, prop.schema_)},
        }
        return self._with_fields(step, self._fields(node))

    # --- values ----------------------------------------------------------------------

    def value(self, node: ast.expr, schema: Mapping[str, Any] | None = None) -> Any:
        known, literal = literal_value(node)
        if known:
            return literal
        if isinstance(node, ast.Name):
            if node.id in self.deck.instruments:
                raise NotConverted(f"the instrument {node.id} cannot be passed as a value")
            return {"param": node.id} if node.id in self.params else {"var": node.id}
        found, member = _enum_member(node, schema)
        if found:
            return member
        return {"expr": self.expression(node)}

    def expression(self, node: ast.expr, segment: bool = True) -> str:
        # The author's spelling when it is one clean line, else Python's normal form.
        text = ast.get_source_segment(self.source.text, node) if segment else None
        if not text or "\n" in text or "#" in text:
            text = ast.unparse(node)
        problem = expression_problem(text)
        if problem is not None:
            raise NotConverted(f"{text} {problem}", node)
        return text

    # --- pieces ----------------------------------------------------------------------

    def _deck_call(
        self,
        target: str,
        method: MethodSchema,
        call: ast.Call,
        save: Any,
        fields: dict[str, Any],
    ) -> dict[str, Any]:
        if not method.callable:
            self.warn(f"{target} cannot be called from a workflow: {method.reason}", call)
        positional = [param for param in method.params if param.kind != "keyword_only"]
        properties = method.params_schema.get("properties", {})
        args: dict[str, Any] = {}
        for index, node in enumerate(call.args):
            if isinstance(node, ast.Starred):
                raise NotConverted("*args cannot be matched to named arguments")
            if index >= len(positional):
                raise NotConverted(
                    f"{target} takes {len(positional)} positional arguments, got {len(call.args)}"
                )
            name = positional[index].name
            args[name] = self.value(node, properties.get(name))
        for name, node in self._keywords(call):
            if name in args:
                raise NotConverted(f"{target} gets the argument {name} twice")
            args[name] = self.value(node, properties.get(name))
        known = {param.name for param in method.params}
        unknown = [name for name in args if name not in known]
        if unknown and not method.accepts_extra:
            self.warn(f"{target} has no argument {', '.join(unknown)}", call)
        step = {"kind": "call", "target": target, "args": args, "save": save}
        return self._with_fields(step, fields)

    def _keywords(self, call: ast.Call) -> list[tuple[str, ast.expr]]:
        pairs: list[tuple[str, ast.expr]] = []
        for keyword in call.keywords:
            if keyword.arg is not None:
                pairs.append((keyword.arg, keyword.value))
                continue
            unpacked = keyword.value
            if not isinstance(unpacked, ast.Dict) or not all(
                isinstance(key, ast.Constant) and isinstance(key.value, str)
                for key in unpacked.keys
            ):
                raise NotConverted("only a dict literal with string keys can be passed as **{...}")
            for key, item in zip(unpacked.keys, unpacked.values, strict=True):
                assert isinstance(key, ast.Constant)
                pairs.append((str(key.value), item))
        return pairs

    def _input(
        self, call: ast.Call, save: Any, fields: dict[str, Any], node: ast.stmt
    ) -> dict[str, Any]:
        cast_type: str | None = None
        inner = _cast_input(call)
        if inner is not None:  # `float(input(...))`: the cast says the answer's type
            cast_type = _CAST_INPUT[_dotted(call.func)]
            call = inner
        names = ("prompt", "type_", "choices") if _dotted(call.func) == "ask" else ("prompt",)
        given: dict[str, ast.expr] = {}
        for index, argument in enumerate(call.args):
            if index >= len(names):
                raise NotConverted(f"{_dotted(call.func)}() takes at most {len(names)} arguments")
            given[names[index]] = argument
        for keyword in call.keywords:
            given["type_" if keyword.arg == "type" else str(keyword.arg)] = keyword.value
        literal = {key: literal_value(value) for key, value in given.items()}
        if any(not known for known, _ in literal.values()):
            raise NotConverted("an input's prompt, type and choices must be literals")
        prompt = literal.get("prompt", (True, ""))[1]
        kind = literal.get("type_", (True, None))[1] or cast_type or "text"
        if save is None:
            self.warn("an input whose answer is not saved becomes a pause", node)
            return {"kind": "pause", "message": str(prompt)}
        step: dict[str, Any] = {"kind": "input", "prompt": prompt, "save": save, "type": kind}
        if "choices" in literal and literal["choices"][1] is not None:
            step["choices"] = literal["choices"][1]
        if fields.get("timeout_s") is not None:
            step["timeout_s"] = fields["timeout_s"]
        return step

    def _workflow(
        self, function: str, call: ast.Call, save: Any, fields: dict[str, Any]
    ) -> dict[str, Any]:
        if call.args:
            raise NotConverted(f"pass the arguments of the workflow {function}() by name")
        name = fields.get("workflow")
        step: dict[str, Any] = {
            "kind": "workflow",
            "workflow": name if isinstance(name, str) else function,
            "args": {key: self.value(node) for key, node in self._keywords(call)},
        }
        if isinstance(fields.get("version"), int):
            step["version"] = fields["version"]
        if save is not None:
            step["save"] = save
        return step

    def _text(self, arguments: list[ast.expr], node: ast.stmt) -> str:
        """Comment or pause text: strings as written, `{name}` for names and f-string fields."""
        parts: list[str] = []
        for argument in arguments:
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                parts.append(argument.value)
            elif isinstance(argument, ast.JoinedStr):
                parts.append("".join(self._fstring_part(value, node) for value in argument.values))
            else:
                parts.append(self._field(argument, node))
        return " ".join(parts)

    def _fstring_part(self, value: ast.expr, node: ast.stmt) -> str:
        if isinstance(value, ast.Constant):
            return str(value.value)
        if isinstance(value, ast.FormattedValue):
            if value.conversion != -1 or value.format_spec is not None:
                self.warn("a format spec or conversion in an f-string is dropped", node)
            return self._field(value.value, node)
        return ast.unparse(value)

    def _field(self, value: ast.expr, node: ast.stmt) -> str:
        if not isinstance(value, ast.Name):
            self.warn(f"{{{ast.unparse(value)}}} is kept as text: only {{name}} is filled in", node)
        return "{" + ast.unparse(value) + "}"

    def _fields(self, node: ast.stmt) -> dict[str, Any]:
        for line in dict.fromkeys((node.lineno, node.end_lineno or node.lineno)):
            comment = self.source.trailing.get(line)
            fields = read_trailing_fields(comment) if comment else None
            if fields is not None:
                return fields
        return {}

    @staticmethod
    def _with_fields(step: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        if step.get("save") is None:
            step.pop("save", None)
        for key in ("timeout_s", "per"):
            if fields.get(key) is not None:
                step[key] = fields[key]
        return step

    def _target(self, node: ast.Attribute) -> str | None:
        """`pump.x` / `deck.pump.x` → "pump.x", `deck.f` → "f"; None when not on the deck."""
        base = node.value
        if isinstance(base, ast.Name) and base.id == "deck" and node.attr in self.deck.functions:
            return node.attr
        if isinstance(base, ast.Attribute) and _dotted(base.value) == "deck":
            instrument = base.attr
        elif isinstance(base, ast.Name):
            instrument = base.id
        else:
            return None
        return f"{instrument}.{node.attr}" if instrument in self.deck.instruments else None

    def _not_on_deck(self, node: ast.Attribute) -> str:
        """Why `node` (an attribute that is not a deck member) names nothing callable."""
        owner = node.value
        if isinstance(owner, ast.Attribute) and _dotted(owner.value) == "deck":
            owner = ast.Name(owner.attr)
        if isinstance(owner, ast.Name) and owner.id in self.deck.instruments:
            return f"{owner.id} has no method or property {node.attr}"
        return f"{ast.unparse(owner)} is not an instrument of the deck {self.deck.name!r}"

    def _member(self, target: str | None) -> tuple[MethodSchema | None, PropertySchema | None]:
        if target is None:
            return None, None
        head, dot, member = target.partition(".")
        if not dot:
            return self.deck.functions.get(head), None
        instrument = self.deck.instruments[head]
        return instrument.methods.get(member), instrument.properties.get(member)


def _dotted(node: ast.expr) -> str:
    """`time.sleep` for an attribute chain of names, "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else ""
    return ""


def _cast_input(call: ast.Call) -> ast.Call | None:
    """The `input(...)` inside `float(input(...))` (or int/str, or around `ask`)."""
    if (
        _dotted(call.func) in _CAST_INPUT
        and len(call.args) == 1
        and not call.keywords
        and isinstance(call.args[0], ast.Call)
        and _dotted(call.args[0].func) in ("ask", "input")
    ):
        return call.args[0]
    return None


def _no_save(save: Any, what: str) -> None:
    if save is not None:
        raise NotConverted(f"{what} returns nothing to save")


def _enum_member(node: ast.expr, schema: Mapping[str, Any] | None) -> tuple[bool, Any]:
    """`Solvent.WATER` → (True, "water") when the argument is that enum (by member name)."""
    if schema is None or not isinstance(node, ast.Attribute):
        return False, None
    options = [schema, *(schema.get("anyOf") or [])]
    for option in options:
        if not isinstance(option, Mapping):
            continue
        names, values = option.get("x-enum-names"), option.get("enum")
        if isinstance(names, list) and isinstance(values, list) and node.attr in names:
            return True, values[names.index(node.attr)]
    return False, None
