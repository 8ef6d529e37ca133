"""A scripted optimizer for tests where the exact suggestions matter.

`install_fake(monkeypatch)` makes the optimizer named "fake" available to campaigns (the
real registry answers every other name). It suggests the points of `script` in order, then
a walk along the first float parameter's range, and remembers everything it was told.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from labdeck.optimize import registry
from labdeck.optimize.base import (
    Capabilities,
    Observation,
    OptimizerFactory,
    SearchSpace,
    UnsupportedCampaign,
)


class FakeOptimizer:
    def __init__(self, factory: FakeFactory, space: SearchSpace, seed: int | None) -> None:
        self.factory = factory
        self.space = space
        self.seed = seed
        self.script = list(factory.script)
        self.events: list[tuple[str, Any]] = []  # ("observe", [...]) / ("suggest", [...])
        self._walk = 0

    def suggest(self, n: int) -> list[dict[str, Any]]:
        points = []
        for _ in range(n):
            point = dict(self.script.pop(0)) if self.script else self._next_walk()
            points.append({**self.space.fixed, **point})
        self.events.append(("suggest", points))
        return points

    def _next_walk(self) -> dict[str, Any]:
        first = next(p for p in self.space.tunable if p.type == "float")
        assert first.low is not None
        assert first.high is not None
        self._walk += 1
        value = first.low + (first.high - first.low) * ((self._walk * 0.618034) % 1.0)
        others = {
            p.name: (p.choices[0] if p.choices else p.low)
            for p in self.space.tunable
            if p.name != first.name
        }
        return {first.name: value, **others}

    def observe(self, observations: Sequence[Observation]) -> None:
        self.events.append(("observe", list(observations)))

    @property
    def observed(self) -> list[Observation]:
        return [o for kind, batch in self.events if kind == "observe" for o in batch]

    def importance(self) -> dict[str, float] | None:
        self.factory.importance_calls += 1
        names = [p.name for p in self.space.tunable]
        return {name: round(1 / len(names), 6) for name in names}


class FakeFactory:
    name = "fake"

    def __init__(self) -> None:
        self.script: list[dict[str, Any]] = []
        self.created: list[FakeOptimizer] = []
        self.importance_calls = 0

    def available(self) -> bool:
        return True

    def capabilities(self) -> Capabilities:
        return Capabilities(
            name="fake",
            label="Fake",
            description="Scripted suggestions for tests.",
            parameter_types=["float", "int", "choice", "fixed"],
            log_scale=True,
            multi_objective=True,
            constraints=False,
            batch=True,
            importance=True,
            settings_schema={"type": "object"},
        )

    def create(
        self,
        space: SearchSpace,
        *,
        seed: int | None,
        initial_random: int,
        settings: Mapping[str, Any],
    ) -> FakeOptimizer:
        if space.constraints:
            raise UnsupportedCampaign("constraints", "the fake optimizer takes no constraints")
        if "refuse" in settings:
            raise UnsupportedCampaign(str(settings["refuse"]), "the fake refuses this")
        optimizer = FakeOptimizer(self, space, seed)
        self.created.append(optimizer)
        return optimizer

    @property
    def last(self) -> FakeOptimizer:
        return self.created[-1]


def install_fake(monkeypatch: pytest.MonkeyPatch) -> FakeFactory:
    """The "fake" optimizer, for campaigns and campaign views in this test."""
    from labdeck.runtime import campaign_check, campaign_service

    fake = FakeFactory()
    real = registry.get_factory

    def get_factory(name: str) -> OptimizerFactory:
        return fake if name == "fake" else real(name)

    monkeypatch.setattr(campaign_check, "get_factory", get_factory)
    monkeypatch.setattr(campaign_service, "get_factory", get_factory)
    return fake
