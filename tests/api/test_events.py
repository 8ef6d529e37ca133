"""`GET /api/events`: Server-Sent Events of the bus, through the real app (streamed)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from labdeck.api import events
from labdeck.api.events import EventStream, format_event
from labdeck.runtime.states import EventBus
from labdeck.services import Services
from tests.runtime.test_runs_api import WORKFLOW, publish, submit, wait_for

SSE = {"Accept": "text/event-stream"}


def read_messages(lines: Iterator[str], count: int) -> list[dict[str, Any]]:
    """The next `count` messages (comments skipped) as {"id", "event", "data"}."""
    found: list[dict[str, Any]] = []
    message: dict[str, Any] = {}
    for line in lines:
        if line.startswith("id: "):
            message["id"] = int(line[4:])
        elif line.startswith("event: "):
            message["event"] = line[7:]
        elif line.startswith("data: "):
            message["data"] = json.loads(line[6:])
        elif line == "" and "event" in message:
            found.append(message)
            message = {}
            if len(found) == count:
                return found
    raise AssertionError(f"the stream ended after {found}")


def connected(response: httpx.Response) -> Iterator[str]:
    """The stream's lines, after the opening comment (the subscription exists from then on)."""
    lines = response.iter_lines()
    for line in lines:
        if line == ": connected":
            return lines
    raise AssertionError("no opening comment")


def test_events_need_a_login_and_ask_for_an_event_stream(
    app_client: TestClient, viewer_headers: dict[str, str]
) -> None:
    refused = app_client.get("/api/events", headers=SSE)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"]
    plain = app_client.get("/api/events", headers=viewer_headers)
    assert plain.status_code == 422
    assert "text/event-stream" in plain.json()["error"]["message"]


def test_bus_events_arrive_as_json_with_ids(
    app_client: TestClient, viewer_headers: dict[str, str], services: Services
) -> None:
    with app_client.stream("GET", "/api/events", headers=viewer_headers | SSE) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = connected(response)
        services.bus.publish({"kind": "queue.changed", "paused": True, "reason": "lunch"})
        services.bus.publish({"kind": "log", "run_id": 7, "message": "dosed 5.01 mg"})
        first, second = read_messages(lines, 2)
    assert first == {
        "id": 1,
        "event": "queue.changed",
        "data": {"kind": "queue.changed", "paused": True, "reason": "lunch"},
    }
    assert second["id"] == 2
    assert second["event"] == "log"
    assert second["data"] == {"kind": "log", "run_id": "7", "message": "dosed 5.01 mg"}


def test_the_run_filter_keeps_only_that_runs_events(
    app_client: TestClient, viewer_headers: dict[str, str], services: Services
) -> None:
    with app_client.stream("GET", "/api/events?run=2", headers=viewer_headers | SSE) as response:
        lines = connected(response)
        services.bus.publish({"kind": "log", "run_id": 1, "message": "other run"})
        services.bus.publish({"kind": "queue.changed"})
        services.bus.publish({"kind": "log", "run_id": 2, "message": "mine"})
        (only,) = read_messages(lines, 1)
    assert only["data"]["message"] == "mine"
    assert only["id"] == 1


def test_a_real_run_streams_its_status_progress_and_steps(
    client: TestClient, services: Services
) -> None:
    name = publish(client, WORKFLOW)
    client.post("/api/queue/pause")
    run = submit(client, name, mode={"repeat": 1})
    with client.stream("GET", f"/api/events?run={run['id']}", headers=SSE) as response:
        lines = connected(response)
        client.post("/api/queue/resume")
        wait_for(client, run["id"], "completed")
        kinds: list[str] = []
        while "completed" not in kinds:
            (message,) = read_messages(lines, 1)
            assert message["data"]["run_id"] == run["id"]
            kinds.append(message["event"])
            if message["event"] == "run.status":
                kinds.append(message["data"]["to_status"])
    assert "running" in kinds
    assert {"step.started", "step.finished", "run.progress", "log"} <= set(kinds)


def test_a_quiet_stream_sends_heartbeats(
    app_client: TestClient,
    viewer_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "HEARTBEAT_S", 0.05)
    with app_client.stream("GET", "/api/events", headers=viewer_headers | SSE) as response:
        lines = connected(response)
        assert next(line for line in lines if line) == ": heartbeat"


def test_closing_the_stream_unsubscribes(
    app_client: TestClient, viewer_headers: dict[str, str], services: Services
) -> None:
    before = len(services.bus._listeners)
    with app_client.stream("GET", "/api/events", headers=viewer_headers | SSE) as response:
        lines = connected(response)  # kept: dropping the iterator closes the response
        assert len(services.bus._listeners) == before + 1
        del lines
    for _ in range(100):
        if len(services.bus._listeners) == before:
            break
        threading.Event().wait(0.01)
    assert len(services.bus._listeners) == before


def test_a_slow_client_loses_the_oldest_events_and_is_told_to_resync() -> None:
    async def scenario() -> list[str]:
        bus = EventBus()
        loop = asyncio.get_running_loop()
        stream = EventStream(bus, loop, max_buffered=3)

        class Request:
            async def is_disconnected(self) -> bool:
                return False

        body = stream.messages(Request(), heartbeat_s=10)  # type: ignore[arg-type]
        assert (await anext(body)).startswith("retry:")
        publisher = threading.Thread(
            target=lambda: [bus.publish({"kind": "log", "message": str(i)}) for i in range(6)]
        )
        publisher.start()
        publisher.join()
        await asyncio.sleep(0.05)  # let the loop take the handed-over events
        received = [await anext(body) for _ in range(4)]
        await body.aclose()
        assert bus._listeners == []
        return received

    received = asyncio.run(scenario())
    assert received[0].startswith("id: 1\nevent: resync\n")
    assert '"dropped": 3' in received[0]
    assert ['"3"' in received[1], '"4"' in received[2], '"5"' in received[3]] == [True] * 3


def test_a_message_is_one_data_line() -> None:
    text = format_event("log", {"message": "two\nlines"}, 5)
    assert text == 'id: 5\nevent: log\ndata: {"message": "two\\nlines"}\n\n'
