"""Running deck code: one executor per deck.

Owns the deck lock and the two places driver code runs:
- sync methods run on the executor's own **deck thread**, so drivers that care about thread
  affinity (serial ports, COM objects) always see the same thread;
- async methods run on one **long-lived event loop** in its own thread, so PyLabRobot-style
  objects set up on that loop (locks, transports, tasks) keep working for later calls.

The deck lock serializes everything that touches instruments: direct calls and (later) runs.
A caller that cannot get it within its wait time gets `InstrumentBusy` (409), never a silent
drop. Admins may force a call past a holder; forced work runs on a side thread so that a hung
call on the deck thread cannot block it (this is how a stuck instrument gets released).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from labdeck.errors import InstrumentBusy

log = logging.getLogger(__name__)
T = TypeVar("T")
LEND_POLL_S = 0.05  # how often a run taking the deck back re-checks the lock


@dataclass(frozen=True)
class LockHolder:
    """Who holds the deck: shown in the busy message so operators know what they wait for."""

    description: str
    since: float


class DeckLock:
    """A deck-wide lock that says who holds it and tells listeners when it frees."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: LockHolder | None = None
        self._release_listeners: list[Callable[[], None]] = []

    @property
    def holder(self) -> LockHolder | None:
        return self._holder

    def locked(self) -> bool:
        return self._lock.locked()

    def try_acquire(self, description: str) -> bool:
        if self._lock.acquire(blocking=False):
            self._holder = LockHolder(description, time.monotonic())
            return True
        return False

    def acquire(self, description: str, timeout_s: float) -> None:
        """Take the lock within `timeout_s` or raise `InstrumentBusy`."""
        if self._lock.acquire(timeout=timeout_s) if timeout_s > 0 else self._lock.acquire(False):
            self._holder = LockHolder(description, time.monotonic())
            return
        raise self.busy_error(timeout_s)

    async def acquire_async(self, description: str, timeout_s: float) -> None:
        """Same as `acquire` from async code: instant when free, waits in a thread otherwise."""
        if self.try_acquire(description):
            return
        await asyncio.to_thread(self.acquire, description, timeout_s)

    def release(self) -> None:
        self._holder = None
        self._lock.release()
        for listener in list(self._release_listeners):
            try:
                listener()
            except Exception:
                log.exception("deck lock release listener failed")

    def on_release(self, listener: Callable[[], None]) -> None:
        """Call `listener` (from the releasing thread) every time the lock frees."""
        self._release_listeners.append(listener)

    def busy_error(self, waited_s: float) -> InstrumentBusy:
        holder = self._holder
        held_by = holder.description if holder else "another call"
        held_for = time.monotonic() - holder.since if holder else 0.0
        return InstrumentBusy(
            f"the deck is busy with {held_by} (for {held_for:.1f} s); "
            f"waited {waited_s:g} s. Try again when it finishes.",
            detail={"held_by": held_by, "held_for_s": round(held_for, 3)},
        )


class DeckExecutor:
    """Runs deck callables on the deck thread or the deck event loop."""

    def __init__(self) -> None:
        self.lock = DeckLock()
        self._deck_thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="labdeck-deck"
        )
        self._side_threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="labdeck-forced"
        )
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(
            target=self._run_loop, name="labdeck-deck-loop", daemon=True
        )
        self._loop_thread.start()
        self._closed = False
        # Set while a parked run lends the deck: how to wake it for a handed-over job.
        self._lent: Callable[[], None] | None = None
        self._lent_jobs: queue.SimpleQueue[
            tuple[Callable[[], Any], concurrent.futures.Future[Any]]
        ] = queue.SimpleQueue()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            # Drivers' leftover tasks are cancelled so the loop closes cleanly at shutdown.
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            if pending:
                self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def submit(
        self, job: Callable[[], T], *, side_thread: bool = False
    ) -> concurrent.futures.Future[T]:
        """Run `job` on the deck thread (or a side thread for forced work).

        While a parked run has lent the deck (`lend`), the deck thread is that run waiting for
        a person: the job is handed to it (`serve_lent`) so drivers still see one thread.
        """
        if side_thread:
            return self._side_threads.submit(job)
        if self._lent is not None:
            future: concurrent.futures.Future[T] = concurrent.futures.Future()
            self._lent_jobs.put((job, future))
            self._lent()
            return future
        return self._deck_thread.submit(job)

    def lend(self, wake: Callable[[], None]) -> None:
        """A run waiting for a person lets direct calls use the deck until `take_back`.

        Called on the deck thread by the lock's holder: releases the lock (waking whoever
        waits for it); until `take_back`, deck-thread jobs are queued for the parked run,
        which runs them in `serve_lent` (`wake` tells it one arrived).
        """
        self._lent = wake
        self.lock.release()

    def serve_lent(self, timeout_s: float = 0.0) -> None:
        """Run the jobs direct calls handed over while the deck is lent (on the deck thread)."""
        try:
            job, future = (
                self._lent_jobs.get(timeout=timeout_s)
                if timeout_s > 0
                else (self._lent_jobs.get_nowait())
            )
        except queue.Empty:
            return
        while True:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except BaseException as exc:
                    future.set_exception(exc)
            try:
                job, future = self._lent_jobs.get_nowait()
            except queue.Empty:
                return

    def take_back(self, description: str) -> None:
        """Re-take the lock after `lend`, serving a direct call in progress until it ends."""
        while not self.lock.try_acquire(description):
            self.serve_lent(LEND_POLL_S)
        self._lent = None
        self.serve_lent()  # nothing can be left (callers hold the lock), but never strand one

    def invoke(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Call deck code from a worker thread and return its result (or raise its error).

        Sync callables run right here (the caller is the deck thread or a side thread).
        Coroutine functions, and sync callables that return an awaitable, are awaited on the
        deck event loop. Must not be called from the deck event loop itself.
        """
        if inspect.iscoroutinefunction(func):
            return self._await_on_loop(func(*args, **kwargs))
        result = func(*args, **kwargs)
        if inspect.isawaitable(result):
            return self._await_on_loop(result)
        return result

    def _await_on_loop(self, awaitable: Any) -> Any:
        async def wrapper() -> Any:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result()

    def close(self) -> None:
        """Stop accepting work; running driver calls are not killed."""
        if self._closed:
            return
        self._closed = True
        self._deck_thread.shutdown(wait=False, cancel_futures=True)
        self._side_threads.shutdown(wait=False, cancel_futures=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(timeout=2)
