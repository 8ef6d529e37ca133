"""Templates at start: created, draft updated, unchanged, failed; published versions untouched."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from labdeck.services import Services
from labdeck.workflow.templates import load_templates

DOC = {
    "format": "labdeck.workflow/1",
    "name": "tare and weigh",
    "script": [
        {"id": "tare", "kind": "call", "target": "balance.tare"},
        {"id": "weigh", "kind": "call", "target": "balance.weigh", "save": "mass"},
    ],
    "outputs": ["mass"],
}
PYTHON = """
def heat_and_stir(celsius: float = 60.0):
    hotplate.set_temperature(celsius=celsius)
    hotplate.stir(rpm=400)


def _helper():
    pass
"""


def write(folder: Path, name: str, content: str) -> None:
    (folder / name).write_text(content, encoding="utf-8")


def outcomes(services: Services, folder: Path) -> dict[str, str]:
    return {(o.workflow or o.file): o.outcome for o in load_templates(services.workflows, folder)}


def test_templates_are_created_then_left_alone_then_update_only_the_draft(
    services: Services, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, "weigh.json", json.dumps(DOC))
    write(tmp_path, "heat.py", PYTHON)
    write(tmp_path, "notes.txt", "not a template")
    with caplog.at_level(logging.INFO, logger="labdeck.workflow.templates"):
        assert outcomes(services, tmp_path) == {
            "tare and weigh": "created",
            "heat_and_stir": "created",
        }
    assert "template weigh.json: 'tare and weigh' created" in caplog.text
    assert outcomes(services, tmp_path) == {
        "tare and weigh": "unchanged",
        "heat_and_stir": "unchanged",
    }

    services.workflows.publish("tare and weigh", user="olga")
    changed = dict(DOC, description="now with a description")
    write(tmp_path, "weigh.json", json.dumps(changed))
    assert outcomes(services, tmp_path)["tare and weigh"] == "draft updated"
    view = services.workflows.get("tare and weigh")
    assert view.record.draft["description"] == "now with a description"
    assert view.record.active_version == 1
    version = services.workflows.version("tare and weigh", 1).record
    assert "description" not in version.document


def test_an_exported_script_is_a_template_without_its_helper_stubs(
    services: Services, tmp_path: Path
) -> None:
    from labdeck.workflow.model import WorkflowDocument
    from labdeck.workflow.render_python import render_python

    script = render_python(WorkflowDocument.model_validate(DOC), services.deck.schema)
    write(tmp_path, "exported.py", script)
    results = load_templates(services.workflows, tmp_path)
    assert [(o.workflow, o.outcome) for o in results] == [("tare_and_weigh", "created")]


def test_broken_templates_fail_with_a_reason_and_do_not_stop_the_others(
    services: Services, tmp_path: Path
) -> None:
    write(tmp_path, "a-broken.json", "{not json")
    write(tmp_path, "b-wrong.json", json.dumps({"hello": "world"}))
    write(tmp_path, "c-bad.py", "def broken(:\n")
    write(tmp_path, "d-good.json", json.dumps(DOC))
    results = {o.file: o for o in load_templates(services.workflows, tmp_path)}
    assert results["a-broken.json"].outcome == "failed"
    assert "not JSON" in results["a-broken.json"].detail
    assert results["b-wrong.json"].outcome == "failed"
    assert results["c-bad.py"].outcome == "failed"
    assert results["d-good.json"].outcome == "created"


def test_a_missing_folder_is_reported(services: Services, tmp_path: Path) -> None:
    [outcome] = load_templates(services.workflows, tmp_path / "nope")
    assert outcome.outcome == "failed"
