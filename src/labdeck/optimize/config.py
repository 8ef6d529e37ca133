"""A campaign as people write it (`mode: {"campaign": ...}` of a run), and its starting template.

Owns:
- `CampaignConfig`, the `CampaignConfig` body of API.md: the optimizer, the search space
  (parameters, objectives, linear constraints as text), the budget of experiments, the
  random start, warm-start history rows, the seed and the optimizer's own settings (checked by
  the optimizer's factory, not here). Whether it fits a workflow is `runtime.campaign`'s job;
- `search_space`, a config's `SearchSpace` (constraints parsed over its numeric parameters);
- `campaign_template`, a config to start from for a workflow version: each parameter becomes
  a range, a choice or a fixed value according to the JSON Schema of the argument it feeds,
  and the first output becomes the objective to maximize. People edit it before they run it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from labdeck.optimize.base import CampaignParameter, Objective, SearchSpace, parse_constraint
from labdeck.optimize.registry import DEFAULT_OPTIMIZER
from labdeck.workflow.model import WorkflowDocument

MAX_BUDGET = 10_000
MAX_HISTORY_ROWS = 100_000  # a CSV holds at most 10,000; replays of replays add their runs
TEMPLATE_BUDGET = 20
TEMPLATE_INITIAL_RANDOM = 5


class CampaignConfig(BaseModel):
    """An optimization campaign: what to vary, what to measure, how many experiments."""

    model_config = ConfigDict(extra="forbid")

    optimizer: str = Field(
        default=DEFAULT_OPTIMIZER, description="An installed optimizer (`GET /api/optimizers`)."
    )
    parameters: list[CampaignParameter] = Field(
        min_length=1,
        description="Workflow parameters the optimizer chooses (or fixes); the workflow's other"
        " parameters keep their defaults.",
    )
    objectives: list[Objective] = Field(
        min_length=1, description="Numeric workflow outputs to minimize or maximize."
    )
    budget: int = Field(
        ge=1, le=MAX_BUDGET, description="How many experiments (samples) the run makes at most."
    )
    initial_random: int = Field(
        default=5, ge=0, le=MAX_BUDGET, description="Random experiments before the model guides."
    )
    constraints: list[str] = Field(
        default_factory=list,
        max_length=100,
        description='Linear inequalities over float and int parameters, like "a + 2*b <= 80".',
    )
    history: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_ROWS,
        description="Earlier experiments: rows of parameter and objective values (an objective"
        " that is null marks a failed experiment). Told to the optimizer before it suggests"
        " anything; they do not count against the budget.",
    )
    seed: int | None = Field(default=None, description="Seed for repeatable suggestions.")
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="The optimizer's own settings (its `settings_schema` in GET /api/optimizers).",
    )
    notes: dict[str, str] = Field(
        default_factory=dict,
        description="Explanations a template carries (why a parameter is fixed); not used.",
    )


def search_space(config: CampaignConfig) -> SearchSpace:
    """The config's search space. Raises `ValueError` for an inconsistent one."""
    numeric = [p.name for p in config.parameters if p.type in ("float", "int")]
    return SearchSpace(
        parameters=config.parameters,
        objectives=config.objectives,
        constraints=[parse_constraint(text, numeric) for text in config.constraints],
    )


# --- the template ------------------------------------------------------------------------------


