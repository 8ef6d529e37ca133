"""Does a campaign find a better dye solution than random experiments? (issue 5)

On the demo deck, with in-process services and the simulated bench running at 1/100,000 of
real time, runs the "dye-absorbance" workflow (src/labdeck/demo/workflows.py) as real
campaign runs through the queue: per seed, an Optuna campaign of 30 experiments against a
campaign of 30 random ones (the same optimizer with `initial_random` = the budget, so both
start from the same random points). The search space is the workflow's campaign template
(every parameter's range from the argument it feeds: 0.1-100 mg, 0.02-20 mL, four solvents,
0-1500 rpm, 20-150 °C). The bench is reset with the seed before each campaign, so the
measurement noise is the same for both.

Prints, per Optuna sampler compared (TPE, the default; GP too when PyTorch is installed),
one row per seed: the best absorbance each found, the winner, and how many seeds Optuna
won (target: at least 4 of 5), then the means and the time per experiment.

    .venv/bin/python benchmarks/campaign.py [--seeds 5] [--budget 30] [--initial-random 8]
                                            [--samplers tpe,gp]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# The bench reads the time scale when it sleeps; 0 is not allowed (a ramp divides by it).
os.environ["LABDECK_DEMO_TIME_SCALE"] = "0.00001"
os.environ.setdefault("LABDECK_LOG_LEVEL", "warning")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import labdeck.demo.deck as demo_module  # noqa: E402
from labdeck.demo import DECK_MODULE  # noqa: E402
from labdeck.demo.workflows import DYE_ABSORBANCE  # noqa: E402
from labdeck.runtime.service import RunOptions  # noqa: E402
from labdeck.server import load_deck  # noqa: E402
from labdeck.services import Services, build_services  # noqa: E402
from labdeck.settings import Settings, get_settings  # noqa: E402

ENDED = ("completed", "failed", "cancelled")


def start(data_dir: Path) -> Services:
    get_settings.cache_clear()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        admin_password="benchmark-password",
        demo_time_scale=0.00001,
    )
    return build_services(settings, load_deck(DECK_MODULE))


def campaign_best(
    services: Services, template: dict[str, Any], seed: int, changes: dict[str, Any]
) -> tuple[float, int]:
    """The best absorbance a campaign run found, and how many experiments it made."""
    demo_module.reset_bench(seed=seed)
    config = {**copy.deepcopy(template), "seed": seed, **changes}
    run = services.run_service.submit(
        workflow="dye-absorbance",
        version="active",
        mode={"campaign": config},
        options=RunOptions(on_error="fail"),
        name=f"seed {seed}",
        user="benchmark",
    )
    while (record := services.run_service.get(run.id)).status not in ENDED:
        time.sleep(0.02)
    if record.status != "completed":
        raise SystemExit(f"run {run.id} ended {record.status}: {record.status_reason}")
    view = services.campaigns.view(run.id)
    best = view["best"]["absorbance"]
    return (best["value"] if best else float("nan")), len(view["observations"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--initial-random", type=int, default=8)
    parser.add_argument(
        "--samplers",
        default="tpe,gp" if importlib.util.find_spec("torch") else "tpe",
        help="Optuna samplers to compare with random experiments, comma-separated"
        " (gp needs PyTorch)",
    )
    args = parser.parse_args()
    samplers = [name.strip() for name in args.samplers.split(",") if name.strip()]
    with tempfile.TemporaryDirectory() as data_dir:
        services = start(Path(data_dir))
        try:
            services.workflows.create(copy.deepcopy(DYE_ABSORBANCE), user="benchmark")
            services.workflows.publish("dye-absorbance", user="benchmark")
            template = services.campaigns.template("dye-absorbance", "active")
            template.pop("notes")
            template["objectives"] = [{"name": "absorbance", "direction": "maximize"}]
            template["budget"] = args.budget
            print(
                f"dye-absorbance, {args.budget} experiments per campaign; optimum 1.8 AU"
                " (2.5 mg/mL, 60 °C, 600 rpm, ethanol)"
            )
            print("search space: " + ", ".join(_describe(p) for p in template["parameters"]))
            random_bests = []
            for seed in range(1, args.seeds + 1):
                best, _made = campaign_best(
                    services, template, seed, {"initial_random": args.budget}
                )
                random_bests.append(best)
            for sampler in samplers:
                compare(services, template, sampler, args.initial_random, random_bests)
        finally:
            services.close()


def compare(
    services: Services,
    template: dict[str, Any],
    sampler: str,
    initial_random: int,
    random_bests: list[float],
) -> None:
    """One table: this sampler's campaigns against the random ones, seed by seed."""
    print()
    print(
        f"optuna sampler={sampler}, initial_random={initial_random}"
        f" vs random (initial_random={template['budget']})"
    )
    print(f"{'seed':>4} | {'optuna best':>11} | {'random best':>11} | winner")
    print(f"{'-' * 4}-+-{'-' * 11}-+-{'-' * 11}-+-{'-' * 6}")
    wins = 0
    bests = []
    started = time.perf_counter()
    for seed, random_best in enumerate(random_bests, start=1):
        changes = {"initial_random": initial_random, "settings": {"sampler": sampler}}
        best, _made = campaign_best(services, template, seed, changes)
        winner = "optuna" if best > random_best else "random" if best < random_best else "tie"
        wins += winner == "optuna"
        bests.append(best)
        print(f"{seed:>4} | {best:>11.4f} | {random_best:>11.4f} | {winner}")
    elapsed = time.perf_counter() - started
    experiments = len(random_bests) * template["budget"]
    print(f"optuna ({sampler}) won {wins} of {len(random_bests)} seeds (target: at least 4)")
    print(
        f"mean best: optuna {statistics.mean(bests):.4f},"
        f" random {statistics.mean(random_bests):.4f};"
        f" {elapsed / experiments * 1000:.0f} ms per experiment through the queue"
    )


def _describe(parameter: dict[str, Any]) -> str:
    if parameter["type"] == "choice":
        return f"{parameter['name']} in {parameter['choices']}"
    if parameter["type"] == "fixed":
        return f"{parameter['name']} = {parameter['value']}"
    return f"{parameter['name']} {parameter['low']:g}..{parameter['high']:g}"


if __name__ == "__main__":
    main()
