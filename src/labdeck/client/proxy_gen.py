"""The generator of `GET /api/proxy.py`: a typed Python module for a deck's instruments.

Owns `generate_proxy(schema)`, which writes, from the deck's interface schema, a module with
one class per instrument (one method per callable method, properties as Python properties),
a `Deck` class holding them all and the deck functions, and the Enum classes and Literal
aliases its hints need. The fixed part (the `Connection`, the error) is `proxy_runtime.py`;
hints and literals come from `proxy_types.py`. The text is laid out as `ruff format`
(line length 88) would, so it reads like hand-written code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labdeck import __version__
from labdeck.client.proxy_runtime import RUNTIME
from labdeck.client.proxy_types import (
    EnumClass,
    Names,
    TypeWriter,
    camel,
    is_name,
    py_literal,
    py_string,
)
from labdeck.deck.schema import InstrumentSchema, InterfaceSchema, MethodSchema, PropertySchema

LINE = 88
RESERVED = {
    "Any",
    "Connection",
    "DECK_NAME",
    "DEFAULT",
    "Deck",
    "Enum",
    "FINGERPRINT",
    "Literal",
    "RemoteInstrumentError",
    "annotations",
    "httpx",
}
DECK_MEMBERS = {"connection", "close"}


def proxy_filename(deck_name: str) -> str:
    """`labdeck.demo.deck` → `labdeck_demo_deck_proxy.py` (an importable, ASCII module name)."""
    stem = re.sub(r"[^0-9A-Za-z]+", "_", deck_name).strip("_") or "deck"
    if stem[0].isdigit():
        stem = f"deck_{stem}"
    return f"{stem}_proxy.py"


def generate_proxy(schema: InterfaceSchema, base_url: str = "http://127.0.0.1:8000") -> str:
    """The proxy module's source for this deck (`base_url` appears only in its docstring)."""
    names = Names(RESERVED)
    types = TypeWriter(names)
    classes: list[tuple[str, str, list[str]]] = []  # attribute, class name, source lines
    for instrument, info in schema.instruments.items():
        if not is_name(instrument):
            continue
        class_name = names.claim(camel(instrument), "Instrument")
        classes.append(
            (instrument, class_name, _instrument_class(class_name, instrument, info, types))
        )
    deck_lines = _deck_class(schema, [(a, c) for a, c, _ in classes], types)
    exported = ["DEFAULT", "Connection", "Deck", "RemoteInstrumentError"]
    exported += [name for enum in types.enums for name in (enum.name, enum.alias)]
    exported += [class_name for _, class_name, _ in classes]
    blocks = [_enum_lines(enum) for enum in types.enums]
    blocks += [lines for _, _, lines in classes] + [deck_lines]
    uses_literal = any("Literal[" in line for block in blocks for line in block)
    all_names = _Group("__all__ = [", [py_string(name) for name in exported], "]")
    constants = [f"DECK_NAME = {py_string(schema.name)}"]
    constants.append(f"FINGERPRINT = {py_string(schema.fingerprint)}")
    runtime = (
        RUNTIME.replace("__TYPING__", "Any, Literal" if uses_literal else "Any")
        .replace("__ALL__", "\n".join(_layout(all_names, 0, force_split=True)))
        .replace("__CONSTANTS__", "\n".join(constants))
    )
    parts = [runtime.rstrip("\n")] + ["\n".join(block) for block in blocks]
    # Answers are JSON (Any); the hints say what the deck promises, so returning them is fine.
    header = "# mypy: disable-error-code=no-any-return\n"
    docstring = _module_docstring(schema, base_url, classes)
    return header + docstring + "\n\n" + "\n\n\n".join(parts) + "\n"


# --- layout ---------------------------------------------------------------------------------


@dataclass
class _Group:
    """A bracketed, comma-separated construct: `head` items `tail` (e.g. `f(` a, b `)`)."""

    head: str
    items: list[str | _Group]
    tail: str

    def flat(self) -> str:
        return self.head + ", ".join(_flat(item) for item in self.items) + self.tail


def _flat(item: str | _Group) -> str:
    return item if isinstance(item, str) else item.flat()


