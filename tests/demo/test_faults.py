"""The faulty demo instruments fail, dawdle, hang and flake exactly as documented."""

import threading
import time

import pytest

from labdeck.demo.bench import AMBIENT_C, Bench
from labdeck.demo.instruments import BrokenPump, FlakySensor, SlowStage, StuckValve
from labdeck.errors import InstrumentError, error_from_exception


def test_broken_pump_fails_exactly_as_documented() -> None:
    pump = BrokenPump()
    with pytest.raises(RuntimeError, match=r"^pump motor stalled$") as stalled:
        pump.prime()
    assert type(stalled.value) is RuntimeError
    assert error_from_exception(stalled.value).code == "UNHANDLED_EXCEPTION"

    with pytest.raises(InstrumentError, match=r"^line pressure above 4 bar$") as pressure:
        pump.pump(1.0)
    assert pressure.value.code == "PRESSURE_HIGH"
    assert not pressure.value.retryable

    with pytest.raises(ConnectionError, match=r"^serial port /dev/ttyUSB0 not responding$") as lost:
        pump.reconnect()
    structured = error_from_exception(lost.value)
    assert structured.code == "CONNECTION"
    assert structured.retryable


def test_slow_stage_sleeps_are_scaled(fast_demo_time: float) -> None:
    stage = SlowStage()
    started = time.monotonic()
    assert stage.move_to(30) == 30  # 2 s settle + 0.6 s travel at scale 1
    short = time.monotonic() - started
    stage.home()
    assert stage.position_mm == 0
    started = time.monotonic()
    stage.move_to(130, speed_mm_s=50)  # 2 s + 2.6 s: longer moves take longer
    long = time.monotonic() - started
    assert 2.6 * fast_demo_time <= short < 1.0
    assert 4.6 * fast_demo_time <= long < 1.0
    assert stage.position_mm == 130


def test_stuck_valve_hangs_until_released_from_another_thread() -> None:
    valve = StuckValve()
    outcome: list[BaseException | None] = []

    def open_valve() -> None:
        try:
            valve.open()
            outcome.append(None)
        except BaseException as exc:  # reported to the test thread below
            outcome.append(exc)

    opener = threading.Thread(target=open_valve, daemon=True)
    opener.start()
    time.sleep(0.05)
    assert opener.is_alive()
    assert not valve.is_open
    valve.release()
    opener.join(timeout=2)
    assert not opener.is_alive()
    assert outcome == [None]
    assert valve.is_open
    valve.close()
    assert not valve.is_open


def test_stuck_valve_gives_up_after_its_scaled_hang_limit() -> None:
    valve = StuckValve(max_hang_s=5)  # 0.05 s at the test time scale
    with pytest.raises(TimeoutError, match=r"^valve did not respond$"):
        valve.open()
    valve.release()
    valve.open()  # a release that came first lets the next open through, then re-arms
    with pytest.raises(TimeoutError):
        valve.open()


def test_flaky_sensor_fails_at_its_rate_reproducibly(bench: Bench) -> None:
    messages: set[str] = set()

    def pattern(sensor: FlakySensor, reads: int) -> list[bool]:
        failed = []
        for _ in range(reads):
            try:
                value = sensor.read()
            except ConnectionError as exc:
                messages.add(str(exc))
                failed.append(True)
            else:
                assert value == pytest.approx(AMBIENT_C, abs=1)
                failed.append(False)
        return failed

    sensor = FlakySensor(bench, seed=42)
    assert sensor.failure_rate == 0.3
    first = pattern(sensor, 500)
    assert sum(first) / len(first) == pytest.approx(0.3, abs=0.06)
    sensor.reseed(42)
    assert pattern(sensor, 100) == first[:100]
    sensor.failure_rate = 0.0
    assert not any(pattern(sensor, 50))
    assert messages == {"sensor timed out"}
