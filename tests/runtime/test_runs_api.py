"""Runs on the demo lab through the API: queue, modes, records, controls, errors, restart."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from labdeck.services import Services

WORKFLOW: dict[str, Any] = {
    "format": "labdeck.workflow/1",
    "name": "dose and read",
    "parameters": [{"name": "amount_mg", "default": 5.0}],
    "outputs": ["mass", "absorbance"],
    "prep": [{"id": "tare", "kind": "call", "target": "balance.tare"}],
    "script": [
        {
            "id": "dose",
            "kind": "call",
            "target": "balance.dose_solid",
            "args": {"amount_mg": {"param": "amount_mg"}},
            "save": "mass",
        },
        {
            "id": "read",
            "kind": "call",
            "target": "spectrometer.measure",
            "save": ["absorbance", None],
        },
        {"id": "note", "kind": "comment", "text": "dosed {mass} mg"},
    ],
    "cleanup": [{"id": "off", "kind": "call", "target": "hotplate.off"}],
}


def publish(client: TestClient, document: dict[str, Any]) -> str:
    created = client.post("/api/workflows", json=document)
    assert created.status_code == 201, created.text
    assert created.json()["problems"] == [], created.json()["problems"]
    assert client.post(f"/api/workflows/{created.json()['id']}/publish").status_code == 201
    return str(created.json()["name"])


def submit(client: TestClient, workflow: str, **body: Any) -> dict[str, Any]:
    response = client.post("/api/runs", json={"workflow": workflow, **body})
    assert response.status_code == 201, response.text
    return response.json()


def wait_for(
    client: TestClient, run_id: str, *statuses: str, timeout: float = 10
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in statuses:
            return run
        time.sleep(0.01)
    raise AssertionError(f"run {run_id} stayed {run['status']} ({run['status_reason']})")


def steps(client: TestClient, run_id: str) -> list[dict[str, Any]]:
    return client.get(f"/api/runs/{run_id}/steps").json()["steps"]


def test_a_repeat_run_completes_with_records_and_outputs(client: TestClient) -> None:
    name = publish(client, WORKFLOW)
    run = submit(client, name, mode={"repeat": 3})
    done = wait_for(client, run["id"], "completed", "failed")
    assert done["status"] == "completed", done
    assert done["progress"] == {"iteration": 3, "iterations": 3, "done": 3}
    records = client.get(f"/api/runs/{run['id']}/steps").json()
    paths = [(s["phase"], s["iteration"], s["path"], s["status"]) for s in records["steps"]]
    assert paths[0] == ("prep", None, "tare", "completed")
    assert paths[-1] == ("cleanup", None, "off", "completed")
    script = [p for p in paths if p[0] == "script"]
    assert [p[1] for p in script] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert next(s["args"] for s in records["steps"] if s["path"] == "dose") == {"amount_mg": 5.0}
    note = next(s for s in records["steps"] if s["path"] == "note")
    assert note["args"]["text"].startswith("dosed ")
    samples = records["samples"]
    assert [s["iteration"] for s in samples] == [1, 2, 3]
    assert all(s["params"] == {"amount_mg": 5.0} for s in samples)
    assert all(abs(s["outputs"]["mass"] - 5.0) < 1.0 for s in samples)
    assert all(isinstance(s["outputs"]["absorbance"], float) for s in samples)


def test_a_table_run_converts_values_and_records_each_row(client: TestClient) -> None:
    name = publish(client, WORKFLOW)
    run = submit(client, name, mode={"table": [{"amount_mg": "2.5"}, {"amount_mg": 7}]})
    assert run["mode"] == {"table": [{"amount_mg": 2.5}, {"amount_mg": 7.0}]}
    wait_for(client, run["id"], "completed")
    samples = client.get(f"/api/runs/{run['id']}/steps").json()["samples"]
    assert [s["params"]["amount_mg"] for s in samples] == [2.5, 7.0]
    bad = client.post(
        "/api/runs", json={"workflow": name, "mode": {"table": [{"amount_mg": "lots"}, {}]}}
    )
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["error"]["detail"]["fields"]} >= {"rows[1].amount_mg"}


def test_unpublished_workflows_and_bad_modes_are_refused(client: TestClient) -> None:
    client.post("/api/workflows", json=dict(WORKFLOW, name="draft only"))
    refused = client.post("/api/runs", json={"workflow": "draft only"})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "NOT_PUBLISHED"
    assert "publish first" in refused.json()["error"]["message"]
    name = publish(client, WORKFLOW)
    assert (
        client.post("/api/runs", json={"workflow": name, "mode": {"dance": 1}}).status_code == 422
    )
    assert client.post("/api/runs", json={"workflow": "nope"}).status_code == 404


SLOW = dict(
    WORKFLOW,
    name="slow",
    script=[
        {
            "id": "dose",
            "kind": "call",
            "target": "balance.dose_solid",
            "args": {"amount_mg": {"param": "amount_mg"}},
            "save": "mass",
        },
        {"id": "rest", "kind": "wait", "seconds": 0.3},
        {
            "id": "read",
            "kind": "call",
            "target": "spectrometer.measure",
            "save": ["absorbance", None],
        },
    ],
)


def test_a_run_holds_the_deck_and_the_queue_runs_one_at_a_time(client: TestClient) -> None:
    name = publish(client, SLOW)
    first = submit(client, name, mode={"repeat": 2})
    second = submit(client, name, mode={"repeat": 1})
    wait_for(client, first["id"], "running", "waiting")
    busy = client.post("/api/instruments/balance/weigh", json={"args": {}})
    assert busy.status_code == 409
    assert "run" in busy.json()["error"]["message"]
    queue = client.get("/api/queue").json()
    assert queue["active"]["id"] == first["id"]
    assert [r["id"] for r in queue["pending"]] == [second["id"]]
    wait_for(client, first["id"], "completed")
    wait_for(client, second["id"], "completed")


def test_the_queue_starts_by_itself_when_a_direct_call_frees_the_deck(
    client: TestClient, services: Services
) -> None:
    name = publish(client, WORKFLOW)
    services.executor.lock.acquire("a long direct call", timeout_s=0)
    run = submit(client, name, mode={"repeat": 1})
    time.sleep(0.1)
    assert client.get(f"/api/runs/{run['id']}").json()["status"] == "pending"
    services.executor.lock.release()
    wait_for(client, run["id"], "completed")


def test_pause_then_resume_during_a_wait(client: TestClient) -> None:
    name = publish(client, SLOW)
    run = submit(client, name, mode={"repeat": 1})
    waiting = wait_for(client, run["id"], "waiting")
    # Progress names the iteration in progress as soon as it starts.
    assert waiting["progress"] == {"iteration": 1, "iterations": 1, "done": 0}
    assert client.post(f"/api/runs/{run['id']}/pause").status_code == 200
    paused = wait_for(client, run["id"], "paused")
    assert "paused" in paused["status_reason"]
    time.sleep(0.4)  # longer than the wait: a paused wait does not run out
    assert client.get(f"/api/runs/{run['id']}").json()["status"] == "paused"
    client.post(f"/api/runs/{run['id']}/resume")
    assert wait_for(client, run["id"], "completed")["status"] == "completed"
    again = client.post(f"/api/runs/{run['id']}/resume")
    assert again.status_code == 409
    assert again.json()["error"]["detail"]["status"] == "completed"


def test_cancel_skips_the_rest_and_cleanup_only_when_asked(client: TestClient) -> None:
    name = publish(client, SLOW)
    for cleanup in (False, True):
        run = submit(client, name, mode={"repeat": 3})
        wait_for(client, run["id"], "waiting")
        client.post(
            f"/api/runs/{run['id']}/cancel", json={"reason": "wrong vial", "cleanup": cleanup}
        )
        done = wait_for(client, run["id"], "cancelled")
        assert done["status_reason"] == "wrong vial"
        cleanup_steps = [s for s in steps(client, run["id"]) if s["phase"] == "cleanup"]
        assert bool(cleanup_steps) is cleanup


def test_stop_pending_finishes_the_iteration_then_cleans_up(client: TestClient) -> None:
    name = publish(client, SLOW)
    run = submit(client, name, mode={"repeat": 5})
    wait_for(client, run["id"], "waiting")
    client.post(f"/api/runs/{run['id']}/stop-pending", json={})
    done = wait_for(client, run["id"], "cancelled")
    assert done["status_reason"] == "stopped after iteration 1 of 5"
    recorded = steps(client, run["id"])
    assert {s["iteration"] for s in recorded if s["phase"] == "script"} == {1}
    assert [s["path"] for s in recorded if s["phase"] == "cleanup"] == ["off"]


FAILING = dict(
    WORKFLOW,
    name="failing",
    parameters=[],
    outputs=[],
    script=[{"id": "prime", "kind": "call", "target": "broken_pump.prime"}],
)


def test_a_failed_step_fails_the_run_runs_cleanup_and_pauses_the_queue(client: TestClient) -> None:
    name = publish(client, FAILING)
    run = submit(client, name, on_error="fail")
    done = wait_for(client, run["id"], "failed")
    assert done["error"]["code"] == "UNHANDLED_EXCEPTION"
    assert "prime" in done["status_reason"]
    assert [s["path"] for s in steps(client, run["id"]) if s["phase"] == "cleanup"] == ["off"]
    queue = client.get("/api/queue").json()
    assert queue["paused"] is True
    follow_up = submit(client, name, on_error="fail")
    time.sleep(0.2)
    assert client.get(f"/api/runs/{follow_up['id']}").json()["status"] == "pending"
    client.post("/api/queue/resume")
    wait_for(client, follow_up["id"], "failed")


def test_an_error_pauses_the_run_for_retry_or_skip(client: TestClient) -> None:
    name = publish(client, FAILING)
    run = submit(client, name)
    paused = wait_for(client, run["id"], "paused")
    assert paused["prompt"]["error"]["code"] == "UNHANDLED_EXCEPTION"
    client.post(f"/api/runs/{run['id']}/retry")
    wait_for(client, run["id"], "paused")
    deadline = time.monotonic() + 5
    while len([s for s in steps(client, run["id"]) if s["path"] == "prime"]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    client.post(f"/api/runs/{run['id']}/skip")
    done = wait_for(client, run["id"], "completed")
    assert done["status"] == "completed"
    primes = [s for s in steps(client, run["id"]) if s["path"] == "prime"]
    assert [s["status"] for s in primes] == ["failed", "failed", "skipped"]
    assert [s["attempt"] for s in primes[:2]] == [1, 2]  # a person's retry is attempt 2
    assert client.post(f"/api/runs/{run['id']}/skip").status_code == 409


def test_retryable_errors_are_retried_automatically(client: TestClient) -> None:
    name = publish(
        client,
        dict(
            FAILING,
            name="reconnect",
            script=[{"id": "reconnect", "kind": "call", "target": "broken_pump.reconnect"}],
        ),
    )
    run = submit(client, name, on_error="fail", retries=2)
    wait_for(client, run["id"], "failed", timeout=15)
    attempts = [s["attempt"] for s in steps(client, run["id"]) if s["path"] == "reconnect"]
    assert attempts == [1, 2, 3]


def test_an_input_step_waits_for_a_typed_answer(client: TestClient) -> None:
    document = dict(
        WORKFLOW,
        name="ask",
        parameters=[],
        outputs=["ml"],
        script=[
            {"id": "ask", "kind": "input", "prompt": "How many mL?", "save": "ml", "type": "number"}
        ],
    )
    name = publish(client, document)
    run = submit(client, name)
    waiting = wait_for(client, run["id"], "waiting")
    assert waiting["prompt"]["text"] == "How many mL?"
    wrong = client.post(f"/api/runs/{run['id']}/input", json={"value": "lots"})
    assert wrong.status_code == 422
    assert client.get(f"/api/runs/{run['id']}").json()["status"] == "waiting"
    client.post(f"/api/runs/{run['id']}/input", json={"value": "2.5"})
    wait_for(client, run["id"], "completed")
    samples = client.get(f"/api/runs/{run['id']}/steps").json()["samples"]
    assert samples[0]["outputs"] == {"ml": 2.5}


def test_queued_runs_can_be_held_reordered_renamed_and_removed(client: TestClient) -> None:
    name = publish(client, WORKFLOW)
    client.post("/api/queue/pause")
    a, b, c = (submit(client, name)["id"] for _ in range(3))
    order = client.put("/api/queue/order", json={"run_ids": [int(c), int(a), int(b)]})
    assert [r["id"] for r in order.json()["pending"]] == [c, a, b]
    assert client.patch(f"/api/runs/{a}", json={"name": "blank"}).json()["name"] == "blank"
    assert client.post(f"/api/runs/{b}/pause").json()["status"] == "paused"
    assert (
        client.post(f"/api/runs/{c}/cancel", json={"reason": "removed"}).json()["status"]
        == "cancelled"
    )
    client.post("/api/queue/resume")
    wait_for(client, a, "completed")
    assert client.get(f"/api/runs/{b}").json()["status"] == "paused"
    client.post(f"/api/runs/{b}/resume")
    wait_for(client, b, "completed")


def test_a_restart_fails_running_runs_and_pauses_the_queue(
    make_services, demo_deck, services: Services, client: TestClient
) -> None:
    name = publish(client, WORKFLOW)
    client.post("/api/queue/pause")
    run = submit(client, name)
    from labdeck.runtime.states import RunStatus, change_run_status

    # As if the server died mid-run: the row says running, nothing is executing it.
    change_run_status(services.run_service.runs, None, int(run["id"]), RunStatus.RUNNING)
    pending = submit(client, name)
    restarted = make_services(demo_deck)
    after = restarted.run_service.get(int(run["id"]))
    assert after.status == "failed"
    assert after.error is not None
    assert after.error["code"] == "SERVER_RESTART"
    assert restarted.run_service.get(int(pending["id"])).status == "pending"
    assert restarted.run_service.queue_view().paused is True
    assert any("queued run" in note for note in restarted.startup_notes)


def test_results_and_log_of_a_run(client: TestClient) -> None:
    name = publish(client, WORKFLOW)
    run = submit(client, name, mode={"table": [{"amount_mg": 2}, {"amount_mg": 4}]})
    wait_for(client, run["id"], "completed")
    results = client.get(f"/api/runs/{run['id']}/results.json").json()
    assert [(r["iteration"], r["sample"], r["amount_mg"]) for r in results] == [
        (1, 0, 2.0),
        (2, 1, 4.0),
    ]
    assert all({"mass", "absorbance"} <= set(r) for r in results)
    table = client.get(f"/api/runs/{run['id']}/results.csv")
    assert table.headers["content-type"].startswith("text/csv")
    lines = table.text.strip().splitlines()
    assert lines[0] == "iteration,sample,amount_mg,mass,absorbance"
    assert len(lines) == 3
    log = client.get(f"/api/runs/{run['id']}/log")
    assert log.status_code == 200
    assert "status pending -> running" in log.text or "status running" in log.text
    assert "dosed " in log.text  # the comment step
    assert "status running -> completed" in log.text
    assert client.get("/api/runs/99999/log").status_code == 404


def test_cancelling_a_run_paused_during_a_wait_closes_the_wait_step(client: TestClient) -> None:
    """Found by the stateful test: the wait's record stayed `running` after the run ended."""
    name = publish(client, SLOW)
    run = submit(client, name)
    wait_for(client, run["id"], "waiting")
    client.post(f"/api/runs/{run['id']}/pause")
    wait_for(client, run["id"], "paused")
    client.post(f"/api/runs/{run['id']}/cancel", json={})
    wait_for(client, run["id"], "cancelled")
    rest = [s for s in steps(client, run["id"]) if s["path"] == "rest"]
    assert [s["status"] for s in rest] == ["cancelled"]
    assert rest[0]["ended_at"] is not None