def _layout(
    group: _Group, indent: int, trailer: str = "", *, force_split: bool = False
) -> list[str]:
    """One line if it fits; else the items on one line of their own; else one per line."""
    pad, inner_pad = " " * indent, " " * (indent + 4)
    flat = group.flat() + trailer
    if not force_split and indent + len(flat) <= LINE:
        return [pad + flat]
    joined = ", ".join(_flat(item) for item in group.items)
    if not force_split and group.items and indent + 4 + len(joined) <= LINE:
        return [pad + group.head, inner_pad + joined, pad + group.tail + trailer]
    # A sole item gets no trailing comma: the formatter splits inside it instead.
    comma = "" if len(group.items) == 1 else ","
    lines = [pad + group.head]
    for item in group.items:
        if isinstance(item, _Group):
            lines += _layout(item, indent + 4, comma)
        else:
            lines.append(f"{inner_pad}{item}{comma}")
    lines.append(pad + group.tail + trailer)
    return lines


def _docstring(text: str, indent: int) -> list[str]:
    """A docstring's lines; backslashes and triple quotes are escaped."""
    text = text.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        text = text[:-1] + '\\"'
    pad = " " * indent
    lines = [line.rstrip() for line in text.splitlines()] or [""]
    if len(lines) == 1:
        return [f'{pad}"""{lines[0]}"""']
    body = [f"{pad}{line}" if line else "" for line in lines[1:]]
    return [f'{pad}"""{lines[0]}', *body, f'{pad}"""']


# --- the parts of the module ------------------------------------------------------------------


def _module_docstring(schema: InterfaceSchema, base_url: str, classes: list[Any]) -> str:
    module = proxy_filename(schema.name).removesuffix(".py")
    example = "..."
    for attribute, _, _ in classes:
        info = schema.instruments[attribute]
        usable = [m for m, spec in info.methods.items() if spec.callable and is_name(m)]
        if usable:
            method = info.methods[usable[0]]
            needs = any(param.required for param in method.params)
            example = f"deck.{attribute}.{usable[0]}({'...' if needs else ''})"
            break
    text = f"""Typed proxy of the labdeck deck {schema.name!r}: generated, do not edit.

Generated by labdeck {__version__} (`GET /api/proxy.py`) for the deck's fingerprint
{schema.fingerprint}. It needs only httpx, and importing it does nothing:

    from {module} import Deck

    with Deck({py_string(base_url)}, token="<an operator's API token>") as deck:
        {example}

Each instrument is a class whose methods call `POST /api/instruments/<name>/<method>` and
return the output; properties read and set the instrument's properties. A call that was
refused, that ran and failed, or that got no answer raises `RemoteInstrumentError` with
`code`, `message`, `retryable`, `status` and `detail` (labdeck's own class when labdeck is
installed). Enum arguments take a member or its value.
"""
    return "\n".join(_docstring(text, 0))


def _enum_lines(enum: EnumClass) -> list[str]:
    lines = [f"class {enum.name}({enum.base}):"]
    lines += _docstring(f"{enum.title}: pass a member or its value.", 4)
    lines.append("")
    lines += [f"    {member} = {py_literal(value)}" for member, value in enum.members]
    values: list[str | _Group] = [py_literal(value) for _, value in enum.members]
    lines += ["", "", *_layout(_Group(f"{enum.alias} = Literal[", values, "]"), 0)]
    return lines


def _instrument_class(
    class_name: str, instrument: str, info: InstrumentSchema, types: TypeWriter
) -> list[str]:
    doc = f"Instrument `{instrument}` ({info.class_})."
    skipped = [
        name for name, method in info.methods.items() if not method.callable or not is_name(name)
    ]
    if info.doc:
        doc += f"\n\n{info.doc}"
    if skipped:
        reason = "their arguments cannot be sent as JSON"
        doc += f"\n\nNot available here ({reason}): {', '.join(skipped)}."
    lines = [
        f"class {class_name}(_Instrument):",
        *_docstring(doc, 4),
        "",
        f"    _name = {py_string(instrument)}",
    ]
    for name, prop in info.properties.items():
        if is_name(name):
            lines += ["", *_property(name, prop, types)]
    for name, method in info.methods.items():
        if method.callable and is_name(name):
            lines += ["", *_method(name, name, method, types, "self._call(")]
    return lines


def _property(name: str, prop: PropertySchema, types: TypeWriter) -> list[str]:
    lines = [
        "    @property",
        f"    def {name}(self) -> {types.annotation(prop.schema_, 'return')}:",
    ]
    lines += _docstring(prop.doc or f"The `{name}` property.", 8)
    lines.append(f"        return self._get({py_string(name)})")
    if prop.settable:
        hint = types.annotation(prop.schema_, "param")
        lines += ["", f"    @{name}.setter"]
        lines += _layout(_Group(f"def {name}(", ["self", f"value: {hint}"], ") -> None:"), 4)
        lines.append(f"        self._set({py_string(name)}, value)")
    return lines


