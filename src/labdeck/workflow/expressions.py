"""Expressions in workflows (`condition`, `{"expr": ...}`) and `{name}` placeholders in comments.

Owns what an expression may say and how it is evaluated. Evaluation is done by simpleeval,
never `eval`/`exec`, and only after our own walk over Python's AST has accepted the
expression: the allowlist below is the language, whatever simpleeval would also accept.

The language: numbers, strings, `True`/`False`/`None`, lists and tuples; names (parameters
and variables); `+ - * / // % **`, unary `-`/`+`; comparisons (`== != < <= > >=`, `in`,
`not in`, and `is`/`is not` only against `None`); `and`/`or`/`not`; parentheses;
indexing and slicing; calls of the fixed functions in `FUNCTIONS`, positional arguments
only. Everything else is refused when the expression is parsed, with a message saying what
is not allowed: attribute access (so no dunders), lambdas, comprehensions, f-strings (their
format specs can build strings of any size), `a if c else b` (use an `if` step), dict and set
literals, `:=`, bitwise operators, imports and assignments (not expressions at all).

Evaluation is bounded: 2000 characters, nesting depth 100, integers up to 10,000 bits,
`*` repetition of strings and lists up to 10,000 items (counting nested items, so repeated
aliases cannot hide a huge `str()`), `+` of sequences up to 100,000 items, `round` digits
within ±100, and `%` never formats strings. Every failure is an `ExpressionError` whose
message an operator can read; the runner maps it to the step error code `EXPRESSION`.

Placeholders: in comment text `{name}` (a bare name only) is replaced by the value of that
variable; `{{` and `}}` write single braces; anything else in braces, and a `{name}` whose
name is unknown when the comment is written, stays as it is, so a log line never fails a
run (validation reports unknown placeholder names beforehand).
"""

from __future__ import annotations

import ast
import functools
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import simpleeval

MAX_EXPRESSION_LENGTH = 2000
MAX_DEPTH = 100
MAX_INT_BITS = 10_000
MAX_REPEAT_ITEMS = 10_000
MAX_JOIN_ITEMS = 100_000
MAX_ROUND_DIGITS = 100
_PARSE_CACHE_SIZE = 4096


class ExpressionError(Exception):
    """An expression that cannot be parsed or evaluated; `str()` is the operator's message."""

    def __init__(self, message: str, expression: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression


@dataclass(frozen=True, eq=False)
class ParsedExpression:
    """An expression that passed the allowlist; `names` are the free names it reads."""

    text: str
    tree: ast.expr
    names: frozenset[str]


# --- bounded operations ------------------------------------------------------------------------


def _check_int(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ExpressionError(f"the result is too large (more than {MAX_INT_BITS} bits)")
    return value


def _weight(value: Any, budget: int) -> int:
    """Items in `value`, nested containers and string characters included; stops past budget."""
    total = 0
    stack = [value]
    while stack and total <= budget:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple):
            total += 1
            stack.extend(item)
        elif isinstance(item, dict):
            total += 1
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            total += 1
    return total


def _repeated(sequence: Any, times: Any) -> bool:
    return isinstance(sequence, str | list | tuple) and isinstance(times, int)


def _multiply(left: Any, right: Any) -> Any:
    for sequence, times in ((left, right), (right, left)):
        if _repeated(sequence, times) and times > 1:
            budget = MAX_REPEAT_ITEMS // times
            if _weight(sequence, budget) > budget:
                raise ExpressionError(
                    f"the repeated value would be too long (more than {MAX_REPEAT_ITEMS} items)"
                )
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS + 1
    ):
        raise ExpressionError(f"the result is too large (more than {MAX_INT_BITS} bits)")
    return left * right


def _add(left: Any, right: Any) -> Any:
    sequences = isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple)
    if sequences and len(left) + len(right) > MAX_JOIN_ITEMS:
        raise ExpressionError(f"the result would be too long (over {MAX_JOIN_ITEMS} items)")
    return _check_int(left + right)


