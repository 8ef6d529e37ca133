"""Webhook and schedule triggers: secret URLs, payloads as runs, cron, the active version."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi.testclient import TestClient

from labdeck.api import triggers as triggers_api
from labdeck.app import ROUTERS, create_app
from labdeck.errors import Conflict, NotFound
from labdeck.runtime.triggers import (
    RedactHookSecrets,
    Triggers,
    TriggerStore,
    parse_cron,
)
from labdeck.services import Services
from labdeck.store.repo_workflows import WorkflowRepository
from tests.api.test_errors_and_routes import assert_error_shape
from tests.runtime.test_runs_api import WORKFLOW, publish, wait_for


@pytest.fixture
def triggers(services: Services) -> Iterator[Triggers]:
    """The server's Triggers once services.py builds one; until then, one built here."""
    existing = getattr(services, "triggers", None)
    if existing is None:
        store = TriggerStore(services.settings.data_dir / "triggers.json")
        existing = Triggers(store, services.run_service, services.workflows, timezone=UTC)
        services.triggers = existing  # type: ignore[attr-defined]
    yield existing
    existing.stop()


@pytest.fixture
def app(services: Services, triggers: Triggers) -> Any:
    app = create_app(services)
    if triggers_api.router not in ROUTERS:
        app.include_router(triggers_api.router)
    return app


