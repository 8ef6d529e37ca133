"""The MCP server (`labdeck.mcp_server`) against a live `labdeck demo` server.

The tools are called through the MCP SDK's in-process client, so each call goes the way an
agent's does (arguments validated against the tool's schema, errors as tool results).
Skipped when the optional extra `mcp` is not installed, unless LABDECK_TEST_REQUIRE_MCP=1.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

if os.environ.get("LABDECK_TEST_REQUIRE_MCP") != "1":
    pytest.importorskip(
        "mcp",
        reason="the optional extra `mcp` is not installed (pip install 'labdeck[mcp]');"
        " LABDECK_TEST_REQUIRE_MCP=1 makes this a failure",
    )

import mcp
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent

from labdeck.client import Client
from labdeck.mcp_server import MISSING_MCP, TOOLS, build_mcp
from tests.client.conftest import make_idle
from tests.client.helpers import dose_workflow, slow_workflow
from tests.server_process import PASSWORD, ServerProcess

pytestmark = pytest.mark.slow

ROLE_PASSWORD = "mcp-role-password-1"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data: Path = tmp_path_factory.mktemp("mcp") / "data"
    server = ServerProcess(["demo"], data).start()
    yield server
    server.stop()


def _client_of(server: ServerProcess, name: str, role: str) -> Client:
    created = httpx.post(
        f"{server.base_url}/api/users",
        json={"name": name, "password": ROLE_PASSWORD, "role": role},
        headers=server.token(PASSWORD),
    )
    assert created.status_code == 201, created.text
    client = Client(server.base_url)
    client.login(name, ROLE_PASSWORD)
    return client


@pytest.fixture(scope="module")
def operator(demo_server: ServerProcess) -> Iterator[Client]:
    with _client_of(demo_server, "otto", "operator") as client:
        yield client


@pytest.fixture(scope="module")
def viewer(demo_server: ServerProcess) -> Iterator[Client]:
    with _client_of(demo_server, "vera", "viewer") as client:
        yield client


@pytest.fixture
def lab(operator: Client) -> Iterator[MCPServer]:
    """The operator's MCP server; afterwards the lab is idle again."""
    yield build_mcp(operator, poll_interval=0.05)
    make_idle(operator)


def call(server: MCPServer, tool: str, **arguments: Any) -> CallToolResult:
    """Call a tool through an in-process MCP client session, as an agent would."""

    async def session() -> CallToolResult:
        async with mcp.Client(server) as client:
            return await client.call_tool(tool, arguments)

    return anyio.run(session)


def ok(server: MCPServer, tool: str, **arguments: Any) -> Any:
    result = call(server, tool, **arguments)
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    return result.structured_content


def text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def test_every_tool_is_listed_with_a_description_and_hints(lab: MCPServer) -> None:
    async def listing() -> list[Any]:
        async with mcp.Client(lab) as client:
            return (await client.list_tools()).tools

    tools = {tool.name: tool for tool in anyio.run(listing)}
    assert set(tools) == set(TOOLS)
    assert all(len(tool.description or "") > 40 for tool in tools.values())
    assert tools["start_run"].annotations is not None
    assert tools["start_run"].annotations.destructive_hint is True
    assert tools["deck_info"].annotations is not None
    assert tools["deck_info"].annotations.read_only_hint is True
    assert "operator token" in (tools["call_instrument"].description or "")
    schema = tools["start_run"].input_schema
    assert schema["required"] == ["workflow"]
    assert schema["properties"]["mode"]["enum"] == ["repeat", "table", "campaign"]


def test_deck_info_summarizes_instruments_with_argument_schemas(lab: MCPServer) -> None:
    deck = ok(lab, "deck_info")
    assert deck["you"] == {"name": "otto", "role": "operator"}
    dose = deck["instruments"]["balance"]["methods"]["dose_solid"]
    assert "amount_mg" in dose["args_schema"]["properties"]
    assert "\n" not in dose["doc"]
    one = ok(lab, "deck_info", instrument="balance")
    assert set(one["instruments"]) == {"balance"}
    missing = call(lab, "deck_info", instrument="nope")
    assert missing.is_error
    assert "INVALID_INPUT: no instrument 'nope'" in text(missing)


def test_list_and_get_workflow(lab: MCPServer, operator: Client) -> None:
    name = dose_workflow(operator)
    listed = ok(lab, "list_workflows", query=name)["workflows"]
    assert [w["name"] for w in listed] == [name]
    found = ok(lab, "get_workflow", workflow=name)
    assert found["active_version"] == found["document_version"] == 1
    assert found["document"]["parameters"][0]["name"] == "amount_mg"
    assert found["draft_problems"] == []


def test_start_wait_and_results_of_a_repeat_run(lab: MCPServer, operator: Client) -> None:
    name = dose_workflow(operator)
    run = ok(lab, "start_run", workflow=name, mode="repeat", repeat=2)
    assert run["mode"] == {"repeat": 2}
    waited = ok(lab, "wait_for_run", run_id=run["id"], timeout_s=30)
    assert waited["outcome"] == "ended"
    assert waited["run"]["status"] == "completed"
    results = ok(lab, "run_results", run_id=run["id"])
    assert results["status"] == "completed"
    assert [row["iteration"] for row in results["results"]] == [1, 2]
    assert all(row["mass"] is not None for row in results["results"])


