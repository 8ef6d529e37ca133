"""The Data pages through the real app: runs list with filters and pages, a run's record,
its lazily loaded timeline, and the direct-call history."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labdeck.services import Services
from tests.api.test_runs_filters import T0, published_workflow, seed_run
from tests.conftest import ADMIN_PASSWORD, ROLE_PASSWORD
from tests.runtime.test_runs_api import WORKFLOW, wait_for
from tests.web.test_design import login, text_of


@pytest.fixture
def admin_client(app_client: TestClient) -> TestClient:
    login(app_client, "admin", ADMIN_PASSWORD)
    return app_client


def run_names(html: str) -> list[str]:
    return re.findall(r'<a class="run-link" href="/data/runs/\d+">([^<]*)</a>', html)


def data_boot(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="data-boot">(.*?)</script>', html, re.S)
    assert found is not None
    parsed: dict[str, Any] = json.loads(found.group(1))
    return parsed


def test_pages_need_a_signed_in_user(app_client: TestClient) -> None:
    for path in ("/data", "/data/runs", "/data/runs/1", "/data/calls", "/data/runs/1/steps"):
        response = app_client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")


def test_the_navigation_leads_to_the_runs_list(admin_client: TestClient) -> None:
    devices = admin_client.get("/devices").text
    assert re.search(r'<a href="/data/runs"[^>]*>Data</a>', devices)
    response = admin_client.get("/data", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/data/runs"
    page = admin_client.get("/data/runs").text
    assert re.search(r'<a href="/data/runs"[^>]*class="active"[^>]*>Data</a>', page)


def test_the_runs_list_says_when_there_is_nothing(
    admin_client: TestClient, services: Services
) -> None:
    assert "No runs yet." in text_of(admin_client.get("/data/runs").text)
    seed_run(services, published_workflow(services, WORKFLOW), name="only one")
    page = admin_client.get("/data/runs", params={"status": "failed"}).text
    assert "No runs match these filters." in text_of(page)
    assert run_names(page) == []


def test_filters_apply_and_stay_filled_in(admin_client: TestClient, services: Services) -> None:
    dose = published_workflow(services, WORKFLOW)
    stir = published_workflow(services, dict(WORKFLOW, name="stir plate"))
    plan = [
        ("screen 1", dose, "completed", "manual", "olga"),
        ("screen 2", dose, "failed", "manual", "olga"),
        ("nightly", stir, "completed", "schedule", None),
        ("screen 3", dose, "cancelled", "webhook", "ada"),
    ]
    for day, (name, workflow, status, trigger, by) in enumerate(plan):
        seed_run(
            services,
            workflow,
            name=name,
            status=status,
            trigger=trigger,
            by=by,
            created_at=T0 + timedelta(days=day),
            progress={"iteration": 2, "iterations": 3, "done": 2},
        )
    everything = admin_client.get("/data/runs").text
    assert run_names(everything) == ["screen 3", "nightly", "screen 2", "screen 1"]
    row = text_of(everything.split('data-run-id="')[1].split("</tr>")[0])
    for shown in ("screen 3", "dose and read", "v1", "cancelled", "webhook · ada", "2 of 3"):
        assert shown in row
    assert "1 min 00 s" in row  # started a second after it was queued, ended a minute later
    get = admin_client.get
    assert run_names(get("/data/runs", params={"status": "failed"}).text) == ["screen 2"]
    assert run_names(get("/data/runs", params={"workflow": stir}).text) == ["nightly"]
    assert run_names(get("/data/runs", params={"trigger": "webhook"}).text) == ["screen 3"]
    assert run_names(get("/data/runs", params={"user": "olga"}).text) == ["screen 2", "screen 1"]
    assert run_names(get("/data/runs", params={"q": "SCREEN 2"}).text) == ["screen 2"]
    days = {"from": "2026-03-02", "to": "2026-03-03"}
    assert run_names(get("/data/runs", params=days).text) == ["nightly", "screen 2"]
    page = get("/data/runs", params={"status": "failed", "q": "scr", "from": "2026-03-02"}).text
    assert '<option value="failed" selected>' in page
    assert 'value="scr"' in page
    assert 'value="2026-03-02"' in page
    assert 'href="/data/runs">Clear filters</a>' in page


def test_a_wrong_date_is_named_instead_of_ignored(admin_client: TestClient) -> None:
    page = text_of(admin_client.get("/data/runs", params={"from": "31/12/2026"}).text)
    assert "“31/12/2026” is not a date: use YYYY-MM-DD" in page


def test_the_list_pages_older_and_newer_with_the_same_filters(
    admin_client: TestClient, services: Services
) -> None:
    workflow = published_workflow(services, WORKFLOW)
    ids = [seed_run(services, workflow, name=f"run {i:03d}") for i in range(120)]
    first = admin_client.get("/data/runs", params={"q": "run"}).text
    assert run_names(first) == [f"run {i:03d}" for i in range(119, 69, -1)]
    older = re.search(r'href="(/data/runs\?[^"]*)" rel="next"', first)
    assert older is not None
    assert older.group(1).replace("&amp;", "&") == f"/data/runs?q=run&cursor={ids[70]}"
    assert 'rel="prev"' not in first  # nothing newer than the newest
    second = admin_client.get(older.group(1).replace("&amp;", "&")).text
    assert run_names(second) == [f"run {i:03d}" for i in range(69, 19, -1)]
    newer = re.search(r'href="(/data/runs\?[^"]*)" rel="prev"', second)
    assert newer is not None
    back = admin_client.get(newer.group(1).replace("&amp;", "&")).text
    assert run_names(back) == run_names(first)
    last = admin_client.get("/data/runs", params={"q": "run", "cursor": ids[20]}).text
    assert run_names(last) == [f"run {i:03d}" for i in range(19, -1, -1)]
    assert 'rel="next"' not in last


def test_a_run_page_shows_the_whole_record(
    admin_client: TestClient, services: Services, admin_headers: dict[str, str]
) -> None:
    workflow = published_workflow(services, WORKFLOW)
    run = admin_client.post(
        "/api/runs",
        json={"workflow": str(workflow), "mode": {"table": [{"amount_mg": 2}, {"amount_mg": 7}]}},
        headers=admin_headers,
    ).json()
    wait_for(admin_client, run["id"], "completed")
    html = admin_client.get(f"/data/runs/{run['id']}").text
    page = text_of(html)
    assert f"Run #{run['id']} of dose and read , version 1 · by hand · admin" in page
    assert "completed" in page
    assert "parameter table, 2 rows" in page
    phases = ("Before (once, at the start)", "Each sample", "After (once, at the end)")
    for part in (*phases, "Iteration 1", "Iteration 2"):
        assert part in page
    assert "2 iterations · 6 steps" in page
    assert 'class="steps-table"' not in html  # steps load when an iteration is opened
    # results: parameters then outputs, one row per sample, sortable; no sample numbers
    # without batches (they would repeat the iteration, counted from 0)
    header = re.findall(r'data-column="\d+">([^<]+)</button>', html)
    assert header == ["iteration", "amount_mg", "mass", "absorbance", "status"]
    assert 'id="results-table"' in html
    assert "sortable" in html
    boot = data_boot(html)
    assert boot["parameters"] == ["amount_mg"]
    assert boot["outputs"] == ["mass", "absorbance"]
    assert [r["amount_mg"] for r in boot["rows"]] == [2.0, 7.0]
    assert 'id="plot-x"' in html
    assert 'id="plot-y"' in html
    # pinned version, downloads, log, actions
    assert f'href="/api/workflows/{workflow}/versions/1/python"' in html
    assert f'href="/design/{workflow}"' in html
    for download in ("results.csv", "results.json?download=true", "steps.csv", "log?download=true"):
        assert f'href="/api/runs/{run["id"]}/{download}"' in html
    assert 'id="log-text"' in html
    assert re.findall(r'data-verb="([a-z-]+)"', html) == ["replay"]
    assert "not a replay and has not been replayed" in page
    assert 'id="insight"' not in html  # not a campaign


def test_opening_an_iteration_loads_its_steps(
    admin_client: TestClient, services: Services, admin_headers: dict[str, str]
) -> None:
    workflow = published_workflow(services, WORKFLOW)
    run = admin_client.post(
        "/api/runs", json={"workflow": str(workflow), "mode": {"repeat": 2}}, headers=admin_headers
    ).json()
    wait_for(admin_client, run["id"], "completed")
    html = admin_client.get(f"/data/runs/{run['id']}").text
    assert f'hx-get="/data/runs/{run["id"]}/steps?phase=script&amp;iteration=2"' in html
    second = admin_client.get(
        f"/data/runs/{run['id']}/steps", params={"phase": "script", "iteration": 2}
    ).text
    rows = re.findall(r'<code class="step-path">([^<]+)</code>', second)
    assert rows == ["dose", "read", "note"]
    assert ">Sample</th>" not in second  # one sample per iteration: nothing to tell apart
    assert "balance.dose_solid" in second
    assert "amount_mg=5.0" in second
    prep = admin_client.get(f"/data/runs/{run['id']}/steps", params={"phase": "prep"}).text
    assert re.findall(r'<code class="step-path">([^<]+)</code>', prep) == ["tare"]
    python = admin_client.get(f"/data/runs/{run['id']}/python").text
    assert "balance.dose_solid" in python
    assert "<pre" in python


def test_batch_runs_number_their_samples(
    admin_client: TestClient, services: Services, admin_headers: dict[str, str]
) -> None:
    workflow = published_workflow(services, WORKFLOW)
    table = [{"amount_mg": amount} for amount in (2, 3, 4, 5)]
    run = admin_client.post(
        "/api/runs",
        json={"workflow": str(workflow), "mode": {"table": table}, "batch_size": 2},
        headers=admin_headers,
    ).json()
    wait_for(admin_client, run["id"], "completed")
    html = admin_client.get(f"/data/runs/{run['id']}").text
    header = re.findall(r'data-column="\d+">([^<]+)</button>', html)
    assert header[:2] == ["iteration", "sample"]
    steps = admin_client.get(
        f"/data/runs/{run['id']}/steps", params={"phase": "script", "iteration": 2}
    ).text
    assert ">Sample</th>" in steps


def test_a_big_run_shows_its_iterations_a_page_at_a_time(
    admin_client: TestClient, services: Services
) -> None:
    run_id = seed_run(services, published_workflow(services, WORKFLOW), name="big")
    records = services.run_service.records
    for iteration in range(1, 251):
        for path in ("loop[1]/dose", "loop[2]/dose"):
            row = records.start_step(
                run_id=run_id,
                phase="script",
                iteration=iteration,
                sample=iteration,
                step_id="dose",
                path=path,
                kind="call",
                target="balance.dose_solid",
                args={"amount_mg": 1},
                attempt=1,
            )
            failed = iteration == 7 and path.startswith("loop[2]")
            records.finish_step(
                row,
                status="failed" if failed else "completed",
                output=None if failed else 1.0,
                error={"code": "TIMEOUT", "message": "no answer"} if failed else None,
            )
    html = admin_client.get(f"/data/runs/{run_id}").text
    assert html.count('class="step-group') == 100
    assert "250 iterations · 500 steps · 1 failed" in text_of(html)
    assert "Iteration 100" in html
    assert "Iteration 101" not in html
    assert f'hx-get="/data/runs/{run_id}/iterations?after=100"' in html
    assert "What went wrong" in html
    assert "TIMEOUT" in html
    assert "loop[2]/dose" in html
    seventh = html.split('data-iteration="7"')[1].split("</details>")[0]
    assert "st-failed" in html.split('data-iteration="7"')[0][-200:]
    assert "1 failed" in seventh
    more = admin_client.get(f"/data/runs/{run_id}/iterations", params={"after": 200}).text
    assert more.count('class="step-group') == 50
    assert "Iteration 201" in more
    assert "Iteration 250" in more
    assert "more-iterations" not in more
    steps = admin_client.get(
        f"/data/runs/{run_id}/steps", params={"phase": "script", "iteration": 7}
    ).text
    assert re.findall(r'<code class="step-path">([^<]+)</code>', steps) == [
        "loop[1]/dose",
        "loop[2]/dose",
    ]
    assert "TIMEOUT" in steps
    assert "the steps CSV" not in steps


def test_an_opened_iteration_shows_at_most_a_page_of_steps(
    admin_client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    import labdeck.web.data_views

    monkeypatch.setattr(labdeck.web.data_views, "STEP_ROWS", 2)
    run_id = seed_run(services, published_workflow(services, WORKFLOW), name="long loop")
    for n in range(1, 4):
        row = services.run_service.records.start_step(
            run_id=run_id,
            phase="script",
            iteration=1,
            sample=0,
            step_id="poll",
            path=f"loop[{n}]/poll",
            kind="call",
            target="balance.weigh",
            args={},
            attempt=1,
        )
        services.run_service.records.finish_step(row, status="completed", output=1.0, error=None)
    steps = admin_client.get(f"/data/runs/{run_id}/steps", params={"iteration": 1}).text
    assert re.findall(r'<code class="step-path">([^<]+)</code>', steps) == [
        "loop[1]/poll",
        "loop[2]/poll",
    ]
    assert "The first 2 steps;" in text_of(steps)
    assert f'href="/api/runs/{run_id}/steps.csv"' in steps


def test_the_replay_chain_links_both_ways(
    admin_client: TestClient, services: Services, admin_headers: dict[str, str]
) -> None:
    workflow = published_workflow(services, WORKFLOW)
    first = seed_run(services, workflow, name="original")
    second = seed_run(services, workflow, name="again", trigger="replay", replay_of=first)
    third = seed_run(services, workflow, name="and again", trigger="replay", replay_of=second)
    page = admin_client.get(f"/data/runs/{second}").text
    chain = page.split('id="replay-chain"')[1].split("</section>")[0]
    order = re.findall(r"#(\d+) ", text_of(chain))
    assert order == [str(first), str(second), str(third)]
    assert "(this run)" in chain
    assert f'href="/data/runs/{third}"' in admin_client.get(f"/data/runs/{first}").text


def test_a_missing_run_is_a_404_page(admin_client: TestClient) -> None:
    response = admin_client.get("/data/runs/4242")
    assert response.status_code == 404
    assert "There is no run #4242." in text_of(response.text)
    assert admin_client.get("/data/runs/4242/steps").status_code == 404


def test_a_viewer_reads_everything_but_gets_no_buttons(
    app_client: TestClient, services: Services
) -> None:
    run_id = seed_run(services, published_workflow(services, WORKFLOW), name="looked at")
    services.auth.create_user("victor", ROLE_PASSWORD, "viewer")
    login(app_client, "victor", ROLE_PASSWORD)
    assert run_names(app_client.get("/data/runs").text) == ["looked at"]
    page = app_client.get(f"/data/runs/{run_id}")
    assert page.status_code == 200
    assert "data-verb=" not in page.text
    assert app_client.get("/data/calls").status_code == 200


def test_a_campaign_run_gets_the_optimization_plots(
    admin_client: TestClient, services: Services
) -> None:
    run_id = seed_run(
        services,
        published_workflow(services, WORKFLOW),
        mode={"campaign": {"optimizer": "optuna", "budget": 5}},
    )
    html = admin_client.get(f"/data/runs/{run_id}").text
    assert 'id="insight"' in html
    assert 'id="plot-progress"' in html
    assert '<script type="application/json" id="execute-boot">' in html
    assert "/static/execute/insight.js" in html
    assert "/static/execute/dom.js" in html
    assert "optimization campaign (optuna, budget 5)" in text_of(html)


def test_the_call_history_filters_and_pages(admin_client: TestClient) -> None:
    assert "No direct calls yet." in text_of(admin_client.get("/data/calls").text)
    for _ in range(3):
        admin_client.post("/api/instruments/balance/weigh", json={"args": {}})
    admin_client.post("/api/instruments/balance/dose_solid", json={"args": {"amount_mg": 2}})
    admin_client.get("/api/instruments/hotplate/properties/temperature")
    page = admin_client.get("/data/calls").text
    targets = re.findall(r"<td data-label=\"Called\"><code>([^<]+)</code>", page)
    assert targets == ["balance.dose_solid", "balance.weigh", "balance.weigh", "balance.weigh"]
    assert "amount_mg=2" in page
    assert '<option value="balance.weigh">' in page  # the deck's targets are suggested
    only = admin_client.get("/data/calls", params={"target": "balance.dose_solid"}).text
    assert re.findall(r"<td data-label=\"Called\"><code>([^<]+)</code>", only) == [
        "balance.dose_solid"
    ]
    reads = admin_client.get("/data/calls", params={"kind": "property_get"}).text
    assert re.findall(r"<td data-label=\"Called\"><code>([^<]+)</code>", reads) == [
        "hotplate.temperature"
    ]
    assert "No calls match these filters." in text_of(
        admin_client.get("/data/calls", params={"status": "failed"}).text
    )
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    assert "No calls match" in admin_client.get("/data/calls", params={"from": tomorrow}).text
    assert "is not a date" in admin_client.get("/data/calls", params={"to": "soon"}).text


def test_both_lists_filter_by_who_and_by_day_with_their_own_words(
    admin_client: TestClient,
) -> None:
    runs = admin_client.get("/data/runs", params={"user": "ada", "from": "2026-01-02"}).text
    calls = admin_client.get("/data/calls", params={"user": "ada", "to": "2026-03-04"}).text
    assert '<label for="f-user">Started by</label>' in runs
    assert '<label for="f-user">Called by</label>' in calls
    assert 'name="user" value="ada"' in runs
    assert 'name="user" value="ada"' in calls
    assert 'name="from" value="2026-01-02"' in runs
    assert 'name="to" value="2026-03-04"' in calls
