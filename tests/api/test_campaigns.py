"""The campaign API: optimizers, templates, history from CSV, a campaign run's view, auth."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labdeck.app import create_app
from labdeck.deck.bindings import Deck
from labdeck.demo.workflows import DYE_ABSORBANCE
from labdeck.services import Services
from tests.api.test_errors_and_routes import assert_error_shape
from tests.optimize.fakes import FakeFactory, install_fake
from tests.runtime.test_campaign_runs import fake_campaign, points
from tests.runtime.test_runs_api import WORKFLOW, publish, submit, wait_for


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeFactory:
    return install_fake(monkeypatch)


@pytest.fixture
def dye(client: TestClient) -> str:
    return publish(client, copy.deepcopy(DYE_ABSORBANCE))


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert_error_shape(response.json())
    found: dict[str, Any] = response.json()["error"]
    return found


# --- optimizers and templates ------------------------------------------------------------------


def test_optimizers_lists_the_installed_ones_and_the_default(
    client: TestClient, viewer_headers: dict[str, str]
) -> None:
    response = client.get("/api/optimizers", headers=viewer_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["default"] == "optuna"
    names = [o["name"] for o in body["optimizers"]]
    assert "optuna" in names
    optuna = body["optimizers"][names.index("optuna")]
    assert set(optuna) >= {
        "label",
        "description",
        "parameter_types",
        "batch",
        "importance",
        "settings_schema",
    }


def test_the_template_of_a_version(
    client: TestClient, dye: str, viewer_headers: dict[str, str]
) -> None:
    response = client.get(f"/api/workflows/{dye}/campaign-template", headers=viewer_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["name"] for p in body["parameters"]] == [
        "amount_mg",
        "volume_ml",
        "solvent",
        "stir_rpm",
        "temperature_c",
    ]
    assert [o["name"] for o in body["objectives"]] == ["absorbance"]
    assert body["budget"] == 20
    assert client.get(f"/api/workflows/{dye}/campaign-template?version=1").json() == body
    missing_version = client.get(f"/api/workflows/{dye}/campaign-template?version=9")
    error_of(missing_version, 404)
    error_of(client.get("/api/workflows/nope/campaign-template"), 404)
    error_of(client.get(f"/api/workflows/{dye}/campaign-template?version=latest"), 422)


def test_a_template_needs_a_published_version(client: TestClient) -> None:
    client.post("/api/workflows", json=dict(copy.deepcopy(DYE_ABSORBANCE), name="draft-dye"))
    error = error_of(client.get("/api/workflows/draft-dye/campaign-template"), 409)
    assert error["code"] == "NOT_PUBLISHED"


# --- history from CSV ----------------------------------------------------------------------------


def post_csv(
    client: TestClient,
    text: str | bytes,
    workflow: str,
    objectives: str = "absorbance",
    **extra: Any,
) -> Any:
    content = text.encode() if isinstance(text, str) else text
    return client.post(
        "/api/campaigns/history.csv",
        files={"file": ("history.csv", content, "text/csv")},
        data={"workflow": workflow, "objectives": objectives, **extra},
    )


def test_a_history_csv_becomes_converted_rows(client: TestClient, dye: str) -> None:
    text = (
        "amount_mg,solvent,stir_rpm,operator,absorbance,peak_nm\n"
        "2.5,ETHANOL,600,ann,0.41,451\n"
        "4,water,,bob,,452\n"
    )
    response = post_csv(client, text, dye, objectives="absorbance, peak_nm", version="1")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "rows": [
            {
                "amount_mg": 2.5,
                "solvent": "ethanol",
                "stir_rpm": 600,
                "absorbance": 0.41,
                "peak_nm": 451.0,
            },
            {
                "amount_mg": 4.0,
                "solvent": "water",
                "stir_rpm": 400,
                "absorbance": None,
                "peak_nm": 452.0,
            },
        ],
        "ignored_columns": ["operator"],
    }


def test_a_history_csv_without_an_objective_column_is_refused(client: TestClient, dye: str) -> None:
    response = post_csv(client, "amount_mg,peak_nm\n1,450\n", dye, objectives="absorbance,peak_nm")
    error = error_of(response, 422)
    assert "absorbance" in error["message"]
    assert error["detail"]["fields"][0]["field"] == "header"
    no_parameter = post_csv(client, "colour,absorbance\nred,1\n", dye)
    assert "no column for a parameter" in error_of(no_parameter, 422)["message"]
    not_an_output = post_csv(client, "amount_mg,mass\n1,2\n", dye, objectives="mass")
    assert error_of(not_an_output, 422)["detail"]["fields"][0]["field"] == "objectives"


def test_bad_cells_of_a_history_csv_are_refused_with_their_row(
    client: TestClient, dye: str
) -> None:
    text = "amount_mg,solvent,absorbance\n1,water,0.2\nlots,water,0.3\n2,oil,high\n"
    error = error_of(post_csv(client, text, dye), 422)
    problems = {f["field"]: f["message"] for f in error["detail"]["fields"]}
    assert set(problems) == {"rows[2].amount_mg", "rows[3].solvent", "rows[3].absorbance"}
    assert problems["rows[2].amount_mg"].startswith("row 2, amount_mg")
    assert "row 3" in problems["rows[3].absorbance"]


def test_history_csv_limits(client: TestClient, dye: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from labdeck.runtime import campaign_service

    too_many = "amount_mg,absorbance\n" + "1,0.1\n" * 10_001
    assert "at most 10000" in error_of(post_csv(client, too_many, dye), 422)["message"]
    monkeypatch.setattr(campaign_service, "MAX_CSV_BYTES", 100)
    big = "amount_mg,absorbance\n" + "1,0.1\n" * 30
    assert error_of(post_csv(client, big, dye), 413)["code"] == "TOO_LARGE"
    error_of(post_csv(client, "amount_mg,absorbance\n1,1\n", "nope"), 404)
    not_text = error_of(post_csv(client, b"\xff\xfe\x00", dye), 422)
    assert "UTF-8" in not_text["message"]


# --- a campaign run's view -----------------------------------------------------------------------

TWO_OBJECTIVES = [{"name": "absorbance"}, {"name": "peak_nm", "direction": "minimize"}]
HISTORY = [
    {"amount_mg": 10.0, "solvent": "ethanol", "absorbance": 0.5, "peak_nm": 450.0},
    {"amount_mg": 20.0, "solvent": "ethanol", "absorbance": 0.9, "peak_nm": 455.0},
    {"amount_mg": 30.0, "solvent": "ethanol", "absorbance": 0.4, "peak_nm": 445.0},
    {"amount_mg": 40.0, "solvent": "ethanol", "absorbance": 0.5, "peak_nm": 452.0},
    {"amount_mg": 50.0, "solvent": "ethanol", "absorbance": None, "peak_nm": 440.0},
]


def finished_campaign(client: TestClient, fake: FakeFactory) -> dict[str, Any]:
    name = publish(client, copy.deepcopy(DYE_ABSORBANCE))
    fake.script = points(100)  # 100 mg in 5 mL: far too concentrated, it reads almost nothing
    config = fake_campaign(1, objectives=TWO_OBJECTIVES, history=HISTORY)
    run = submit(client, name, mode={"campaign": config})
    done = wait_for(client, run["id"], "completed", "failed", "paused", timeout=30)
    assert done["status"] == "completed", done
    return done


def test_the_view_of_a_campaign_run(
    client: TestClient, fake: FakeFactory, viewer_headers: dict[str, str]
) -> None:
    done = finished_campaign(client, fake)
    response = client.get(f"/api/runs/{done['id']}/campaign", headers=viewer_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["run"], body["status"], body["optimizer"], body["budget"]) == (
        done["id"],
        "completed",
        "fake",
        1,
    )
    assert [p["name"] for p in body["parameters"]] == ["amount_mg", "solvent"]
    assert [o["name"] for o in body["objectives"]] == ["absorbance", "peak_nm"]
    observations = body["observations"]
    assert [o["index"] for o in observations] == list(range(6))
    assert observations[0] == {
        "index": 0,
        "source": "history",
        "iteration": None,
        "sample": None,
        "params": {"amount_mg": 10.0, "solvent": "ethanol"},
        "values": {"absorbance": 0.5, "peak_nm": 450.0},
        "failed": False,
    }
    assert (observations[4]["failed"], observations[4]["values"]) == (True, {"peak_nm": 440.0})
    last = observations[5]
    assert (last["source"], last["iteration"], last["sample"]) == ("run", 1, 0)
    assert last["params"] == {"amount_mg": 100, "solvent": "ethanol"}
    assert last["values"]["absorbance"] < 0.1
    assert body["best"]["absorbance"] == {
        "index": 1,
        "value": 0.9,
        "params": {"amount_mg": 20.0, "solvent": "ethanol"},
    }
    # The failed experiment's 440 nm does not count: it did not give every objective.
    assert body["best"]["peak_nm"]["index"] == 2
    assert body["best_so_far"]["absorbance"] == [0.5, 0.9, 0.9, 0.9, 0.9, 0.9]
    assert body["best_so_far"]["peak_nm"] == [450.0, 450.0, 445.0, 445.0, 445.0, 445.0]
    assert body["pareto"] == [0, 1, 2]
    assert body["importance"] == {"amount_mg": 0.5, "solvent": 0.5}
    assert body["stopped_reason"] is None


def test_importance_is_computed_once_per_observation_count(
    client: TestClient, fake: FakeFactory
) -> None:
    done = finished_campaign(client, fake)
    for _ in range(3):
        assert client.get(f"/api/runs/{done['id']}/campaign").json()["importance"]
    assert fake.importance_calls == 1


def test_one_objective_has_no_pareto_front_and_no_history_is_fine(
    client: TestClient, fake: FakeFactory
) -> None:
    name = publish(client, copy.deepcopy(DYE_ABSORBANCE))
    fake.script = points(10)
    run = submit(client, name, mode={"campaign": fake_campaign(1)})
    wait_for(client, run["id"], "completed")
    body = client.get(f"/api/runs/{run['id']}/campaign").json()
    assert body["pareto"] is None
    assert body["importance"] is None  # one experiment says nothing about importance
    assert len(body["best_so_far"]["absorbance"]) == 1


def test_the_view_is_rebuilt_from_records_after_a_restart(
    client: TestClient,
    fake: FakeFactory,
    make_services: Callable[..., Services],
    demo_deck: Deck,
    operator_headers: dict[str, str],
) -> None:
    done = finished_campaign(client, fake)
    before = client.get(f"/api/runs/{done['id']}/campaign").json()
    restarted = make_services(demo_deck)
    with TestClient(create_app(restarted), headers=operator_headers) as again:
        after = again.get(f"/api/runs/{done['id']}/campaign").json()
    assert after == before


def test_a_run_that_is_not_a_campaign_has_no_campaign_view(client: TestClient) -> None:
    name = publish(client, WORKFLOW)
    run = submit(client, name, mode={"repeat": 1})
    error = error_of(client.get(f"/api/runs/{run['id']}/campaign"), 404)
    assert error["code"] == "NOT_A_CAMPAIGN"
    assert error_of(client.get("/api/runs/999999/campaign"), 404)["code"] == "NOT_FOUND"


# --- auth --------------------------------------------------------------------------------------


def test_viewers_read_but_do_not_start_or_upload(
    client: TestClient, dye: str, viewer_headers: dict[str, str]
) -> None:
    config = fake_campaign(1)
    started = client.post(
        "/api/runs", json={"workflow": dye, "mode": {"campaign": config}}, headers=viewer_headers
    )
    assert error_of(started, 403)["code"] == "ROLE_REQUIRED"
    uploaded = client.post(
        "/api/campaigns/history.csv",
        files={"file": ("h.csv", b"amount_mg,absorbance\n1,1\n", "text/csv")},
        data={"workflow": dye, "objectives": "absorbance"},
        headers=viewer_headers,
    )
    assert error_of(uploaded, 403)["code"] == "ROLE_REQUIRED"
    assert client.get("/api/optimizers", headers=viewer_headers).status_code == 200
    anonymous = TestClient(client.app)
    assert anonymous.get("/api/optimizers").status_code == 401


def test_a_bad_campaign_is_a_422_before_anything_is_queued(client: TestClient, dye: str) -> None:
    config = {
        "parameters": [
            {"name": "amount_mg", "type": "float", "low": 1, "high": 20},
            {"name": "volume_ml", "type": "float", "low": 1, "high": 50},
        ],
        "objectives": [{"name": "absorbance"}],
        "budget": 3,
    }
    response = client.post("/api/runs", json={"workflow": dye, "mode": {"campaign": config}})
    error = error_of(response, 422)
    assert [f["field"] for f in error["detail"]["fields"]] == ["mode.campaign.parameters[1].high"]
    assert client.get("/api/runs").json() == []
