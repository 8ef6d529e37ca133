"""The demo instruments: simulated drivers for the chemistry bench in `bench.py`.

Owns the sync instruments around the reaction vial: `LiquidDispenser`, `Balance`,
`HotplateStirrer` and `Spectrometer`, which share one `Bench`. The asyncio `PlateReader`
(`plate_reader.py`) and the deliberately faulty instruments (`faults.py`) have their own modules
and are re-exported here, so every demo instrument class imports from this module.

Docstrings are the help text an operator reads next to each control, so they speak to a chemist.
Signatures are what forms are generated from: ranges are `Annotated[..., Field(...)]`, and the
drivers check the same ranges themselves (raising `InstrumentError("OUT_OF_RANGE", ...)`) because
Python callers bypass labdeck's validation. No `from __future__ import annotations`: hints stay
real objects for introspection.
"""

import math
from typing import Annotated, Literal

from pydantic import Field

from labdeck.demo.bench import (
    SECONDS_PER_SIMULATED_MINUTE,
    Bench,
    Solvent,
    require_in_range,
    simulated_sleep,
)
from labdeck.demo.faults import BrokenPump, FlakySensor, SlowStage, StuckValve
from labdeck.demo.plate_reader import PlateReader
from labdeck.errors import InstrumentError

__all__ = [
    "Balance",
    "BrokenPump",
    "FlakySensor",
    "HotplateStirrer",
    "LiquidDispenser",
    "PlateReader",
    "SlowStage",
    "Solvent",
    "Spectrometer",
    "SpectrometerMode",
    "StuckValve",
]

SpectrometerMode = Literal["absorbance", "transmittance"]


class LiquidDispenser:
    """Syringe pump with a four-way valve that fills the reaction vial with solvent.

    Each solvent (water, methanol, ethanol, acetonitrile) comes from its own 1 L bottle. The pump
    delivers the requested volume within about ±0.2 %; `dispense` returns what actually went in,
    which is the number to record. The vial holds 40 mL.
    """

    def __init__(self, bench: Bench) -> None:
        self._bench = bench

    @property
    def reservoir_ml(self) -> dict[str, float]:
        """Solvent left in each bottle, in mL, by solvent name."""
        return {solvent.value: round(ml, 2) for solvent, ml in self._bench.bottles_ml.items()}

    def dispense(
        self,
        volume_ml: Annotated[float, Field(gt=0, le=20)],
        solvent: Solvent = Solvent.WATER,
        rate_ml_min: Annotated[float, Field(gt=0, le=50)] = 5.0,
    ) -> float:
        """Add solvent to the vial.

        Pumping takes volume ÷ rate minutes; the demo runs pump time 60 times faster.

        Args:
            volume_ml: Volume to add, in mL (at most 20 mL per call).
            solvent: Which bottle to draw from.
            rate_ml_min: Flow rate in mL/min. Slow down for viscous or volatile solvents.

        Returns:
            The volume actually dispensed, in mL.

        Raises:
            InstrumentError: OUT_OF_RANGE for a volume or rate outside the limits, VIAL_FULL if the
                vial would overflow, RESERVOIR_EMPTY if the bottle has too little left.
        """
        require_in_range("volume_ml", volume_ml, 0, 20, "mL", low_exclusive=True)
        require_in_range("rate_ml_min", rate_ml_min, 0, 50, "mL/min", low_exclusive=True)
        delivered = volume_ml * (1.0 + self._bench.noise(0.002))
        self._bench.add_solvent(solvent, delivered)
        simulated_sleep(volume_ml / rate_ml_min * SECONDS_PER_SIMULATED_MINUTE)
        return round(delivered, 3)

    def prime(self, cycles: Annotated[int, Field(ge=1, le=10)] = 1) -> None:
        """Flush air out of the solvent lines before the first dispense of the day.

        Each cycle pushes 0.5 mL of every solvent to waste.

        Args:
            cycles: Number of flush cycles; 1 is enough unless bubbles are visible in the lines.
        """
        require_in_range("cycles", cycles, 1, 10, "cycles")
        for _ in range(cycles):
            self._bench.flush_lines(0.5)
            simulated_sleep(0.5)

    def empty_vial(self) -> None:
        """Drain and rinse the vial: removes all solvent and solid. Tare the balance afterwards."""
        simulated_sleep(0.5)
        self._bench.empty_vial()

    def refill(self, solvent: Solvent | None = None) -> None:
        """Record that a bottle was replaced with a full 1 L bottle.

        Args:
            solvent: The bottle that was replaced; leave empty when all four were.
        """
        self._bench.refill(solvent)


