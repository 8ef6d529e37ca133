"""A deck written the way IvoryOS integrators write them: plain classes at module level.

Loaded by path in tests (`load_deck_module`), so it is imported as `ivoryos_style_deck`.
It mixes what a real deck file contains: instruments, a logger, constants, a lock, an Enum,
a function defined here and one imported from the standard library.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from enum import Enum
from math import sqrt  # noqa: F401 - on purpose: an imported function to be skipped
from typing import Literal, Optional

logger = logging.getLogger(__name__)

MAX_VOLUME_ML = 50.0
PORTS = [1, 2, 3]
lock = threading.Lock()


class Solvent(Enum):
    WATER = "water"
    ETHANOL = "ethanol"
    ACETONE = "acetone"


class SyringePump:
    """A syringe pump that doses solvents."""

    def __init__(self) -> None:
        self._temperature = 20.0
        self.dosed: list[tuple[float, Solvent | None]] = []

    @property
    def temperature(self) -> float:
        """Jacket temperature in °C."""
        return self._temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        self._temperature = value

    def dose(
        self,
        volume_ml: float,
        rate: float = 1.0,
        solvent: Optional[Solvent] = None,  # noqa: UP045
    ) -> float:
        """Dose liquid.

        Args:
            volume_ml: Volume to dose, in mL.
            rate: Flow rate in mL/min.
            solvent: Which reservoir to draw from.
        """
        logger.info("dosing %s mL", volume_ml)
        self.dosed.append((volume_ml, solvent))
        return volume_ml

    def select_port(self, port: Literal[1, 2, 3]) -> int:
        """Switch the valve to a port."""
        return port

    def dose_sequence(self, volumes: list[float], solvents: list[Solvent]) -> int:
        """Dose several volumes in a row."""
        return len(volumes) + len(solvents)

    def measure(self) -> tuple[float, float]:
        """Return (pressure, flow)."""
        return 1.0, 2.0

    def jam(self) -> None:
        """Always fails, like a blocked line."""
        raise RuntimeError("syringe blocked")

    def settle(self) -> None:
        """Wait for the line to settle."""
        time.sleep(0.01)

    async def prime(self, cycles: int = 1) -> str:
        """Prime the line (async driver call)."""
        await asyncio.sleep(0)
        return f"primed {cycles}"


class Balance:
    """A lab balance, the simplest possible driver: no hints at all."""

    def weigh(self, samples=3):
        return 1.5 * samples


pump = SyringePump()
balance = Balance()


def wash(cycles: int = 2, solvent: Solvent = Solvent.WATER) -> str:
    """Wash the lines.

    Args:
        cycles: How many wash cycles.
        solvent: Wash solvent.
    """
    return f"{cycles} x {solvent.value}"
