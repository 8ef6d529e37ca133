"""Campaign runs through the queue on the demo deck: budget, batches, early stop, failures,
warm start and replays that continue a campaign."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labdeck.demo.workflows import DYE_ABSORBANCE
from labdeck.settings import get_settings
from tests.optimize.fakes import FakeFactory, install_fake
from tests.runtime.test_runs_api import publish, submit, wait_for

ENDED = ("completed", "failed", "cancelled", "paused")


@pytest.fixture(autouse=True)
def _faster_bench(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Heating and pumping take a thousandth of real time: campaigns make many samples."""
    monkeypatch.setenv("LABDECK_DEMO_TIME_SCALE", "0.001")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeFactory:
    return install_fake(monkeypatch)


@pytest.fixture
def dye(client: TestClient) -> str:
    return publish(client, copy.deepcopy(DYE_ABSORBANCE))


def template(client: TestClient, workflow: str, **changes: Any) -> dict[str, Any]:
    response = client.get(f"/api/workflows/{workflow}/campaign-template")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    found.pop("notes")
    found.update(changes)
    return found


def run_campaign(
    client: TestClient, workflow: str, config: dict[str, Any], **body: Any
) -> dict[str, Any]:
    run = submit(client, workflow, mode={"campaign": config}, **body)
    return wait_for(client, run["id"], *ENDED, timeout=60)


