"""A real server killed with SIGKILL mid-step, mid-wait and with runs queued, then restarted."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server_process import ServerProcess
from tests.test_server_process import DECK, DRIVERS

pytestmark = pytest.mark.slow


def document(name: str, script: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": "labdeck.workflow/1",
        "name": name,
        "script": [
            {"id": "first", "kind": "call", "target": "valve.open", "args": {"percent": 10}},
            *script,
        ],
        "cleanup": [
            {"id": "close", "kind": "call", "target": "valve.open", "args": {"percent": 0}}
        ],
    }


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    folder = tmp_path / "lab"
    folder.mkdir()
    (folder / "mydeck.py").write_text(DECK)
    (folder / "drivers.py").write_text(DRIVERS)
    return folder


def start(lab: Path, data: Path) -> tuple[ServerProcess, httpx.Client]:
    server = ServerProcess(["serve", str(lab / "mydeck.py")], data).start()
    return server, httpx.Client(base_url=server.base_url, headers=server.token(), timeout=10)


def until(client: httpx.Client, run_id: str, status: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] == status:
            return run
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} is {run['status']}, not {status}")


def test_sigkill_mid_step_mid_wait_and_with_runs_queued(lab: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server, client = start(lab, data)
    for name, script in (
        ("hold", [{"id": "hold", "kind": "call", "target": "hold", "args": {"seconds": 30}}]),
        ("rest", [{"id": "rest", "kind": "wait", "seconds": 30}]),
    ):
        created = client.post("/api/workflows", json=document(name, script)).json()
        assert client.post(f"/api/workflows/{created['id']}/publish").status_code == 201

    # 1. Killed during a driver call, with two runs queued behind it.
    held = client.post("/api/runs", json={"workflow": "hold"}).json()
    queued = [
        client.post("/api/runs", json={"workflow": "rest", "name": f"q{i}"}).json() for i in (1, 2)
    ]
    until(client, held["id"], "running")
    deadline = time.monotonic() + 10
    while not any(
        s["path"] == "hold" for s in client.get(f"/api/runs/{held['id']}/steps").json()["steps"]
    ):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    client.close()
    server.kill()

    server, client = start(lab, data)
    run = client.get(f"/api/runs/{held['id']}").json()
    assert run["status"] == "failed"
    assert run["error"]["code"] == "SERVER_RESTART"
    assert "cleanup did not run" in run["status_reason"]
    recorded = {s["path"]: s for s in client.get(f"/api/runs/{held['id']}/steps").json()["steps"]}
    assert recorded["first"]["status"] == "completed"  # a finished step is never lost
    assert recorded["hold"]["status"] == "failed"
    assert recorded["hold"]["error"]["code"] == "SERVER_RESTART"
    queue = client.get("/api/queue").json()
    assert queue["paused"] is True
    assert [r["name"] for r in queue["pending"]] == ["q1", "q2"]
    assert "queued run" in server.read_output()

    # 2. Resumed, the first queued run starts its wait; killed mid-wait.
    client.post("/api/queue/resume")
    until(client, queued[0]["id"], "waiting")
    client.close()
    server.kill()

    server, client = start(lab, data)
    try:
        waited = client.get(f"/api/runs/{queued[0]['id']}").json()
        assert waited["status"] == "paused"
        assert "server stopped" in waited["status_reason"]
        # Nothing can continue it: the only verb offered is stopping it; resume says why not.
        assert waited["actions"] == ["cancel"]
        refused = client.post(f"/api/runs/{queued[0]['id']}/resume")
        assert refused.status_code == 409
        assert "Stop it, then run it again" in refused.json()["error"]["message"]
        assert client.get(f"/api/runs/{queued[1]['id']}").json()["status"] == "pending"
        assert client.get("/api/queue").json()["paused"] is True
        cancelled = client.post(f"/api/runs/{queued[0]['id']}/cancel", json={}).json()
        assert cancelled["status"] == "cancelled"
        assert cancelled["actions"] == ["replay"]
    finally:
        client.close()
        server.stop()
