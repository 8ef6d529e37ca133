"""Validation time of a 500-step workflow on the demo deck.

Builds one document of 500 steps (calls with literal, parameter, variable and expression
arguments; nested if / repeat / while blocks; sets with expressions; comments with
placeholders) and prints the median and p95 of `validate_workflow` over 50 runs, plus
`drift` and `parameter_schemas` for comparison. The first run (cold expression cache) is
reported apart.

Target: well under 50 ms per validation on a 2-core machine.

    .venv/bin/python benchmarks/validate_workflow.py [--steps 500] [--runs 50]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from labdeck.server import load_deck
from labdeck.workflow.expressions import _parse_cached
from labdeck.workflow.model import WorkflowDocument, iter_steps
from labdeck.workflow.validate import drift, parameter_schemas, validate_workflow


def build_document(target_steps: int) -> dict[str, Any]:
    """A valid document with about `target_steps` steps, built from one repeated unit."""
    script: list[dict[str, Any]] = []
    count = 0
    unit = 0
    while count < target_steps:
        u = unit
        steps = [
            {
                "id": f"dose{u}",
                "kind": "call",
                "target": "balance.dose_solid",
                "args": {"amount_mg": {"param": "amount_mg"}},
                "save": f"mass{u}",
            },
            {
                "id": f"ratio{u}",
                "kind": "set",
                "name": f"ratio{u}",
                "value": {"expr": f"mass{u} / amount_mg * 2"},
            },
            {
                "id": f"check{u}",
                "kind": "if",
                "condition": f"mass{u} > 1 and ratio{u} < 5",
                "then": [
                    {
                        "id": f"solvent{u}",
                        "kind": "call",
                        "target": "dispenser.dispense",
                        "args": {
                            "volume_ml": {"param": "volume_ml"},
                            "solvent": "METHANOL",
                            "rate_ml_min": {"expr": f"min(10, ratio{u} * 3)"},
                        },
                        "save": f"added{u}",
                    },
                    {
                        "id": f"note{u}",
                        "kind": "comment",
                        "text": f"added {{added{u}}} mL to {{mass{u}}} mg",
                    },
                ],
                "else": [
                    {"id": f"wait{u}", "kind": "wait", "seconds": 2},
                    {"id": f"added_none{u}", "kind": "set", "name": f"added{u}", "value": 0},
                ],
            },
            {
                "id": f"loop{u}",
                "kind": "repeat",
                "times": 3,
                "index": f"k{u}",
                "do": [
                    {
                        "id": f"heat{u}",
                        "kind": "call",
                        "target": "hotplate.set_temperature",
                        "args": {"celsius": {"expr": f"temperature_c + k{u}"}},
                    },
                    {
                        "id": f"read{u}",
                        "kind": "call",
                        "target": "spectrometer.measure",
                        "args": {
                            "wavelength_nm": 450,
                            "integration_ms": {"param": "integration_ms"},
                        },
                        "save": [f"a{u}", f"t{u}"],
                    },
                    {
                        "id": f"sum{u}",
                        "kind": "set",
                        "name": "total",
                        "value": {"expr": f"total + a{u}"},
                    },
                ],
            },
            {
                "id": f"settle{u}",
                "kind": "while",
                "condition": f"total < {u} and added{u} >= 0",
                "max_iterations": 5,
                "do": [
                    {
                        "id": f"stir{u}",
                        "kind": "call",
                        "target": "hotplate.stir",
                        "args": {"rpm": 400},
                    },
                    {
                        "id": f"bump{u}",
                        "kind": "set",
                        "name": "total",
                        "value": {"expr": "total + 1"},
                    },
                ],
            },
            {
                "id": f"setpoint{u}",
                "kind": "call",
                "target": "hotplate.target_temperature",
                "args": {"set": {"var": f"a{u}"}},
            },
        ]
        script.extend(steps)
        count += sum(1 for _ in _walk(steps))
        unit += 1
    script.append({"id": "final", "kind": "set", "name": "absorbance", "value": {"var": "total"}})
    return {
        "format": "labdeck.workflow/1",
        "name": "benchmark",
        "parameters": [
            {"name": "amount_mg", "default": 5.0},
            {"name": "volume_ml", "default": 2.0},
            {"name": "temperature_c", "default": 25.0},
            {"name": "integration_ms", "default": 100},
        ],
        "outputs": ["absorbance"],
        "prep": [
            {"id": "reset", "kind": "call", "target": "reset_bench"},
            {"id": "zero", "kind": "set", "name": "total", "value": 0},
        ],
        "script": script,
        "cleanup": [{"id": "off", "kind": "call", "target": "hotplate.off"}],
    }


def _walk(steps: list[dict[str, Any]]) -> Any:
    for step in steps:
        yield step
        for key in ("then", "else", "do"):
            yield from _walk(step.get(key, []))


def timings(function: Callable[[], object], runs: int) -> list[float]:
    result = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        result.append((time.perf_counter() - start) * 1000)
    return result


def summary(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{label:28} median {statistics.median(values):6.2f} ms   p95 {p95:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--runs", type=int, default=50)
    options = parser.parse_args()

    deck = load_deck("labdeck.demo.deck").schema
    document = WorkflowDocument.model_validate(build_document(options.steps))
    steps = sum(1 for _ in iter_steps(document))

    _parse_cached.cache_clear()
    cold = timings(lambda: validate_workflow(document, deck), 1)[0]
    problems = validate_workflow(document, deck)
    print(f"document: {steps} steps, {len(problems)} problems")
    for problem in problems[:5]:
        print(f"  {problem.step} {problem.field}: {problem.message}")
    print(f"{'validate_workflow (cold)':28} {cold:6.2f} ms")
    print(
        summary(
            "validate_workflow", timings(lambda: validate_workflow(document, deck), options.runs)
        )
    )
    print(summary("drift", timings(lambda: drift(document, deck), options.runs)))
    print(
        summary(
            "parameter_schemas", timings(lambda: parameter_schemas(document, deck), options.runs)
        )
    )


if __name__ == "__main__":
    main()
