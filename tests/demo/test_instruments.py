"""The demo lab behaves as documented: chemistry, bench state, limits, async reader, deck.

The deliberately faulty instruments are tested in `test_faults.py`.
"""

import asyncio
import random
import statistics
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from labdeck.demo import DECK_MODULE, deck
from labdeck.demo.bench import (
    AMBIENT_C,
    BEST_SOLVENT,
    MAX_ABSORBANCE,
    OPTIMUM_CONCENTRATION_MG_ML,
    OPTIMUM_STIR_RPM,
    OPTIMUM_TEMPERATURE_C,
    PEAK_WAVELENGTH_NM,
    Bench,
    Solvent,
    absorbance_model,
)
from labdeck.demo.instruments import (
    Balance,
    FlakySensor,
    HotplateStirrer,
    LiquidDispenser,
    PlateReader,
    SlowStage,
    Spectrometer,
)
from labdeck.errors import InstrumentError

OPTIMUM: dict[str, Any] = {
    "concentration_mg_ml": OPTIMUM_CONCENTRATION_MG_ML,
    "temperature_c": OPTIMUM_TEMPERATURE_C,
    "stir_rpm": OPTIMUM_STIR_RPM,
    "wavelength_nm": PEAK_WAVELENGTH_NM,
}
# Each input swept across its instrument's range; the model must peak at the documented value.
SWEEPS = {
    "concentration_mg_ml": [c / 10 for c in range(1, 201)],
    "temperature_c": [float(t) for t in range(20, 151)],
    "stir_rpm": [float(r) for r in range(0, 1501, 10)],
    "wavelength_nm": [float(w) for w in range(200, 801)],
}


def model(**changes: Any) -> float:
    inputs = {**OPTIMUM, "solvent_fractions": {BEST_SOLVENT: 1.0}, **changes}
    return absorbance_model(**inputs)


# --- chemistry model -------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SWEEPS))
def test_model_peaks_at_the_documented_optimum(name: str) -> None:
    best = max(SWEEPS[name], key=lambda value: model(**{name: value}))
    assert best == pytest.approx(OPTIMUM[name])
    assert model() == pytest.approx(MAX_ABSORBANCE)


def test_ethanol_is_the_best_solvent() -> None:
    readings = {s: model(solvent_fractions={s: 1.0}) for s in Solvent}
    assert max(readings, key=readings.__getitem__) is Solvent.ETHANOL
    assert all(0 < value <= MAX_ABSORBANCE for value in readings.values())


# Largest slope of the model per unit of each input (derived from its Gaussian widths): a
# smooth model never changes faster than this, so a small step gives a small change.
MAX_SLOPE = {
    "concentration_mg_ml": 2.5,
    "temperature_c": 0.05,
    "stir_rpm": 0.001,
    "wavelength_nm": 0.02,
}


def test_model_is_smooth_and_within_zero_to_two() -> None:
    rng = random.Random(5)
    for _ in range(300):
        point = {name: rng.uniform(values[0], values[-1]) for name, values in SWEEPS.items()}
        base = model(**point)
        assert 0.0 <= base <= 2.0
        for name, slope in MAX_SLOPE.items():
            step = 0.01
            moved = model(**{**point, name: point[name] + step})
            assert abs(moved - base) <= slope * step


def test_empty_vial_reads_zero() -> None:
    assert model(concentration_mg_ml=0.0) == 0.0
    assert model(solvent_fractions={}) == 0.0


def _sample(bench: Bench, mg: float, ml: float, solvent: Solvent, celsius: float, rpm: int) -> None:
    bench.empty_vial()
    Balance(bench).dose_solid(mg)
    LiquidDispenser(bench).dispense(ml, solvent)
    plate = HotplateStirrer(bench)
    plate.stir(rpm)
    plate.set_temperature(celsius)
    plate.wait_for_temperature()


