"""The contract every optimizer adapter meets, and the search space a campaign gives it.

Owns: the campaign's parameter and objective specs, linear constraints parsed from text
(`"a + 2*b <= 80"`), observations fed back to an optimizer, the capabilities an optimizer
declares (served by `GET /api/optimizers`, rendered by the execute page's campaign form), and
the `Optimizer` / `OptimizerFactory` protocols. Adapters live in sibling modules and are listed
by `optimize.registry`; they import their packages lazily, in `create`.

An optimizer is rebuilt from recorded observations rather than pickled: a fresh `create(...)`
followed by `observe(history)` gives the state a campaign had (this is how a replayed or
restarted campaign continues).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

ParameterType = Literal["float", "int", "choice", "fixed"]
Direction = Literal["minimize", "maximize"]
Choice = str | int | float | bool


class UnsupportedCampaign(ValueError):
    """The optimizer cannot do what the campaign asks (a constraint, several objectives...).

    `field` names the campaign setting at fault (e.g. `constraints`, `objectives`,
    `parameters[2].log`) so the API can answer 422 pointing at it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CampaignParameter(_Spec):
    """One dimension of the search: a workflow parameter the optimizer chooses (or a fixed one)."""

    name: str = Field(min_length=1)
    type: ParameterType
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = Field(default=None, gt=0)
    choices: list[Choice] | None = None
    value: Any = None

    @model_validator(mode="after")
    def _consistent(self) -> CampaignParameter:
        if self.type in ("float", "int"):
            if self.low is None or self.high is None:
                raise ValueError(f"{self.name}: a {self.type} parameter needs low and high")
            if not (math.isfinite(self.low) and math.isfinite(self.high)):
                raise ValueError(f"{self.name}: low and high must be finite numbers")
            if self.low >= self.high:
                raise ValueError(f"{self.name}: low must be less than high")
            if self.log and self.low <= 0:
                raise ValueError(f"{self.name}: a log-scale range must have low > 0")
            if self.log and self.step is not None:
                raise ValueError(f"{self.name}: choose either log scale or a step, not both")
            if self.type == "int" and not (
                float(self.low).is_integer() and float(self.high).is_integer()
            ):
                raise ValueError(f"{self.name}: an int parameter needs whole-number low and high")
            if self.type == "int" and self.step is not None and not float(self.step).is_integer():
                raise ValueError(f"{self.name}: an int parameter needs a whole-number step")
        elif self.type == "choice":
            if not self.choices:
                raise ValueError(f"{self.name}: a choice parameter needs at least one choice")
            keys = [(type(c).__name__, c) for c in self.choices]
            if len(set(keys)) != len(keys):
                raise ValueError(f"{self.name}: choices must be distinct")
        elif self.value is None:
            raise ValueError(f"{self.name}: a fixed parameter needs a value")
        return self

    def contains(self, value: Any) -> bool:
        """Whether `value` is a point of this dimension (used to check history rows)."""
        if self.type == "fixed":
            return bool(value == self.value)
        if self.type == "choice":
            assert self.choices is not None
            return any(type(value) is type(c) and value == c for c in self.choices)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.type == "int" and not float(value).is_integer():
            return False
        assert self.low is not None
        assert self.high is not None
        return self.low <= value <= self.high


class Objective(_Spec):
    """A numeric workflow output to minimize or maximize, optionally with a good-enough level."""

    name: str = Field(min_length=1)
    direction: Direction = "maximize"
    threshold: float | None = None

    def met(self, value: float) -> bool:
        """Whether `value` reaches the threshold (False when there is none)."""
        if self.threshold is None:
            return False
        return value >= self.threshold if self.direction == "maximize" else value <= self.threshold

    def better(self, a: float, b: float) -> bool:
        """Whether `a` is strictly better than `b` for this objective."""
        return a > b if self.direction == "maximize" else a < b


class LinearConstraint(_Spec):
    """`sum(coefficient * parameter) <operator> bound`, parsed from text like `a + 2*b <= 80`."""

    text: str
    coefficients: dict[str, float]
    operator: Literal["<=", ">="]
    bound: float

    def satisfied(self, params: Mapping[str, Any], tolerance: float = 1e-9) -> bool:
        total = sum(c * float(params[name]) for name, c in self.coefficients.items())
        if self.operator == "<=":
            return total <= self.bound + tolerance
        return total >= self.bound - tolerance


