"""`labdeck mcp`: serve a labdeck server's lab to an AI agent as MCP tools over stdio.

The agent's MCP client starts this command; it talks to the server with the given token, so
the agent has that token's permissions (viewer: read; operator: run and call instruments).
"""

from __future__ import annotations

import typer

from labdeck.cli_remote import DEFAULT_URL, RemoteTarget, TokenOpt, UrlOpt


def mcp_command(ctx: typer.Context, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Serve the lab as MCP tools on stdin/stdout (for an AI agent's MCP client).

    Needs labdeck's extra `mcp`: pip install 'labdeck\\[mcp]'. Example client configuration:
    {"command": "labdeck", "args": ["mcp", "--url", "http://127.0.0.1:8000"],
    "env": {"LABDECK_TOKEN": "..."}}
    """
    from labdeck.mcp_server import MISSING_MCP, serve_stdio

    target = ctx.obj if isinstance(ctx.obj, RemoteTarget) else RemoteTarget()
    try:
        import mcp  # noqa: F401
    except ImportError:
        typer.secho(MISSING_MCP, fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
    serve_stdio(url or target.url or DEFAULT_URL, token if token is not None else target.token)