def _power(base: Any, exponent: Any) -> Any:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        bits = exponent * math.log2(abs(base))
        if bits > MAX_INT_BITS:
            raise ExpressionError(f"the result is too large (more than {MAX_INT_BITS} bits)")
    result = base**exponent
    if isinstance(result, complex):
        raise ExpressionError(f"{base!r} ** {exponent!r} is not a real number")
    return result


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        raise ExpressionError("'%' on a string is not allowed: use str(x) and +")
    return left % right


def _is(left: Any, right: Any) -> bool:
    return left is right


def _is_not(left: Any, right: Any) -> bool:
    return left is not right


def _contains(item: Any, container: Any) -> bool:
    return item in container


def _not_contains(item: Any, container: Any) -> bool:
    return item not in container


def _sub(left: Any, right: Any) -> Any:
    return _check_int(left - right)


def _floordiv(left: Any, right: Any) -> Any:
    return left // right


def _truediv(left: Any, right: Any) -> Any:
    return left / right


_OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: _add,
    ast.Sub: _sub,
    ast.Mult: _multiply,
    ast.Div: _truediv,
    ast.FloorDiv: _floordiv,
    ast.Mod: _modulo,
    ast.Pow: _power,
    ast.USub: lambda value: -value,
    ast.UAdd: lambda value: +value,
    ast.Not: lambda value: not value,
    ast.Eq: lambda left, right: left == right,
    ast.NotEq: lambda left, right: left != right,
    ast.Lt: lambda left, right: left < right,
    ast.LtE: lambda left, right: left <= right,
    ast.Gt: lambda left, right: left > right,
    ast.GtE: lambda left, right: left >= right,
    ast.In: _contains,
    ast.NotIn: _not_contains,
    ast.Is: _is,
    ast.IsNot: _is_not,
}


def _round(number: Any, ndigits: Any = None) -> Any:
    # round(10**4000, -10**9) would build 10**(10**9) first.
    if ndigits is not None and (not isinstance(ndigits, int) or abs(ndigits) > MAX_ROUND_DIGITS):
        raise ExpressionError(f"round() takes a whole number of digits within ±{MAX_ROUND_DIGITS}")
    return round(number) if ndigits is None else round(number, ndigits)


def _int(value: Any, *base: Any) -> int:
    return int(value, *base)


FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "abs": abs,
    "min": min,
    "max": max,
    "round": _round,
    "len": len,
    "int": _int,
    "float": float,
    "str": str,
    "sqrt": math.sqrt,
    "log": math.log,
    "exp": math.exp,
}


# --- parsing: the allowlist ----------------------------------------------------------------------

_PLAIN_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.Subscript,
    ast.Slice,
    ast.List,
    ast.Tuple,
    ast.Load,
    ast.And,
    ast.Or,
    *_OPERATORS,
)
_REFUSED: dict[type, str] = {
    ast.Attribute: "attribute access (x.y) is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed: use str(x) and +",
    ast.IfExp: "'a if c else b' is not allowed: use an if step",
    ast.Dict: "dict literals are not allowed",
    ast.Set: "set literals are not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.Starred: "unpacking (*x) is not allowed",
    ast.Await: "await is not allowed",
    ast.MatMult: "the operator @ is not allowed",
    ast.BitAnd: "the bitwise operator & is not allowed: use 'and'",
    ast.BitOr: "the bitwise operator | is not allowed: use 'or'",
    ast.BitXor: "the bitwise operator ^ is not allowed: use ** for powers",
    ast.LShift: "the operator << is not allowed",
    ast.RShift: "the operator >> is not allowed",
    ast.Invert: "the operator ~ is not allowed: use 'not'",
}
_STATEMENTS: dict[type, str] = {
    ast.Import: "imports are not allowed",
    ast.ImportFrom: "imports are not allowed",
    ast.Assign: "assignment is not allowed: use a set step (or == to compare)",
    ast.AugAssign: "assignment is not allowed: use a set step",
    ast.AnnAssign: "assignment is not allowed: use a set step",
}


