"""The simulated bench behind the demo instruments: one vial, what is in it, and the chemistry.

Owns:
- `Bench`, the physical state every demo instrument reads and changes: the solvents in the vial
  and their volumes, the solid dosed into it, the dispenser's solvent bottles, the hotplate
  set-point history (from which the vial temperature follows), the stirrer speed, and the random
  generator behind all measurement noise (seedable with `reset(seed=...)`);
- `absorbance_model`, the noise-free chemistry: a smooth function of concentration, temperature,
  stirring, solvent and wavelength with one optimum (the `OPTIMUM_*` constants) for optimization
  campaigns to find;
- simulated time: `simulated_sleep` and `async_simulated_sleep` multiply every wait by
  `LABDECK_DEMO_TIME_SCALE`, read at call time so tests can change it;
- `require_in_range`, the limit check every demo driver applies to its arguments.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from labdeck.errors import InstrumentError
from labdeck.settings import get_settings


class Solvent(Enum):
    """Solvents the dispenser can deliver, one bottle each."""

    WATER = "water"
    METHANOL = "methanol"
    ETHANOL = "ethanol"
    ACETONITRILE = "acetonitrile"


# ---------------------------------------------------------------------------------------------
# Simulated time

# Processes a real bench measures in minutes (pumping, heating) run 60 times faster here, so a
# demo sample takes seconds: one simulated minute lasts this many seconds at time scale 1.
SECONDS_PER_SIMULATED_MINUTE = 1.0


def time_scale() -> float:
    """The current `LABDECK_DEMO_TIME_SCALE` (read per call, never cached at import)."""
    return get_settings().demo_time_scale


def simulated_sleep(seconds: float) -> None:
    """Block for `seconds` (as at time scale 1) multiplied by the time scale."""
    time.sleep(max(seconds, 0.0) * time_scale())


async def async_simulated_sleep(seconds: float) -> None:
    """Await `seconds` (as at time scale 1) multiplied by the time scale."""
    await asyncio.sleep(max(seconds, 0.0) * time_scale())


def require_in_range(
    name: str, value: float, low: float, high: float, unit: str, *, low_exclusive: bool = False
) -> None:
    """Refuse a value outside the instrument's limits with `InstrumentError("OUT_OF_RANGE")`.

    Drivers check for themselves because Python callers bypass labdeck's form validation.
    Written so that NaN fails too.
    """
    above_low = value > low if low_exclusive else value >= low
    if not (above_low and value <= high):
        limits = f"above {low:g}" if low_exclusive else f"at least {low:g}"
        raise InstrumentError(
            "OUT_OF_RANGE",
            f"{name} must be {limits} and at most {high:g} {unit}, got {value:g}",
            retryable=False,
        )


# ---------------------------------------------------------------------------------------------
# Chemistry

OPTIMUM_CONCENTRATION_MG_ML = 2.5
OPTIMUM_TEMPERATURE_C = 60.0
OPTIMUM_STIR_RPM = 600.0
PEAK_WAVELENGTH_NM = 450.0  # band centre in ethanol, the best solvent
BEST_SOLVENT = Solvent.ETHANOL
MAX_ABSORBANCE = 1.8  # at the optimum; keeps every reading within roughly 0..2
# Widths are generous so an optimizer sees a slope from anywhere in the instruments' ranges.
TEMPERATURE_WIDTH_C = 25.0
STIR_WIDTH_RPM = 500.0
BAND_WIDTH_NM = 60.0


@dataclass(frozen=True)
class SolventEffect:
    """How a solvent changes the reading: signal strength and solvatochromic band shift."""

    signal_factor: float
    peak_shift_nm: float


SOLVENT_EFFECTS: dict[Solvent, SolventEffect] = {
    Solvent.WATER: SolventEffect(signal_factor=0.80, peak_shift_nm=8.0),
    Solvent.METHANOL: SolventEffect(signal_factor=0.90, peak_shift_nm=4.0),
    Solvent.ETHANOL: SolventEffect(signal_factor=1.00, peak_shift_nm=0.0),
    Solvent.ACETONITRILE: SolventEffect(signal_factor=0.70, peak_shift_nm=-6.0),
}


def _bell(value: float, centre: float, width: float) -> float:
    return math.exp(-0.5 * ((value - centre) / width) ** 2)


def peak_wavelength_nm(solvent_fractions: Mapping[Solvent, float]) -> float:
    """Centre of the absorption band for a solvent mixture (volume fractions summing to 1)."""
    shift = sum(f * SOLVENT_EFFECTS[s].peak_shift_nm for s, f in solvent_fractions.items())
    return PEAK_WAVELENGTH_NM + shift


def absorbance_model(
    *,
    concentration_mg_ml: float,
    temperature_c: float,
    stir_rpm: float,
    wavelength_nm: float,
    solvent_fractions: Mapping[Solvent, float],
) -> float:
    """Noise-free absorbance of the sample: a product of smooth terms, each peaking at 1.

    The maximum, `MAX_ABSORBANCE`, is at 2.5 mg/mL, 60 °C, 600 rpm, pure ethanol, 450 nm.
    No solvent or no solid reads 0.
    """
    if concentration_mg_ml <= 0 or not solvent_fractions:
        return 0.0
    # x*exp(1 - x): linear at low concentration (Beer-Lambert), then aggregation quenches the dye.
    x = concentration_mg_ml / OPTIMUM_CONCENTRATION_MG_ML
    concentration_term = x * math.exp(1.0 - x)
    # Warming dissolves more dye; too hot and it degrades.
    temperature_term = _bell(temperature_c, OPTIMUM_TEMPERATURE_C, TEMPERATURE_WIDTH_C)
    # Stirring homogenizes the sample; too fast and bubbles scatter light. Never below 0.75.
    stir_term = 0.75 + 0.25 * _bell(stir_rpm, OPTIMUM_STIR_RPM, STIR_WIDTH_RPM)
    solvent_term = sum(f * SOLVENT_EFFECTS[s].signal_factor for s, f in solvent_fractions.items())
    band_term = _bell(wavelength_nm, peak_wavelength_nm(solvent_fractions), BAND_WIDTH_NM)
    return (
        MAX_ABSORBANCE
        * concentration_term
        * temperature_term
        * stir_term
        * solvent_term
        * band_term
    )


# ---------------------------------------------------------------------------------------------
# Physical state

VIAL_CAPACITY_ML = 40.0
BOTTLE_CAPACITY_ML = 1000.0
AMBIENT_C = 20.0  # a hotplate cannot cool below room temperature
HEATING_RATE_C_PER_MIN = 10.0  # heating and passive cooling alike
_HISTORY_LENGTH = 1000  # set-points kept; only the last one decides the current temperature


@dataclass(frozen=True)
class Setpoint:
    """A hotplate set-point change: from `at` the vial ramps linearly to `target_c`."""

    at: float
    start_c: float
    target_c: float


class Bench:
    """The shared physical state of the demo bench. Thread-safe: drivers run on worker threads
    while an admin "force" call (e.g. releasing a stuck valve) may come from another.

    `clock` returns seconds (default `time.monotonic`); tests may pass a fake one.
    """

    def __init__(self, seed: int | None = None, clock: Callable[[], float] = time.monotonic):
        self._lock = threading.RLock()
        self._clock = clock
        self.reset(seed)

    def reset(self, seed: int | None = None) -> None:
        """Fresh bench: empty vial, full bottles, heater off at room temperature, stirrer off."""
        with self._lock:
            self._rng = random.Random(seed)
            self._solvent_ml: dict[Solvent, float] = {}
            self._solid_mg = 0.0
            self._bottles_ml = dict.fromkeys(Solvent, BOTTLE_CAPACITY_ML)
            self._stir_rpm = 0.0
            self._heater_on = False
            self._setpoints: deque[Setpoint] = deque(maxlen=_HISTORY_LENGTH)
            self._setpoints.append(Setpoint(self._clock(), AMBIENT_C, AMBIENT_C))

    # --- the vial -----------------------------------------------------------------------------

    @property
    def volume_ml(self) -> float:
        with self._lock:
            return sum(self._solvent_ml.values())

    @property
    def solid_mg(self) -> float:
        with self._lock:
            return self._solid_mg

    @property
    def concentration_mg_ml(self) -> float:
        """Solid per solvent volume; 0 while the vial holds no solvent."""
        with self._lock:
            volume = self.volume_ml
            return self._solid_mg / volume if volume > 0 else 0.0

    @property
    def solvent_fractions(self) -> dict[Solvent, float]:
        """Volume fraction of each solvent in the vial (empty dict for an empty vial)."""
        with self._lock:
            volume = self.volume_ml
            if volume <= 0:
                return {}
            return {s: v / volume for s, v in self._solvent_ml.items()}

    @property
    def solvent(self) -> Solvent | None:
        """The main solvent in the vial by volume, or None when it holds no solvent."""
        with self._lock:
            if not self._solvent_ml:
                return None
            return max(self._solvent_ml, key=self._solvent_ml.__getitem__)

    def add_solvent(self, solvent: Solvent, volume_ml: float) -> None:
        """Move solvent from its bottle into the vial, refusing overflow and empty bottles."""
        with self._lock:
            if self.volume_ml + volume_ml > VIAL_CAPACITY_ML:
                raise InstrumentError(
                    "VIAL_FULL",
                    f"adding {volume_ml:.2f} mL would overflow the {VIAL_CAPACITY_ML:g} mL vial "
                    f"(it holds {self.volume_ml:.2f} mL); empty the vial first",
                )
            self._take_from_bottle(solvent, volume_ml)
            self._solvent_ml[solvent] = self._solvent_ml.get(solvent, 0.0) + volume_ml

    def flush_lines(self, volume_ml_per_line: float) -> None:
        """Push solvent from every bottle to waste (priming)."""
        with self._lock:
            for solvent in Solvent:
                self._take_from_bottle(solvent, volume_ml_per_line)

    def _take_from_bottle(self, solvent: Solvent, volume_ml: float) -> None:
        left = self._bottles_ml[solvent]
        if volume_ml > left:
            raise InstrumentError(
                "RESERVOIR_EMPTY",
                f"the {solvent.value} bottle has {left:.1f} mL left, {volume_ml:.2f} mL needed; "
                "refill it",
            )
        self._bottles_ml[solvent] = left - volume_ml

    @property
    def bottles_ml(self) -> dict[Solvent, float]:
        with self._lock:
            return dict(self._bottles_ml)

    def refill(self, solvent: Solvent | None = None) -> None:
        """Fill one bottle, or all of them when `solvent` is None."""
        with self._lock:
            for each in [solvent] if solvent is not None else list(Solvent):
                self._bottles_ml[each] = BOTTLE_CAPACITY_ML

    def add_solid(self, mass_mg: float) -> None:
        with self._lock:
            self._solid_mg += mass_mg

    def empty_vial(self) -> None:
        with self._lock:
            self._solvent_ml.clear()
            self._solid_mg = 0.0

    # --- heating and stirring ------------------------------------------------------------------

    def set_heater(self, target_c: float | None) -> None:
        """Start ramping toward `target_c`; None switches the heater off (cool to ambient)."""
        with self._lock:
            start = self.temperature_c
            self._heater_on = target_c is not None
            target = AMBIENT_C if target_c is None else max(float(target_c), AMBIENT_C)
            self._setpoints.append(Setpoint(self._clock(), start, target))

    @property
    def heater_on(self) -> bool:
        with self._lock:
            return self._heater_on

    @property
    def target_c(self) -> float:
        with self._lock:
            return self._setpoints[-1].target_c

    @property
    def temperature_c(self) -> float:
        """Vial temperature now: a linear ramp from the last set-point change."""
        with self._lock:
            last = self._setpoints[-1]
            elapsed_min = (self._clock() - last.at) / (SECONDS_PER_SIMULATED_MINUTE * time_scale())
            reachable = HEATING_RATE_C_PER_MIN * elapsed_min
            gap = last.target_c - last.start_c
            if abs(gap) <= reachable:
                return last.target_c
            return last.start_c + math.copysign(reachable, gap)

    def ramp_seconds_remaining(self) -> float:
        """Seconds (at time scale 1) until the vial reaches the set-point."""
        with self._lock:
            gap = abs(self.target_c - self.temperature_c)
            return gap / HEATING_RATE_C_PER_MIN * SECONDS_PER_SIMULATED_MINUTE

    @property
    def setpoint_history(self) -> list[Setpoint]:
        """The most recent set-point changes, oldest first (the first is the reset)."""
        with self._lock:
            return list(self._setpoints)

    @property
    def stir_rpm(self) -> float:
        with self._lock:
            return self._stir_rpm

    def set_stir(self, rpm: float) -> None:
        with self._lock:
            self._stir_rpm = float(rpm)

    # --- measuring -----------------------------------------------------------------------------

    def noise(self, sd: float) -> float:
        """A Gaussian draw from the bench's seeded generator."""
        with self._lock:
            return self._rng.gauss(0.0, sd)

    def expected_absorbance(self, wavelength_nm: float) -> float:
        """Noise-free absorbance of the vial as it is now."""
        with self._lock:
            return absorbance_model(
                concentration_mg_ml=self.concentration_mg_ml,
                temperature_c=self.temperature_c,
                stir_rpm=self._stir_rpm,
                wavelength_nm=wavelength_nm,
                solvent_fractions=self.solvent_fractions,
            )

    def measure_absorbance(self, wavelength_nm: float, noise_sd: float) -> float:
        """Absorbance of the vial now, with Gaussian noise of `noise_sd`."""
        with self._lock:
            return self.expected_absorbance(wavelength_nm) + self.noise(noise_sd)

    def peak_wavelength_nm(self) -> float:
        """Band centre for the solvent now in the vial (the ethanol value when empty)."""
        with self._lock:
            return peak_wavelength_nm(self.solvent_fractions or {BEST_SOLVENT: 1.0})