def test_measured_absorbance_is_high_at_the_optimum_and_low_far_away(
    bench: Bench, set_time_scale: Callable[[float], None]
) -> None:
    set_time_scale(0.001)
    spectrometer = Spectrometer(bench)
    spectrometer.blank()
    _sample(bench, 25, 10, Solvent.ETHANOL, 60, 600)
    near = [spectrometer.measure(450)[0] for _ in range(10)]
    _sample(bench, 1, 20, Solvent.WATER, 25, 0)
    far = [spectrometer.measure(650)[0] for _ in range(10)]
    assert statistics.mean(near) == pytest.approx(MAX_ABSORBANCE, abs=0.05)
    assert 0 < statistics.stdev(near) < 0.05  # noisy, but only slightly
    assert statistics.mean(far) < 0.05


def test_seeded_benches_give_identical_readings() -> None:
    def readings(seed: int) -> list[tuple[float, float]]:
        bench = Bench(seed=seed)
        _sample(bench, 20, 10, Solvent.METHANOL, 20, 400)
        return [Spectrometer(bench).measure(450) for _ in range(5)]

    first = readings(7)
    assert readings(7) == first
    assert readings(8) != first


def test_scan_peaks_at_the_band_and_transmittance_is_percent(bench: Bench) -> None:
    spectrometer = Spectrometer(bench)
    spectrometer.blank()
    _sample(bench, 25, 10, Solvent.ETHANOL, 60, 600)
    spectrum = spectrometer.scan(300, 700, 50)
    assert len(spectrum) == 9
    assert spectrum.index(max(spectrum)) == 3  # 450 nm
    spectrometer.set_mode("transmittance")
    assert spectrometer.mode == "transmittance"
    transmittance, peak_nm = spectrometer.measure(450)
    assert transmittance == pytest.approx(100 * 10**-MAX_ABSORBANCE, rel=0.15)
    assert peak_nm == pytest.approx(450, abs=2)


# --- bench state -----------------------------------------------------------------------------


def test_dispense_fills_the_vial_from_the_bottle(bench: Bench, dispenser: LiquidDispenser) -> None:
    delivered = dispenser.dispense(5.0, Solvent.METHANOL, rate_ml_min=10)
    assert delivered == pytest.approx(5.0, rel=0.01)
    assert bench.volume_ml == pytest.approx(delivered, abs=1e-3)
    assert bench.solvent is Solvent.METHANOL
    assert dispenser.reservoir_ml["methanol"] == pytest.approx(1000 - delivered, abs=0.01)
    dispenser.dispense(10.0, Solvent.WATER)
    assert bench.solvent is Solvent.WATER
    assert bench.solvent_fractions[Solvent.METHANOL] == pytest.approx(1 / 3, abs=0.01)
    dispenser.prime(2)
    assert dispenser.reservoir_ml["ethanol"] == pytest.approx(999.0)
    dispenser.empty_vial()
    assert bench.volume_ml == 0
    assert bench.solvent is None
    dispenser.refill()
    assert set(dispenser.reservoir_ml.values()) == {1000.0}


def test_dose_and_weigh_track_the_solid(bench: Bench, balance: Balance) -> None:
    assert balance.unit == "mg"
    dosed = balance.dose_solid(40)
    assert dosed == pytest.approx(40, rel=0.05)
    assert bench.solid_mg == pytest.approx(dosed, abs=0.01)
    assert balance.weigh() == pytest.approx(dosed, abs=0.1)
    balance.tare()
    balance.dose_solid(10)
    assert balance.weigh() == pytest.approx(10, rel=0.05)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_temperature_ramps_toward_the_setpoint_over_time(fast_demo_time: float) -> None:
    clock = FakeClock()
    plate = HotplateStirrer(Bench(clock=clock))
    assert plate.temperature == AMBIENT_C
    plate.set_temperature(60)
    assert plate.target_temperature == 60
    assert plate.temperature == AMBIENT_C
    clock.now += 2 * fast_demo_time  # two compressed minutes at 10 °C/min
    assert plate.temperature == pytest.approx(40)
    clock.now += 10 * fast_demo_time
    assert plate.temperature == 60
    plate.off()
    clock.now += 1 * fast_demo_time
    assert plate.temperature == pytest.approx(50)
    assert plate.status() == {"temperature_c": 50.0, "target_c": AMBIENT_C, "stir_rpm": 0.0}