def parse_constraint(text: str, numeric: Sequence[str]) -> LinearConstraint:
    """Parse `a + 2*b - c <= 80` (or `>=`) over the numeric parameters `numeric`.

    Raises ValueError with a message for people when the text is not a linear inequality
    over those parameters. Never evaluates the text.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"{text!r} is not an inequality like 'a + b <= 80'") from exc
    if not (
        isinstance(tree, ast.Compare)
        and len(tree.ops) == 1
        and isinstance(tree.ops[0], ast.LtE | ast.GtE)
    ):
        raise ValueError(f"{text!r}: write one inequality with <= or >=, like 'a + b <= 80'")
    left: dict[str, float] = {}
    right: dict[str, float] = {}
    left_constant = _linear(tree.left, 1.0, left, numeric, text)
    right_constant = _linear(tree.comparators[0], 1.0, right, numeric, text)
    coefficients = dict(left)
    for name, c in right.items():
        coefficients[name] = coefficients.get(name, 0.0) - c
    coefficients = {name: c for name, c in coefficients.items() if c != 0}
    if not coefficients:
        raise ValueError(f"{text!r} names no parameter")
    operator: Literal["<=", ">="] = "<=" if isinstance(tree.ops[0], ast.LtE) else ">="
    return LinearConstraint(
        text=text.strip(),
        coefficients=coefficients,
        operator=operator,
        bound=right_constant - left_constant,
    )


def _linear(
    node: ast.expr, sign: float, into: dict[str, float], numeric: Sequence[str], text: str
) -> float:
    """Add `sign * node`'s terms to `into`; return its constant part."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        constant = _linear(node.left, sign, into, numeric, text)
        other = sign if isinstance(node.op, ast.Add) else -sign
        return constant + _linear(node.right, other, into, numeric, text)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return _linear(
            node.operand, -sign if isinstance(node.op, ast.USub) else sign, into, numeric, text
        )
    number = _number(node)
    if number is not None:
        return sign * number
    if isinstance(node, ast.Name):
        _add(into, node.id, sign, numeric, text)
        return 0.0
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        for factor, name_node in ((node.left, node.right), (node.right, node.left)):
            number = _number(factor)
            if number is not None and isinstance(name_node, ast.Name):
                _add(into, name_node.id, sign * number, numeric, text)
                return 0.0
    raise ValueError(f"{text!r}: only sums of parameters times numbers are allowed")


def _number(node: ast.expr) -> float | None:
    negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
    if isinstance(node, ast.UnaryOp) and negative:
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            return None
        return -float(node.value) if negative else float(node.value)
    return None


def _add(into: dict[str, float], name: str, c: float, numeric: Sequence[str], text: str) -> None:
    if name not in numeric:
        raise ValueError(
            f"{text!r}: {name!r} is not a float or int parameter of the campaign"
            f" (those are: {', '.join(numeric) or 'none'})"
        )
    into[name] = into.get(name, 0.0) + c


class SearchSpace(_Spec):
    """What a campaign optimizes: its parameters, objectives and linear constraints."""

    parameters: list[CampaignParameter] = Field(min_length=1)
    objectives: list[Objective] = Field(min_length=1)
    constraints: list[LinearConstraint] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> SearchSpace:
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError("parameter names must be distinct")
        objectives = [o.name for o in self.objectives]
        if len(set(objectives)) != len(objectives):
            raise ValueError("objective names must be distinct")
        if not self.tunable:
            raise ValueError("at least one parameter must not be fixed")
        return self

    @property
    def tunable(self) -> list[CampaignParameter]:
        return [p for p in self.parameters if p.type != "fixed"]

    @property
    def fixed(self) -> dict[str, Any]:
        return {p.name: p.value for p in self.parameters if p.type == "fixed"}

    def contains(self, params: Mapping[str, Any]) -> bool:
        """Whether `params` is a point of this space (every parameter in range, constraints met)."""
        return all(
            p.name in params and p.contains(params[p.name]) for p in self.parameters
        ) and all(c.satisfied(params) for c in self.constraints)


class Observation(_Spec):
    """One finished experiment: the parameters it ran with and the objective values measured.

    `failed` experiments (the iteration failed, or an objective was missing or not a number)
    are told to the optimizer as failed trials; their `values` may be empty.
    """

    params: dict[str, Any]
    values: dict[str, float] = Field(default_factory=dict)
    failed: bool = False


class Capabilities(_Spec):
    """What an optimizer can do; the campaign form is built from this, never hard-coded."""

    name: str
    label: str
    description: str
    parameter_types: list[ParameterType]
    log_scale: bool
    multi_objective: bool
    constraints: bool
    batch: bool
    importance: bool
    settings_schema: dict[str, Any] = Field(
        description="JSON Schema of the optimizer's extra settings (`CampaignConfig.settings`)."
    )


class Optimizer(Protocol):
    """A live optimizer for one campaign."""

    def suggest(self, n: int) -> list[dict[str, Any]]:
        """`n` new points, each with a value for every parameter (fixed ones included)."""
        ...

    def observe(self, observations: Sequence[Observation]) -> None:
        """Learn from finished experiments.

        An observation whose params equal a pending suggestion completes it; any other is
        added as an extra known point (history, warm start, a rebuild after restart).
        """
        ...

    def importance(self) -> dict[str, float] | None:
        """Parameter importance (name → share, summing to about 1), or None if unknown."""
        ...


class OptimizerFactory(Protocol):
    """An entry of the registry: describes one optimizer and creates instances of it."""

    name: str

    def available(self) -> bool:
        """Whether its packages are installed (checked without importing them)."""
        ...

    def capabilities(self) -> Capabilities: ...

    def create(
        self,
        space: SearchSpace,
        *,
        seed: int | None,
        initial_random: int,
        settings: Mapping[str, Any],
    ) -> Optimizer:
        """A fresh optimizer; raises `UnsupportedCampaign` for what it cannot do."""
        ...
