"""Replay: same version and inputs, or the active version with a parameter mapping; limits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labdeck.api import triggers as triggers_api
from labdeck.app import ROUTERS, create_app
from labdeck.errors import Conflict, InvalidInput, RateLimited
from labdeck.runtime.replay import Replayer
from labdeck.services import Services
from labdeck.store.repo_workflows import WorkflowRepository
from tests.api.test_errors_and_routes import assert_error_shape
from tests.runtime.test_runs_api import WORKFLOW, publish, submit, wait_for


def attach_replayer(services: Services, **limits: Any) -> Replayer:
    """The server's Replayer once services.py builds one; until then, one built here."""
    existing = getattr(services, "replayer", None)
    if existing is not None and not limits:
        return existing  # type: ignore[no-any-return]
    replayer = Replayer(
        services.run_service, services.run_service.runs, services.workflows, **limits
    )
    services.replayer = replayer  # type: ignore[attr-defined]
    return replayer


@pytest.fixture
def api(services: Services, operator_headers: dict[str, str]) -> Iterator[TestClient]:
    attach_replayer(services)
    app = create_app(services)
    if triggers_api.router not in ROUTERS:
        app.include_router(triggers_api.router)
    with TestClient(app, headers=operator_headers) as client:
        yield client


V2 = dict(
    WORKFLOW,
    parameters=[{"name": "dose_mg", "default": 5.0}, {"name": "label", "default": "plain"}],
    script=[
        {
            "id": "dose",
            "kind": "call",
            "target": "balance.dose_solid",
            "args": {"amount_mg": {"param": "dose_mg"}},
            "save": "mass",
        },
        {
            "id": "read",
            "kind": "call",
            "target": "spectrometer.measure",
            "save": ["absorbance", None],
        },
        {"id": "note", "kind": "comment", "text": "{label}: dosed {mass} mg"},
    ],
)


def publish_v2(api: TestClient, name: str) -> None:
    saved = api.put(f"/api/workflows/{name}/draft", json=dict(V2, name=name))
    assert saved.status_code == 200, saved.text
    assert saved.json()["problems"] == []
    assert api.post(f"/api/workflows/{name}/publish").json() == {"version": 2}


def replay(api: TestClient, run_id: str, **body: Any) -> Any:
    return api.post(f"/api/runs/{run_id}/replay", json=body)


def test_same_replays_the_version_mode_and_options_and_records_the_link(api: TestClient) -> None:
    name = publish(api, WORKFLOW)
    first = submit(api, name, mode={"table": [{"amount_mg": "2.5"}, {}]}, retries=2)
    wait_for(api, first["id"], "completed")
    publish_v2(api, name)  # a newer active version changes nothing for "same"
    response = replay(api, first["id"])
    assert response.status_code == 201, response.text
    again = response.json()
    assert again["replay_of"] == first["id"]
    assert again["version"] == 1
    assert again["mode"] == {"table": [{"amount_mg": 2.5}, {"amount_mg": 5.0}]}
    assert again["options"] == first["options"]
    assert again["trigger"] == {"kind": "replay", "by": "olga"}
    assert again["name"] == f"{first['name']} (replay of #{first['id']})"
    done = wait_for(api, again["id"], "completed", "failed")
    assert done["status"] == "completed"
    samples = api.get(f"/api/runs/{again['id']}/steps").json()["samples"]
    assert [s["params"] for s in samples] == [{"amount_mg": 2.5}, {"amount_mg": 5.0}]


def test_only_terminal_runs_are_replayed(api: TestClient) -> None:
    name = publish(api, WORKFLOW)
    api.post("/api/queue/pause")
    pending = submit(api, name)
    refused = replay(api, pending["id"])
    assert refused.status_code == 409
    assert_error_shape(refused.json())
    assert refused.json()["error"]["code"] == "INVALID_TRANSITION"
    assert refused.json()["error"]["detail"]["status"] == "pending"
    missing = replay(api, "999999")
    assert missing.status_code == 404
    assert_error_shape(missing.json())