class Balance:
    """Analytical balance holding the reaction vial, with a solid-dosing head above it.

    Reads in mg with 0.01 mg resolution and about ±0.02 mg repeatability. The solid is the dye
    under study.
    """

    def __init__(self, bench: Bench) -> None:
        self._bench = bench
        self._tare_mg = 0.0

    @property
    def unit(self) -> str:
        """Unit of every reading: milligrams."""
        return "mg"

    def tare(self) -> None:
        """Zero the balance with the vial as it is now, so `weigh` reports only what comes next."""
        simulated_sleep(0.5)
        self._tare_mg = self._bench.solid_mg

    def weigh(self) -> float:
        """Read the mass of solid in the vial since the last tare, in mg."""
        simulated_sleep(0.3)
        return round(self._bench.solid_mg - self._tare_mg + self._bench.noise(0.02), 2)

    def dose_solid(self, amount_mg: Annotated[float, Field(gt=0, le=100)]) -> float:
        """Dose solid dye into the vial.

        The dosing head is accurate to about ±1 %; the returned mass is what landed in the vial.

        Args:
            amount_mg: Mass to dose, in mg (at most 100 mg per call).

        Returns:
            The mass actually dosed, in mg.
        """
        require_in_range("amount_mg", amount_mg, 0, 100, "mg", low_exclusive=True)
        dosed = max(amount_mg * (1.0 + self._bench.noise(0.01)), 0.0)
        simulated_sleep(0.2 + amount_mg * 0.01)
        self._bench.add_solid(dosed)
        return round(dosed, 2)


class HotplateStirrer:
    """Hotplate with a magnetic stirrer under the reaction vial.

    Heats and cools at 10 °C/min (60 times faster in the demo). It cannot cool below room
    temperature (20 °C). Set the temperature, then `wait_for_temperature` before measuring.
    """

    def __init__(self, bench: Bench) -> None:
        self._bench = bench

    @property
    def temperature(self) -> float:
        """Current vial temperature in °C (it follows the set-point over time)."""
        return round(self._bench.temperature_c, 2)

    @property
    def target_temperature(self) -> float:
        """Set-point in °C, 20 to 150. Setting it switches the heater on."""
        return self._bench.target_c

    @target_temperature.setter
    def target_temperature(self, celsius: float) -> None:
        require_in_range("target_temperature", celsius, 20, 150, "°C")
        self._bench.set_heater(celsius)

    def set_temperature(self, celsius: Annotated[float, Field(ge=20, le=150)]) -> None:
        """Switch the heater on and start heating (or cooling) toward a set-point.

        Returns at once; the vial needs time to get there (see `wait_for_temperature`).

        Args:
            celsius: Set-point in °C, 20 to 150.
        """
        self.target_temperature = celsius

    def wait_for_temperature(
        self,
        tolerance_c: Annotated[float, Field(gt=0, le=10)] = 0.5,
        timeout_s: Annotated[float, Field(gt=0, le=3600)] = 600.0,
    ) -> float:
        """Wait until the vial is at the set-point.

        Args:
            tolerance_c: How close to the set-point counts as there, in °C.
            timeout_s: Give up after this many seconds.

        Returns:
            The vial temperature in °C when it got there.

        Raises:
            TimeoutError: The set-point was not reached in time.
        """
        waited_s = 0.0
        while abs(self._bench.temperature_c - self._bench.target_c) > tolerance_c:
            if waited_s >= timeout_s:
                raise TimeoutError(
                    f"vial at {self.temperature:.1f} °C, set-point {self.target_temperature:g} °C "
                    f"not reached within {timeout_s:g} s"
                )
            step_s = min(self._bench.ramp_seconds_remaining(), timeout_s - waited_s)
            simulated_sleep(step_s)
            waited_s += step_s
        return self.temperature

    def stir(self, rpm: Annotated[int, Field(ge=0, le=1500)] = 400) -> None:
        """Set the stirrer speed.

        Args:
            rpm: Stir bar speed in revolutions per minute; 0 stops stirring.
        """
        require_in_range("rpm", rpm, 0, 1500, "rpm")
        self._bench.set_stir(float(rpm))

    def off(self) -> None:
        """Switch heater and stirrer off; the vial cools to room temperature."""
        self._bench.set_heater(None)
        self._bench.set_stir(0.0)

    def status(self) -> dict[str, float]:
        """Current state as numbers: vial temperature, set-point (°C) and stirrer speed (rpm)."""
        return {
            "temperature_c": self.temperature,
            "target_c": self._bench.target_c,
            "stir_rpm": self._bench.stir_rpm,
        }


