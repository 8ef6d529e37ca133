"""The run queue's dispatcher: when a freed deck makes it look for the next run."""

from __future__ import annotations

import time
from typing import Any, cast

from fastapi.testclient import TestClient

from labdeck.deck.executor import DeckExecutor
from labdeck.runtime.queue import RunQueue
from labdeck.runtime.states import EventBus
from labdeck.services import Services
from tests.runtime.test_runs_api import WORKFLOW, publish, submit, wait_for


class CountingRuns:
    """A run repository with no pending runs that counts how often the queue looks."""

    def __init__(self) -> None:
        self.looks = 0

    def next_pending(self) -> None:
        self.looks += 1


class UnpausedRecords:
    def queue_paused(self, _deck: str) -> tuple[bool, None]:
        return False, None


def wait_until(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_direct_calls_do_not_wake_an_idle_queue() -> None:
    # Every direct call frees the deck. With nothing pending, the dispatcher must not query
    # the database each time: that query raced every call's response (half its latency).
    runs = CountingRuns()
    executor = DeckExecutor()
    queue = RunQueue(
        deck_name="bench",
        runs=cast(Any, runs),
        records=cast(Any, UnpausedRecords()),
        runner=cast(Any, None),
        executor=executor,
        bus=EventBus(),
        prepare=cast(Any, None),
    )
    try:
        queue.kick()
        wait_until(lambda: runs.looks >= 1)
        for _ in range(40):
            executor.lock.try_acquire("a direct call")
            executor.lock.release()
            time.sleep(0.002)
        # One more look at most: a release may land between the look and its conclusion.
        assert runs.looks <= 2
        queue.kick()  # a submitted run still wakes it
        wait_until(lambda: runs.looks >= 2)
    finally:
        queue.close()
        executor.close()


def test_a_run_that_found_the_deck_busy_starts_when_the_call_frees_it(
    client: TestClient, services: Services
) -> None:
    name = publish(client, WORKFLOW)
    lock = services.executor.lock
    assert lock.try_acquire("a long direct call")
    try:
        run = submit(client, name)
        time.sleep(0.1)  # the dispatcher has looked and found the deck taken
        assert client.get(f"/api/runs/{run['id']}").json()["status"] == "pending"
    finally:
        lock.release()
    assert wait_for(client, run["id"], "completed")["status"] == "completed"
