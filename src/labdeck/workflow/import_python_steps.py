"""Turn the statements of a Python function into workflow steps, by reading its syntax tree.

Owns the meaning of each Python statement in an import: deck calls (`pump.dispense(...)`,
`deck.pump.dispense(...)`, `await ...`, deck functions), property reads and assignments,
`if`/`while`/`for ... in range(...)`, assignments, and the stand-ins of the export
(`time.sleep`, `ask`, `pause`, `print`). Every statement either becomes steps or becomes an
error note with its line; blocks convert what they can and report the rest. Steps are built
as JSON dicts and each is validated by the pydantic step model as soon as it is made, so a
problem is reported at its own line.

The source is only parsed; nothing in it is ever executed.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from pydantic import TypeAdapter, ValidationError

from labdeck.deck.schema import InterfaceSchema
from labdeck.workflow.import_python_calls import CallReader, NotConverted
from labdeck.workflow.import_python_expr import literal_value
from labdeck.workflow.import_python_source import DISABLED_FLAG, PreparedSource
from labdeck.workflow.model import MAX_WHILE_ITERATIONS, Step
from labdeck.workflow.report import ImportNote

DEFAULT_MAX_ITERATIONS = 1000
_STEP: TypeAdapter[Any] = TypeAdapter(Step)
_UNSUPPORTED = {
    ast.Try: "try/except",
    ast.With: "a with block",
    ast.AsyncWith: "an async with block",
    ast.AsyncFor: "an async for loop",
    ast.Break: "break",
    ast.Continue: "continue",
    ast.Raise: "raise",
    ast.Import: "import",
    ast.ImportFrom: "import",
    ast.FunctionDef: "a nested function",
    ast.AsyncFunctionDef: "a nested function",
    ast.ClassDef: "a class",
    ast.Delete: "del",
    ast.Global: "global",
    ast.Nonlocal: "nonlocal",
    ast.Assert: "assert",
    ast.Match: "match",
}


class StepIds:
    """Step ids made from the target or kind (`dispense`, `dispense_2`), unique in a document."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def new(self, base: str) -> str:
        stem = re.sub(r"[^A-Za-z0-9_-]", "_", base)[:56] or "step"
        candidate, number = stem, 1
        while candidate in self.used:
            number += 1
            candidate = f"{stem}_{number}"
        self.used.add(candidate)
        return candidate


