"""What an IvoryOS import remembers while it walks the actions, and how it writes values.

`Conversion` is the state one import carries from action to action: the notes so far, the
names saved earlier (so `#mass` after a step that saved `mass` is a variable, not a run
parameter), the parameters met in `script`, the step ids taken, and the deck to check
targets against. The value helpers turn IvoryOS argument and statement text into labdeck
values (`{"param"}`, `{"var"}`, `{"expr"}` or a typed literal), reporting what they could not.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from labdeck.deck.schema import InterfaceSchema
from labdeck.workflow.import_ivoryos_expr import convert_expression, is_fstring
from labdeck.workflow.model import Phase
from labdeck.workflow.report import ImportNote


class _Dropped:
    """The marker for a value that could not be converted (a note has been written)."""

    def __repr__(self) -> str:
        return "DROPPED"


DROPPED: Final = _Dropped()
MARKED_ONLY = re.compile(r"#([A-Za-z_][A-Za-z0-9_]*)")
_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", ""})
_NAME_LIMIT = 64


@dataclass
class Conversion:
    deck: InterfaceSchema | None
    notes: list[ImportNote] = field(default_factory=list)
    phase: Phase = "script"
    variables: set[str] = field(default_factory=set)
    parameters: dict[str, None] = field(default_factory=dict)  # an ordered set
    script_saves: dict[str, None] = field(default_factory=dict)
    step_ids: set[str] = field(default_factory=set)
    counters: dict[str, int] = field(default_factory=dict)

    def warn(self, message: str, where: str | None = None) -> None:
        self.notes.append(ImportNote(severity="warning", message=message, where=where))

    def error(self, message: str, where: str | None = None) -> None:
        self.notes.append(ImportNote(severity="error", message=message, where=where))

    def new_id(self, base: str, *, numbered: bool = False) -> str:
        """A unique readable step id: `dose`, `dose_2`…; numbered kinds get `if_1`, `if_2`…"""
        base = re.sub(r"[^A-Za-z0-9_-]", "_", base)[:56].strip("_") or "step"
        count = self.counters.get(base, 0 if numbered else 1)
        candidate = base
        while numbered or candidate in self.step_ids:
            numbered = False
            count += 1
            candidate = f"{base}_{count}"
        self.counters[base] = count
        self.step_ids.add(candidate)
        return candidate

    def identifier(self, raw: Any, where: str, what: str) -> str | None:
        """A Python identifier for a variable or output name, fixed the way IvoryOS fixes them."""
        if not isinstance(raw, str) or not raw.strip():
            return None
        name = re.sub(r"\W", "_", raw.strip(), flags=re.ASCII)
        if name[0].isdigit():
            name = f"_{name}"
        name = name[:_NAME_LIMIT]
        if name != raw:
            self.warn(f"{what} {raw!r} is not a valid name; renamed to {name!r}", where)
        return name

    def reference(self, name: str, where: str, what: str) -> Any:
        """`#name`: a variable saved earlier, else a run parameter (script only)."""
        if name in self.variables:
            return {"var": name}
        if self.phase == "script":
            self.parameters[name] = None
            return {"param": name}
        self.error(
            f"{what} uses #{name}, which is not a variable saved earlier, and run parameters "
            f"are only allowed in script; dropped",
            where,
        )
        return DROPPED

    def use_names(self, names: list[str], where: str, what: str) -> None:
        """Names read by a converted expression: variables, or parameters in script."""
        for name in names:
            if name in self.variables:
                continue
            if self.phase == "script":
                self.parameters[name] = None
            else:
                self.error(
                    f"{what} reads {name!r}, which is not a variable saved earlier, and run "
                    f"parameters are only allowed in script; kept as written",
                    where,
                )

    def saved(self, names: Any) -> None:
        """Record the names a step saves (a name, or a list with None slots)."""
        found = names if isinstance(names, list) else [names]
        for name in found:
            if isinstance(name, str):
                self.variables.add(name)
                if self.phase == "script":
                    self.script_saves[name] = None


# --- arguments -------------------------------------------------------------------------------


def arg_values(conv: Conversion, action: Mapping[str, Any], where: str) -> dict[str, Any]:
    """An action's `args`, each converted with its `arg_types` entry."""
    args = action.get("args")
    if args is None:
        return {}
    if not isinstance(args, Mapping):
        conv.error(
            f"'args' is {type(args).__name__}, not an object; the arguments are dropped", where
        )
        return {}
    types = action.get("arg_types")
    types = types if isinstance(types, Mapping) else {}
    converted: dict[str, Any] = {}
    for key, raw in args.items():
        value = arg_value(conv, str(key), raw, types.get(key), where)
        if value is not DROPPED:
            converted[str(key)] = value
    return converted


def arg_value(conv: Conversion, name: str, raw: Any, arg_type: Any, where: str) -> Any:
    what = f"argument '{name}'"
    if isinstance(raw, str) and raw.startswith("#"):
        return marked_value(conv, raw, where, what)
    if isinstance(raw, str):
        return typed_literal(conv, name, raw, arg_type, where)
    value = _jsonable(raw)
    return _not_json(conv, what, raw, where) if value is DROPPED else value