def test_active_maps_renamed_parameters_and_refuses_unmapped_ones(api: TestClient) -> None:
    name = publish(api, WORKFLOW)
    first = submit(api, name, mode={"table": [{"amount_mg": 3}, {"amount_mg": 4}]})
    wait_for(api, first["id"], "completed")
    publish_v2(api, name)

    unmapped = replay(api, first["id"], version="active")
    assert unmapped.status_code == 409
    assert_error_shape(unmapped.json())
    error = unmapped.json()["error"]
    assert error["code"] == "UNMAPPED_PARAMETERS"
    assert error["detail"]["unmapped"] == ["amount_mg"]
    assert "amount_mg" in error["message"]

    wrong = replay(api, first["id"], version="active", mapping={"amount_mg": "nope", "x": "y"})
    assert wrong.status_code == 422
    fields = {f["field"] for f in wrong.json()["error"]["detail"]["fields"]}
    assert fields == {"mapping.amount_mg", "mapping.x"}

    mapped = replay(api, first["id"], version="active", mapping={"amount_mg": "dose_mg"})
    assert mapped.status_code == 201, mapped.text
    run = mapped.json()
    assert run["version"] == 2
    assert run["mode"] == {
        "table": [{"dose_mg": 3.0, "label": "plain"}, {"dose_mg": 4.0, "label": "plain"}]
    }
    assert wait_for(api, run["id"], "completed", "failed")["status"] == "completed"

    dropped = replay(api, first["id"], version="active", mapping={"amount_mg": None})
    assert dropped.status_code == 201, dropped.text
    assert dropped.json()["mode"]["table"][0] == {"dose_mg": 5.0, "label": "plain"}


def test_a_repeat_run_replays_on_the_active_version_with_its_defaults(api: TestClient) -> None:
    name = publish(api, WORKFLOW)
    first = submit(api, name, mode={"repeat": 2})
    wait_for(api, first["id"], "completed")
    publish_v2(api, name)
    again = replay(api, first["id"], version="active")
    assert again.status_code == 201, again.text
    assert (again.json()["version"], again.json()["mode"]) == (2, {"repeat": 2})


def test_replay_chains_stop_at_depth_five(api: TestClient) -> None:
    name = publish(api, WORKFLOW)
    api.post("/api/queue/pause")  # runs stay pending, and a cancelled one is terminal at once
    run = submit(api, name)
    chain = [run["id"]]
    for _ in range(5):
        api.post(f"/api/runs/{chain[-1]}/cancel", json={})
        response = replay(api, chain[-1])
        assert response.status_code == 201, response.text
        chain.append(response.json()["id"])
    api.post(f"/api/runs/{chain[-1]}/cancel", json={})
    refused = replay(api, chain[-1])
    assert refused.status_code == 409
    assert_error_shape(refused.json())
    assert refused.json()["error"]["code"] == "REPLAY_LIMIT"
    assert refused.json()["error"]["detail"] == {"depth": 5, "max_depth": 5}
    assert replay(api, chain[2]).status_code == 201  # an earlier link may branch


def test_a_safety_paused_workflow_refuses_replays(api: TestClient, services: Services) -> None:
    name = publish(api, WORKFLOW)
    api.post("/api/queue/pause")
    run = submit(api, name)
    api.post(f"/api/runs/{run['id']}/cancel", json={})
    WorkflowRepository(services.engine).set_status(int(run["workflow"]), "paused_safety")
    for version in ("same", "active"):
        refused = replay(api, run["id"], version=version)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "WORKFLOW_SAFETY_PAUSED"


def test_at_most_twenty_replays_a_minute(
    api: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    replayer = attach_replayer(services, clock=lambda: now[0])
    name = publish(api, WORKFLOW)
    api.post("/api/queue/pause")
    run = submit(api, name)
    api.post(f"/api/runs/{run['id']}/cancel", json={})
    run_id = int(run["id"])
    for _ in range(19):
        replayer.replay(run_id, version="same", user="olga")
        now[0] += 1
    # Refusals do not use up the budget, also when submit is the one refusing.
    with pytest.raises(InvalidInput):
        replayer.replay(run_id, version="active", mapping={"amount_mg": "nope"}, user="olga")
    with monkeypatch.context() as patched:
        patched.setattr(services.run_service, "submit", refuse)
        with pytest.raises(Conflict):
            replayer.replay(run_id, version="same", user="olga")
    replayer.replay(run_id, version="same", user="olga")
    limited = replay(api, run["id"])
    assert limited.status_code == 429
    assert_error_shape(limited.json())
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert limited.json()["error"]["retryable"] is True
    now[0] = 1000.0 + 60  # the first replay leaves the window
    replayer.replay(run_id, version="same", user="olga")
    with pytest.raises(RateLimited):
        replayer.replay(run_id, version="same", user="olga")


def refuse(**_: Any) -> Any:
    raise Conflict("refused by submit")