class StepConverter:
    """Converts statement lists of one module; shared by its prep, script and cleanup."""

    def __init__(
        self,
        deck: InterfaceSchema,
        source: PreparedSource,
        workflows: set[str],
        report: list[ImportNote],
    ) -> None:
        self.source = source
        self.report = report
        self.ids = StepIds()
        self.calls = CallReader(deck, source, workflows, self._warn)

    def convert(self, statements: list[ast.stmt], params: set[str]) -> list[dict[str, Any]]:
        """The steps of a statement list, reporting every statement that did not convert."""
        self.calls.params = params
        return self._body(statements)

    # --- notes -----------------------------------------------------------------------

    def _warn(self, message: str, node: ast.AST) -> None:
        self.report.append(ImportNote(severity="warning", message=message, line=_line(node)))

    def _error(self, message: str, node: ast.AST) -> None:
        self.report.append(ImportNote(severity="error", message=message, line=_line(node)))

    # --- statements ------------------------------------------------------------------

    def _body(self, statements: list[ast.stmt]) -> list[dict[str, Any]]:
        steps: list[dict[str, Any]] = []
        index = 0
        while index < len(statements):
            node = statements[index]
            following = statements[index + 1] if index + 1 < len(statements) else None
            cap = _counter_cap(node, following)
            try:
                if cap is not None and isinstance(following, ast.While):
                    index += 1  # `_iterations = 0` belongs to the loop after it
                    steps.append(self._while(following, following.body[2:], cap))
                else:
                    steps.extend(self._statement(node))
            except NotConverted as problem:
                self._error(problem.message, problem.node or node)
            index += 1
        return steps

    def _statement(self, node: ast.stmt) -> list[dict[str, Any]]:
        if isinstance(node, ast.Pass):
            return []
        if isinstance(node, ast.Expr):
            return self._expression_statement(node)
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            return [self._step(self._assignment(node), node)]
        if isinstance(node, ast.If):
            return self._if(node)
        if isinstance(node, ast.While):
            return [self._while(node, node.body, None)]
        if isinstance(node, ast.For):
            return [self._for(node)]
        if isinstance(node, ast.Return):
            raise NotConverted(
                "return is only read as the last statement of the function (the outputs)"
            )
        what = _UNSUPPORTED.get(type(node), type(node).__name__)
        raise NotConverted(f"{what} has no workflow step equivalent: not converted")

    def _expression_statement(self, node: ast.Expr) -> list[dict[str, Any]]:
        value = node.value
        if isinstance(value, ast.Constant) and value.value is Ellipsis:
            return []
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return [self._step({"kind": "comment", "text": value.value}, node)]
        return [self._step(self.calls.read(value, None, node), node)]

    def _assignment(self, node: ast.Assign | ast.AnnAssign | ast.AugAssign) -> dict[str, Any]:
        if isinstance(node, ast.AugAssign):
            if not isinstance(node.target, ast.Name):
                raise NotConverted("only a variable can be updated with an operator like +=")
            expression = ast.BinOp(ast.Name(node.target.id, ast.Load()), node.op, node.value)
            ast.copy_location(expression, node)
            value = {"expr": self.calls.expression(expression, segment=False)}
            return {"kind": "set", "name": node.target.id, "value": value}
        target: ast.expr
        if isinstance(node, ast.AnnAssign):
            if node.value is None:
                raise NotConverted("a declaration without a value sets nothing")
            target, value_node = node.target, node.value
        else:
            if len(node.targets) != 1:
                raise NotConverted("chained assignment (a = b = ...) has no step equivalent")
            target, value_node = node.targets[0], node.value
        if isinstance(target, ast.Attribute):
            return self.calls.property_assignment(target, value_node, node)
        if isinstance(target, ast.Tuple | ast.List):
            names = [_name_of(element) for element in target.elts]
            save: Any = [None if name == "_" else name for name in names]
            return self.calls.read(value_node, save, node, tuple_save=True)
        if not isinstance(target, ast.Name):
            raise NotConverted(f"cannot assign to {ast.unparse(target)}: only to variables")
        name = target.id
        if self.calls.is_call_like(value_node):
            return self.calls.read(value_node, None if name == "_" else name, node)
        return {"kind": "set", "name": name, "value": self.calls.value(value_node)}

    def _if(self, node: ast.If) -> list[dict[str, Any]]:
        if isinstance(node.test, ast.Name) and node.test.id == DISABLED_FLAG:
            # A block the export wrote as `# disabled:` comments (see import_python_source).
            return [{**step, "disabled": True} for step in self._body(node.body)]
        condition = self._condition(node.test, node, "if")
        step = {
            "kind": "if",
            "condition": condition,
            "then": self._body(node.body),
            "else": self._body(node.orelse),
        }
        return [self._step(step, node)]

    def _while(self, node: ast.While, body: list[ast.stmt], cap: int | None) -> dict[str, Any]:
        if node.orelse:
            raise NotConverted("while ... else has no workflow equivalent", node)
        condition = self._condition(node.test, node, "while")
        if cap is None:
            cap = DEFAULT_MAX_ITERATIONS
            self._warn(
                f"no iteration cap found for this while loop: max_iterations set to {cap}",
                node,
            )
        elif not 1 <= cap <= MAX_WHILE_ITERATIONS:
            kept = min(max(cap, 1), MAX_WHILE_ITERATIONS)
            message = f"a cap of {cap} iterations is outside 1-{MAX_WHILE_ITERATIONS}: {kept} kept"
            self._warn(message, node)
            cap = kept
        step = {"kind": "while", "condition": condition, "max_iterations": cap}
        step["do"] = self._body(body)
        return self._step(step, node)

    def _for(self, node: ast.For) -> dict[str, Any]:
        capped = _for_while(node)
        if capped is not None:  # `for _ in range(n): if not (c): break ... else: raise`
            test, cap = capped
            loop = ast.copy_location(ast.While(test, node.body[1:], []), node)
            return self._while(loop, node.body[1:], cap)
        if node.orelse:
            raise NotConverted("for ... else has no workflow equivalent")
        call = node.iter
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "range"
            and not call.keywords
            and 1 <= len(call.args) <= 2
        ):
            raise NotConverted(
                "only `for ... in range(...)` loops convert (to a repeat step); "
                f"not a loop over {ast.unparse(call)}"
            )
        if not isinstance(node.target, ast.Name):
            raise NotConverted("a repeat loop counts with one variable")
        counter = node.target.id
        index: str | None = None if counter.startswith("_") else counter
        if len(call.args) == 1:
            times = self.calls.value(call.args[0])
            if index is not None:
                if _reads(node.body, counter):
                    raise NotConverted(
                        f"{counter} counts from 0 here but a repeat index counts from 1: "
                        "write `for i in range(1, n + 1):` to keep it"
                    )
                self._warn(f"the unused loop variable {counter} is dropped", node)
                index = None
        else:
            times = self._one_based_times(call.args[0], call.args[1])
        step = {"kind": "repeat", "times": times, "do": self._body(node.body)}
        if index is not None:
            step["index"] = index
        return self._step(step, node)

    def _one_based_times(self, start: ast.expr, stop: ast.expr) -> Any:
        if not (isinstance(start, ast.Constant) and start.value == 1):
            raise NotConverted("a repeat loop counts from 1: use range(n) or range(1, n + 1)")
        if (
            isinstance(stop, ast.BinOp)
            and isinstance(stop.op, ast.Add)
            and isinstance(stop.right, ast.Constant)
            and stop.right.value == 1
            and not isinstance(stop.right.value, bool)
        ):
            return self.calls.value(stop.left)
        known, value = literal_value(stop)
        if known and isinstance(value, int) and not isinstance(value, bool):
            return value - 1
        raise NotConverted("a repeat loop from 1 runs to `n + 1`: use range(1, n + 1)")

    def _condition(self, test: ast.expr, node: ast.stmt, kind: str) -> str:
        try:
            return self.calls.expression(test)
        except NotConverted as problem:
            lines = f"lines {node.lineno}-{node.end_lineno}"
            raise NotConverted(
                f"the condition {problem.message}: the {kind} block ({lines}) was not converted",
                node,
            ) from None

    def _step(self, step: dict[str, Any], node: ast.AST) -> dict[str, Any]:
        """Give the step an id and validate it now, so a problem is reported at its line."""
        kind = step["kind"]
        base = step.get("target", "").rpartition(".")[2] or step.get("workflow") or kind
        step = {"id": self.ids.new(_function_name(base)), **step}
        try:
            _STEP.validate_python(step)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"][1:])
            raise NotConverted(
                f"not a valid {kind} step: {where + ': ' if where else ''}{first['msg']}", node
            ) from None
        return step


