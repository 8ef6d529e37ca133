"""The `labdeck` commands that talk to a running server over HTTP: run, runs, workflows.

Owns `run` (submit a run, optionally wait) and the `runs` and `workflows` command groups, all
through `labdeck.client.Client`. The server and token come from the command's own `--url` and
`--token` (for `run`), else from the root options (`labdeck --url URL --token T runs list`),
else `http://127.0.0.1:8000` and `$LABDECK_TOKEN`.

Exit codes: 0 done (for `run --wait` and `runs wait`: completed); 1 the run failed or was
cancelled; 2 the server refused the request (the message says why); 3 the server did not
answer (or answered with a server error); 4 `runs wait --timeout` ran out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from labdeck.client import Client, Run

DEFAULT_URL = "http://127.0.0.1:8000"
RUN_FAILED = 1
RUN_REFUSED = 2
RUN_UNREACHABLE = 3
WAIT_TIMED_OUT = 4

runs_app = typer.Typer(no_args_is_help=True, help="Runs on a labdeck server (see --url).")
workflows_app = typer.Typer(no_args_is_help=True, help="Workflows on a labdeck server.")

UrlOpt = Annotated[str | None, typer.Option(help=f"The labdeck server (default: {DEFAULT_URL}).")]
TokenOpt = Annotated[
    str | None,
    typer.Option(help="An API token (default: $LABDECK_TOKEN).", envvar="LABDECK_TOKEN"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
PollOpt = Annotated[float, typer.Option(hidden=True, min=0.0)]


@dataclass(frozen=True)
class RemoteTarget:
    """The server the remote commands talk to, from the root `--url` and `--token`."""

    url: str | None = None
    token: str | None = None


def client_for(url: str, token: str | None) -> Client:
    """The client the commands use (tests swap in one that reaches an in-process app)."""
    from labdeck.client import Client

    return Client(url, token)


@contextmanager
def connected(
    ctx: typer.Context, url: str | None = None, token: str | None = None
) -> Iterator[Client]:
    """A client of the chosen server; its refusals and silences become exit codes 2 and 3."""
    from labdeck.client import LabdeckClientError

    target = ctx.obj if isinstance(ctx.obj, RemoteTarget) else RemoteTarget()
    server = url or target.url or DEFAULT_URL
    client = client_for(server, token if token is not None else target.token)
    try:
        with client:
            yield client
    except LabdeckClientError as exc:
        if exc.status is None:
            _error(f"cannot reach {server}: {exc.message}")
            raise typer.Exit(code=RUN_UNREACHABLE) from None
        message = f"{exc.code}: {exc.message}"
        fields = exc.detail.get("fields") or []
        message += "".join(f"\n  {f.get('field')}: {f.get('message')}" for f in fields)
        _error(message)
        refused = 400 <= exc.status < 500
        raise typer.Exit(code=RUN_REFUSED if refused else RUN_UNREACHABLE) from None


def _error(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)


# --- labdeck run -------------------------------------------------------------------------------


def run_workflow(
    ctx: typer.Context,
    workflow: Annotated[str, typer.Argument(help="The workflow's name or id.")],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="NAME=VALUE for one parameter (repeatable); the others take their defaults.",
        ),
    ] = None,
    repeat: Annotated[
        int | None,
        typer.Option(min=0, help="Iterations (with --param: that many rows of those values)."),
    ] = None,
    campaign: Annotated[
        Path | None,
        typer.Option(
            "--campaign",
            help="A JSON file with a campaign (see GET /api/workflows/{id}/campaign-template):"
            " an optimizer chooses the parameters. Not with --param or --repeat.",
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the end; print the status and outputs.")
    ] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    poll_interval: PollOpt = 0.5,
) -> None:
    """Submit a run of the active version to a running server and print the run id.

    Exit code 0: submitted (with --wait: completed); 1: the run failed or was cancelled;
    2: the server refused the request (the message says why); 3: the server did not answer.
    """
    options: dict[str, Any]
    if campaign is not None:
        if param or repeat is not None:
            raise typer.BadParameter(
                "a campaign chooses the parameters and the number of experiments:"
                " give --campaign without --param or --repeat",
                param_hint="--campaign",
            )
        options = {"campaign": _campaign_file(campaign)}
    else:
        row = dict(_name_value(text) for text in param or [])
        # Values go as typed: the server converts each to its parameter's type, as CSV cells.
        count = 1 if repeat is None else repeat
        options = {"table": [row] * count} if row else {"repeat": count}
    with connected(ctx, url, token) as client:
        run = client.start_run(workflow, **options)
        typer.echo(run["id"])
        if wait:
            run = _wait_and_report(client, run, poll_interval)
    if wait and run["status"] != "completed":
        raise typer.Exit(code=RUN_FAILED)


def _wait_and_report(
    client: Client, run: Run, poll_interval: float, timeout: float | None = None
) -> Run:
    """Wait for the end, telling each new state on stderr; print the outcome and samples."""
    run_id = run["id"]
    seen = ""

    def progress(now: Run) -> None:
        nonlocal seen
        state = f"{now['status']}: {now.get('status_reason') or ''}".rstrip(": ")
        prompt = now.get("prompt") or {}
        if prompt.get("message"):
            state += f" ({prompt['message']})"
        if state != seen and now["status"] not in ("completed", "failed", "cancelled"):
            typer.echo(f"run {run_id} is {state}", err=True)
        seen = state

    try:
        run = client.wait(
            run_id, timeout=timeout, poll_interval=poll_interval, on_progress=progress
        )
    except KeyboardInterrupt:
        typer.echo(f"stopped waiting; run {run_id} goes on on the server", err=True)
        raise typer.Exit(code=130) from None
    except TimeoutError as exc:
        _error(str(exc))
        raise typer.Exit(code=WAIT_TIMED_OUT) from None
    _print_outcome(client, run)
    return run


def _print_outcome(client: Client, run: Run) -> None:
    reason = f": {run['status_reason']}" if run.get("status_reason") else ""
    typer.echo(f"run {run['id']} {run['status']}{reason}")
    error = run.get("error")
    if error:
        typer.echo(f"error {error.get('code')}: {error.get('message')}")
    for sample in client.steps(run["id"]).get("samples", []):
        keys = ("iteration", "sample", "params", "outputs")
        typer.echo(json.dumps({key: sample.get(key) for key in keys}, default=str))


def _campaign_file(path: Path) -> dict[str, Any]:
    """The campaign in a JSON file, checked to be a JSON object (the server checks the rest)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}", param_hint="--campaign") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(
            f"{path} is not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}",
            param_hint="--campaign",
        ) from None
    if not isinstance(value, dict):
        raise typer.BadParameter(
            f"{path} must hold a JSON object (a campaign), not {type(value).__name__}",
            param_hint="--campaign",
        )
    return value


