"""`labdeck --url URL --token T runs|workflows|run ...` against a real demo server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from labdeck.cli import app as cli
from labdeck.client import Client
from tests.client.helpers import dose_workflow, slow_workflow, wait_for
from tests.server_process import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def labdeck(demo_server: ServerProcess, operator_token: str, lab: Client) -> Any:
    """`labdeck --url <demo> --token <operator> ARGS...` in process."""
    runner = CliRunner()

    def invoke(*args: str, **options: Any) -> Any:
        root = ["--url", demo_server.base_url, "--token", operator_token]
        return runner.invoke(cli, [*root, *args], **options)

    return invoke


def test_runs_list_and_its_filters(labdeck: Any, lab: Client) -> None:
    name = dose_workflow(lab)
    first = lab.start_run(name, name="cli first")
    lab.wait(first["id"], timeout=30, poll_interval=0.02)
    lab.pause_queue()
    queued = lab.start_run(name, name="cli queued")

    listed = labdeck("runs", "list", "--limit", "2")
    assert listed.exit_code == 0, listed.output
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "DONE", "CREATED", "NAME"]
    assert [row.split()[:2] for row in rows] == [
        [queued["id"], "pending"],
        [first["id"], "completed"],
    ]
    assert rows[1].endswith("cli first")

    completed = labdeck("runs", "list", "--status", "completed", "--json")
    assert completed.exit_code == 0, completed.output
    runs = json.loads(completed.stdout)
    assert first["id"] in [run["id"] for run in runs]
    assert {run["status"] for run in runs} == {"completed"}
    both = labdeck("runs", "list", "--status", "completed", "--status", "pending", "--json")
    assert {run["status"] for run in json.loads(both.stdout)} == {"completed", "pending"}


def test_runs_show(labdeck: Any, lab: Client) -> None:
    run = lab.start_run(dose_workflow(lab), table=[{"amount_mg": 2}])
    lab.wait(run["id"], timeout=30, poll_interval=0.02)
    shown = labdeck("runs", "show", run["id"])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"run:       {run['id']} ")
    assert "status:    completed" in lines
    assert "done:      1/1" in lines
    sample = json.loads(lines[-1])
    assert sample["params"] == {"amount_mg": 2.0}
    as_json = labdeck("runs", "show", run["id"], "--json")
    assert json.loads(as_json.stdout)["id"] == run["id"]


def test_runs_wait_exits_by_the_runs_outcome(labdeck: Any, lab: Client) -> None:
    slow = slow_workflow(lab, seconds=0.3)
    run = lab.start_run(slow)
    waited = labdeck("runs", "wait", run["id"], "--poll-interval", "0.02")
    assert waited.exit_code == 0, waited.output
    assert f"run {run['id']} completed" in waited.stdout

    long = lab.start_run(slow_workflow(lab, seconds=3))
    wait_for(lab, long["id"], "waiting")
    timed_out = labdeck("runs", "wait", long["id"], "--timeout", "0.1", "--poll-interval", "0.02")
    assert timed_out.exit_code == 4
    assert "still waiting" in timed_out.stderr
    lab.cancel(long["id"], "enough")
    cancelled = labdeck("runs", "wait", long["id"], "--poll-interval", "0.02")
    assert cancelled.exit_code == 1
    assert f"run {long['id']} cancelled: enough" in cancelled.stdout


def test_workflows_list(labdeck: Any) -> None:
    listed = labdeck("workflows", "list", "--tag", "demo")
    assert listed.exit_code == 0, listed.output
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "ACTIVE", "NAME", "TAGS"]
    assert any(row.split()[1:4] == ["active", "v1", "dye-absorbance"] for row in rows)
    as_json = labdeck("workflows", "list", "--q", "dye", "--json")
    assert [w["name"] for w in json.loads(as_json.stdout)] == ["dye-absorbance"]


def test_run_takes_the_server_from_the_root_options(labdeck: Any, lab: Client) -> None:
    name = dose_workflow(lab)
    submitted = labdeck("run", name, "--param", "amount_mg=3", "--wait", "--poll-interval", "0.02")
    assert submitted.exit_code == 0, submitted.output
    run_id, outcome, sample = submitted.stdout.splitlines()
    assert outcome == f"run {run_id} completed"
    assert json.loads(sample)["params"] == {"amount_mg": 3.0}


def test_the_token_may_come_from_the_environment(
    demo_server: ServerProcess, operator_token: str
) -> None:
    result = CliRunner().invoke(
        cli,
        ["--url", demo_server.base_url, "workflows", "list"],
        env={"LABDECK_TOKEN": operator_token},
    )
    assert result.exit_code == 0, result.output
    assert "dye-absorbance" in result.stdout


def test_refusals_exit_2_and_silence_exits_3(labdeck: Any, demo_server: ServerProcess) -> None:
    missing = labdeck("runs", "show", "999999")
    assert missing.exit_code == 2
    assert "NOT_FOUND" in missing.stderr
    signed_out = CliRunner().invoke(
        cli, ["--url", demo_server.base_url, "runs", "list"], env={"LABDECK_TOKEN": ""}
    )
    assert signed_out.exit_code == 2
    assert "NOT_AUTHENTICATED" in signed_out.stderr
    nowhere = CliRunner().invoke(
        cli, ["--url", "http://127.0.0.1:9", "--token", "t", "runs", "list"]
    )
    assert nowhere.exit_code == 3
    assert "cannot reach http://127.0.0.1:9" in nowhere.stderr


def test_local_commands_still_take_their_own_options() -> None:
    for command in (["serve", "--help"], ["demo", "--help"], ["run", "--help"], ["--help"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 0, (command, result.output)
    assert "--url" in CliRunner().invoke(cli, ["--help"]).stdout
