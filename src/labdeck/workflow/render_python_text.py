"""The Python spelling of names, literals, comments and expressions in an exported script.

Owns the conventions that the export (`render_python`) writes and the import
(`import_python`) reads back, so both sides agree on them:

- names: workflow names become identifiers (`dose-and-measure` → `dose_and_measure`); any name
  that is a Python keyword gets a trailing `_`;
- literals: JSON values as Python literals (`true` → `True`), strings double-quoted with every
  character that is not printable escaped, so a script never holds a raw control character;
- disabled steps: a header comment `# disabled: step 'id' (N lines)` followed by the step's N
  lines commented out (the count makes the block unambiguous to read back);
- fields Python has no place for (`timeout_s`, `per`, a sub-workflow's real name and version)
  as a trailing comment of `key=value` pairs;
- a `while` loop's cap as a counter named `_iterations` (`_iterations_2` one loop deeper).
"""

from __future__ import annotations

import ast
import keyword
import math
import re
from collections.abc import Iterable
from typing import Any

INDENT = "    "
WHILE_COUNTER = "_iterations"
DISABLED_HEADER = re.compile(r"^disabled: step '(?P<id>[^']*)' \((?P<count>\d+) lines?\)$")
# Step fields written as a trailing `# key=value, ...` comment, in this order.
TRAILING_FIELDS = ("workflow", "version", "timeout_s", "per")
# Names the script itself defines or uses: a workflow function must not shadow them.
SCRIPT_NAMES = frozenset(
    {"time", "ask", "pause", "print", "input", "range", "asyncio", "RuntimeError", "main"}
)
# Plain-Python stand-ins for the steps that need an operator, defined in every script.
OPERATOR_STUBS = '''\
# --- stand-ins for labdeck's operator steps -----------------------------------------------
# In labdeck an `input` step waits for an operator to answer in the browser and a `pause`
# step notifies people and waits for "continue". Outside labdeck these ask at the terminal.


def ask(prompt, type_="text", choices=None):
    """Stand-in for labdeck's input step: ask at the terminal and convert the answer."""
    answer = input(f"{prompt} ")
    if type_ == "number":
        return float(answer)
    if type_ == "integer":
        return int(answer)
    if type_ == "boolean":
        return answer.strip().lower() in ("y", "yes", "true", "1")
    if type_ == "choice":
        return next(choice for choice in choices if str(choice) == answer)
    return answer


def pause(message):
    """Stand-in for labdeck's pause step: show the message and wait for Enter."""
    input(f"PAUSED: {message} (press Enter to continue) ")
'''

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def variable_name(name: str) -> str:
    """A parameter, variable or output as a Python name (keywords get a trailing `_`)."""
    return f"{name}_" if keyword.iskeyword(name) else name


def function_name(workflow: str, taken: Iterable[str] = ()) -> str:
    """A workflow's name as a function name: `dose-and-measure` → `dose_and_measure`.

    `taken` are globals of the script (instruments, deck functions) the function must not
    shadow; like keywords they get a trailing `_`.
    """
    name = re.sub(r"\W", "_", workflow.strip(), flags=re.ASCII) or "workflow"
    if name[0].isdigit():
        name = f"workflow_{name}"
    if keyword.iskeyword(name) or name in SCRIPT_NAMES or name in set(taken):
        name = f"{name}_"
    return name


def quote(text: str) -> str:
    """A double-quoted Python string literal of `text`, printable characters only."""
    return '"' + "".join(_escape(char) for char in text) + '"'


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    return repr(char)[1:-1]  # \x00, \u2028, a lone surrogate…: Python's own escape


def comment_text(text: str) -> str:
    """`text` made safe for a `#` comment: one line, printable characters only."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def docstring(text: str) -> str:
    """A triple-quoted docstring of `text` (indent its lines where it is placed).

    Quotes stay readable: only a third quote in a row, and quotes at the very end, are
    escaped, which is all it takes for the docstring not to close early.
    """
    parts: list[str] = []
    quotes = 0
    for char in text:
        quotes = quotes + 1 if char == '"' else 0
        if char == '"':
            parts.append('\\"' if quotes == 3 else '"')
            quotes %= 3
        else:
            parts.append(char if char == "\n" else _escape(char))
    end = len(parts)
    while end and parts[end - 1] == '"':  # a quote just before the closing quotes
        end -= 1
        parts[end] = '\\"'
    escaped = "".join(parts)
    closing = "\n" if "\n" in escaped else ""
    return f'"""{escaped}{closing}"""'


def python_literal(value: Any) -> str:
    """A JSON value as a Python literal (`null` → `None`, `true` → `True`)."""
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f'float("{value}")'
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(python_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{quote(str(key))}: {python_literal(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    return quote(str(value))


def expression_code(text: str) -> str | None:
    """`text` as Python code that means the same inside parentheses, or None.

    The author's spelling is kept when it is one printable line that parses the same in
    parentheses; otherwise (a line break, a `#`…) Python's own normal form is used. None
    when the text is not a Python expression that compiles (so it is never written as code).
    """
    try:
        tree = ast.parse(text, mode="eval")
        compile(tree, "<expression>", "eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if text.isprintable():
        try:
            wrapped = ast.parse(f"({text})", mode="eval")
        except SyntaxError:
            wrapped = None
        if wrapped is not None and ast.dump(wrapped) == ast.dump(tree):
            return text.strip()
    return ast.unparse(tree)


def condition_code(code: str) -> str:
    """`code` (from `expression_code`) as the test of an `if`/`while`: parenthesized if needed."""
    try:
        header = ast.parse(f"if {code}:\n    pass")
        plain = ast.parse(code, mode="eval")
    except SyntaxError:
        return f"({code})"
    test = header.body[0]
    if isinstance(test, ast.If) and ast.dump(test.test) == ast.dump(plain.body):
        return code
    return f"({code})"


def print_call(text: str) -> str:
    """A comment step as `print(...)`: `{var}` placeholders become f-string fields."""
    parts: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(_fstring_text(text[position : match.start()]))
        parts.append("{" + variable_name(match.group(1)) + "}")
        position = match.end()
    if not position:
        return f"print({quote(text)})"
    parts.append(_fstring_text(text[position:]))
    return 'print(f"' + "".join(parts) + '")'


def _fstring_text(text: str) -> str:
    return "".join(_escape(char) for char in text).replace("{", "{{").replace("}", "}}")


def trailing_fields(fields: dict[str, Any]) -> str:
    """The `key=value, ...` text of a trailing fields comment (empty when there are none)."""
    return ", ".join(
        f"{key}={python_literal(fields[key])}"
        for key in TRAILING_FIELDS
        if fields.get(key) is not None
    )


def read_trailing_fields(comment: str) -> dict[str, Any] | None:
    """The fields of a trailing comment written by `trailing_fields`, or None if it is not one.

    Only parsed (never evaluated): the text must be `key=literal` pairs with known keys.
    """
    text = comment.lstrip("#").split("#", 1)[0].strip()
    if not text:
        return None
    try:
        call = ast.parse(f"fields({text})", mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if not isinstance(call, ast.Call) or call.args:
        return None
    fields: dict[str, Any] = {}
    for item in call.keywords:
        if item.arg not in TRAILING_FIELDS:
            return None
        try:
            fields[item.arg] = ast.literal_eval(item.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
    return fields