def marked_value(conv: Conversion, text: str, where: str, what: str) -> Any:
    """A `#...` argument: a reference, or (rarely) an expression over `#names`."""
    match = MARKED_ONLY.fullmatch(text.strip())
    if match:
        return conv.reference(match[1], where, what)
    converted = convert_expression(text)
    if converted.text is None:
        conv.error(f"{what} {text!r} {converted.problem}; dropped", where)
        return DROPPED
    conv.warn(
        f"{what} {text!r} is an expression in IvoryOS; converted to {converted.text!r}", where
    )
    conv.use_names(converted.names, where, what)
    return {"expr": converted.text}


def typed_literal(conv: Conversion, name: str, text: str, arg_type: Any, where: str) -> Any:
    """IvoryOS keeps some typed values as Python-literal text (`"1"` for an int): type them."""
    types = [arg_type] if isinstance(arg_type, str) else arg_type
    types = [t for t in types if isinstance(t, str)] if isinstance(types, list) else []
    if not types or {"str", "any", ""} & set(types):
        return text  # text for a text argument is exactly what the author typed
    if "NoneType" in types and text.strip() in ("", "None"):
        return None
    for type_name in types:
        value = _as_arg_type(text, type_name)
        if value is not DROPPED:
            return value
    if all(t.startswith(("Enum:", "Literal:")) or t == "NoneType" for t in types):
        return text  # IvoryOS stores the member's value / the choice as given
    shown = types[0] if len(types) == 1 else " or ".join(types)
    conv.warn(f"argument '{name}' is typed {shown} but {text!r} is not one; kept as text", where)
    return text


def _as_arg_type(text: str, type_name: str) -> Any:
    value = _literal(text)
    if type_name == "int":
        return value if isinstance(value, int) and not isinstance(value, bool) else DROPPED
    if type_name == "float":
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if is_number else DROPPED
    if type_name == "bool":
        return _bool_word(text)
    if type_name in ("list", "tuple", "set"):
        if value is DROPPED:  # IvoryOS falls back to a comma-separated list
            return [item.strip() for item in text.split(",") if item.strip()]
        return value if isinstance(value, list) else [value]
    if type_name == "dict":
        return value if isinstance(value, dict) else DROPPED
    return DROPPED


# --- statements (variable, math, wait, repeat) ------------------------------------------------


def statement_value(
    conv: Conversion,
    raw: Any,
    type_name: str,
    where: str,
    what: str,
    *,
    cast: bool = True,
    failed: str = "not converted",
) -> Any:
    """A variable/math/wait/repeat statement as a labdeck value.

    IvoryOS evaluates the statement and then casts it to the declared type, so an expression
    is wrapped in `int(...)`/`float(...)`/`str(...)` to keep that cast.
    """
    if raw is None:
        return None
    if not isinstance(raw, str):
        value = _jsonable(raw)
        if value is DROPPED:
            return _not_json(conv, what, raw, where)
        cast_value = _cast(value, type_name)
        return value if cast_value is DROPPED else cast_value
    text = raw.strip()
    match = MARKED_ONLY.fullmatch(text)
    if match:
        return conv.reference(match[1], where, what)
    textual = type_name not in ("int", "float", "bool")
    if not textual:
        if text in ("", "None"):  # IvoryOS stores an empty statement as 'None'
            return None
        value = _cast(_literal(text), type_name)
        if value is not DROPPED:
            return value
        if type_name == "bool" and text.lower() in _TRUE_WORDS | _FALSE_WORDS:
            return text.lower() in _TRUE_WORDS
    else:
        value = _literal(text)
        if isinstance(value, str) or (type_name == "" and value is not DROPPED):
            return value
        # Text stays text unless it clearly is an expression: it reads `#names` or is an
        # f-string (IvoryOS's own test for str variables).
        if "#" not in text and not is_fstring(text):
            return raw
    converted = convert_expression(text)
    if converted.text is None:
        if textual:
            conv.warn(f"{what} {raw!r} is kept as text: it {converted.problem}", where)
            return raw
        conv.error(f"{what} {raw!r} {converted.problem}; {failed}", where)
        return DROPPED
    conv.use_names(converted.names, where, what)
    expression = converted.text
    if cast and type_name in ("int", "float", "str"):
        expression = f"{type_name}({expression})"
    return {"expr": expression}


def _cast(value: Any, type_name: str) -> Any:
    if value is DROPPED or isinstance(value, list | dict) or value is None:
        return DROPPED
    if type_name in ("int", "float"):
        if isinstance(value, str):
            return DROPPED
        return int(value) if type_name == "int" else float(value)
    if type_name == "bool":
        return _bool_word(value) if isinstance(value, str) else bool(value)
    if type_name == "str":
        return str(value)
    return value


def _bool_word(text: str) -> Any:
    word = text.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    return DROPPED


def _literal(text: str) -> Any:
    """`ast.literal_eval` made JSON-shaped (tuples and sets become lists), or DROPPED."""
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return DROPPED
    return _jsonable(value)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple | set):
        items = [_jsonable(item) for item in value]
        return DROPPED if any(item is DROPPED for item in items) else items
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        entries = {key: _jsonable(item) for key, item in value.items()}
        return DROPPED if DROPPED in entries.values() else entries
    return DROPPED


def _not_json(conv: Conversion, what: str, raw: Any, where: str) -> Any:
    conv.error(f"{what} {raw!r} is not a JSON value; dropped", where)
    return DROPPED
