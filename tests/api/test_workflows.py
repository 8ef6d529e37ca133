"""The workflow library over HTTP: drafts, immutable versions, library operations, drift."""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from labdeck.app import create_app
from labdeck.deck.introspect import introspect_deck
from labdeck.deck.load import load_deck_module
from labdeck.services import Services
from tests.conftest import bearer_for
from tests.workflow.examples import DEMO_WORKFLOW, demo_workflow


def demo(**changes: object) -> dict:
    return demo_workflow(**changes)


def create(client: TestClient, document: dict | None = None) -> dict:
    response = client.post("/api/workflows", json=document or demo())
    assert response.status_code == 201, response.text
    return response.json()


def test_create_get_and_a_clean_draft_has_no_problems(client: TestClient) -> None:
    created = create(client)
    assert created["name"] == "dose-and-measure"
    assert created["problems"] == []
    assert created["active_version"] is None
    assert created["draft"]["script"][1]["else"][0]["id"] == "warn"
    by_id = client.get(f"/api/workflows/{created['id']}").json()
    by_name = client.get("/api/workflows/dose-and-measure").json()
    assert by_id == by_name
    assert client.get("/api/workflows/nope").status_code == 404


def test_structurally_invalid_documents_are_422_with_fields(client: TestClient) -> None:
    no_format = {k: v for k, v in demo().items() if k != "format"}
    response = client.post("/api/workflows", json=no_format)
    assert response.status_code == 422
    assert "labdeck.workflow/1" in json.dumps(response.json())
    unknown = client.post("/api/workflows", json=demo(colour="red"))
    assert unknown.status_code == 422
    assert unknown.json()["error"]["detail"]["fields"][0]["field"] == "colour"


def test_names_are_unique(client: TestClient) -> None:
    create(client)
    again = client.post("/api/workflows", json=demo())
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "NAME_TAKEN"


def test_drafts_save_with_problems_and_publishing_refuses_them(client: TestClient) -> None:
    created = create(client)
    broken = demo()
    broken["script"][0]["target"] = "balance.dose_lots"
    saved = client.put(f"/api/workflows/{created['id']}/draft", json=broken)
    assert saved.status_code == 200
    problems = saved.json()["problems"]
    assert [p["step"] for p in problems] == ["dose"]
    assert client.get(f"/api/workflows/{created['id']}").json()["draft"] == broken
    refused = client.post(f"/api/workflows/{created['id']}/publish")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "WORKFLOW_INVALID"
    assert refused.json()["error"]["detail"]["fields"][0]["step"] == "dose"
    assert client.get(f"/api/workflows/{created['id']}/versions").json() == []


def test_versions_are_immutable_and_editing_after_publish_edits_the_draft(
    client: TestClient, services: Services
) -> None:
    created = create(client)
    first = client.post(f"/api/workflows/{created['id']}/publish")
    assert first.status_code == 201
    assert first.json() == {"version": 1}
    v1 = client.get(f"/api/workflows/{created['id']}/versions/1").json()
    assert v1["published_by"] == "olga"
    assert v1["deck_fingerprint"] == services.deck.fingerprint

    edited = demo(description="Now with a longer measurement.")
    edited["script"][2]["args"] = {"integration_ms": 500}
    client.put(f"/api/workflows/{created['id']}/draft", json=edited)
    assert client.get(f"/api/workflows/{created['id']}/versions/1").json() == v1
    assert client.post(f"/api/workflows/{created['id']}/publish").json() == {"version": 2}
    versions = client.get(f"/api/workflows/{created['id']}/versions").json()
    assert [v["number"] for v in versions] == [1, 2]
    assert versions[0]["document"] == v1["document"]
    assert versions[1]["document"]["script"][2]["args"] == {"integration_ms": 500}
    assert client.get(f"/api/workflows/{created['id']}").json()["active_version"] == 2

    nothing_new = client.post(f"/api/workflows/{created['id']}/publish")
    assert nothing_new.status_code == 409
    assert nothing_new.json()["error"]["code"] == "NO_CHANGES"
    assert client.get(f"/api/workflows/{created['id']}/versions/9").status_code == 404

    # Not even SQL can change a published version.
    for statement in (
        "UPDATE workflow_versions SET document = '{}'",
        "DELETE FROM workflow_versions",
    ):
        with pytest.raises(Exception, match="immutable"), services.engine.begin() as connection:
            connection.execute(text(statement))


