"""IvoryOS statements (if/while conditions, variable and math statements) as labdeck expressions.

IvoryOS evaluates these with Python's `eval` after replacing `#name` by `name`; labdeck
evaluates its own restricted language (`workflow.expressions`, which stays the one judge of
what is allowed). This module owns the translation in between: strip the `#` marks, rewrite
the few Python forms that have an exact labdeck equivalent (`math.sqrt(x)` → `sqrt(x)`,
an f-string → a `str()` concatenation), and report the rest with the parser's own message.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field

from labdeck.workflow.expressions import ExpressionError, parse_expression

MARKED_NAME = re.compile(r"#([A-Za-z_][A-Za-z0-9_]*)")
# `math.sqrt(x)` is common in IvoryOS statements; labdeck has these as plain functions.
_MATH_MODULE_FUNCTIONS = frozenset({"sqrt", "log", "exp"})


@dataclass
class ConvertedExpression:
    """The labdeck form of one statement, or why there is none (`text` is None then)."""

    source: str
    text: str | None = None
    names: list[str] = field(default_factory=list)
    problem: str | None = None


def strip_marks(text: str) -> str:
    """`#name` → `name` (IvoryOS's own substitution, done the same textual way)."""
    return MARKED_NAME.sub(r"\1", text)


def convert_expression(source: str) -> ConvertedExpression:
    """Translate one IvoryOS statement; on failure `problem` completes "the statement …"."""
    result = ConvertedExpression(source)
    text = strip_marks(source).strip()
    if not text:
        result.problem = "is empty"
        return result
    if _has_comment(text):
        # Python would silently ignore the rest of the line.
        result.problem = "has a '#' that is not followed by a name"
        return result
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = None  # the parser below gives the message
    if tree is not None:
        rewriter = _Rewriter()
        tree = rewriter.visit(tree)
        if rewriter.changed:  # otherwise keep the author's own spelling
            text = ast.unparse(tree)
    try:
        parsed = parse_expression(text)
    except ExpressionError as error:
        result.problem = f"is not a labdeck expression: {error}"
        return result
    result.text = text
    result.names = sorted(parsed.names)
    return result


def _has_comment(text: str) -> bool:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return False  # unbalanced brackets and the like: the parser reports them
    return any(token.type == tokenize.COMMENT for token in tokens)


def is_fstring(text: str) -> bool:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return isinstance(tree.body, ast.JoinedStr)


class _Rewriter(ast.NodeTransformer):
    """Rewrites Python forms that mean exactly the same in labdeck expressions."""

    def __init__(self) -> None:
        self.changed = False

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        if (
            isinstance(node.value, ast.Name)
            and node.value.id == "math"
            and node.attr in _MATH_MODULE_FUNCTIONS
        ):
            self.changed = True
            return ast.copy_location(ast.Name(id=node.attr, ctx=ast.Load()), node)
        self.generic_visit(node)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.expr:
        parts: list[ast.expr] = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(value)
            elif (
                isinstance(value, ast.FormattedValue)
                and value.format_spec is None
                and value.conversion == -1
            ):
                call = ast.Call(ast.Name(id="str", ctx=ast.Load()), [value.value], [])
                parts.append(call)
            else:
                return node  # a format spec or !r has no equivalent: the parser refuses it
        self.changed = True
        joined: ast.expr = parts[0] if parts else ast.Constant("")
        for part in parts[1:]:
            joined = ast.BinOp(joined, ast.Add(), part)
        rewritten = self.visit(joined)
        assert isinstance(rewritten, ast.expr)
        return ast.copy_location(rewritten, node)
