"""The `labdeck` command: serve, demo, db, user, token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from labdeck import __version__
from labdeck.settings import Settings, SettingsError, get_settings

if TYPE_CHECKING:
    from labdeck.auth.service import AuthService

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="labdeck: a web lab for a Python deck."
)
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
user_app = typer.Typer(no_args_is_help=True, help="Manage users.")
token_app = typer.Typer(no_args_is_help=True, help="Manage API tokens.")
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")

HostOpt = Annotated[str | None, typer.Option(help="Address to listen on [default: 127.0.0.1].")]
PortOpt = Annotated[int | None, typer.Option(help="Port to listen on [default: 8000].")]
PasswordOpt = Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data folder [default: ./labdeck_data].")
]


def _settings(data_dir: Path | None = None, **overrides: object) -> Settings:
    base = get_settings()
    update = {key: value for key, value in overrides.items() if value is not None}
    if data_dir is not None:
        update["data_dir"] = data_dir
    return base.model_copy(update=update)


def _fail(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


@app.command()
def serve(
    deck: Annotated[str, typer.Argument(help="The deck: a .py file or a module name.")],
    host: HostOpt = None,
    port: PortOpt = None,
    data_dir: DataDirOpt = None,
    expose: Annotated[
        list[str] | None,
        typer.Option(help="Expose this top-level name even if labdeck would skip it."),
    ] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Hide this top-level name.")] = None,
    templates: Annotated[
        Path | None,
        typer.Option(help="Folder of workflow files (JSON or Python) to load into the library."),
    ] = None,
) -> None:
    """Serve a deck module: its instruments become web controls and an HTTP API."""
    from labdeck.deck.load import DeckLoadError
    from labdeck.server import load_deck, serve_deck

    settings = _settings(data_dir, host=host, port=port)
    try:
        loaded = load_deck(deck, expose or (), exclude or ())
        serve_deck(loaded, settings, templates)
    except (DeckLoadError, SettingsError, ValueError) as exc:
        raise _fail(str(exc)) from exc


@app.command()
def demo(port: PortOpt = None, data_dir: DataDirOpt = None) -> None:
    """Serve the simulated demo lab on 127.0.0.1 and print the login."""
    from labdeck.demo import DECK_MODULE
    from labdeck.server import load_deck, serve_deck

    settings = _settings(data_dir, port=port, host="127.0.0.1", demo_mode=True)
    try:
        serve_deck(load_deck(DECK_MODULE), settings)
    except SettingsError as exc:
        raise _fail(str(exc)) from exc


@app.command()
def version() -> None:
    """Print the labdeck version."""
    typer.echo(__version__)


@app.command("import-ivoryos")
def import_ivoryos_file(
    file: Annotated[Path, typer.Argument(help="An IvoryOS workflow JSON file.")],
    out: Annotated[
        Path | None, typer.Option(help="Write the converted workflow here (default: stdout).")
    ] = None,
) -> None:
    """Convert an IvoryOS workflow JSON to a labdeck.workflow/1 document.

    The report of anything not converted goes to stderr. Exit code 0: fully converted;
    2: converted with errors (see the report); 1: nothing could be converted.
    """
    import json

    from labdeck.workflow.import_ivoryos import import_ivoryos
    from labdeck.workflow.report import ImportFailed, ImportNote

    def report(notes: list[ImportNote]) -> None:
        for note in notes:
            where = f"line {note.line}" if note.line is not None else note.where or "document"
            typer.secho(
                f"{note.severity}: {where}: {note.message}",
                err=True,
                fg=typer.colors.RED if note.severity == "error" else typer.colors.YELLOW,
            )

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read {file}: {exc}") from exc
    try:
        result = import_ivoryos(data)
    except ImportFailed as exc:
        report(exc.report)
        raise _fail(f"nothing could be converted from {file}: {exc}") from exc
    if result.document is None:
        report(result.report)
        raise _fail(f"nothing could be converted from {file}")
    text = result.document.model_dump_json(by_alias=True, exclude_defaults=True, indent=2)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)
    report(result.report)
    if result.errors:
        raise typer.Exit(code=2)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDirOpt = None) -> None:
    """Apply database migrations (the server also does this at start)."""
    from labdeck.store.db import create_db_engine
    from labdeck.store.migrate import current_revision, upgrade

    settings = _settings(data_dir)
    settings.prepare_data_dir()
    engine = create_db_engine(settings.resolved_database_url())
    upgrade(engine)
    typer.echo(f"database at revision {current_revision(engine)}")


def _auth_service(data_dir: Path | None) -> tuple[Settings, AuthService]:
    from labdeck.auth.service import AuthService
    from labdeck.store.db import create_db_engine
    from labdeck.store.migrate import upgrade
    from labdeck.store.repo_users import TokenRepository, UserRepository

    settings = _settings(data_dir)
    settings.prepare_data_dir()
    engine = create_db_engine(settings.resolved_database_url())
    upgrade(engine)
    return settings, AuthService(
        UserRepository(engine), TokenRepository(engine), settings.prepare_secret_key()
    )


@user_app.command("add")
def user_add(
    name: str,
    role: Annotated[str, typer.Option(help="admin, operator or viewer.")] = "operator",
    password: PasswordOpt = "",
    data_dir: DataDirOpt = None,
) -> None:
    """Create a user."""
    _, auth = _auth_service(data_dir)
    with _reported_errors():
        auth.create_user(name, password, role)
    typer.echo(f"created {role} {name}")


@user_app.command("passwd")
def user_passwd(
    name: str,
    password: PasswordOpt = "",
    data_dir: DataDirOpt = None,
) -> None:
    """Set a user's password (signs the user out everywhere)."""
    _, auth = _auth_service(data_dir)
    with _reported_errors():
        auth.update_user(name, password=password)
    typer.echo(f"password of {name} changed")