def _counter_cap(first: ast.stmt, loop: ast.stmt | None) -> int | None:
    """The cap of the export's while pattern: `c = 0; while ...: c += 1; if c > N: raise`."""
    if not (
        isinstance(first, ast.Assign)
        and len(first.targets) == 1
        and isinstance(first.targets[0], ast.Name)
        and _is_int(first.value, 0)
        and isinstance(loop, ast.While)
        and len(loop.body) >= 2
    ):
        return None
    counter = first.targets[0].id
    increment, check = loop.body[0], loop.body[1]
    if not (
        isinstance(increment, ast.AugAssign)
        and isinstance(increment.target, ast.Name)
        and increment.target.id == counter
        and isinstance(increment.op, ast.Add)
        and _is_int(increment.value, 1)
    ):
        return None
    if not (
        isinstance(check, ast.If)
        and not check.orelse
        and len(check.body) == 1
        and isinstance(check.body[0], ast.Raise)
        and isinstance(check.test, ast.Compare)
        and isinstance(check.test.left, ast.Name)
        and check.test.left.id == counter
        and len(check.test.ops) == 1
        and isinstance(check.test.ops[0], ast.Gt)
        and isinstance(check.test.comparators[0], ast.Constant)
        and type(check.test.comparators[0].value) is int
    ):
        return None
    cap: int = check.test.comparators[0].value
    return cap


def _for_while(node: ast.For) -> tuple[ast.expr, int] | None:
    """`for _ in range(N): if not (c): break; ...; else: raise` is a while with cap N."""
    call = node.iter
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "range"
        and len(call.args) == 1
        and isinstance(call.args[0], ast.Constant)
        and type(call.args[0].value) is int
        and len(node.orelse) == 1
        and isinstance(node.orelse[0], ast.Raise)
        and node.body
    ):
        return None
    check = node.body[0]
    if not (
        isinstance(check, ast.If)
        and not check.orelse
        and len(check.body) == 1
        and isinstance(check.body[0], ast.Break)
        and isinstance(check.test, ast.UnaryOp)
        and isinstance(check.test.op, ast.Not)
    ):
        return None
    cap: int = call.args[0].value
    return check.test.operand, cap


def _is_int(node: ast.expr, value: int) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and node.value == value


def _name_of(node: ast.expr) -> str:
    if not isinstance(node, ast.Name):
        raise NotConverted(f"cannot save into {ast.unparse(node)}: only into variables")
    return node.id


def _reads(statements: list[ast.stmt], name: str) -> bool:
    return any(
        isinstance(node, ast.Name) and node.id == name
        for statement in statements
        for node in ast.walk(statement)
    )


def _function_name(base: str) -> str:
    return base.strip("_") or base


def _line(node: ast.AST) -> int | None:
    line: int | None = getattr(node, "lineno", None)
    return line