def _name_value(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise typer.BadParameter(f"{text!r} is not NAME=VALUE", param_hint="--param")
    return name.strip(), value


# --- labdeck runs ------------------------------------------------------------------------------


@runs_app.command("list")
def runs_list(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None, typer.Option(help="Only runs with this status (repeatable).")
    ] = None,
    workflow: Annotated[str | None, typer.Option(help="Only runs of this workflow.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Runs, newest first: id, status, progress, created, name."""
    with connected(ctx) as client:
        runs = client.runs(limit=limit, status=status or None, workflow=workflow)
    if as_json:
        typer.echo(json.dumps(runs, indent=2))
        return
    rows = [
        (run["id"], run["status"], _progress(run), run["created_at"][:19], run["name"])
        for run in runs
    ]
    _table(("ID", "STATUS", "DONE", "CREATED", "NAME"), rows)


@runs_app.command("show")
def runs_show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="ID", help="The run's id.")],
    as_json: JsonOpt = False,
) -> None:
    """One run: status, progress, what it waits for, and its results so far."""
    with connected(ctx) as client:
        run = client.run(run_id)
        if as_json:
            typer.echo(json.dumps(run, indent=2))
            return
        fields = {
            "run": f"{run['id']} {run['name']!r} (workflow {run['workflow']} v{run['version']})",
            "status": run["status"] + (f": {run['status_reason']}" if run["status_reason"] else ""),
            "done": _progress(run),
            "trigger": " by ".join(str(v) for v in run["trigger"].values() if v),
            "created": run["created_at"],
            "started": run["started_at"] or "",
            "ended": run["ended_at"] or "",
            "waits for": (run.get("prompt") or {}).get("message") or "",
            "actions": ", ".join(run.get("actions") or []),
        }
        for key, value in fields.items():
            if value:
                typer.echo(f"{key + ':':11}{value}")
        error = run.get("error")
        if error:
            typer.echo(f"{'error:':11}{error.get('code')}: {error.get('message')}")
        for sample in client.steps(run["id"]).get("samples", []):
            keys = ("iteration", "sample", "params", "outputs")
            typer.echo(json.dumps({key: sample.get(key) for key in keys}, default=str))


@runs_app.command("wait")
def runs_wait(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="ID", help="The run's id.")],
    timeout: Annotated[
        float | None, typer.Option(min=0.0, help="Give up after this many seconds (exit 4).")
    ] = None,
    poll_interval: PollOpt = 0.5,
) -> None:
    """Wait until a run ends; print its outcome and results.

    Exit code 0: completed; 1: failed or cancelled; 4: still going after --timeout.
    """
    with connected(ctx) as client:
        run = _wait_and_report(client, client.run(run_id), poll_interval, timeout)
    if run["status"] != "completed":
        raise typer.Exit(code=RUN_FAILED)


# --- labdeck workflows -------------------------------------------------------------------------


@workflows_app.command("list")
def workflows_list(
    ctx: typer.Context,
    q: Annotated[str | None, typer.Option("--q", help="Text in the name or description.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only workflows with this tag.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The workflow library: id, status, active version, name, tags."""
    with connected(ctx) as client:
        found = client.workflows(q, tag=tag)
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    rows = [
        (
            w["id"],
            w["status"],
            f"v{w['active_version']}" if w["active_version"] else "draft",
            w["name"],
            ", ".join(w["tags"]),
        )
        for w in found
    ]
    _table(("ID", "STATUS", "ACTIVE", "NAME", "TAGS"), rows)


def _progress(run: Run) -> str:
    progress = run.get("progress") or {}
    done, total = progress.get("done"), progress.get("iterations")
    if done is None or total is None:
        return ""
    return f"{done}/{total}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns padded to their widest cell; the last one is not padded."""
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        padded = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        typer.echo("  ".join([*padded, row[-1]]).rstrip())
