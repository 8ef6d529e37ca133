"""The demo's ready-made workflows: valid on the demo deck, publishable, and they run."""

from __future__ import annotations

import copy

import pytest
from fastapi.testclient import TestClient

from labdeck.deck.bindings import Deck
from labdeck.demo.workflows import DEMO_WORKFLOWS, DYE_ABSORBANCE
from labdeck.workflow.model import WorkflowDocument
from labdeck.workflow.validate import validate_workflow
from tests.runtime.test_runs_api import publish, submit, wait_for


@pytest.mark.parametrize("document", DEMO_WORKFLOWS, ids=lambda d: d["name"])
def test_each_demo_workflow_validates_on_the_demo_deck_with_no_problems(
    document: dict[str, object], demo_deck: Deck
) -> None:
    parsed = WorkflowDocument.model_validate(copy.deepcopy(document))
    assert validate_workflow(parsed, demo_deck.schema) == []


def test_the_dye_workflow_makes_a_solution_and_reads_it(client: TestClient) -> None:
    name = publish(client, copy.deepcopy(DYE_ABSORBANCE))
    table = [
        {
            "amount_mg": 5,
            "volume_ml": 2,
            "solvent": "ethanol",
            "stir_rpm": 600,
            "temperature_c": 60,
        },
        {"amount_mg": 1, "volume_ml": 10},
    ]
    run = submit(client, name, mode={"table": table})
    done = wait_for(client, run["id"], "completed", "failed", "paused")
    assert done["status"] == "completed", done
    records = client.get(f"/api/runs/{run['id']}/steps").json()
    best, weak = records["samples"]
    # At the optimum (2.5 mg/mL, 60 °C, 600 rpm, ethanol) the reading is near the maximum 1.8.
    assert best["outputs"]["absorbance"] > 1.6
    assert weak["outputs"]["absorbance"] < best["outputs"]["absorbance"] / 2
    assert weak["params"]["solvent"] == "water"  # the default
    assert [s["path"] for s in records["steps"] if s["phase"] != "script"] == ["blank", "off"]
    status = client.post("/api/instruments/hotplate/status", json={"args": {}}).json()
    assert status["output"]["stir_rpm"] == 0  # cleanup switched the hotplate off