class Spectrometer:
    """UV-Vis spectrometer reading the reaction vial through a flow cell (200-800 nm).

    Take a `blank` with the cuvette in place before the first sample of the day: until then every
    reading includes the cuvette background (about 0.05 absorbance units).
    """

    _BACKGROUND_ABSORBANCE = 0.05

    def __init__(self, bench: Bench) -> None:
        self._bench = bench
        self._mode: SpectrometerMode = "absorbance"
        self._blanked = False

    @property
    def mode(self) -> SpectrometerMode:
        """What readings report: absorbance (AU) or transmittance (% of light passing)."""
        return self._mode

    def set_mode(self, mode: SpectrometerMode) -> None:
        """Choose what readings report.

        Args:
            mode: "absorbance" (AU, 0 = clear) or "transmittance" (%, 100 = clear).
        """
        if mode not in ("absorbance", "transmittance"):
            raise InstrumentError(
                "OUT_OF_RANGE", f"mode must be absorbance or transmittance, got {mode!r}"
            )
        self._mode = mode

    def blank(self) -> None:
        """Record the reference spectrum so the cuvette background is subtracted from now on."""
        simulated_sleep(0.2)
        self._blanked = True

    def measure(
        self,
        wavelength_nm: Annotated[int, Field(ge=200, le=800)] = 450,
        integration_ms: Annotated[int, Field(ge=10, le=5000)] = 100,
    ) -> tuple[float, float]:
        """Measure the sample in the vial at one wavelength.

        Args:
            wavelength_nm: Wavelength to read at, in nm.
            integration_ms: Detector integration time in ms. Longer is less noisy and slower.

        Returns:
            The reading (absorbance in AU, or transmittance in %, see `mode`) and the wavelength
            of the band maximum in nm.
        """
        require_in_range("wavelength_nm", wavelength_nm, 200, 800, "nm")
        require_in_range("integration_ms", integration_ms, 10, 5000, "ms")
        simulated_sleep(0.05 + integration_ms / 1000)
        reading = self._read(wavelength_nm, integration_ms)
        peak_nm = self._bench.peak_wavelength_nm() + self._bench.noise(0.3)
        return reading, round(peak_nm, 1)

    def scan(
        self,
        start_nm: Annotated[int, Field(ge=200, le=800)] = 300,
        stop_nm: Annotated[int, Field(ge=200, le=800)] = 700,
        step_nm: Annotated[int, Field(ge=1, le=200)] = 50,
    ) -> list[float]:
        """Record a spectrum: one reading per wavelength from start to stop (inclusive).

        Args:
            start_nm: First wavelength, in nm.
            stop_nm: Last wavelength, in nm; must be above the start.
            step_nm: Spacing between wavelengths, in nm.

        Returns:
            The readings in wavelength order, in the current `mode`.
        """
        require_in_range("start_nm", start_nm, 200, 800, "nm")
        require_in_range("stop_nm", stop_nm, 200, 800, "nm")
        require_in_range("step_nm", step_nm, 1, 200, "nm")
        if start_nm >= stop_nm:
            raise InstrumentError(
                "OUT_OF_RANGE", f"start_nm ({start_nm}) must be below stop_nm ({stop_nm})"
            )
        wavelengths = range(start_nm, stop_nm + 1, step_nm)
        simulated_sleep(0.05 + 0.01 * len(wavelengths))
        return [self._read(nm, integration_ms=100) for nm in wavelengths]

    def _read(self, wavelength_nm: int, integration_ms: int) -> float:
        # Shot noise: the spread falls with the square root of the integration time.
        noise_sd = 0.01 * math.sqrt(100 / integration_ms)
        absorbance = self._bench.measure_absorbance(wavelength_nm, noise_sd)
        if not self._blanked:
            absorbance += self._BACKGROUND_ABSORBANCE
        if self._mode == "transmittance":
            return round(100.0 * math.pow(10.0, -absorbance), 3)
        return round(absorbance, 4)