@token_app.command("create")
def token_create(
    user: str,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    ttl_days: Annotated[float | None, typer.Option(help="Lifetime in days.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create an API token for a user and print it (shown only once)."""
    settings, auth = _auth_service(data_dir)
    with _reported_errors():
        record = auth.get_user(user)
    issued = auth.issue_token(
        record, kind="api", ttl=timedelta(days=ttl_days or settings.token_ttl_days), label=label
    )
    typer.echo(issued.token)


@contextmanager
def _reported_errors() -> Iterator[None]:
    """Turn a refused request into a red message and exit code 1 instead of a traceback."""
    from labdeck.errors import LabdeckError

    try:
        yield
    except LabdeckError as exc:
        raise _fail(_describe(exc)) from exc


def _describe(exc: Exception) -> str:
    from labdeck.errors import InvalidInput

    if isinstance(exc, InvalidInput):
        fields = "; ".join(f"{f['field']}: {f['message']}" for f in exc.detail.get("fields", []))
        return f"{exc}: {fields}" if fields else str(exc)
    return str(exc)


# --- labdeck run: a client of a running server's HTTP API ------------------------------------

if TYPE_CHECKING:
    from typing import Any

    import httpx

RUN_REFUSED = 2
RUN_UNREACHABLE = 3
_RUN_ENDED = ("completed", "failed", "cancelled")


def _http_client(url: str, token: str | None) -> httpx.Client:
    """The HTTP client `labdeck run` uses (tests swap in one that talks to an in-process app)."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30.0)


@app.command("run")
def run_workflow(
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
    url: Annotated[str, typer.Option(help="The labdeck server.")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None,
        typer.Option(help="An API token (default: $LABDECK_TOKEN).", envvar="LABDECK_TOKEN"),
    ] = None,
    poll_interval: Annotated[float, typer.Option(hidden=True, min=0.0)] = 0.5,
) -> None:
    """Submit a run of the active version to a running server and print the run id.

    Exit code 0: submitted (with --wait: completed); 1: the run failed or was cancelled;
    2: the server refused the request (the message says why); 3: the server did not answer.
    """
    import json
    import time

    mode: dict[str, Any]
    if campaign is not None:
        if param or repeat is not None:
            raise typer.BadParameter(
                "a campaign chooses the parameters and the number of experiments:"
                " give --campaign without --param or --repeat",
                param_hint="--campaign",
            )
        mode = {"campaign": _campaign_file(campaign)}
    else:
        row = dict(_name_value(text) for text in param or [])
        # Values go as typed: the server converts each to its parameter's type, as CSV cells.
        count = 1 if repeat is None else repeat
        mode = {"table": [row] * count} if row else {"repeat": count}
    with _http_client(url, token) as http:
        run = _api(http, "POST", "/api/runs", {"workflow": workflow, "mode": mode})
        run_id = run["id"]
        typer.echo(run_id)
        if not wait:
            return
        seen = ""
        try:
            while run["status"] not in _RUN_ENDED:
                state = f"{run['status']}: {run.get('status_reason') or ''}".rstrip(": ")
                prompt = run.get("prompt") or {}
                if prompt.get("message"):
                    state += f" ({prompt['message']})"
                if state != seen:
                    typer.echo(f"run {run_id} is {state}", err=True)
                seen = state
                time.sleep(poll_interval)
                run = _api(http, "GET", f"/api/runs/{run_id}")
        except KeyboardInterrupt:
            typer.echo(f"stopped waiting; run {run_id} goes on on the server", err=True)
            raise typer.Exit(code=130) from None
        reason = f": {run['status_reason']}" if run.get("status_reason") else ""
        typer.echo(f"run {run_id} {run['status']}{reason}")
        if run.get("error"):
            typer.echo(f"error {run['error'].get('code')}: {run['error'].get('message')}")
        for sample in _api(http, "GET", f"/api/runs/{run_id}/steps").get("samples", []):
            keys = ("iteration", "sample", "params", "outputs")
            typer.echo(json.dumps({key: sample.get(key) for key in keys}, default=str))
    if run["status"] != "completed":
        raise typer.Exit(code=1)


def _campaign_file(path: Path) -> dict[str, Any]:
    """The campaign in a JSON file, checked to be a JSON object (the server checks the rest)."""
    import json

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


def _api(http: httpx.Client, method: str, path: str, body: Any = None) -> Any:
    """The JSON answer, or exit 2 with the server's message (4xx) or 3 (no usable answer)."""
    import httpx

    try:
        response = http.request(method, path, json=body)
    except httpx.HTTPError as exc:
        typer.secho(f"cannot reach {http.base_url}: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=RUN_UNREACHABLE) from None
    if response.is_success:
        return response.json()
    try:
        error = response.json()["error"]
        message = f"{error['code']}: {error['message']}"
        fields = error.get("detail", {}).get("fields") or []
        message += "".join(f"\n  {f['field']}: {f['message']}" for f in fields)
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {response.status_code}: {response.text[:500]}"
    typer.secho(message, fg=typer.colors.RED, err=True)
    refused = 400 <= response.status_code < 500
    raise typer.Exit(code=RUN_REFUSED if refused else RUN_UNREACHABLE)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
