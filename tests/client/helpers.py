"""Workflows and waiting, shared by the tests that use the live demo server."""

from __future__ import annotations

import time
import uuid
from typing import Any

from labdeck.client import Client, Run

FORMAT = "labdeck.workflow/1"


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


def document(name: str, script: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"format": FORMAT, "name": name, "script": script, **extra}


DOSE_SCRIPT = [
    {
        "id": "dose",
        "kind": "call",
        "target": "balance.dose_solid",
        "args": {"amount_mg": {"param": "amount_mg"}},
        "save": "mass",
    }
]


def published(lab: Client, name: str, script: list[dict[str, Any]], **extra: Any) -> str:
    created = lab.create_workflow(document(unique(name), script, **extra))
    assert created["problems"] == []
    lab.publish(created["name"])
    return created["name"]


def dose_workflow(lab: Client) -> str:
    return published(
        lab,
        "dose",
        DOSE_SCRIPT,
        parameters=[{"name": "amount_mg", "default": 5.0}],
        outputs=["mass"],
    )


def slow_workflow(lab: Client, seconds: float = 0.5) -> str:
    return published(lab, "slow", [{"id": "rest", "kind": "wait", "seconds": seconds}])


def wait_for(lab: Client, run_id: str, *statuses: str, timeout: float = 15) -> Run:
    deadline = time.monotonic() + timeout
    while True:
        run = lab.run(run_id)
        if run["status"] in statuses:
            return run
        assert time.monotonic() < deadline, f"run {run_id} stayed {run['status']}"
        time.sleep(0.02)
