"""Deliberately faulty demo instruments, for exercising labdeck's error handling.

Owns one instrument per failure mode an orchestrator must survive: `BrokenPump` (always fails,
three different ways), `SlowStage` (slow but correct), `StuckValve` (hangs until an operator
releases it) and `FlakySensor` (fails at random, reproducibly when seeded). Their messages and
error codes are part of the contract tests rely on, so change them only together with the tests.
"""

import random
import threading
import time
from typing import Annotated

from pydantic import Field

from labdeck.demo.bench import Bench, require_in_range, simulated_sleep, time_scale
from labdeck.errors import InstrumentError

__all__ = ["BrokenPump", "FlakySensor", "SlowStage", "StuckValve"]


class BrokenPump:
    """Peristaltic pump with a seized motor and a blocked line. Every call fails.

    Use it to see how failures look in runs and records: `prime` raises a plain Python error,
    `pump` a structured instrument error, `reconnect` a connection error (which labdeck treats as
    worth retrying).
    """

    def prime(self) -> None:
        """Fill the pump tubing. Fails: the motor is stalled (RuntimeError)."""
        raise RuntimeError("pump motor stalled")

    def pump(self, volume_ml: float) -> None:
        """Pump a volume through the line. Fails: the line is blocked (PRESSURE_HIGH).

        Args:
            volume_ml: Volume to pump, in mL.
        """
        raise InstrumentError("PRESSURE_HIGH", "line pressure above 4 bar", retryable=False)

    def reconnect(self) -> None:
        """Reopen the serial connection. Fails: the port does not answer (ConnectionError)."""
        raise ConnectionError("serial port /dev/ttyUSB0 not responding")


class SlowStage:
    """Linear stage (0-300 mm) that is slow to move but always arrives.

    Every move takes 2 s to start plus the travel time, so a call stays busy long enough to watch
    the instrument lock, queue and pause behave.
    """

    _SETTLE_S = 2.0

    def __init__(self) -> None:
        self._position_mm = 0.0

    @property
    def position_mm(self) -> float:
        """Current position in mm from home."""
        return self._position_mm

    def move_to(
        self,
        position_mm: Annotated[float, Field(ge=0, le=300)],
        speed_mm_s: Annotated[float, Field(gt=0, le=200)] = 50.0,
    ) -> float:
        """Move the carriage to an absolute position.

        Args:
            position_mm: Target position in mm from home, 0 to 300.
            speed_mm_s: Travel speed in mm/s.

        Returns:
            The position reached, in mm.
        """
        require_in_range("position_mm", position_mm, 0, 300, "mm")
        require_in_range("speed_mm_s", speed_mm_s, 0, 200, "mm/s", low_exclusive=True)
        travel_s = abs(position_mm - self._position_mm) / speed_mm_s
        simulated_sleep(self._SETTLE_S + travel_s)
        self._position_mm = position_mm
        return position_mm

    def home(self) -> None:
        """Drive back to the home switch (position 0)."""
        self.move_to(0.0)


class StuckValve:
    """Pinch valve whose actuator sticks: `open` hangs until someone calls `release`.

    To free a run stuck in `open`, an admin calls `release` with the "force" option (it bypasses
    the instrument lock the hanging call holds); `open` then completes normally. If nobody does,
    `open` gives up after `max_hang_s` (10 minutes, scaled like every demo wait) with a
    TimeoutError.
    """

    _POLL_S = 0.05  # real seconds between checks while hanging

    def __init__(self, max_hang_s: float = 600.0) -> None:
        self.max_hang_s = max_hang_s
        self._released = threading.Event()
        self._is_open = False

    @property
    def is_open(self) -> bool:
        """True once `open` has completed, until `close`."""
        return self._is_open

    def open(self) -> None:
        """Open the valve. Hangs until `release` is called (or times out).

        Raises:
            TimeoutError: Nobody released the valve within `max_hang_s`.
        """
        deadline = time.monotonic() + self.max_hang_s * time_scale()
        # Short slices rather than one long wait, so a hang never outlives its deadline by much.
        while not self._released.wait(timeout=self._POLL_S):
            if time.monotonic() >= deadline:
                raise TimeoutError("valve did not respond")
        self._released.clear()  # re-arm: the next `open` sticks again
        self._is_open = True

    def release(self) -> None:
        """Free the stuck actuator so a hanging `open` completes.

        Safe to call from another thread while `open` hangs: use the admin "force" call. A release
        with nothing hanging lets the next `open` through at once.
        """
        self._released.set()

    def close(self) -> None:
        """Close the valve (this direction never sticks)."""
        self._is_open = False


class FlakySensor:
    """Thermocouple in the vial with a loose connector: some readings time out.

    Each `read` fails with a ConnectionError with probability `failure_rate` (30 % by default);
    labdeck treats that as worth retrying. Seed it with `reseed` to make the failures repeatable.
    """

    def __init__(self, bench: Bench, failure_rate: float = 0.3, seed: int | None = None) -> None:
        self._bench = bench
        self._rng = random.Random(seed)
        self.failure_rate = failure_rate

    @property
    def failure_rate(self) -> float:
        """Probability (0 to 1) that a reading fails."""
        return self._failure_rate

    @failure_rate.setter
    def failure_rate(self, value: float) -> None:
        require_in_range("failure_rate", value, 0, 1, "")
        self._failure_rate = value

    def reseed(self, seed: int) -> None:
        """Restart the failure pattern from a seed, so the same reads fail again.

        Args:
            seed: Any integer; equal seeds give equal patterns.
        """
        self._rng = random.Random(seed)

    def read(self) -> float:
        """Read the vial temperature in °C.

        Raises:
            ConnectionError: The sensor timed out (happens at random).
        """
        simulated_sleep(0.01)
        if self._rng.random() < self._failure_rate:
            raise ConnectionError("sensor timed out")
        return round(self._bench.temperature_c + self._rng.gauss(0.0, 0.1), 2)
