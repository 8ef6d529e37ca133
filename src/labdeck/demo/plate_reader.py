"""The simulated 96-well plate reader: an asyncio driver in the style of PyLabRobot.

Owns `PlateReader`, the demo's async instrument. It proves labdeck's executor contract: asyncio
drivers create loop-bound objects in `setup()` (here an `asyncio.Lock`), so every later call must
run on that same long-lived loop; a call on another loop fails with `WRONG_EVENT_LOOP` instead of
misbehaving. No `from __future__ import annotations`: hints stay real objects for introspection.
"""

import asyncio
import re
from typing import Annotated, Optional

from pydantic import Field

from labdeck.demo.bench import (
    AMBIENT_C,
    Bench,
    Solvent,
    absorbance_model,
    async_simulated_sleep,
    require_in_range,
)
from labdeck.errors import InstrumentError

_WELL_NAME = re.compile(r"^[A-H](?:[1-9]|1[0-2])$")
ALL_WELLS = [f"{row}{column}" for row in "ABCDEFGH" for column in range(1, 13)]
# The plate holds a two-fold dilution series of the dye in water: 5 mg/mL in column 1.
_PLATE_TOP_CONCENTRATION_MG_ML = 5.0


class PlateReader:
    """96-well absorbance plate reader with an asyncio driver, like a PyLabRobot backend.

    Call `setup()` once before anything else; every later call must run on the same event loop
    (labdeck keeps one long-lived loop for this). The plate holds a two-fold dilution series of
    the dye in water: 5 mg/mL in column 1 down to about 0.002 mg/mL in column 12; rows A-H are
    replicates.
    """

    def __init__(self, bench: Bench) -> None:
        self._bench = bench
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tray_open = False

    @property
    def is_set_up(self) -> bool:
        """True between `setup()` and `stop()` (and while the loop it was set up on lives)."""
        return self._lock is not None and self._loop is not None and not self._loop.is_closed()

    async def setup(self) -> None:
        """Connect to the reader. Required once before any other call."""
        await async_simulated_sleep(0.2)
        self._loop = asyncio.get_running_loop()
        self._lock = asyncio.Lock()
        self._tray_open = False

    def _ready_lock(self) -> asyncio.Lock:
        # A setup made on a loop that has since closed (labdeck restarted) is gone too.
        if self._lock is None or self._loop is None or self._loop.is_closed():
            raise InstrumentError("NOT_SET_UP", "call setup() first", retryable=False)
        if asyncio.get_running_loop() is not self._loop:
            # An asyncio driver's locks and connections belong to the loop they were made on.
            raise InstrumentError(
                "WRONG_EVENT_LOOP",
                "called on a different event loop than setup(); the reader only works on the "
                "loop it was set up on",
                retryable=False,
            )
        return self._lock

    async def read_absorbance(
        self,
        wavelength_nm: Annotated[int, Field(ge=200, le=800)] = 450,
        wells: Optional[list[str]] = None,  # noqa: UP045 - the demo exercises typing.Optional
    ) -> dict[str, float]:
        """Read the absorbance of wells of the plate.

        Args:
            wavelength_nm: Wavelength to read at, in nm.
            wells: Wells to read, such as ["A1", "B12"]; leave empty for the whole plate.

        Returns:
            Absorbance (AU) by well name.
        """
        lock = self._ready_lock()
        require_in_range("wavelength_nm", wavelength_nm, 200, 800, "nm")
        targets = ALL_WELLS if wells is None else wells
        bad = [well for well in targets if not _WELL_NAME.match(well)]
        if bad:
            raise InstrumentError("BAD_WELL", f"no such well on a 96-well plate: {bad}")
        async with lock:
            if self._tray_open:
                raise InstrumentError("TRAY_OPEN", "close the tray before reading")
            await async_simulated_sleep(0.5)
            return {well: self._well_absorbance(well, wavelength_nm) for well in targets}

    def _well_absorbance(self, well: str, wavelength_nm: int) -> float:
        column = int(well[1:])
        expected = absorbance_model(
            concentration_mg_ml=_PLATE_TOP_CONCENTRATION_MG_ML * 0.5 ** (column - 1),
            temperature_c=AMBIENT_C,
            stir_rpm=0.0,
            wavelength_nm=wavelength_nm,
            solvent_fractions={Solvent.WATER: 1.0},
        )
        return round(expected + self._bench.noise(0.005), 4)

    async def open_tray(self) -> None:
        """Slide the plate tray out to load or remove a plate."""
        async with self._ready_lock():
            await async_simulated_sleep(0.3)
            self._tray_open = True

    async def close_tray(self) -> None:
        """Slide the plate tray in; required before reading."""
        async with self._ready_lock():
            await async_simulated_sleep(0.3)
            self._tray_open = False

    async def stop(self) -> None:
        """Disconnect. Call `setup()` again before further use."""
        async with self._ready_lock():
            await async_simulated_sleep(0.1)
        self._lock = None
        self._loop = None