def samples(client: TestClient, run_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(f"/api/runs/{run_id}/steps").json()["samples"]
    return found


def view(client: TestClient, run_id: str) -> dict[str, Any]:
    response = client.get(f"/api/runs/{run_id}/campaign")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_an_optuna_campaign_runs_its_budget_inside_the_ranges(client: TestClient, dye: str) -> None:
    config = template(client, dye, budget=6, initial_random=3, seed=7)
    done = run_campaign(client, dye, config)
    assert done["status"] == "completed", done
    assert done["progress"] == {"iteration": 6, "iterations": 6, "done": 6}
    made = samples(client, done["id"])
    assert [s["sample"] for s in made] == list(range(6))
    for sample in made:
        params = sample["params"]
        assert 0.1 <= params["amount_mg"] <= 100
        assert 0.02 <= params["volume_ml"] <= 20
        assert params["solvent"] in ("water", "methanol", "ethanol", "acetonitrile")
        assert isinstance(params["stir_rpm"], int)
        assert 0 <= params["stir_rpm"] <= 1500
        assert 20 <= params["temperature_c"] <= 150
        assert isinstance(sample["outputs"]["absorbance"], float)
    shown = view(client, done["id"])
    assert [o["source"] for o in shown["observations"]] == ["run"] * 6
    assert len({o["params"]["amount_mg"] for o in shown["observations"]}) == 6


def test_batches_ask_the_optimizer_for_several_experiments_at_once(
    client: TestClient, dye: str
) -> None:
    config = template(client, dye, budget=5, initial_random=2, seed=3)
    done = run_campaign(client, dye, config, batch_size=3)
    assert done["status"] == "completed", done
    assert done["progress"] == {"iteration": 2, "iterations": 2, "done": 2}
    made = samples(client, done["id"])
    assert [(s["iteration"], s["sample"]) for s in made] == [(1, 0), (1, 1), (1, 2), (2, 3), (2, 4)]
    steps = client.get(f"/api/runs/{done['id']}/steps").json()["steps"]
    reads = [(s["iteration"], s["sample"]) for s in steps if s["path"] == "read"]
    assert reads == [(1, 0), (1, 1), (1, 2), (2, 3), (2, 4)]


def test_a_threshold_reached_stops_the_campaign_and_says_why(client: TestClient, dye: str) -> None:
    objectives = [{"name": "absorbance", "direction": "maximize", "threshold": -1.0}]
    config = template(client, dye, budget=5, objectives=objectives, seed=1)
    done = run_campaign(client, dye, config)
    assert done["status"] == "completed", done
    assert len(samples(client, done["id"])) == 1
    reason = view(client, done["id"])["stopped_reason"]
    assert reason is not None
    assert "reached its threshold -1" in reason
    assert "after 1 of 5 experiments" in reason
    assert reason in client.get(f"/api/runs/{done['id']}/log").text


FAILING_ABOVE_50: dict[str, Any] = dict(
    copy.deepcopy(DYE_ABSORBANCE),
    name="dye-with-a-broken-pump",
    script=[
        {
            "id": "check",
            "kind": "if",
            "condition": "amount_mg > 50",
            "then": [{"id": "prime", "kind": "call", "target": "broken_pump.prime"}],
        },
        *copy.deepcopy(DYE_ABSORBANCE["script"]),
    ],
)
UNMEASURED_ABOVE_50: dict[str, Any] = dict(
    copy.deepcopy(DYE_ABSORBANCE),
    name="dye-read-below-50",
    outputs=["absorbance"],
    script=[
        *copy.deepcopy(DYE_ABSORBANCE["script"][:-1]),
        {
            "id": "maybe",
            "kind": "if",
            "condition": "amount_mg <= 50",
            "then": [copy.deepcopy(DYE_ABSORBANCE["script"][-1])],
        },
    ],
)


def fake_campaign(budget: int, **changes: Any) -> dict[str, Any]:
    return {
        "optimizer": "fake",
        "parameters": [
            {"name": "amount_mg", "type": "float", "low": 1, "high": 100},
            {"name": "solvent", "type": "choice", "choices": ["ethanol"]},
        ],
        "objectives": [{"name": "absorbance"}],
        "budget": budget,
        **changes,
    }


def points(*amounts: float) -> list[dict[str, Any]]:
    return [{"amount_mg": amount, "solvent": "ethanol"} for amount in amounts]


def test_an_experiment_without_a_measurement_is_told_as_failed(
    client: TestClient, fake: FakeFactory
) -> None:
    name = publish(client, copy.deepcopy(UNMEASURED_ABOVE_50))
    fake.script = points(60, 10)
    done = run_campaign(client, name, fake_campaign(2))
    assert done["status"] == "completed", done
    told = fake.last.observed
    assert [(o.params["amount_mg"], o.failed) for o in told] == [(60, True), (10, False)]
    shown = view(client, done["id"])["observations"]
    assert [(o["failed"], list(o["values"])) for o in shown] == [
        (True, []),
        (False, ["absorbance"]),
    ]


def test_history_warm_starts_the_campaign_and_is_not_suggested_again(
    client: TestClient, dye: str
) -> None:
    history = [
        {
            "amount_mg": amount,
            "volume_ml": 2.0,
            "solvent": "ethanol",
            "stir_rpm": 600,
            "temperature_c": 60.0,
            "absorbance": value,
        }
        for amount, value in ((1.0, 0.6), (5.0, 1.79), (9.0, 1.2))
    ]
    objectives = [{"name": "absorbance"}]
    config = template(
        client, dye, budget=4, initial_random=0, seed=5, history=history, objectives=objectives
    )
    done = run_campaign(client, dye, config)
    assert done["status"] == "completed", done
    assert len(samples(client, done["id"])) == 4  # history does not count in the budget
    shown = view(client, done["id"])
    sources = [(o["source"], o["iteration"], o["sample"]) for o in shown["observations"]]
    assert sources[:3] == [("history", None, None)] * 3
    assert [s[0] for s in sources[3:]] == ["run"] * 4
    assert shown["observations"][1]["params"]["amount_mg"] == 5.0
    old = [tuple(sorted(o["params"].items())) for o in shown["observations"][:3]]
    new = [tuple(sorted(o["params"].items())) for o in shown["observations"][3:]]
    assert not set(old) & set(new)


def test_a_replay_continues_a_failed_campaign_with_the_budget_left(
    client: TestClient, fake: FakeFactory
) -> None:
    name = publish(client, copy.deepcopy(FAILING_ABOVE_50))
    fake.script = points(10, 20, 60)
    history = [{"amount_mg": 5.0, "solvent": "ethanol", "absorbance": 0.5}]
    failed = run_campaign(client, name, fake_campaign(5, history=history), on_error="fail")
    assert failed["status"] == "failed", failed
    assert len(samples(client, failed["id"])) == 2  # the third failed before it was measured

    fake.script = points(30, 40, 45)
    response = client.post(f"/api/runs/{failed['id']}/replay", json={})
    assert response.status_code == 201, response.text
    replay = response.json()
    config = replay["mode"]["campaign"]
    assert config["budget"] == 3
    assert [row["amount_mg"] for row in config["history"]] == [5.0, 10.0, 20.0]
    client.post("/api/queue/resume")  # a failed run paused the queue for a person
    done = wait_for(client, replay["id"], *ENDED, timeout=60)
    assert done["status"] == "completed", done
    # The new optimizer was told all three earlier experiments before it suggested anything.
    first_kind, first_told = fake.last.events[0]
    assert first_kind == "observe"
    assert [o.params["amount_mg"] for o in first_told] == [5.0, 10.0, 20.0]
    assert [s["params"]["amount_mg"] for s in samples(client, done["id"])] == [30, 40, 45]
    shown = view(client, done["id"])
    assert [o["source"] for o in shown["observations"]] == ["history"] * 3 + ["run"] * 3


def test_a_replay_of_a_completed_campaign_starts_afresh_knowing_every_experiment(
    client: TestClient, dye: str
) -> None:
    config = template(client, dye, budget=4, initial_random=2, seed=11)
    first = run_campaign(client, dye, config)
    assert first["status"] == "completed", first
    response = client.post(f"/api/runs/{first['id']}/replay", json={"version": "active"})
    assert response.status_code == 201, response.text
    replay = response.json()
    assert replay["mode"]["campaign"]["budget"] == 4
    assert len(replay["mode"]["campaign"]["history"]) == 4
    done = wait_for(client, replay["id"], *ENDED, timeout=60)
    assert done["status"] == "completed", done
    before = {tuple(sorted(s["params"].items())) for s in samples(client, first["id"])}
    after = {tuple(sorted(s["params"].items())) for s in samples(client, done["id"])}
    assert len(after) == 4
    assert not before & after


def test_the_run_stores_the_campaign_as_it_was_checked(
    client: TestClient, dye: str, fake: FakeFactory
) -> None:
    fake.script = points(10)
    config = {
        **fake_campaign(1),
        "parameters": [
            {"name": "amount_mg", "type": "float", "low": 1, "high": 100},
            {"name": "solvent", "type": "choice", "choices": ["ETHANOL", "water"]},
            {"name": "stir_rpm", "type": "fixed", "value": "600"},
        ],
        "history": [{"amount_mg": "5", "solvent": "WATER", "absorbance": "0.25"}],
        "notes": {"stir_rpm": "kept at 600"},
    }
    run = submit(client, dye, mode={"campaign": config})
    stored = run["mode"]["campaign"]
    assert stored["parameters"][1]["choices"] == ["ethanol", "water"]
    assert stored["parameters"][2]["value"] == 600
    assert stored["history"] == [
        {"amount_mg": 5.0, "solvent": "water", "stir_rpm": 600, "absorbance": 0.25}
    ]
    assert "notes" not in stored
    done = wait_for(client, run["id"], *ENDED, timeout=30)
    assert done["status"] == "completed", done
    assert samples(client, run["id"])[0]["params"]["stir_rpm"] == 600


def test_a_replay_on_a_renamed_version_follows_the_mapping(
    client: TestClient, dye: str, fake: FakeFactory
) -> None:
    fake.script = points(10, 20)
    first = run_campaign(client, dye, fake_campaign(2))
    assert first["status"] == "completed", first
    renamed = copy.deepcopy(DYE_ABSORBANCE)
    renamed["parameters"][0]["name"] = "dose_mg"
    renamed["script"][2]["args"]["amount_mg"] = {"param": "dose_mg"}
    saved = client.put(f"/api/workflows/{dye}/draft", json=renamed)
    assert saved.json()["problems"] == []
    assert client.post(f"/api/workflows/{dye}/publish").json() == {"version": 2}

    fake.script = [{"dose_mg": 30.0, "solvent": "ethanol"}]
    response = client.post(
        f"/api/runs/{first['id']}/replay",
        json={"version": "active", "mapping": {"amount_mg": "dose_mg"}},
    )
    assert response.status_code == 201, response.text
    config = response.json()["mode"]["campaign"]
    assert config["parameters"][0]["name"] == "dose_mg"
    assert [row["dose_mg"] for row in config["history"]] == [10, 20]
    done = wait_for(client, response.json()["id"], *ENDED, timeout=30)
    assert done["status"] == "completed", done
    assert samples(client, done["id"])[0]["params"]["dose_mg"] == 30.0