def test_heating_updates_the_bench(bench: Bench, hotplate: HotplateStirrer) -> None:
    hotplate.target_temperature = 45
    hotplate.stir(800)
    assert hotplate.wait_for_temperature(tolerance_c=0.1) == pytest.approx(45, abs=0.1)
    assert bench.temperature_c == pytest.approx(45, abs=0.1)
    assert bench.stir_rpm == 800
    assert bench.heater_on
    assert [s.target_c for s in bench.setpoint_history] == [AMBIENT_C, 45]
    hotplate.off()
    assert not bench.heater_on
    assert bench.stir_rpm == 0


# --- limits ----------------------------------------------------------------------------------


def _set_target(plate: HotplateStirrer, value: float) -> None:
    plate.target_temperature = value


def _set_failure_rate(sensor: FlakySensor, value: float) -> None:
    sensor.failure_rate = value


OUT_OF_RANGE_CALLS: dict[str, Callable[[Bench], object]] = {
    "dispense zero": lambda b: LiquidDispenser(b).dispense(0),
    "dispense too much": lambda b: LiquidDispenser(b).dispense(20.5),
    "dispense NaN": lambda b: LiquidDispenser(b).dispense(float("nan")),
    "rate zero": lambda b: LiquidDispenser(b).dispense(1, rate_ml_min=0),
    "prime cycles": lambda b: LiquidDispenser(b).prime(0),
    "dose too much": lambda b: Balance(b).dose_solid(150),
    "too cold": lambda b: HotplateStirrer(b).set_temperature(10),
    "too hot via property": lambda b: _set_target(HotplateStirrer(b), 151),
    "stir too fast": lambda b: HotplateStirrer(b).stir(2000),
    "wavelength": lambda b: Spectrometer(b).measure(900),
    "scan backwards": lambda b: Spectrometer(b).scan(700, 300),
    "mode": lambda b: Spectrometer(b).set_mode("fluorescence"),  # type: ignore[arg-type]
    "stage": lambda b: SlowStage().move_to(301),
    "failure rate": lambda b: _set_failure_rate(FlakySensor(b), 1.5),
}


@pytest.mark.parametrize("call", OUT_OF_RANGE_CALLS.values(), ids=OUT_OF_RANGE_CALLS.keys())
def test_values_outside_the_limits_raise_out_of_range(
    bench: Bench, call: Callable[[Bench], object]
) -> None:
    with pytest.raises(InstrumentError) as caught:
        call(bench)
    assert caught.value.code == "OUT_OF_RANGE"
    assert not caught.value.retryable
    assert bench.volume_ml == 0
    assert bench.solid_mg == 0


def test_overfilling_the_vial_and_emptying_a_bottle_are_refused(
    bench: Bench, dispenser: LiquidDispenser
) -> None:
    dispenser.dispense(20)
    dispenser.dispense(19)
    with pytest.raises(InstrumentError, match="overflow") as caught:
        dispenser.dispense(5)
    assert caught.value.code == "VIAL_FULL"
    bench.flush_lines(960)  # leaves ~1 mL of water
    dispenser.empty_vial()
    with pytest.raises(InstrumentError) as caught:
        dispenser.dispense(5)
    assert caught.value.code == "RESERVOIR_EMPTY"


# --- the async plate reader ------------------------------------------------------------------


def test_plate_reader_refuses_before_setup(bench: Bench) -> None:
    reader = PlateReader(bench)
    assert not reader.is_set_up
    with pytest.raises(InstrumentError, match=r"call setup\(\) first") as caught:
        asyncio.run(reader.read_absorbance())
    assert caught.value.code == "NOT_SET_UP"
    assert not caught.value.retryable