def _method(
    name: str, remote: str, method: MethodSchema, types: TypeWriter, call_head: str
) -> list[str]:
    """A method whose call sends its arguments to `remote` (the method or function name)."""
    properties: Mapping[str, Any] = method.params_schema.get("properties") or {}
    required = set(method.params_schema.get("required") or [])
    signature: list[str | _Group] = ["self"]
    sent: list[str | _Group] = []
    docs: list[tuple[str, str]] = []
    taken = {"self"}
    positional_only = [p.name for p in method.params if p.kind == "positional_only"]
    star_written = False
    for param in method.params:
        if param.name not in properties:  # not settable from JSON: its default is used
            continue
        schema = properties[param.name]
        py_name = param.name if is_name(param.name) and param.name != "self" else f"{param.name}_"
        taken.add(py_name)
        if param.kind == "keyword_only" and not star_written:
            signature.append("*")
            star_written = True
        hint = types.annotation(schema, "param")
        if param.name in required:
            signature.append(f"{py_name}: {hint}")
        elif isinstance(schema, dict) and "default" in schema:
            signature.append(f"{py_name}: {hint} = {types.default(schema, schema['default'])}")
        else:
            signature.append(f"{py_name}: {hint} = DEFAULT")
        if positional_only and param.name == positional_only[-1]:
            signature.append("/")
        sent.append(f"{py_string(param.name)}: {py_name}")
        if param.doc:
            docs.append((py_name, param.doc))
    if method.accepts_extra:
        extra = next(n for n in ("kwargs", "extra_args", "extra_kwargs_") if n not in taken)
        extra_schema = method.params_schema.get("additionalProperties")
        hint = types.annotation(extra_schema if isinstance(extra_schema, dict) else {}, "param")
        signature.append(f"**{extra}: {hint}")
        sent.append(f"**{extra}")
    returns = method.returns
    result = "None" if returns.kind == "none" else types.annotation(returns.schema_, "return")
    lines = _layout(_Group(f"def {name}(", signature, f") -> {result}:"), 4)
    doc = method.doc or f"Call `{remote}`."
    if docs:
        args = "\n".join(f"    {n}: {d.strip()}".replace("\n", "\n        ") for n, d in docs)
        doc += f"\n\nArgs:\n{args}"
    lines += _docstring(doc, 8)
    call = _Group(call_head, [py_string(remote), _Group("{", sent, "}")], ")")
    if returns.kind == "none":
        return lines + _layout(call, 8)
    if returns.kind == "tuple":  # JSON has no tuples: the output comes as a list
        call = _Group("return tuple(", [call], ")")
    else:
        call = _Group(f"return {call_head}", call.items, ")")
    return lines + _layout(call, 8)


_DECK_INIT = [
    "    def __init__(",
    "        self,",
    "        base_url: str,",
    "        token: str | None = None,",
    "        *,",
    "        timeout: float = 30,",
    "        **client_options: Any,",
    "    ) -> None:",
    "        self.connection = Connection(base_url, token, timeout=timeout, **client_options)",
]


def _deck_class(
    schema: InterfaceSchema, instruments: list[tuple[str, str]], types: TypeWriter
) -> list[str]:
    doc = (
        f"The deck {schema.name!r}: its instruments as attributes, its functions as methods.\n\n"
        "`Deck(base_url, token)` opens one pooled connection that every instrument shares;\n"
        "close it with `close()` or a `with` block. `client_options` go to `httpx.Client`."
    )
    lines = ["class Deck:", *_docstring(doc, 4), ""]
    lines += _DECK_INIT
    for attribute, class_name in instruments:
        member = f"{attribute}_" if attribute in DECK_MEMBERS else attribute
        lines.append(f"        self.{member} = {class_name}(self.connection)")
    lines += [
        "",
        "    def close(self) -> None:",
        '        """Close the connection."""',
        "        self.connection.close()",
        "",
        "    def __enter__(self) -> Deck:",
        "        return self",
        "",
        "    def __exit__(self, *exc_info: object) -> None:",
        "        self.close()",
        "",
        "    def _function(self, name: str, args: dict[str, Any]) -> Any:",
        '        return self.connection.call(f"/api/functions/{name}", args)',
    ]
    for name, function in schema.functions.items():
        if function.callable and is_name(name):
            member = f"{name}_" if name in DECK_MEMBERS else name
            lines += ["", *_method(member, name, function, types, "self._function(")]
    return lines
