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


def test_a_lent_deck_serves_calls_on_the_deck_thread_until_taken_back(
    executor: DeckExecutor,
) -> None:
    """A parked run lends the deck: direct calls get the lock and still run on the deck thread."""
    deck_thread = _on_deck_thread(executor, threading.get_ident)
    lent = threading.Event()
    go_on = threading.Event()
    woken = threading.Event()

    def parked_run() -> str:
        executor.lock.acquire("run 1", timeout_s=0)
        executor.lend(woken.set)
        lent.set()
        while not go_on.is_set():
            executor.serve_lent(0.01)
        executor.take_back("run 1")
        holder = executor.lock.holder
        executor.lock.release()
        return holder.description if holder else ""

    run = executor.submit(parked_run)
    assert lent.wait(5)
    executor.lock.acquire("direct call", timeout_s=1)  # free while lent: no 409
    try:
        served = executor.submit(threading.get_ident).result(timeout=5)
    finally:
        executor.lock.release()
    assert served == deck_thread
    assert woken.is_set()
    go_on.set()
    assert run.result(timeout=5) == "run 1"
    # Taken back: deck-thread work goes to the deck thread's own queue again.
    assert _on_deck_thread(executor, threading.get_ident) == deck_thread


def test_taking_the_deck_back_waits_for_the_direct_call_in_progress(
    executor: DeckExecutor,
) -> None:
    order: list[str] = []
    lent = threading.Event()

    def parked_run() -> None:
        executor.lock.acquire("run 1", timeout_s=0)
        executor.lend(lambda: None)
        lent.set()
        time.sleep(0.05)  # the direct call below takes the lock meanwhile
        executor.take_back("run 1")  # serves the call's job while waiting for the lock
        order.append("run goes on")
        executor.lock.release()

    run = executor.submit(parked_run)
    assert lent.wait(5)
    executor.lock.acquire("direct call", timeout_s=1)
    job = executor.submit(lambda: (time.sleep(0.2), order.append("direct call"))[1])
    job.result(timeout=5)
    executor.lock.release()
    run.result(timeout=5)
    assert order == ["direct call", "run goes on"]