def campaign_template(
    document: WorkflowDocument, schemas: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """A campaign to start from for `document` (a published version), as JSON.

    `schemas` are the parameters' JSON Schemas (`WorkflowLibrary.parameter_schemas`).
    """
    parameters: list[dict[str, Any]] = []
    notes: dict[str, str] = {}
    for parameter in document.parameters:
        spec, note = _dimension(
            parameter.name, parameter.default, dict(schemas.get(parameter.name, {}))
        )
        parameters.append(spec)
        if note:
            notes[parameter.name] = note
    return {
        "optimizer": DEFAULT_OPTIMIZER,
        "parameters": parameters,
        # One goal to start from (the first output); the form offers the others to add.
        "objectives": [
            {"name": name, "direction": "maximize", "threshold": None}
            for name in document.outputs[:1]
        ],
        "budget": TEMPLATE_BUDGET,
        "initial_random": TEMPLATE_INITIAL_RANDOM,
        "constraints": [],
        "seed": None,
        "settings": {},
        "notes": notes,
    }


def _dimension(name: str, default: Any, schema: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The template's spec for one parameter, and why it is fixed ("" when it is not)."""
    defs = schema.get("$defs")
    plain = _plain(schema, defs if isinstance(defs, dict) else {})
    fixed = {"name": name, "type": "fixed", "value": copy.deepcopy(default)}
    if plain is None:
        return fixed, _fixed_note(default, "it takes values of several kinds")
    if isinstance(plain.get("enum"), list) and plain["enum"]:
        choices = list(plain["enum"])
        if len(choices) == 1:
            return {**fixed, "value": choices[0]}, "it has only one possible value"
        return {"name": name, "type": "choice", "choices": choices}, ""
    if "const" in plain:
        return {**fixed, "value": plain["const"]}, "it has only one possible value"
    kind = plain.get("type")
    if kind == "boolean":
        return {"name": name, "type": "choice", "choices": [True, False]}, ""
    if kind in ("number", "integer"):
        bounds = _bounds(plain, integer=kind == "integer")
        if bounds is None:
            return fixed, _fixed_note(
                default, "the argument it feeds has no lower and upper bound: give low and high"
            )
        low, high = bounds
        return {
            "name": name,
            "type": "int" if kind == "integer" else "float",
            "low": low,
            "high": high,
            "log": False,
        }, ""
    what = {"string": "text", "array": "lists", "object": "objects"}.get(str(kind), "any value")
    return fixed, _fixed_note(default, f"it takes {what}, which an optimizer cannot search")


def _fixed_note(default: Any, why: str) -> str:
    if default is None:
        return f"fixed because {why}; it has no default: give it a value"
    return f"fixed at its default because {why}"


def _plain(schema: Any, defs: Mapping[str, Any], depth: int = 0) -> dict[str, Any] | None:
    """`schema` with `$ref` resolved and a null branch dropped; None for a real union."""
    if not isinstance(schema, dict) or depth > 20:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = defs.get(ref.removeprefix("#/$defs/"))
        if not isinstance(target, dict):
            return None
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return _plain(merged, defs, depth + 1)
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            kept = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
            if len(kept) != 1:
                return None
            return _plain(kept[0], defs, depth + 1)
    return schema


def _bounds(schema: Mapping[str, Any], *, integer: bool) -> tuple[float, float] | None:
    """The range an optimizer may search: inside the schema's bounds, both needed.

    An exclusive bound moves inward: to the next whole number for integers, and by a round
    thousandth of the range for floats (so `0 < amount <= 100` searches 0.1..100).
    """

    def number(key: str) -> float | None:
        value = schema.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) else None

    low, low_open = number("minimum"), False
    if low is None:
        low, low_open = number("exclusiveMinimum"), True
    high, high_open = number("maximum"), False
    if high is None:
        high, high_open = number("exclusiveMaximum"), True
    if low is None or high is None:
        return None
    if integer:
        low = math.floor(low) + 1 if low_open else math.ceil(low)
        high = math.ceil(high) - 1 if high_open else math.floor(high)
    else:
        margin = _round_down(high - low) / 1000
        if low_open:
            low = round(low + margin, 12)
        if high_open:
            high = round(high - margin, 12)
    if low >= high:
        return None
    return (int(low), int(high)) if integer else (low, high)


def _round_down(span: float) -> float:
    """`span` to its first significant digit, rounded down (123 -> 100, 20 -> 20, 0.7 -> 0.7)."""
    if span <= 0:
        return span
    scale = 10.0 ** math.floor(math.log10(span))
    return math.floor(round(span / scale, 9)) * scale
