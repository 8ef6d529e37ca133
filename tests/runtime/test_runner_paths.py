"""Runner semantics: nested blocks and step paths, batches, sub-workflows, pause steps, caps."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from tests.runtime.test_runs_api import WORKFLOW, publish, steps, submit, wait_for


def doc(name: str, script: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return (
        dict(WORKFLOW, name=name, parameters=[], outputs=[], prep=[], cleanup=[], script=script)
        | extra
    )


def test_nested_blocks_record_paths_and_untaken_branches(client: TestClient) -> None:
    name = publish(
        client,
        doc(
            "nested",
            [
                {"id": "n", "kind": "set", "name": "n", "value": 0},
                {
                    "id": "loop",
                    "kind": "repeat",
                    "times": 2,
                    "index": "i",
                    "do": [
                        {
                            "id": "check",
                            "kind": "if",
                            "condition": "i == 2",
                            "then": [
                                {
                                    "id": "weigh",
                                    "kind": "call",
                                    "target": "balance.weigh",
                                    "save": "m",
                                }
                            ],
                            "else": [
                                {
                                    "id": "bump",
                                    "kind": "set",
                                    "name": "n",
                                    "value": {"expr": "n + 1"},
                                }
                            ],
                        }
                    ],
                },
                {
                    "id": "until",
                    "kind": "while",
                    "condition": "n < 3",
                    "max_iterations": 5,
                    "do": [{"id": "inc", "kind": "set", "name": "n", "value": {"expr": "n + 1"}}],
                },
            ],
            outputs=["n"],
        ),
    )
    run = submit(client, name)
    wait_for(client, run["id"], "completed")
    recorded = [(s["path"], s["status"]) for s in steps(client, run["id"])]
    assert recorded == [
        ("n", "completed"),
        ("loop[1]/check/weigh", "skipped"),
        ("loop[1]/check/bump", "completed"),
        ("loop[2]/check/bump", "skipped"),
        ("loop[2]/check/weigh", "completed"),
        ("until[1]/inc", "completed"),
        ("until[2]/inc", "completed"),
    ]
    samples = client.get(f"/api/runs/{run['id']}/steps").json()["samples"]
    assert samples[0]["outputs"] == {"n": 3}


def test_a_while_loop_at_its_cap_fails_with_loop_limit(client: TestClient) -> None:
    name = publish(
        client,
        doc(
            "forever",
            [
                {
                    "id": "spin",
                    "kind": "while",
                    "condition": "True",
                    "max_iterations": 3,
                    "do": [{"id": "c", "kind": "comment", "text": "again"}],
                }
            ],
        ),
    )
    run = submit(client, name, on_error="fail")
    done = wait_for(client, run["id"], "failed")
    assert done["error"]["code"] == "LOOP_LIMIT"


def test_batches_run_per_batch_steps_once_with_the_batch_values(client: TestClient) -> None:
    name = publish(
        client,
        doc(
            "batched",
            [
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
                    "target": "plate_reader.read_absorbance",
                    "per": "batch",
                    "args": {"wells": {"param": "well"}},
                },
            ],
            parameters=[{"name": "amount_mg", "default": 1.0}, {"name": "well", "default": "A1"}],
            prep=[{"id": "setup", "kind": "call", "target": "plate_reader.setup"}],
        ),
    )
    rows = [
        {"amount_mg": 1, "well": "A1"},
        {"amount_mg": 2, "well": "A2"},
        {"amount_mg": 3, "well": "A3"},
    ]
    run = submit(client, name, mode={"table": rows}, batch_size=2, on_error="fail")
    done = wait_for(client, run["id"], "completed", "failed")
    assert done["status"] == "completed", done["status_reason"]
    script = [s for s in steps(client, run["id"]) if s["phase"] == "script"]
    assert [(s["iteration"], s["path"], s["sample"]) for s in script] == [
        (1, "dose", 0),
        (1, "dose", 1),
        (1, "read", None),
        (2, "dose", 2),
        (2, "read", None),
    ]
    assert script[2]["args"] == {"wells": ["A1", "A2"]}


def test_a_sub_workflow_runs_its_script_and_returns_its_outputs(client: TestClient) -> None:
    publish(
        client,
        doc(
            "weigh it",
            [{"id": "w", "kind": "call", "target": "balance.weigh", "save": "mass"}],
            outputs=["mass"],
        ),
    )
    name = publish(
        client,
        doc(
            "parent",
            [{"id": "sub", "kind": "workflow", "workflow": "weigh it", "save": ["m"]}],
            outputs=["m"],
        ),
    )
    run = submit(client, name)
    wait_for(client, run["id"], "completed")
    assert [s["path"] for s in steps(client, run["id"])] == ["sub/w"]
    samples = client.get(f"/api/runs/{run['id']}/steps").json()["samples"]
    assert isinstance(samples[0]["outputs"]["m"], float)


def test_a_pause_step_waits_for_continue(client: TestClient) -> None:
    name = publish(
        client,
        doc("check vial", [{"id": "look", "kind": "pause", "message": "Is the vial in place?"}]),
    )
    run = submit(client, name)
    waiting = wait_for(client, run["id"], "waiting")
    assert waiting["prompt"]["text"] == "Is the vial in place?"
    assert client.post(f"/api/runs/{run['id']}/input", json={"value": 1}).status_code == 409
    client.post(f"/api/runs/{run['id']}/continue")
    wait_for(client, run["id"], "completed")


def test_disabled_steps_are_recorded_skipped(client: TestClient) -> None:
    name = publish(
        client,
        doc(
            "skips",
            [{"id": "off", "kind": "call", "target": "broken_pump.prime", "disabled": True}],
        ),
    )
    run = submit(client, name)
    wait_for(client, run["id"], "completed")
    assert [(s["path"], s["status"]) for s in steps(client, run["id"])] == [("off", "skipped")]


def test_a_runaway_loop_safety_pauses_its_workflow_until_cleared(client: TestClient) -> None:
    name = publish(
        client,
        doc(
            "runaway",
            [
                {
                    "id": "spin",
                    "kind": "while",
                    "condition": "True",
                    "max_iterations": 2,
                    "do": [{"id": "c", "kind": "comment", "text": "again"}],
                }
            ],
        ),
    )
    run = submit(client, name, on_error="fail")
    wait_for(client, run["id"], "failed")
    assert client.get(f"/api/workflows/{name}").json()["status"] == "paused_safety"
    refused = client.post("/api/runs", json={"workflow": name})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "WORKFLOW_SAFETY_PAUSED"
    assert client.post(f"/api/workflows/{name}/safety/clear").json()["status"] == "active"
    assert client.post(f"/api/workflows/{name}/safety/clear").status_code == 409
    assert client.post("/api/runs", json={"workflow": name}).status_code == 201


def test_three_failed_triggered_runs_in_a_row_safety_pause(client: TestClient, services) -> None:
    from labdeck.runtime.service import RunOptions

    name = publish(
        client, doc("fragile", [{"id": "p", "kind": "call", "target": "broken_pump.prime"}])
    )
    options = RunOptions(on_error="fail", continue_on_failure=True)
    for attempt in range(3):
        assert client.get(f"/api/workflows/{name}").json()["status"] == "active", attempt
        run = services.run_service.submit(
            workflow=name,
            version="active",
            mode={"repeat": 1},
            options=options,
            name=None,
            user=None,
            trigger="schedule",
        )
        wait_for(client, str(run.id), "failed")
    deadline = time.monotonic() + 5
    while client.get(f"/api/workflows/{name}").json()["status"] != "paused_safety":
        assert time.monotonic() < deadline
        time.sleep(0.02)