@pytest.fixture
def api(app: Any, operator_headers: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(app, headers=operator_headers) as client:
        yield client


@pytest.fixture
def anonymous(app: Any, api: TestClient) -> TestClient:
    """No login at all (the lifespan is `api`'s)."""
    return TestClient(app)


def add_trigger(api: TestClient, workflow: str, **body: Any) -> dict[str, Any]:
    response = api.post(f"/api/workflows/{workflow}/triggers", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_webhook_secret_is_shown_once_and_stored_only_as_a_hash(
    api: TestClient, services: Services
) -> None:
    name = publish(api, WORKFLOW)
    hook = add_trigger(api, name, kind="webhook")
    assert hook["kind"] == "webhook"
    assert hook["path"].startswith("/api/hooks/")
    assert hook["url"].endswith(hook["path"])
    secret = hook["path"].removeprefix("/api/hooks/")
    assert len(secret) >= 40
    listed = api.get(f"/api/workflows/{name}/triggers").json()
    assert [t["id"] for t in listed] == [hook["id"]]
    assert "path" not in listed[0]
    assert secret not in json.dumps(listed)
    stored = (services.settings.data_dir / "triggers.json").read_text()
    assert secret not in stored
    assert hashlib.sha256(secret.encode()).hexdigest() in stored
    assert [p.name for p in services.settings.data_dir.iterdir() if "tmp" in p.name] == []


def test_webhook_deliveries_need_no_login_and_make_one_run_each(
    api: TestClient, anonymous: TestClient
) -> None:
    name = publish(api, WORKFLOW)
    path = add_trigger(api, name, kind="webhook", retries=1)["path"]

    rows = [{"amount_mg": 2}, {"amount_mg": "3.5"}]
    accepted = anonymous.post(path, json=rows)
    assert accepted.status_code == 202, accepted.text
    run = api.get(f"/api/runs/{accepted.json()['run_id']}").json()
    assert run["mode"] == {"table": [{"amount_mg": 2.0}, {"amount_mg": 3.5}]}
    assert run["trigger"] == {"kind": "webhook", "by": "olga", "input": rows}
    assert run["options"]["retries"] == 1
    assert wait_for(api, run["id"], "completed", "failed")["status"] == "completed"

    wrapped = anonymous.post(path, json={"rows": [{"amount_mg": 6}], "source": "lims"})
    assert api.get(f"/api/runs/{wrapped.json()['run_id']}").json()["mode"] == {
        "table": [{"amount_mg": 6.0}]
    }
    event = {"sample": "A1", "ok": True}
    single = api.get(f"/api/runs/{anonymous.post(path, json=event).json()['run_id']}").json()
    assert single["mode"] == {"repeat": 1}
    assert single["trigger"]["input"] == event
    bare = anonymous.post(path)
    assert bare.status_code == 202
    assert "input" not in api.get(f"/api/runs/{bare.json()['run_id']}").json()["trigger"]

    for bad in ([], [{"amount_mg": "lots"}], [1, 2]):
        refused = anonymous.post(path, json=bad)
        assert refused.status_code == 422, bad
        assert_error_shape(refused.json())


def test_unknown_or_deleted_webhooks_are_404(api: TestClient, anonymous: TestClient) -> None:
    name = publish(api, WORKFLOW)
    hook = add_trigger(api, name, kind="webhook")
    unknown = anonymous.post("/api/hooks/not-a-secret", json={})
    assert unknown.status_code == 404
    assert_error_shape(unknown.json())
    assert api.delete(f"/api/workflows/{name}/triggers/{hook['id']}").status_code == 204
    gone = anonymous.post(hook["path"], json={})
    assert gone.status_code == 404
    assert api.get(f"/api/workflows/{name}/triggers").json() == []
    again = api.delete(f"/api/workflows/{name}/triggers/{hook['id']}")
    assert again.status_code == 404
    assert_error_shape(again.json())
    assert api.get("/api/workflows/nope/triggers").status_code == 404


def test_viewers_cannot_manage_triggers(app: Any, viewer_headers: dict[str, str]) -> None:
    viewer = TestClient(app, headers=viewer_headers)
    response = viewer.post("/api/workflows/x/triggers", json={"kind": "webhook"})
    assert response.status_code == 403
    assert_error_shape(response.json())


def test_a_bad_cron_expression_is_a_clear_422(api: TestClient) -> None:
    name = publish(api, WORKFLOW)
    for cron in ("* * *", "61 * * * *", "0 8 * * L", "@daily"):
        response = api.post(
            f"/api/workflows/{name}/triggers", json={"kind": "schedule", "cron": cron}
        )
        assert response.status_code == 422, cron
        assert_error_shape(response.json())
        error = response.json()["error"]
        assert cron in error["message"]
        assert error["detail"]["fields"][0]["field"] == "cron"
    no_cron = api.post(f"/api/workflows/{name}/triggers", json={"kind": "schedule"})
    assert no_cron.status_code == 422
    bad_mode = api.post(
        f"/api/workflows/{name}/triggers",
        json={"kind": "schedule", "cron": "0 * * * *", "mode": {"dance": 1}},
    )
    assert bad_mode.status_code == 422


def test_a_schedule_fires_one_run_of_the_active_version(
    api: TestClient, triggers: Triggers
) -> None:
    name = publish(api, WORKFLOW)
    schedule = add_trigger(
        api, name, kind="schedule", cron="*/5 * * * *", mode={"table": [{"amount_mg": 4}]}
    )
    assert schedule["cron"] == "*/5 * * * *"
    assert schedule["path"] is None
    assert datetime.fromisoformat(schedule["next_fire_at"]).minute % 5 == 0
    saved = api.put(
        f"/api/workflows/{name}/draft",
        json=dict(WORKFLOW, name=name, description="v2"),
    )
    assert saved.status_code == 200
    assert api.post(f"/api/workflows/{name}/publish").json() == {"version": 2}

    run = triggers.fire(schedule["id"])
    assert (run.version, run.trigger, run.mode) == (
        2,
        {"kind": "schedule", "by": "olga"},
        {"table": [{"amount_mg": 4.0}]},
    )
    assert wait_for(api, str(run.id), "completed", "failed")["status"] == "completed"
    listed = api.get(f"/api/workflows/{name}/triggers").json()[0]
    assert listed["last_run_id"] == str(run.id)
    assert listed["last_error"] is None
    with pytest.raises(NotFound):
        triggers.fire("no-such-trigger")


def test_safety_paused_workflows_refuse_triggers(
    api: TestClient, anonymous: TestClient, triggers: Triggers, services: Services
) -> None:
    name = publish(api, WORKFLOW)
    path = add_trigger(api, name, kind="webhook")["path"]
    schedule = add_trigger(api, name, kind="schedule", cron="0 8 * * 1-5")
    workflow_id = int(api.get(f"/api/workflows/{name}").json()["id"])
    WorkflowRepository(services.engine).set_status(workflow_id, "paused_safety")
    refused = anonymous.post(path, json={})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "WORKFLOW_SAFETY_PAUSED"
    with pytest.raises(Conflict):
        triggers.fire(schedule["id"])
    listed = {t["kind"]: t for t in api.get(f"/api/workflows/{name}/triggers").json()}
    assert "safety-paused" in listed["schedule"]["last_error"]


def scheduler_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "APScheduler"}


def test_the_scheduler_thread_starts_with_the_first_schedule(
    api: TestClient, triggers: Triggers
) -> None:
    # A lab without schedules runs no scheduler thread (nor imports APScheduler at start).
    name = publish(api, WORKFLOW)
    before = scheduler_threads()
    triggers.start()
    add_trigger(api, name, kind="webhook")
    assert scheduler_threads() - before == set()
    add_trigger(api, name, kind="schedule", cron="0 8 * * *")
    add_trigger(api, name, kind="schedule", cron="0 9 * * *")
    assert len(scheduler_threads() - before) == 1


def test_the_scheduler_keeps_one_job_per_schedule(
    api: TestClient, triggers: Triggers, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    name = publish(api, WORKFLOW)
    first = add_trigger(api, name, kind="schedule", cron="0 8 * * *")
    add_trigger(api, name, kind="webhook")
    scheduler = BackgroundScheduler(timezone=UTC)
    triggers.start(scheduler)
    try:
        assert [job.id for job in scheduler.get_jobs()] == [first["id"]]
        second = add_trigger(api, name, kind="schedule", cron="30 9 * * 0")
        assert {job.id for job in scheduler.get_jobs()} == {first["id"], second["id"]}
        api.delete(f"/api/workflows/{name}/triggers/{first['id']}")
        (job,) = scheduler.get_jobs()
        assert job.next_run_time.strftime("%a %H:%M") == "Sun 09:30"
        job.func(*job.args)  # what the clock does at 09:30
        listed = api.get(f"/api/workflows/{name}/triggers").json()
        assert next(t for t in listed if t["id"] == second["id"])["last_run_id"]
        workflow_id = int(listed[0]["workflow"])
        WorkflowRepository(services.engine).set_status(workflow_id, "paused_safety")
        with caplog.at_level(logging.WARNING):
            job.func(*job.args)  # a refused firing is logged, the scheduler goes on
        assert "was refused" in caplog.text
    finally:
        triggers.stop()
    assert not scheduler.running


def fires(cron: str, start: datetime, count: int) -> list[str]:
    trigger = parse_cron(cron, UTC)
    found: list[str] = []
    previous = None
    now = start
    for _ in range(count):
        now = trigger.get_next_fire_time(previous, now)
        found.append(now.strftime("%a %d %H:%M"))
        previous = now
        now = now.replace(second=1)
    return found


def test_cron_expressions_mean_what_crontab_means() -> None:
    monday = datetime(2026, 11, 23, tzinfo=UTC)
    assert fires("0 8 * * 1-5", monday, 6) == [
        "Mon 23 08:00",
        "Tue 24 08:00",
        "Wed 25 08:00",
        "Thu 26 08:00",
        "Fri 27 08:00",
        "Mon 30 08:00",
    ]
    assert fires("0 8 * * 0", monday, 1) == ["Sun 29 08:00"]
    assert fires("0 8 * * 7", monday, 1) == ["Sun 29 08:00"]
    assert fires("0 8 * * 5-7", monday, 3) == ["Fri 27 08:00", "Sat 28 08:00", "Sun 29 08:00"]
    assert fires("0 8 * * */2", monday, 3) == ["Tue 24 08:00", "Thu 26 08:00", "Sat 28 08:00"]
    assert fires("0 8 * * sun,wed", monday, 2) == ["Wed 25 08:00", "Sun 29 08:00"]
    # Both day fields restricted: either one matching is enough, as in crontab.
    assert fires("0 0 25 * 5", monday, 3) == ["Wed 25 00:00", "Fri 27 00:00", "Fri 04 00:00"]
    for bad in ("0 8 * * 8", "0 8 * * 5-1", "0 8 * * fri#2", "0 8 * * 1/0"):
        with pytest.raises(ValueError, match=r"day|step|range"):
            parse_cron(bad)


def test_the_store_refuses_a_damaged_file(tmp_path: Any) -> None:
    path = tmp_path / "triggers.json"
    path.write_text("{not json")
    with pytest.raises(RuntimeError, match="damaged"):
        TriggerStore(path)


def test_the_access_log_filter_hides_hook_secrets() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1", "POST", "/api/hooks/s3cr3t-value", "1.1", 202),
        None,
    )
    assert RedactHookSecrets().filter(record)
    assert "s3cr3t" not in record.getMessage()
    assert "/api/hooks/…" in record.getMessage()
