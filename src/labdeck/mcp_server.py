"""An MCP server over the labdeck client, so an AI agent can operate the lab (`labdeck mcp`).

Owns `build_mcp(client)`: the MCP server whose tools are `LabTools`' methods (`mcp_tools.py`),
with their hints (read-only, destructive) and the error mapping: a refusal or failure from the
labdeck server (`LabdeckClientError`) becomes an MCP tool error that says its code and message,
never a crash. The server talks to labdeck only through the client, so the agent has exactly
the permissions of the client's token.

Needs the optional extra `mcp` (the MCP Python SDK 2.x, where FastMCP is named `MCPServer`);
labdeck imports without it, and `build_mcp` says how to install it.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from labdeck import __version__
from labdeck.client import Client, LabdeckClientError
from labdeck.mcp_tools import LabTools

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

MISSING_MCP = (
    "the MCP server needs the MCP Python SDK, which is not installed: pip install 'labdeck[mcp]'"
)

INSTRUCTIONS = """\
Tools to operate a self-driving lab served by labdeck. Runs and direct calls act on real
instruments: they dispense, heat, move and measure. Start with deck_info and list_workflows;
read a workflow with get_workflow before start_run; follow a run with wait_for_run and read
run_results. A run that needs attention (wait_for_run says so) lists the valid verbs in its
`actions`. Errors say the labdeck error code (e.g. ROLE_REQUIRED: the token may not do this;
INSTRUMENT_BUSY: retryable later)."""

# name -> (read only, destructive): hints for the agent's client (MCP ToolAnnotations).
TOOLS: dict[str, tuple[bool, bool]] = {
    "deck_info": (True, False),
    "list_workflows": (True, False),
    "get_workflow": (True, False),
    "start_run": (False, True),
    "run_status": (True, False),
    "wait_for_run": (True, False),
    "run_results": (True, False),
    "run_campaign": (True, False),
    "queue_status": (True, False),
    "pause_run": (False, False),
    "resume_run": (False, True),
    "stop_run": (False, True),
    "stop_pending": (False, True),
    "retry_step": (False, True),
    "skip_step": (False, True),
    "answer_input": (False, True),
    "continue_run": (False, True),
    "call_instrument": (False, True),
}


def describe_error(exc: LabdeckClientError) -> str:
    """The text of the tool error: the code and message, then whether to retry, the detail."""
    text = f"{exc.code}: {exc.message}"
    if exc.retryable:
        text += "\nretryable: yes (the same request may succeed later)"
    if exc.detail:
        text += f"\ndetail: {json.dumps(exc.detail, default=str)}"
    return text


def reported(tool: Callable[..., Any], tool_error: type[Exception]) -> Callable[..., Any]:
    """`tool`, with the labdeck client's errors (and refused arguments) as `tool_error`s.

    The SDK shows a `ToolError`'s text to the agent; any other exception would be a crash
    whose text the agent never sees.
    """

    @functools.wraps(tool)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return tool(*args, **kwargs)
        except LabdeckClientError as exc:
            raise tool_error(describe_error(exc)) from exc
        except ValueError as exc:
            raise tool_error(f"INVALID_INPUT: {exc}") from exc

    return call


def build_mcp(client: Client, *, poll_interval: float | None = None) -> MCPServer:
    """The MCP server whose tools operate the lab behind `client`, with its token's rights."""
    try:
        mcpserver = importlib.import_module("mcp.server.mcpserver")
        exceptions = importlib.import_module("mcp.server.mcpserver.exceptions")
        mcp_types = importlib.import_module("mcp.types")
    except ImportError as exc:
        raise ImportError(MISSING_MCP) from exc
    tools = LabTools(client) if poll_interval is None else LabTools(client, poll_interval)
    server: MCPServer = mcpserver.MCPServer(
        name="labdeck",
        title="labdeck lab",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
    )
    for name, (read_only, destructive) in TOOLS.items():
        hints = mcp_types.ToolAnnotations(
            read_only_hint=read_only,
            destructive_hint=None if read_only else destructive,
            open_world_hint=True,
        )
        server.add_tool(reported(getattr(tools, name), exceptions.ToolError), annotations=hints)
    return server


def serve_stdio(url: str, token: str | None) -> None:
    """Serve the MCP tools on stdin/stdout for the labdeck server at `url`, until EOF."""
    with Client(url, token) as client:
        build_mcp(client).run("stdio")
