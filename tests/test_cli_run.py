"""`labdeck run`: a client of a server's HTTP API (here the real app, in process)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import labdeck.cli_remote
from labdeck.app import create_app
from labdeck.cli import app as cli
from labdeck.client import Client
from labdeck.services import Services
from tests.runtime.test_runs_api import WORKFLOW, publish

FAILING: dict[str, Any] = dict(
    WORKFLOW,
    name="failing",
    parameters=[],
    outputs=[],
    script=[{"id": "prime", "kind": "call", "target": "broken_pump.prime"}],
)


@pytest.fixture
def app(services: Services) -> Any:
    return create_app(services)


@pytest.fixture
def server(app: Any, operator_headers: dict[str, str]) -> Iterator[TestClient]:
    """The test's own signed-in client (its lifespan starts and stops the services)."""
    with TestClient(app, headers=operator_headers) as client:
        yield client


@pytest.fixture
def runner(
    app: Any,
    server: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    operator_headers: dict[str, str],
) -> CliRunner:
    """`labdeck run` talks to the app through a transport that forwards each request."""
    plain = TestClient(app)  # sends only the headers the CLI sends
    seen_urls: list[str] = []

    def forward(request: httpx.Request) -> httpx.Response:
        seen_urls.append(str(request.url))
        answer = plain.request(
            request.method,
            request.url.raw_path.decode(),
            content=request.content,
            headers=dict(request.headers),
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def client(url: str, token: str | None) -> Client:
        return Client(url, token, transport=httpx.MockTransport(forward))

    monkeypatch.setattr(labdeck.cli_remote, "client_for", client)
    monkeypatch.setenv("LABDECK_TOKEN", operator_headers["Authorization"].split()[1])
    runner = CliRunner()
    runner.seen_urls = seen_urls  # type: ignore[attr-defined]
    return runner


def run(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(cli, ["run", *args, "--poll-interval", "0.02"])


def test_submit_prints_the_run_id(runner: CliRunner, server: TestClient) -> None:
    name = publish(server, WORKFLOW)
    result = run(runner, name, "--repeat", "2", "--url", "http://lab:9000")
    assert result.exit_code == 0, result.output
    run_id = result.stdout.strip()
    assert run_id.isdigit()
    submitted = server.get(f"/api/runs/{run_id}").json()
    assert submitted["mode"] == {"repeat": 2}
    assert submitted["trigger"]["by"] == "olga"
    assert runner.seen_urls[0] == "http://lab:9000/api/runs"  # type: ignore[attr-defined]


def test_params_make_a_one_row_table_and_wait_prints_outputs(
    runner: CliRunner, server: TestClient
) -> None:
    name = publish(server, WORKFLOW)
    result = run(runner, name, "--param", "amount_mg=2.5", "--wait")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    run_id = lines[0]
    assert lines[1] == f"run {run_id} completed"
    (sample,) = [json.loads(line) for line in lines[2:]]
    assert sample["params"] == {"amount_mg": 2.5}
    assert abs(sample["outputs"]["mass"] - 2.5) < 1.0

    twice = run(runner, name, "-p", "amount_mg=3", "--repeat", "2", "--wait")
    assert twice.exit_code == 0, twice.output
    samples = [json.loads(line) for line in twice.stdout.strip().splitlines()[2:]]
    assert [s["params"] for s in samples] == [{"amount_mg": 3.0}, {"amount_mg": 3.0}]


def test_a_run_that_ends_otherwise_exits_1(runner: CliRunner, server: TestClient) -> None:
    name = publish(server, FAILING)

    def cancel_once_paused_by_the_error() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            runs = server.get("/api/runs").json()
            if runs and runs[0]["status"] == "paused":
                time.sleep(0.3)  # the CLI polls every 0.02 s: it sees the pause first
                server.post(f"/api/runs/{runs[0]['id']}/cancel", json={"reason": "no sample"})
                return
            time.sleep(0.02)

    operator = threading.Thread(target=cancel_once_paused_by_the_error)
    operator.start()
    result = run(runner, name, "--wait")
    operator.join()
    assert result.exit_code == 1, result.output
    run_id = result.stdout.splitlines()[0]
    assert result.stdout.splitlines()[1] == f"run {run_id} cancelled: no sample"
    assert f"run {run_id} is paused" in result.stderr  # the operator saw why it stopped


def test_refusals_exit_2_with_the_message(runner: CliRunner, server: TestClient) -> None:
    name = publish(server, WORKFLOW)
    unknown = run(runner, "no such workflow")
    assert unknown.exit_code == 2
    assert "NOT_FOUND" in unknown.stderr
    bad_value = run(runner, name, "--param", "amount_mg=lots")
    assert bad_value.exit_code == 2
    assert "rows[1].amount_mg" in bad_value.stderr
    no_token = runner.invoke(cli, ["run", name], env={"LABDECK_TOKEN": ""})
    assert no_token.exit_code == 2
    assert "NOT_AUTHENTICATED" in no_token.stderr
    not_name_value = run(runner, name, "--param", "amount_mg")
    assert not_name_value.exit_code == 2
    assert "NAME=VALUE" in not_name_value.output


def test_an_unreachable_server_exits_3() -> None:
    result = CliRunner().invoke(cli, ["run", "x", "--url", "http://127.0.0.1:9", "--token", "t"])
    assert result.exit_code == 3
    assert "cannot reach" in result.stderr


CAMPAIGN: dict[str, Any] = {
    "parameters": [{"name": "amount_mg", "type": "float", "low": 1, "high": 10}],
    "objectives": [{"name": "absorbance"}],
    "budget": 2,
    "seed": 3,
}


def test_a_campaign_file_is_submitted_as_a_campaign(
    runner: CliRunner, server: TestClient, tmp_path: Any
) -> None:
    name = publish(server, WORKFLOW)
    path = tmp_path / "campaign.json"
    path.write_text(json.dumps(CAMPAIGN))
    result = run(runner, name, "--campaign", str(path), "--wait")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    run_id = lines[0]
    assert lines[1] == f"run {run_id} completed"
    samples = [json.loads(line) for line in lines[2:]]
    assert len(samples) == 2
    assert all(1 <= s["params"]["amount_mg"] <= 10 for s in samples)
    submitted = server.get(f"/api/runs/{run_id}").json()
    assert submitted["mode"]["campaign"]["budget"] == 2
    assert submitted["mode"]["campaign"]["optimizer"] == "optuna"


def test_a_campaign_file_is_checked_before_anything_is_sent(
    runner: CliRunner, server: TestClient, tmp_path: Any
) -> None:
    name = publish(server, WORKFLOW)
    good = tmp_path / "campaign.json"
    good.write_text(json.dumps(CAMPAIGN))
    with_params = run(runner, name, "--campaign", str(good), "--param", "amount_mg=2")
    assert with_params.exit_code == 2
    assert "without --param or --repeat" in with_params.output
    with_repeat = run(runner, name, "--campaign", str(good), "--repeat", "2")
    assert with_repeat.exit_code == 2
    missing = run(runner, name, "--campaign", str(tmp_path / "nope.json"))
    assert missing.exit_code == 2
    assert "cannot read" in missing.output
    broken = tmp_path / "broken.json"
    broken.write_text('{"budget": 3,\n  oops}')
    not_json = run(runner, name, "--campaign", str(broken))
    assert not_json.exit_code == 2
    assert "is not JSON: line 2" in not_json.output
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    not_object = run(runner, name, "--campaign", str(listed))
    assert not_object.exit_code == 2
    assert "JSON object" in not_object.output
    assert runner.seen_urls == []  # type: ignore[attr-defined]
    assert server.get("/api/runs").json() == []


def test_a_campaign_the_server_refuses_exits_2_with_its_fields(
    runner: CliRunner, server: TestClient, tmp_path: Any
) -> None:
    name = publish(server, WORKFLOW)
    path = tmp_path / "campaign.json"
    path.write_text(json.dumps({**CAMPAIGN, "objectives": [{"name": "colour"}]}))
    result = run(runner, name, "--campaign", str(path))
    assert result.exit_code == 2
    assert "mode.campaign.objectives[0].name" in result.stderr