def test_library_search_duplicate_archive_restore(client: TestClient) -> None:
    create(client)
    create(client, demo(name="wash lines", description="Rinse", tags=["maintenance"], script=[]))

    def names(**query: str) -> list[str]:
        return [w["name"] for w in client.get("/api/workflows", params=query).json()]

    assert names() == ["dose-and-measure", "wash lines"]
    assert names(q="RINSE") == ["wash lines"]
    assert names(tag="screening") == ["dose-and-measure"]
    assert names(deck="labdeck.demo.deck") == ["dose-and-measure", "wash lines"]
    assert names(deck="another") == []

    copy_ = client.post("/api/workflows/dose-and-measure/duplicate", json={"name": "dose v2"})
    assert copy_.status_code == 201
    assert copy_.json()["draft"]["script"] == DEMO_WORKFLOW["script"]
    assert (
        client.post(
            "/api/workflows/dose-and-measure/duplicate", json={"name": "wash lines"}
        ).status_code
        == 409
    )

    assert client.post("/api/workflows/wash lines/archive").json()["status"] == "archived"
    assert names() == ["dose v2", "dose-and-measure"]
    assert names(status="archived") == ["wash lines"]
    blocked = client.put("/api/workflows/wash lines/draft", json=demo(name="wash lines"))
    assert blocked.status_code == 409
    assert client.post("/api/workflows/wash lines/restore").json()["status"] == "active"


def test_export_then_import_round_trips(client: TestClient) -> None:
    created = create(client)
    client.post(f"/api/workflows/{created['id']}/publish")
    exported = client.get(f"/api/workflows/{created['id']}/export", params={"version": 1})
    assert exported.status_code == 200
    assert 'filename="dose-and-measure-v1.json"' in exported.headers["content-disposition"]
    document = exported.json()
    document["name"] = "imported copy"
    imported = client.post("/api/workflows/import", json=document)
    assert imported.status_code == 201
    body = imported.json()
    assert body["report"] == []
    assert body["draft"] == dict(DEMO_WORKFLOW, name="imported copy")
    nonsense = client.post("/api/workflows/import", json={"what": "ever"})
    assert nonsense.status_code == 422
    assert nonsense.json()["error"]["code"] == "IMPORT_FAILED"


def test_python_export_of_a_version_compiles(client: TestClient) -> None:
    created = create(client)
    client.post(f"/api/workflows/{created['id']}/publish")
    response = client.get(f"/api/workflows/{created['id']}/versions/1/python")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/x-python")
    compile(response.text, "dose-and-measure.py", "exec")
    assert "spectrometer.measure(" in response.text


def test_preview_checks_an_unsaved_document_without_saving_it(client: TestClient) -> None:
    broken = demo()
    broken["script"][2]["save"] = ["absorbance"]  # measure returns two values
    response = client.post("/api/workflows/preview", json=broken)
    assert response.status_code == 200
    body = response.json()
    assert [p["step"] for p in body["problems"]] == ["read"]
    compile(body["python"], "preview.py", "exec")
    assert client.get("/api/workflows").json() == []


def test_schema_endpoint_serves_the_format(client: TestClient) -> None:
    schema = client.get("/api/schemas/workflow").json()
    assert schema["title"] == "labdeck.workflow/1"
    assert "while" in json.dumps(schema)


def test_viewers_read_but_do_not_edit(app_client: TestClient, services: Services) -> None:
    app_client.headers.update(bearer_for(services, "vera", "viewer"))
    assert app_client.get("/api/workflows").status_code == 200
    assert app_client.post("/api/workflows", json=demo()).status_code == 403


def test_subworkflow_versions_are_frozen_when_the_parent_is_published(
    client: TestClient,
) -> None:
    child = create(
        client,
        demo(
            name="child",
            parameters=[],
            outputs=[],
            prep=[],
            cleanup=[],
            script=[{"id": "t", "kind": "call", "target": "balance.tare"}],
        ),
    )
    parent_doc = demo(
        name="parent",
        parameters=[],
        outputs=[],
        prep=[],
        cleanup=[],
        script=[{"id": "sub", "kind": "workflow", "workflow": "child"}],
    )
    parent = create(client, parent_doc)
    unpublished = client.post(f"/api/workflows/{parent['id']}/publish")
    assert unpublished.status_code == 409
    assert unpublished.json()["error"]["code"] == "NOT_PUBLISHED"
    client.post(f"/api/workflows/{child['id']}/publish")
    assert client.post(f"/api/workflows/{parent['id']}/publish").json() == {"version": 1}
    frozen = client.get(f"/api/workflows/{parent['id']}/versions/1").json()["document"]
    assert frozen["script"][0]["version"] == 1
    assert (
        client.get(f"/api/workflows/{parent['id']}").json()["draft"]["script"][0].get("version")
        is None
    )