def test_plate_reader_works_on_its_own_loop_only(bench: Bench) -> None:
    reader = PlateReader(bench)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(reader.setup())
        assert reader.is_set_up
        plate = loop.run_until_complete(reader.read_absorbance(450))
        assert len(plate) == 96
        # Column 2 holds 2.5 mg/mL, the concentration with the strongest signal.
        assert max(plate, key=plate.__getitem__)[1:] == "2"
        assert set(loop.run_until_complete(reader.read_absorbance(wells=["A1", "H12"]))) == {
            "A1",
            "H12",
        }

        with pytest.raises(InstrumentError) as caught:
            asyncio.run(reader.read_absorbance())  # a second, different loop
        assert caught.value.code == "WRONG_EVENT_LOOP"

        loop.run_until_complete(reader.open_tray())
        with pytest.raises(InstrumentError) as caught:
            loop.run_until_complete(reader.read_absorbance())
        assert caught.value.code == "TRAY_OPEN"
        loop.run_until_complete(reader.close_tray())
        with pytest.raises(InstrumentError) as caught:
            loop.run_until_complete(reader.read_absorbance(wells=["A1", "Z9"]))
        assert caught.value.code == "BAD_WELL"

        loop.run_until_complete(reader.stop())
        assert not reader.is_set_up
    finally:
        loop.close()


# --- the deck module -------------------------------------------------------------------------


def test_deck_exposes_the_instruments_and_functions_and_hides_the_bench() -> None:
    public = {name for name in vars(deck) if not name.startswith("_")}
    instruments = {
        "dispenser",
        "balance",
        "hotplate",
        "spectrometer",
        "plate_reader",
        "broken_pump",
        "slow_stage",
        "stuck_valve",
        "flaky_sensor",
    }
    assert instruments | {"prepare_sample", "reset_bench", "logger"} <= public
    assert isinstance(deck._bench, Bench)
    assert deck.logger.name == "labdeck.demo"
    assert deck.__name__ == DECK_MODULE


def test_prepare_sample_is_repeatable_and_finds_more_signal_near_the_optimum(
    set_time_scale: Callable[[float], None],
) -> None:
    set_time_scale(0.001)  # three whole experiments: keep them quick
    deck.reset_bench(seed=3)
    first = deck.prepare_sample(25, 10, Solvent.ETHANOL, 60)
    deck.reset_bench(seed=3)
    assert deck.prepare_sample(25, 10, Solvent.ETHANOL, 60) == first
    assert set(first) == {
        "mass_mg",
        "volume_ml",
        "concentration_mg_ml",
        "temperature_c",
        "absorbance",
        "peak_nm",
    }
    assert first["temperature_c"] == 60
    cold_dilute = deck.prepare_sample(5, 20, Solvent.WATER, 25)
    assert first["absorbance"] > 1.5 > 0.5 > cold_dilute["absorbance"]
    deck.reset_bench()


def test_importing_the_deck_starts_no_threads_and_no_loop() -> None:
    probe = (
        "import asyncio, gc, importlib, threading\n"
        f"importlib.import_module({DECK_MODULE!r})\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert not [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop)]\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=30)


def test_a_setup_on_a_closed_loop_counts_as_not_set_up() -> None:
    import asyncio

    from labdeck.demo.bench import Bench
    from labdeck.demo.plate_reader import PlateReader
    from labdeck.errors import InstrumentError

    reader = PlateReader(Bench())
    first = asyncio.new_event_loop()
    first.run_until_complete(reader.setup())
    first.close()  # as when labdeck restarts: the loop the reader was set up on is gone
    assert reader.is_set_up is False
    second = asyncio.new_event_loop()
    try:
        with pytest.raises(InstrumentError) as refused:
            second.run_until_complete(reader.read_absorbance())
        assert refused.value.code == "NOT_SET_UP"
    finally:
        second.close()
