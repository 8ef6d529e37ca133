"""The demo deck: a simulated chemistry bench, served by `labdeck demo`.

This module is a deck like the one an integrator writes: labdeck exposes its public top-level
instrument objects and functions, and skips everything else (private names such as `_bench`,
imported modules and classes, the logger). Importing it only creates objects: no threads, no
event loop, no I/O.

Instruments (all but the stage, pump and valve share one simulated vial):
- `dispenser`     LiquidDispenser: adds solvent to the vial
- `balance`       Balance: tares, weighs and doses solid dye
- `hotplate`      HotplateStirrer: heats and stirs the vial
- `spectrometer`  Spectrometer: reads the vial's absorbance
- `plate_reader`  PlateReader: async, PyLabRobot style; call `setup()` first
- `broken_pump`, `slow_stage`, `stuck_valve`, `flaky_sensor`: fail, dawdle, hang and flake on
  purpose, to try out error handling, locking and admin "force" calls

Functions: `prepare_sample` (one whole experiment, for optimization campaigns) and
`reset_bench`. The absorbance `prepare_sample` reports peaks at 2.5 mg/mL, 60 °C, in ethanol.
"""

# Modules rather than names are imported where possible, so no stray public functions
# (such as pydantic's `Field`) sit at the top level of the deck.
import logging
import typing

import pydantic

from labdeck.demo.bench import Bench, Solvent
from labdeck.demo.instruments import (
    Balance,
    BrokenPump,
    FlakySensor,
    HotplateStirrer,
    LiquidDispenser,
    PlateReader,
    SlowStage,
    Spectrometer,
    StuckValve,
)

logger = logging.getLogger("labdeck.demo")

_bench = Bench()

dispenser = LiquidDispenser(_bench)
balance = Balance(_bench)
hotplate = HotplateStirrer(_bench)
spectrometer = Spectrometer(_bench)
plate_reader = PlateReader(_bench)
broken_pump = BrokenPump()
slow_stage = SlowStage()
stuck_valve = StuckValve()
flaky_sensor = FlakySensor(_bench)

_STIR_RPM = 400
_WAVELENGTH_NM = 450


def prepare_sample(
    amount_mg: typing.Annotated[float, pydantic.Field(gt=0, le=100)],
    volume_ml: typing.Annotated[float, pydantic.Field(gt=0, le=20)],
    solvent: Solvent = Solvent.WATER,
    temperature_c: typing.Annotated[float, pydantic.Field(ge=20, le=150)] = 25.0,
) -> dict[str, float]:
    """Make a fresh sample and measure it: one experiment of a campaign.

    Empties the vial, tares, doses the dye, adds the solvent, stirs at 400 rpm, heats to the
    temperature, waits until it is reached and reads the absorbance at 450 nm.

    Args:
        amount_mg: Mass of dye to dose, in mg.
        volume_ml: Volume of solvent to add, in mL.
        solvent: Solvent to dissolve the dye in.
        temperature_c: Temperature to measure at, in °C.

    Returns:
        mass_mg and volume_ml actually delivered, concentration_mg_ml, temperature_c at the
        reading, absorbance (AU) and peak_nm (band maximum).
    """
    dispenser.empty_vial()
    balance.tare()
    mass_mg = balance.dose_solid(amount_mg)
    delivered_ml = dispenser.dispense(volume_ml, solvent)
    hotplate.stir(_STIR_RPM)
    hotplate.set_temperature(temperature_c)
    reached_c = hotplate.wait_for_temperature()
    absorbance, peak_nm = spectrometer.measure(_WAVELENGTH_NM)
    result = {
        "mass_mg": mass_mg,
        "volume_ml": delivered_ml,
        "concentration_mg_ml": round(mass_mg / delivered_ml, 4),
        "temperature_c": reached_c,
        "absorbance": absorbance,
        "peak_nm": peak_nm,
    }
    logger.info("prepared sample: %s", result)
    return result


def reset_bench(seed: int | None = None) -> None:
    """Start the bench afresh: empty vial, full bottles, heater and stirrer off.

    The instruments keep their own settings (balance tare, spectrometer blank and mode).

    Args:
        seed: Seed for the measurement noise, to make a sequence of experiments repeatable;
            leave empty for fresh randomness.
    """
    _bench.reset(seed=seed)
    logger.info("bench reset (seed=%s)", seed)