DECK_V1 = """
class Pump:
    def dispense(self, volume_ml: float) -> float:
        return volume_ml

pump = Pump()
"""
DECK_V2 = """
class Pump:
    def deliver(self, volume_ml: float) -> float:
        return volume_ml

pump = Pump()
"""


def _deck(folder: Path, source: str):
    path = folder / f"drift_{uuid.uuid4().hex[:8]}.py"
    path.write_text(textwrap.dedent(source))
    return introspect_deck(load_deck_module(str(path)), name="bench")


def test_drift_names_the_steps_a_deck_change_broke(make_services, tmp_path: Path) -> None:
    document = demo(
        name="pump once",
        parameters=[],
        outputs=[],
        prep=[],
        cleanup=[],
        script=[{"id": "go", "kind": "call", "target": "pump.dispense", "args": {"volume_ml": 1}}],
    )
    before = make_services(_deck(tmp_path, DECK_V1))
    with TestClient(create_app(before)) as client:
        client.headers.update(bearer_for(before, "olga", "operator"))
        created = create(client, document)
        client.post(f"/api/workflows/{created['id']}/publish")
        assert client.get("/api/workflows/pump once").json()["drift"] == []
    after = make_services(_deck(tmp_path, DECK_V2))
    with TestClient(create_app(after)) as client:
        client.headers.update(bearer_for(after, "admin", "admin"))
        view = client.get("/api/workflows/pump once").json()
        assert [p["step"] for p in view["drift"]] == ["go"]
        assert "dispense" in view["drift"][0]["message"]
        version = client.get("/api/workflows/pump once/versions/1").json()
        assert [p["step"] for p in version["drift"]] == ["go"]


IVORYOS = Path(__file__).resolve().parents[1] / "workflow" / "fixtures" / "ivoryos"


def test_import_an_ivoryos_workflow_with_markers_nested_two_deep(client: TestClient) -> None:
    payload = json.loads((IVORYOS / "nested_blocks.json").read_text())
    response = client.post("/api/workflows/import", json=payload)
    assert response.status_code == 201, response.text
    body = response.json()
    script = body["draft"]["script"]
    outer = next(step for step in script if step["kind"] == "if")
    inner = next(step for step in outer["then"] + outer.get("else", []) if step["kind"] == "while")
    assert any(step["kind"] == "repeat" for step in inner["do"])
    assert any(
        "max_iterations" in note["message"] or "cap" in note["message"] for note in body["report"]
    )
    assert client.get(f"/api/workflows/{body['id']}").status_code == 200


def test_an_unconvertible_ivoryos_action_is_reported_not_dropped(client: TestClient) -> None:
    payload = json.loads((IVORYOS / "broken_unknown_action.json").read_text())
    response = client.post("/api/workflows/import", json=payload)
    assert response.status_code == 201, response.text
    errors = [note for note in response.json()["report"] if note["severity"] == "error"]
    assert errors
    assert all(note["where"] for note in errors)


def test_import_a_python_function_and_fail_loudly_on_nothing(client: TestClient) -> None:
    source = textwrap.dedent(
        """
        def weigh_twice(amount_mg: float = 5.0):
            balance.tare()
            first = balance.dose_solid(amount_mg=amount_mg)
            for _ in range(2):
                mass = balance.weigh()
            return {"first": first}
        """
    )
    response = client.post("/api/workflows/import", json={"python": source})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "weigh_twice"
    assert [step["kind"] for step in body["draft"]["script"]] == ["call", "call", "repeat"]
    assert body["draft"]["parameters"] == [{"name": "amount_mg", "default": 5.0}]
    nothing = client.post("/api/workflows/import", json={"python": "x = 1\n"})
    assert nothing.status_code == 422
    assert nothing.json()["error"]["code"] == "IMPORT_FAILED"
    broken = client.post("/api/workflows/import", json={"python": "def f(:\n"})
    assert broken.status_code == 422
    assert "line 1" in json.dumps(broken.json())
