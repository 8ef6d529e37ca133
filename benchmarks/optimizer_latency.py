"""Suggestion latency of the Optuna (TPE) adapter once a campaign has 200 observations.

Prints: the time to warm-start a fresh optimizer with 200 observations (how a campaign
starts from history, or is rebuilt after a restart), then the latency of `suggest(1)`
(median and p95 over `--calls` iterations, each told its result before the next, as a
campaign does), and the time of `importance()` (its first call imports scikit-learn).

Target (issue 5): median suggestion latency <= 100 ms after 200 observations.

The space is the demo's dye campaign: amount_mg (float 0.5-20), volume_ml (float 1-10),
temperature_c (float 20-100) and solvent (a choice of three), one objective to maximize.

    .venv/bin/python benchmarks/optimizer_latency.py [--observations 200] [--calls 20]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from typing import Any

from labdeck.optimize.base import CampaignParameter, Objective, Observation, SearchSpace
from labdeck.optimize.registry import get_factory

SOLVENTS = ["water", "ethanol", "dmso"]
SPACE = SearchSpace(
    parameters=[
        CampaignParameter(name="amount_mg", type="float", low=0.5, high=20),
        CampaignParameter(name="volume_ml", type="float", low=1, high=10),
        CampaignParameter(name="temperature_c", type="float", low=20, high=100),
        CampaignParameter(name="solvent", type="choice", choices=SOLVENTS),
    ],
    objectives=[Objective(name="absorbance", direction="maximize")],
)


def absorbance(point: dict[str, Any], noise: random.Random) -> float:
    """A smooth peak in concentration and temperature, best in ethanol, with noise."""
    concentration = point["amount_mg"] / point["volume_ml"]
    peak = math.exp(-(((concentration - 4) / 3) ** 2) - ((point["temperature_c"] - 65) / 25) ** 2)
    return peak * (1.2 if point["solvent"] == "ethanol" else 1.0) + noise.gauss(0, 0.02)


def random_point(rng: random.Random) -> dict[str, Any]:
    return {
        "amount_mg": rng.uniform(0.5, 20),
        "volume_ml": rng.uniform(1, 10),
        "temperature_c": rng.uniform(20, 100),
        "solvent": rng.choice(SOLVENTS),
    }


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, default=200)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()

    rng = random.Random(1)
    history = []
    for _ in range(args.observations):
        point = random_point(rng)
        history.append(Observation(params=point, values={"absorbance": absorbance(point, rng)}))

    factory = get_factory("optuna")
    started = time.perf_counter()
    optimizer = factory.create(SPACE, seed=0, initial_random=5, settings={"sampler": "tpe"})
    optimizer.observe(history)
    warm_start_ms = (time.perf_counter() - started) * 1000

    latencies = []
    for _ in range(args.calls):
        started = time.perf_counter()
        (point,) = optimizer.suggest(1)
        latencies.append((time.perf_counter() - started) * 1000)
        optimizer.observe(
            [Observation(params=point, values={"absorbance": absorbance(point, rng)})]
        )

    importance_ms = []
    for _ in range(2):  # the first call imports scikit-learn
        started = time.perf_counter()
        shares = optimizer.importance() or {}
        importance_ms.append((time.perf_counter() - started) * 1000)

    print(f"optuna tpe, {args.observations} observations, {len(SPACE.parameters)} parameters")
    print(f"warm start ({args.observations} observations): {warm_start_ms:.0f} ms")
    print(
        f"suggest(1) over {args.calls} calls: median {statistics.median(latencies):.1f} ms,"
        f" p95 {percentile(latencies, 0.95):.1f} ms, max {max(latencies):.1f} ms"
        " (target: median <= 100 ms)"
    )
    ranked = ", ".join(f"{name} {share:.2f}" for name, share in sorted(shares.items()))
    print(f"importance: {importance_ms[1]:.0f} ms, first call {importance_ms[0]:.0f} ms ({ranked})")


if __name__ == "__main__":
    main()
