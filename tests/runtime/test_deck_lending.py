"""A run waiting for a person lends the deck to direct controls; a busy run does not."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.runtime.test_runs_api import FAILING, SLOW, WORKFLOW, publish, submit, wait_for

ASKING: dict[str, Any] = dict(
    WORKFLOW,
    name="asks for a look",
    parameters=[],
    outputs=[],
    script=[
        {"id": "look", "kind": "pause", "message": "Check the vial, then continue"},
        {"id": "weigh", "kind": "call", "target": "balance.weigh", "save": "mass"},
    ],
)


def weigh(client: TestClient) -> Any:
    return client.post("/api/instruments/balance/weigh", json={"args": {}})


def test_an_error_paused_run_lets_operators_use_the_instruments_then_retry(
    client: TestClient,
) -> None:
    name = publish(client, FAILING)
    run = submit(client, name)
    wait_for(client, run["id"], "paused")
    fixed = weigh(client)
    assert fixed.status_code == 200, fixed.text
    assert client.post(f"/api/runs/{run['id']}/skip").status_code == 200
    assert wait_for(client, run["id"], "completed")["status"] == "completed"


def test_a_pause_step_lends_the_deck_and_the_run_takes_it_back(client: TestClient) -> None:
    name = publish(client, ASKING)
    run = submit(client, name)
    second = submit(client, name)
    waiting = wait_for(client, run["id"], "waiting")
    assert waiting["prompt"]["kind"] == "pause"
    assert weigh(client).status_code == 200
    # The deck is free for direct calls, but the queue still runs one run at a time.
    assert client.get(f"/api/runs/{second['id']}").json()["status"] == "pending"
    assert client.post(f"/api/runs/{run['id']}/continue").status_code == 200
    assert wait_for(client, run["id"], "completed")["status"] == "completed"
    wait_for(client, second["id"], "waiting")
    client.post(f"/api/runs/{second['id']}/cancel", json={"reason": "done"})
    wait_for(client, second["id"], "cancelled")


def test_an_operator_pause_lends_the_deck_but_a_timed_wait_does_not(client: TestClient) -> None:
    name = publish(client, SLOW)
    run = submit(client, name)
    wait_for(client, run["id"], "waiting")
    assert weigh(client).status_code == 409  # the run is busy: its wait is part of the experiment
    client.post(f"/api/runs/{run['id']}/pause")
    wait_for(client, run["id"], "paused")
    assert weigh(client).status_code == 200
    client.post(f"/api/runs/{run['id']}/resume")
    assert wait_for(client, run["id"], "completed")["status"] == "completed"


def test_actions_list_the_verbs_valid_for_each_state(client: TestClient) -> None:
    name = publish(client, ASKING)
    client.post("/api/queue/pause")
    run = submit(client, name)
    assert run["actions"] == ["pause", "cancel"]
    held = client.post(f"/api/runs/{run['id']}/pause").json()
    assert held["actions"] == ["resume", "cancel"]
    client.post(f"/api/runs/{run['id']}/resume")
    client.post("/api/queue/resume")
    waiting = wait_for(client, run["id"], "waiting")
    assert waiting["actions"] == ["continue", "stop-pending", "cancel"]
    assert client.get("/api/queue").json()["active"]["actions"] == waiting["actions"]
    client.post(f"/api/runs/{run['id']}/continue")
    assert wait_for(client, run["id"], "completed")["actions"] == ["replay"]

    failing = submit(client, publish(client, FAILING))
    paused = wait_for(client, failing["id"], "paused")
    assert paused["actions"] == ["retry", "skip", "stop-pending", "cancel"]
    client.post(f"/api/runs/{failing['id']}/cancel", json={"reason": "enough"})
    wait_for(client, failing["id"], "cancelled")


def test_a_run_seen_paused_already_offers_its_way_out(client: TestClient) -> None:
    """The verbs are ready before the status says paused (no window without resume)."""
    name = publish(client, SLOW)
    run = submit(client, name, mode={"repeat": 2})
    wait_for(client, run["id"], "waiting")
    client.post(f"/api/runs/{run['id']}/pause")
    paused = wait_for(client, run["id"], "paused")
    assert paused["actions"] == ["resume", "stop-pending", "cancel"]
    client.post(f"/api/runs/{run['id']}/resume")
    resumed = wait_for(client, run["id"], "waiting", "running", "completed")
    assert "resume" not in resumed["actions"]
    wait_for(client, run["id"], "completed")
