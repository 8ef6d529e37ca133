"""Random sequences of operator verbs against a live runner keep the run model's invariants."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from labdeck.app import create_app
from labdeck.services import Services
from tests.conftest import bearer_for

TERMINAL = {"completed", "failed", "cancelled"}
ACTIVE = {"running", "waiting"}
WORKFLOW: dict[str, Any] = {
    "format": "labdeck.workflow/1",
    "name": "verbs",
    "script": [
        {"id": "tare", "kind": "call", "target": "balance.tare"},
        {"id": "rest", "kind": "wait", "seconds": 0.05},
        {"id": "weigh", "kind": "call", "target": "balance.weigh", "save": "m"},
    ],
    "cleanup": [{"id": "off", "kind": "call", "target": "hotplate.off"}],
}


@pytest.fixture
def verbs_client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as client:
        client.headers.update(bearer_for(services, "olga", "operator"))
        created = client.post("/api/workflows", json=WORKFLOW).json()
        client.post(f"/api/workflows/{created['id']}/publish")
        yield client


def test_random_verbs_keep_the_invariants(verbs_client: TestClient) -> None:
    client = verbs_client

    class RunVerbs(RuleBasedStateMachine):
        runs = Bundle("runs")

        def __init__(self) -> None:
            super().__init__()
            self.final: dict[str, str] = {}

        @initialize()
        def fresh_queue(self) -> None:
            client.post("/api/queue/resume")

        @rule(target=runs, iterations=st.integers(min_value=1, max_value=3))
        def submit(self, iterations: int) -> str:
            response = client.post(
                "/api/runs", json={"workflow": "verbs", "mode": {"repeat": iterations}}
            )
            assert response.status_code == 201
            return str(response.json()["id"])

        @rule(
            run_id=runs,
            verb=st.sampled_from(
                ["pause", "resume", "cancel", "stop-pending", "retry", "skip", "continue"]
            ),
            cleanup=st.booleans(),
        )
        def act(self, run_id: str, verb: str, cleanup: bool) -> None:
            body = {"cleanup": cleanup} if verb in ("cancel", "stop-pending") else None
            response = client.post(f"/api/runs/{run_id}/{verb}", json=body)
            # Either it was accepted, or refused with 409 and the one error shape.
            assert response.status_code in (200, 409), response.text
            if response.status_code == 409:
                assert response.json()["error"]["code"] == "INVALID_TRANSITION"

        @rule(paused=st.booleans())
        def queue(self, paused: bool) -> None:
            client.post(f"/api/queue/{'pause' if paused else 'resume'}")

        @rule()
        def let_time_pass(self) -> None:
            time.sleep(0.03)

        @invariant()
        def at_most_one_active_run_and_terminal_is_final(self) -> None:
            listed = client.get("/api/runs", params={"limit": 500}).json()
            active = [r for r in listed if r["status"] in ACTIVE]
            assert len(active) <= 1, active
            for run in listed:
                if run["id"] in self.final:
                    assert run["status"] == self.final[run["id"]], run
                elif run["status"] in TERMINAL:
                    self.final[run["id"]] = run["status"]
                    steps = client.get(f"/api/runs/{run['id']}/steps").json()["steps"]
                    assert all(step["status"] != "running" for step in steps), steps

        def teardown(self) -> None:
            for run in client.get("/api/runs", params={"limit": 500}).json():
                if run["status"] not in TERMINAL:
                    client.post(f"/api/runs/{run['id']}/cancel", json={})
            deadline = time.monotonic() + 10
            while any(
                r["status"] not in TERMINAL
                for r in client.get("/api/runs", params={"limit": 500}).json()
            ):
                assert time.monotonic() < deadline, "runs did not end after cancel"
                time.sleep(0.02)

    # Runs execute on real threads, so an example cannot be replayed exactly: generate only
    # (no shrinking, no example database) and report the failing sequence as it happened.
    RunVerbs.TestCase.settings = settings(
        phases=[Phase.explicit, Phase.generate],
        database=None,
        max_examples=8,
        stateful_step_count=10,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    RunVerbs.TestCase().runTest()