def test_a_table_run_takes_its_rows(lab: MCPServer, operator: Client) -> None:
    name = dose_workflow(operator)
    table = [{"amount_mg": 1.0}, {"amount_mg": 2.0}]
    run = ok(lab, "start_run", workflow=name, mode="table", table=table)
    assert ok(lab, "wait_for_run", run_id=run["id"])["run"]["status"] == "completed"
    rows = ok(lab, "run_results", run_id=run["id"])["results"]
    assert [row["amount_mg"] for row in rows] == [1.0, 2.0]
    no_rows = call(lab, "start_run", workflow=name, mode="table")
    assert no_rows.is_error
    assert "INVALID_INPUT: mode 'table' needs `table`" in text(no_rows)


def test_stop_run_cancels_with_the_reason(lab: MCPServer, operator: Client) -> None:
    run = ok(lab, "start_run", workflow=slow_workflow(operator, seconds=5))
    waited = ok(lab, "wait_for_run", run_id=run["id"], timeout_s=0.3)
    assert waited["outcome"] == "still_running"
    queue = ok(lab, "queue_status")
    assert run["id"] in [q["id"] for q in [queue["active"], *queue["pending"]] if q]
    stopped = ok(lab, "stop_run", run_id=run["id"], reason="agent saw a spill")
    assert stopped["id"] == run["id"]
    ended = ok(lab, "wait_for_run", run_id=run["id"], timeout_s=15)
    assert ended["outcome"] == "ended"
    assert ended["run"]["status"] == "cancelled"
    assert "agent saw a spill" in (ended["run"]["status_reason"] or "")


def test_pause_makes_a_run_need_attention_and_resume_goes_on(
    lab: MCPServer, operator: Client
) -> None:
    operator.pause_queue()  # the run stays queued, so pausing it holds it in the queue
    run = ok(lab, "start_run", workflow=dose_workflow(operator))
    assert ok(lab, "pause_run", run_id=run["id"])["status"] == "paused"
    assert ok(lab, "wait_for_run", run_id=run["id"])["outcome"] == "needs_attention"
    assert ok(lab, "resume_run", run_id=run["id"])["status"] == "pending"
    operator.resume_queue()
    assert ok(lab, "wait_for_run", run_id=run["id"])["run"]["status"] == "completed"


def test_client_errors_become_tool_errors_with_the_code(lab: MCPServer) -> None:
    unknown = call(lab, "start_run", workflow="no such workflow")
    assert unknown.is_error
    assert "NOT_FOUND: " in text(unknown)
    missing_run = call(lab, "run_status", run_id="999999")
    assert missing_run.is_error
    assert "NOT_FOUND: " in text(missing_run)


def test_call_instrument_returns_the_output(lab: MCPServer) -> None:
    args = {"amount_mg": 2.0}
    done = ok(lab, "call_instrument", instrument="balance", method="dose_solid", args=args)
    assert isinstance(done["output"], float)
    refused = call(lab, "call_instrument", instrument="balance", method="dose_solid")
    assert refused.is_error
    assert '"field": "amount_mg"' in text(refused)
    wrong = call(lab, "call_instrument", instrument="balance", method="no_such_method")
    assert wrong.is_error
    assert "NOT_FOUND: " in text(wrong)


def test_a_viewer_token_reads_but_may_not_start_runs(viewer: Client, operator: Client) -> None:
    name = dose_workflow(operator)
    server = build_mcp(viewer)
    assert ok(server, "deck_info")["you"]["role"] == "viewer"
    assert [w["name"] for w in ok(server, "list_workflows", query=name)["workflows"]] == [name]
    refused = call(server, "start_run", workflow=name)
    assert refused.is_error
    assert "ROLE_REQUIRED: " in text(refused)
    direct = call(server, "call_instrument", instrument="balance", method="dose_solid")
    assert direct.is_error
    assert "ROLE_REQUIRED: " in text(direct)


def test_labdeck_mcp_serves_the_tools_over_stdio(demo_server: ServerProcess) -> None:
    answer = httpx.post(
        f"{demo_server.base_url}/api/auth/token",
        json={"username": "otto", "password": ROLE_PASSWORD},
    )
    command = mcp.StdioServerParameters(
        command=sys.executable,
        args=["-m", "labdeck", "--url", demo_server.base_url, "mcp"],
        env={**os.environ, "LABDECK_TOKEN": answer.json()["token"]},
    )

    async def session() -> tuple[list[str], CallToolResult]:
        async with mcp.Client(command) as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
            return names, await client.call_tool("deck_info", {})

    names, deck = anyio.run(session)
    assert set(names) == set(TOOLS)
    assert not deck.is_error
    assert deck.structured_content is not None
    assert deck.structured_content["you"]["name"] == "otto"


def test_without_the_sdk_build_mcp_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, operator: Client
) -> None:
    real = importlib.import_module

    def no_mcp(name: str, package: str | None = None) -> Any:
        if name.startswith("mcp"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_mcp)
    with pytest.raises(ImportError, match=r"pip install 'labdeck\[mcp\]'"):
        build_mcp(operator)
    assert "labdeck[mcp]" in MISSING_MCP
