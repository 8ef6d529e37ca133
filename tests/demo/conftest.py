"""Fixtures for the demo lab tests: fast simulated time and fresh, seeded instruments."""

from collections.abc import Callable, Iterator

import pytest

from labdeck.demo.bench import Bench
from labdeck.demo.instruments import Balance, HotplateStirrer, LiquidDispenser, Spectrometer
from labdeck.settings import get_settings

TEST_TIME_SCALE = 0.01


@pytest.fixture(autouse=True)
def fast_demo_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[float]:
    """Every simulated wait runs 100 times faster; settings are re-read before and after."""
    monkeypatch.setenv("LABDECK_DEMO_TIME_SCALE", str(TEST_TIME_SCALE))
    get_settings.cache_clear()
    yield TEST_TIME_SCALE
    get_settings.cache_clear()


@pytest.fixture
def set_time_scale(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Change the time scale within one test (undone with the environment afterwards)."""

    def set_scale(scale: float) -> None:
        monkeypatch.setenv("LABDECK_DEMO_TIME_SCALE", str(scale))
        get_settings.cache_clear()

    return set_scale


@pytest.fixture
def bench() -> Bench:
    return Bench(seed=1234)


@pytest.fixture
def dispenser(bench: Bench) -> LiquidDispenser:
    return LiquidDispenser(bench)


@pytest.fixture
def balance(bench: Bench) -> Balance:
    return Balance(bench)


@pytest.fixture
def hotplate(bench: Bench) -> HotplateStirrer:
    return HotplateStirrer(bench)


@pytest.fixture
def spectrometer(bench: Bench) -> Spectrometer:
    return Spectrometer(bench)
