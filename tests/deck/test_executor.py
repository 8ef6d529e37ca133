"""The executor: sync calls on one deck thread, async calls on one long-lived loop, the lock."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from labdeck.deck.executor import DeckExecutor, DeckLock
from labdeck.errors import InstrumentBusy


@pytest.fixture
def executor() -> DeckExecutor:
    executor = DeckExecutor()
    yield executor
    executor.close()


def _on_deck_thread(executor: DeckExecutor, func, *args):
    return executor.submit(lambda: executor.invoke(func, args, {})).result(timeout=5)


def test_sync_calls_always_run_on_the_same_deck_thread(executor: DeckExecutor) -> None:
    threads = {_on_deck_thread(executor, threading.get_ident) for _ in range(5)}
    assert len(threads) == 1
    assert threads != {threading.get_ident()}


def test_async_calls_share_one_long_lived_loop(executor: DeckExecutor) -> None:
    class AsyncDriver:
        """PyLabRobot style: state created on the loop at setup must work later."""

        async def setup(self) -> None:
            self.loop = asyncio.get_running_loop()
            self.lock = asyncio.Lock()

        async def read(self, x: int) -> int:
            assert asyncio.get_running_loop() is self.loop
            async with self.lock:
                await asyncio.sleep(0)
                return x * 2

    driver = AsyncDriver()
    _on_deck_thread(executor, driver.setup)
    assert [_on_deck_thread(executor, driver.read, i) for i in range(3)] == [0, 2, 4]
    assert driver.loop is executor.loop


def test_sync_callable_returning_an_awaitable_is_awaited(executor: DeckExecutor) -> None:
    async def coro() -> str:
        return "done"

    def returns_awaitable():  # a sync callable, e.g. a wrapper around a coroutine
        return coro()

    assert _on_deck_thread(executor, returns_awaitable) == "done"


def test_driver_exceptions_propagate(executor: DeckExecutor) -> None:
    async def fails() -> None:
        raise ConnectionError("gone")

    with pytest.raises(ConnectionError):
        _on_deck_thread(executor, fails)


def test_sync_code_calling_asyncio_run_works_on_the_deck_thread(executor: DeckExecutor) -> None:
    async def inner() -> int:
        return 7

    assert _on_deck_thread(executor, lambda: asyncio.run(inner())) == 7


def test_a_busy_lock_times_out_with_who_holds_it() -> None:
    lock = DeckLock()
    lock.acquire("pump.dispense called by olga", timeout_s=0.1)
    started = time.monotonic()
    with pytest.raises(InstrumentBusy) as caught:
        lock.acquire("balance.weigh called by ada", timeout_s=0.1)
    assert time.monotonic() - started >= 0.09
    assert "pump.dispense called by olga" in caught.value.message
    assert caught.value.detail["held_by"] == "pump.dispense called by olga"
    lock.release()
    lock.acquire("balance.weigh called by ada", timeout_s=0.1)
    lock.release()


def test_a_waiter_gets_the_lock_when_it_frees_within_the_wait() -> None:
    lock = DeckLock()
    lock.acquire("first", timeout_s=0)
    threading.Timer(0.05, lock.release).start()
    lock.acquire("second", timeout_s=2)
    assert lock.holder is not None
    assert lock.holder.description == "second"
    lock.release()


def test_release_listeners_are_told_and_their_errors_are_contained() -> None:
    lock = DeckLock()
    seen: list[str] = []

    def broken_listener() -> None:
        raise RuntimeError("listener bug")

    lock.on_release(lambda: seen.append("freed"))
    lock.on_release(broken_listener)
    lock.acquire("x", timeout_s=0)
    lock.release()
    assert seen == ["freed"]
    assert not lock.locked()


def test_async_acquire_waits_without_blocking_the_event_loop() -> None:
    lock = DeckLock()
    lock.acquire("holder", timeout_s=0)

    async def scenario() -> list[str]:
        order: list[str] = []

        async def other_work() -> None:
            await asyncio.sleep(0.01)
            order.append("loop kept running")
            lock.release()

        task = asyncio.create_task(other_work())
        await lock.acquire_async("waiter", timeout_s=2)
        order.append("acquired")
        await task
        return order

    assert asyncio.run(scenario()) == ["loop kept running", "acquired"]
    lock.release()


def test_forced_work_runs_on_a_side_thread_while_the_deck_thread_is_stuck(
    executor: DeckExecutor,
) -> None:
    released = threading.Event()
    stuck = executor.submit(lambda: released.wait(5))
    forced = executor.submit(released.set, side_thread=True)
    forced.result(timeout=2)
    assert stuck.result(timeout=2) is True
