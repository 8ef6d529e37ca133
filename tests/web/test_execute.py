"""The Execute page through the real app: rendering, auth, the CSV template and CSV reading."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labdeck.services import Services
from labdeck.web.execute import normalize_path, outline
from labdeck.workflow.model import WorkflowDocument
from tests.conftest import ADMIN_PASSWORD, ROLE_PASSWORD
from tests.runtime.test_runs_api import WORKFLOW, wait_for
from tests.web.test_design import login, text_of
from tests.workflow.examples import DEMO_WORKFLOW


def boot_of(html: str) -> dict[str, Any]:
    found = re.search(
        r'<script type="application/json" id="execute-boot">(.*?)</script>', html, re.S
    )
    assert found is not None
    parsed: dict[str, Any] = json.loads(found.group(1))
    return parsed


def published(services: Services, document: dict[str, Any]) -> str:
    view = services.workflows.create(document, user="admin")
    services.workflows.publish(str(view.record.id), user="admin")
    return str(view.record.id)


@pytest.fixture
def admin_client(app_client: TestClient) -> TestClient:
    login(app_client, "admin", ADMIN_PASSWORD)
    return app_client


def test_pages_need_a_signed_in_user(app_client: TestClient) -> None:
    for path in ("/execute", "/execute/runs/1", "/execute/1/template.csv"):
        response = app_client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    response = app_client.post("/execute/csv", content=b"a\n1", follow_redirects=False)
    assert response.status_code == 303


def test_without_published_workflows_the_page_says_how_to_get_one(admin_client: TestClient) -> None:
    page = text_of(admin_client.get("/execute").text)
    assert "No workflow is published yet" in page
    assert "Publish" in page
    # Until the live queue arrives, both queue lists say they are empty (not a bare heading).
    assert "Nothing is running." in page
    assert "No runs are waiting." in page


def test_a_workflow_with_parameters_offers_a_table(
    admin_client: TestClient, services: Services
) -> None:
    ref = published(services, DEMO_WORKFLOW)
    services.workflows.create(dict(WORKFLOW, name="draft only"), user="admin")
    html = admin_client.get("/execute").text
    boot = boot_of(html)
    setup = boot["setup"]
    assert setup["workflow"] == ref
    assert setup["version"] == 1
    names = [p["name"] for p in setup["parameters"]]
    assert names == [p["name"] for p in DEMO_WORKFLOW["parameters"]]
    assert all("schema" in p for p in setup["parameters"])
    assert 'id="param-table"' in html
    assert f'href="/execute/{ref}/template.csv?version=1"' in html
    assert "draft only" not in text_of(html)  # never published: not offered
    assert boot["can_run"] is True


def test_a_workflow_without_parameters_offers_a_repeat_count(
    admin_client: TestClient, services: Services
) -> None:
    ref = published(services, dict(WORKFLOW, name="plain", parameters=[], outputs=[], script=[]))
    html = admin_client.get(f"/execute?workflow={ref}").text
    assert 'id="repeat-count"' in html
    assert 'id="param-table"' not in html
    assert 'id="mode-campaign"' not in html  # nothing for an optimizer to choose


def test_the_csv_template_has_the_parameters_and_defaults(
    admin_client: TestClient, services: Services
) -> None:
    ref = published(services, WORKFLOW)
    response = admin_client.get(f"/execute/{ref}/template.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.text.splitlines() == ["amount_mg", "5.0"]


def test_an_uploaded_csv_is_read_or_its_problems_are_named(admin_client: TestClient) -> None:
    headers = {"Content-Type": "text/csv"}
    good = admin_client.post(
        "/execute/csv", content=b"amount_mg;solvent\n5;water\n7,5;", headers=headers
    )
    assert good.status_code == 200
    assert good.json() == {
        "rows": [{"amount_mg": "5", "solvent": "water"}, {"amount_mg": "7,5", "solvent": ""}]
    }
    bad = admin_client.post("/execute/csv", content=b"a,a\n1,2,3\n", headers=headers)
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert set(error) == {"code", "message", "retryable", "detail"}
    assert "twice" in json.dumps(error["detail"])


def test_the_run_page_shows_a_run_with_its_steps(
    admin_client: TestClient, services: Services, admin_headers: dict[str, str]
) -> None:
    ref = published(services, WORKFLOW)
    run = admin_client.post(
        "/api/runs", json={"workflow": ref, "mode": {"repeat": 2}}, headers=admin_headers
    ).json()
    wait_for(admin_client, run["id"], "completed")
    html = admin_client.get(f"/execute/runs/{run['id']}").text
    boot = boot_of(html)
    assert boot["run"]["id"] == run["id"]
    assert boot["run"]["workflow_name"] == "dose and read"
    titles = re.findall(r'<p class="outline-title">([^<]+)</p>', html)
    assert titles == ["Before (once, at the start)", "Each sample", "After (once, at the end)"]
    assert 'data-path="dose"' in html
    assert "balance.dose_solid(amount_mg = #amount_mg)" in text_of(html)
    # the newest run is shown when none is asked for
    assert boot_of(admin_client.get("/execute").text)["run"]["id"] == run["id"]
    unknown = admin_client.get("/execute/runs/999", follow_redirects=False)
    assert unknown.status_code == 303


def test_viewers_see_the_page_without_controls(app_client: TestClient, services: Services) -> None:
    published(services, WORKFLOW)
    services.auth.create_user("victor", ROLE_PASSWORD, "viewer")
    login(app_client, "victor", ROLE_PASSWORD)
    html = app_client.get("/execute").text
    assert boot_of(html)["can_run"] is False
    assert 'id="run-form"' not in html
    assert "needs the operator role" in text_of(html)


def test_the_outline_flattens_blocks_with_record_paths() -> None:
    document = WorkflowDocument.model_validate(DEMO_WORKFLOW)
    (script,) = [p for p in outline(document) if p["phase"] == "script"]
    paths = [(s.path, s.depth) for s in script["steps"]]
    assert ("check", 0) in paths
    assert ("check/solv", 1) in paths
    assert ("check/warn", 1) in paths
    assert normalize_path("loop[3]/inner[12]/x") == "loop/inner/x"


def test_the_campaign_mode_is_built_from_the_api_not_the_template(
    admin_client: TestClient, services: Services
) -> None:
    ref = published(services, DEMO_WORKFLOW)
    html = admin_client.get(f"/execute?workflow={ref}").text
    page = text_of(html)
    assert 'id="mode-campaign"' in html
    assert "Optimize (campaign)" in page
    assert "let an optimizer choose each next experiment from the results so far" in page
    assert "Budget: how many experiments" in page
    assert "Random experiments first" in page
    assert "/static/execute/campaign_form.js" in html
    # optimizers, their settings and capabilities come from GET /api/optimizers
    assert "optuna" not in html.lower()
    # no run to plot: the plotting library is not loaded
    assert "echarts" not in html
    assert 'id="insight"' not in html


def test_only_a_campaign_run_view_loads_the_plots(
    admin_client: TestClient, services: Services, admin_headers: dict[str, str]
) -> None:
    ref = published(services, WORKFLOW)
    plain = admin_client.post(
        "/api/runs", json={"workflow": ref, "mode": {"repeat": 1}}, headers=admin_headers
    ).json()
    wait_for(admin_client, plain["id"], "completed")
    html = admin_client.get(f"/execute/runs/{plain['id']}").text
    assert boot_of(html)["run"]["campaign"] is False
    assert "echarts" not in html
    assert 'id="insight"' not in html

    campaign = {
        "parameters": [{"name": "amount_mg", "type": "float", "low": 1, "high": 10}],
        "objectives": [{"name": "mass", "direction": "maximize"}],
        "budget": 2,
        "initial_random": 2,
        "seed": 3,
    }
    created = admin_client.post(
        "/api/runs",
        json={"workflow": ref, "mode": {"campaign": campaign}},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    run = created.json()
    wait_for(admin_client, run["id"], "completed")
    html = admin_client.get(f"/execute/runs/{run['id']}").text
    assert boot_of(html)["run"]["campaign"] is True
    assert '<script src="/static/vendor/echarts.min.js" defer></script>' in html
    assert "/static/execute/insight.js" in html
    assert 'id="insight"' in html
    assert 'data-observations="-1"' in html  # insight.js sets the real count once it has read
    assert "optuna" not in html.lower()