def parse_expression(text: str) -> ParsedExpression:
    """Parse and check `text`; raises `ExpressionError` for syntax errors and refused constructs.

    Results (and refusals) are cached by text, so validating large documents stays fast.
    """
    found = _parse_cached(text)
    if isinstance(found, ExpressionError):
        raise ExpressionError(found.message, text)
    return found


@functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)
def _parse_cached(text: str) -> ParsedExpression | ExpressionError:
    try:
        return _parse(text)
    except ExpressionError as exc:
        return exc


def _parse(text: str) -> ParsedExpression:
    if not isinstance(text, str):
        raise ExpressionError("an expression must be text")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    source = text.strip()
    if not source:
        raise ExpressionError("the expression is empty")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(_syntax_message(source, exc)) from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"the expression is nested too deeply (over {MAX_DEPTH})") from None
    except ValueError as exc:  # null bytes, on some Python versions
        raise ExpressionError(f"not a valid expression: {exc}") from None
    names = _check_tree(tree)
    return ParsedExpression(text=text, tree=tree.body, names=names)


def _syntax_message(source: str, exc: SyntaxError) -> str:
    try:
        statement = ast.parse(source, mode="exec").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        statement = []
    if len(statement) > 1:
        return "only one expression is allowed"
    if statement and type(statement[0]) in _STATEMENTS:
        return _STATEMENTS[type(statement[0])]
    where = f" at column {exc.offset}" if exc.offset else ""
    return f"not a valid expression{where}: {exc.msg}"


def _check_tree(tree: ast.Expression) -> frozenset[str]:
    """Walk without recursion; return the free names. Raises for anything off the allowlist."""
    names: set[str] = set()
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(f"the expression is nested too deeply (over {MAX_DEPTH})")
        children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise ExpressionError(f"{node.id} is a function: call it, as in {node.id}(x)")
            names.add(node.id)
        elif isinstance(node, ast.Constant):
            _check_constant(node.value)
        elif isinstance(node, ast.Call):
            children = _check_call(node)
        elif isinstance(node, ast.Compare):
            _check_compare(node)
        elif type(node) in _REFUSED:
            raise ExpressionError(_REFUSED[type(node)])
        elif not isinstance(node, _PLAIN_NODES):
            raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")
        stack.extend((child, depth + 1) for child in children)
    return frozenset(names)


def _check_constant(value: Any) -> None:
    if isinstance(value, bytes):
        raise ExpressionError("bytes literals are not allowed")
    if isinstance(value, complex):
        raise ExpressionError("complex numbers are not allowed")
    if value is Ellipsis:
        raise ExpressionError("'...' is not allowed")


def _check_call(node: ast.Call) -> list[ast.AST]:
    if isinstance(node.func, ast.Attribute):
        raise ExpressionError(_REFUSED[ast.Attribute])
    if not isinstance(node.func, ast.Name):
        raise ExpressionError("only the functions " + ", ".join(FUNCTIONS) + " can be called")
    if node.func.id not in FUNCTIONS:
        raise ExpressionError(
            f"unknown function {node.func.id!r}: the functions are " + ", ".join(FUNCTIONS)
        )
    if node.keywords:
        raise ExpressionError(f"{node.func.id}() takes positional arguments only")
    return list(node.args)  # the function name is not a free name


def _check_compare(node: ast.Compare) -> None:
    operands = [node.left, *node.comparators]
    for index, operator in enumerate(node.ops):
        if isinstance(operator, ast.Is | ast.IsNot):
            pair = operands[index : index + 2]
            if not any(isinstance(side, ast.Constant) and side.value is None for side in pair):
                raise ExpressionError("'is' compares only with None: use == for values")


# --- evaluation -----------------------------------------------------------------------------------

