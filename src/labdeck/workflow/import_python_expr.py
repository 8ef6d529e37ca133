"""Which Python expressions a Python import may keep, and as what.

Owns two questions the importer asks of every value in the source, on the syntax tree only
(nothing is ever evaluated):

- is it a JSON literal (`2`, `-1.5`, `"water"`, `[1, 2]`, `{"a": None}`)? Then it is stored
  as the literal;
- otherwise, is it inside labdeck's expression language? `workflow.expressions` decides
  (the same parser that checks expressions at validation and run time), and the expression
  is stored as `{"expr": ...}`; anything it refuses (attribute access, other calls,
  lambdas…) is reported with its reason.
"""

from __future__ import annotations

import ast
from typing import Any

from labdeck.workflow.expressions import ExpressionError, parse_expression

_MISSING = object()


def literal_value(node: ast.expr) -> tuple[bool, Any]:
    """(True, value) when `node` is a JSON literal; tuples become lists."""
    value = _literal(node)
    return (False, None) if value is _MISSING else (True, value)


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str | int | float | type(None)) else _MISSING
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _literal(node.operand)
        if isinstance(operand, int | float) and not isinstance(operand, bool):
            return -operand if isinstance(node.op, ast.USub) else operand
        return _MISSING
    if isinstance(node, ast.List | ast.Tuple):
        items = [_literal(item) for item in node.elts]
        return _MISSING if any(item is _MISSING for item in items) else items
    if isinstance(node, ast.Dict):
        result: dict[str, Any] = {}
        for key, item in zip(node.keys, node.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                return _MISSING
            value = _literal(item)
            if value is _MISSING:
                return _MISSING
            result[key.value] = value
        return result
    return _MISSING


def expression_problem(text: str) -> str | None:
    """Why `text` is not a labdeck expression, or None when it is one."""
    try:
        parse_expression(text)
    except ExpressionError as error:
        return f"is not a labdeck expression ({error})"
    return None
