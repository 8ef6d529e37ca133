"""The runs list's filters and keyset pages, step pages, and safe download names.

Runs for the list are written straight to the store (statuses, triggers, users and times
chosen by the test), then read through the API; every filter test runs on SQLite and on
PostgreSQL. Step records and downloads come from real runs of the demo lab.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update

from labdeck.app import create_app
from labdeck.deck.bindings import Deck
from labdeck.services import Services
from labdeck.store.orm import Run
from tests.api.test_errors_and_routes import assert_error_shape
from tests.conftest import bearer_for
from tests.runtime.test_runs_api import WORKFLOW, publish, submit, wait_for

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def published_workflow(services: Services, document: dict[str, Any]) -> int:
    view = services.workflows.create(document, user="admin")
    services.workflows.publish(str(view.record.id), user="admin")
    return view.record.id


def seed_run(
    services: Services,
    workflow_id: int,
    *,
    name: str = "run",
    status: str = "completed",
    trigger: str = "manual",
    by: str | None = "olga",
    created_at: datetime | None = None,
    replay_of: int | None = None,
    mode: dict[str, Any] | None = None,
    progress: dict[str, Any] | None = None,
) -> int:
    """A finished run as the store keeps it (never started by the queue)."""
    run = services.run_service.runs.create(
        name=name,
        workflow_id=workflow_id,
        version=1,
        trigger={"kind": trigger, "by": by},
        mode=mode or {"repeat": 1},
        options={},
        created_by=by,
        replay_of=replay_of,
    )
    created = created_at or datetime.now(UTC)
    values: dict[str, Any] = {"status": status, "created_at": created}
    if status not in ("pending",):
        values |= {"started_at": created + timedelta(seconds=1)}
    if status in ("completed", "failed", "cancelled"):
        values |= {"ended_at": created + timedelta(seconds=61)}
    if progress is not None:
        values["progress"] = progress
    with services.engine.begin() as connection:
        connection.execute(
            update(Run.__table__).where(Run.__table__.c.id == run.id).values(**values)
        )
    return run.id


@pytest.fixture
def db_services(
    make_services: Callable[..., Services], demo_deck: Deck, database_url: str
) -> Services:
    import labdeck.demo.deck as demo_module

    demo_module.reset_bench(seed=1)
    return make_services(demo_deck, database_url=database_url)


@pytest.fixture
def db_client(db_services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(db_services)) as client:
        client.headers.update(bearer_for(db_services, "olga", "operator"))
        yield client


@pytest.fixture
def seeded(db_services: Services) -> dict[str, int]:
    """Eight runs of two workflows, oldest first, one day apart."""
    dose = published_workflow(db_services, WORKFLOW)
    stir = published_workflow(db_services, dict(WORKFLOW, name="stir plate"))
    plan = [
        ("screen 1", dose, "completed", "manual", "olga"),
        ("screen 2", dose, "failed", "manual", "olga"),
        ("Nightly 100%", stir, "completed", "schedule", None),
        ("screen 3", dose, "cancelled", "webhook", "ada"),
        ("stir check", stir, "failed", "manual", "ada"),
        ("screen_4", dose, "completed", "replay", "olga"),
        ("stir again", stir, "completed", "manual", "olga"),
        ("screen 5", dose, "paused", "manual", "ada"),
    ]
    ids = {"dose": dose, "stir": stir}
    for day, (name, workflow, status, trigger, by) in enumerate(plan):
        ids[name] = seed_run(
            db_services,
            workflow,
            name=name,
            status=status,
            trigger=trigger,
            by=by,
            created_at=T0 + timedelta(days=day),
        )
    return ids


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [run["name"] for run in response.json()]


def test_each_filter_narrows_the_list(db_client: TestClient, seeded: dict[str, int]) -> None:
    get = db_client.get
    assert names(get("/api/runs"))[0] == "screen 5"  # newest first
    assert len(names(get("/api/runs"))) == 8
    assert names(get("/api/runs", params={"status": "failed"})) == ["stir check", "screen 2"]
    both = ["stir check", "screen 3", "screen 2"]
    assert names(get("/api/runs", params={"status": "failed,cancelled"})) == both
    assert names(get("/api/runs?status=failed&status=cancelled")) == both
    by_id = names(get("/api/runs", params={"workflow": seeded["stir"]}))
    assert by_id == ["stir again", "stir check", "Nightly 100%"]
    assert names(get("/api/runs", params={"workflow": "stir plate"})) == by_id
    assert names(get("/api/runs", params={"workflow": "no such workflow"})) == []
    assert names(get("/api/runs", params={"trigger": "schedule"})) == ["Nightly 100%"]
    assert names(get("/api/runs", params={"trigger": "webhook,replay"})) == ["screen_4", "screen 3"]
    assert names(get("/api/runs", params={"user": "ada"})) == ["screen 5", "stir check", "screen 3"]
    assert names(get("/api/runs", params={"q": "STIR"})) == ["stir again", "stir check"]
    assert names(get("/api/runs", params={"q": "100%"})) == ["Nightly 100%"]  # % is literal
    assert names(get("/api/runs", params={"q": "n_4"})) == ["screen_4"]  # so is _
    # since is inclusive, until exclusive; a time without a zone is UTC
    days = {"since": (T0 + timedelta(days=2)).isoformat(), "until": "2026-03-05T12:00:00"}
    assert names(get("/api/runs", params=days)) == ["screen 3", "Nightly 100%"]
    combined = {"workflow": "dose and read", "status": "completed", "user": "olga"}
    assert names(get("/api/runs", params=combined)) == ["screen_4", "screen 1"]


def test_bad_filter_values_are_refused_with_the_error_shape(
    db_client: TestClient, seeded: dict[str, int]
) -> None:
    for params, field in (
        ({"status": "finished"}, "status"),
        ({"status": "failed,nope"}, "status"),
        ({"trigger": "cron"}, "trigger"),
        ({"cursor": "12abc"}, "cursor"),
        ({"since": "yesterday"}, "since"),
        ({"limit": 0}, "limit"),
    ):
        response = db_client.get("/api/runs", params=params)
        assert response.status_code == 422, params
        assert_error_shape(response.json())
        fields = [f["field"] for f in response.json()["error"]["detail"]["fields"]]
        assert field in fields, (params, fields)


def test_pages_follow_the_next_cursor_header_without_offset(
    db_client: TestClient, db_services: Services, seeded: dict[str, int]
) -> None:
    statements: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(db_services.engine, "before_cursor_execute", remember)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        response = db_client.get("/api/runs", params=params)
        seen += names(response)
        pages += 1
        cursor = response.headers.get("x-next-cursor")
        if cursor is None:
            break
        assert cursor == response.json()[-1]["id"]
    event.remove(db_services.engine, "before_cursor_execute", remember)
    assert pages == 3
    assert len(seen) == 8
    assert len(set(seen)) == 8
    assert seen == names(db_client.get("/api/runs"))
    # keyset: later pages start at `id < cursor`; SQLite spells LIMIT n as LIMIT n OFFSET 0
    runs_queries = [(s, p) for s, p in statements if "FROM runs" in s]
    assert sum("runs.id <" in s for s, _ in runs_queries) == 2
    assert all("OFFSET" not in s or tuple(p)[-1] == 0 for s, p in runs_queries)
    # a filtered list pages the same way
    first = db_client.get("/api/runs", params={"user": "olga", "limit": 2})
    older = db_client.get(
        "/api/runs", params={"user": "olga", "limit": 2, "cursor": first.headers["x-next-cursor"]}
    )
    assert names(first) + names(older) == ["stir again", "screen_4", "screen 2", "screen 1"]
    assert "x-next-cursor" not in older.headers


def test_the_openapi_document_describes_the_filters_and_the_header(
    db_client: TestClient,
) -> None:
    operation = db_client.get("/api/openapi.json").json()["paths"]["/api/runs"]["get"]
    parameters = {p["name"] for p in operation["parameters"]}
    assert {"status", "workflow", "trigger", "since", "until", "user", "q", "limit", "cursor"} <= (
        parameters
    )
    assert "X-Next-Cursor" in operation["responses"]["200"]["headers"]


# --- steps and downloads of real runs -------------------------------------------------------


@pytest.fixture
def finished_run(client: TestClient) -> dict[str, Any]:
    name = publish(client, WORKFLOW)
    run = submit(client, name, mode={"repeat": 3})
    return wait_for(client, run["id"], "completed")


def test_steps_narrow_to_a_phase_or_an_iteration_and_page(
    client: TestClient, finished_run: dict[str, Any]
) -> None:
    url = f"/api/runs/{finished_run['id']}/steps"
    everything = client.get(url).json()
    assert everything["next_after"] is None
    assert len(everything["steps"]) == 1 + 3 * 3 + 1
    second = client.get(url, params={"iteration": 2}).json()
    assert [s["path"] for s in second["steps"]] == ["dose", "read", "note"]
    assert {s["iteration"] for s in second["steps"]} == {2}
    assert [s["iteration"] for s in second["samples"]] == [2]
    prep = client.get(url, params={"phase": "prep"}).json()
    assert [s["path"] for s in prep["steps"]] == ["tare"]
    assert prep["samples"] == []
    paged: list[int] = []
    after = None
    while True:
        page = client.get(url, params={"limit": 4} | ({"after": after} if after else {})).json()
        assert len(page["samples"]) == (0 if after else 3)  # samples come with the first page
        paged += [s["id"] for s in page["steps"]]
        after = page["next_after"]
        if after is None:
            break
    assert paged == [s["id"] for s in everything["steps"]]
    assert client.get(url, params={"phase": "middle"}).status_code == 422
    assert client.get("/api/runs/999999/steps").status_code == 404


def test_the_steps_csv_has_every_step_in_order(
    client: TestClient, finished_run: dict[str, Any]
) -> None:
    run_id = finished_run["id"]
    response = client.get(f"/api/runs/{run_id}/steps.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    steps = client.get(f"/api/runs/{run_id}/steps").json()["steps"]
    assert [int(r["step_row"]) for r in rows] == [s["id"] for s in steps]
    dose = next(r for r in rows if r["path"] == "dose")
    assert dose["target"] == "balance.dose_solid"
    assert dose["args"] == '{"amount_mg": 5.0}'
    assert float(dose["duration_s"]) >= 0
    assert dose["status"] == "completed"
    assert dose["error_code"] == ""
    assert client.get("/api/runs/999999/steps.csv").status_code == 404


HOSTILE_NAMES = ["../../etc/passwd", 'quote " and \\ back', "new\r\nline: X-Evil: 1", "ünï ✓"]


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_downloads_are_named_by_the_server_never_by_the_run(
    client: TestClient, hostile: str
) -> None:
    name = publish(client, dict(WORKFLOW, name=f"wf {HOSTILE_NAMES.index(hostile)}"))
    run = submit(client, name, mode={"repeat": 1}, name=hostile)
    assert run["name"] == hostile
    run_id = run["id"]
    wait_for(client, run_id, "completed")
    expected = {
        f"/api/runs/{run_id}/results.csv": f'attachment; filename="run-{run_id}-results.csv"',
        f"/api/runs/{run_id}/results.json?download=true": (
            f'attachment; filename="run-{run_id}-results.json"'
        ),
        f"/api/runs/{run_id}/steps.csv": f'attachment; filename="run-{run_id}-steps.csv"',
        f"/api/runs/{run_id}/log?download=true": f'attachment; filename="run-{run_id}-log.txt"',
        f"/api/runs/{run_id}/log": f'inline; filename="run-{run_id}-log.txt"',
    }
    for url, disposition in expected.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-disposition"] == disposition, url
        assert "x-evil" not in {k.lower() for k in response.headers}
        assert "passwd" not in str(response.headers)
    assert client.get(f"/api/runs/{run_id}/results.json").json()[0]["iteration"] == 1


def test_call_history_filters_by_day(client: TestClient, services: Services) -> None:
    for _ in range(2):
        assert client.post("/api/instruments/balance/weigh", json={"args": {}}).status_code == 200
    today = datetime.now(UTC).date()
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert len(client.get("/api/calls", params={"since": today.isoformat()}).json()["items"]) == 2
    assert client.get("/api/calls", params={"since": tomorrow}).json()["items"] == []
    assert client.get("/api/calls", params={"until": today.isoformat()}).json()["items"] == []
    refused = client.get("/api/calls", params={"cursor": "abc"})
    assert refused.status_code == 422
    assert_error_shape(refused.json())