_EVALUATED = frozenset(
    {
        ast.Name,
        ast.Constant,
        ast.UnaryOp,
        ast.BinOp,
        ast.BoolOp,
        ast.Compare,
        ast.Call,
        ast.Subscript,
        ast.Slice,
        ast.List,
        ast.Tuple,
    }
)


class _Evaluator(simpleeval.EvalWithCompoundTypes):  # type: ignore[misc]
    """simpleeval with our operators and functions, and only the node types we allow."""

    nodes: dict[type, Callable[[Any], Any]]

    def __init__(self) -> None:
        super().__init__(operators=dict(_OPERATORS), functions=dict(FUNCTIONS), names={})
        # The compound evaluator adds list(), dict()… and comprehension handlers: drop them.
        self.functions = dict(FUNCTIONS)
        self.nodes = {node: handler for node, handler in self.nodes.items() if node in _EVALUATED}


_per_thread = threading.local()


def _evaluator(names: Mapping[str, Any]) -> _Evaluator:
    """This thread's evaluator with `names` set.

    One per thread, built once: simpleeval's constructor briefly changes the process-wide
    warning filters, and evaluation never calls back into `evaluate`, so reuse is safe.
    """
    evaluator: _Evaluator | None = getattr(_per_thread, "evaluator", None)
    if evaluator is None:
        evaluator = _per_thread.evaluator = _Evaluator()
    evaluator.names = names
    return evaluator


def evaluate(expression: str | ParsedExpression, names: Mapping[str, Any]) -> Any:
    """The value of an expression over `names` (parameters and variables).

    Raises `ExpressionError` for parse errors, unknown names, and anything that fails while
    evaluating (wrong types, division by zero, missing keys, results too large).
    """
    parsed = (
        expression if isinstance(expression, ParsedExpression) else parse_expression(expression)
    )
    missing = sorted(name for name in parsed.names if name not in names)
    if missing:
        listed = ", ".join(repr(name) for name in missing)
        raise ExpressionError(f"unknown name {listed} in {_quote(parsed.text)}", parsed.text)
    evaluator = _evaluator(names)
    try:
        return evaluator.eval(parsed.text, previously_parsed=parsed.tree)
    except ExpressionError as exc:
        raise ExpressionError(f"{exc.message} in {_quote(parsed.text)}", parsed.text) from None
    except Exception as exc:
        message = _failure_message(exc)
        raise ExpressionError(f"{message} in {_quote(parsed.text)}", parsed.text) from None
    finally:
        evaluator.names = {}  # do not keep a run's variables alive


def _failure_message(exc: Exception) -> str:
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, KeyError):
        return f"no key {exc.args[0]!r}" if exc.args else "missing key"
    if isinstance(exc, IndexError):
        return "index out of range"
    if isinstance(exc, OverflowError):
        return "number too large"
    if isinstance(exc, RecursionError):
        return "too deeply nested"
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, simpleeval.InvalidExpression):
        return str(exc)
    if isinstance(exc, ValueError) and str(exc) == "math domain error":
        return "math domain error (sqrt of a negative number, or log of zero or less)"
    text = str(exc)
    return text if text else type(exc).__name__


def _quote(text: str) -> str:
    short = text if len(text) <= 80 else text[:77] + "..."
    return repr(short)


# --- comment placeholders ---------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders(text: str) -> list[str]:
    """The names of the `{name}` placeholders in `text`, each once, in order of appearance."""
    found: dict[str, None] = {}
    for match in _PLACEHOLDER.finditer(text):
        if match.group(1):
            found.setdefault(match.group(1))
    return list(found)


def render_text(text: str, names: Mapping[str, Any]) -> str:
    """`text` with each known `{name}` replaced by `str(value)`; unknown ones stay visible."""

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole in ("{{", "}}"):
            return whole[0]
        name = match.group(1)
        if name not in names:
            return whole
        value = names[name]
        return value if isinstance(value, str) else str(value)

    return _PLACEHOLDER.sub(replace, text)
