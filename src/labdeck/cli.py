"""The `labdeck` command: serve, demo, db, user, token; run, runs, workflows on a server.

The local commands (serving a deck, the database, users and tokens) live here; the ones that
talk to a running server over HTTP are in `cli_remote.py`, registered below.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from labdeck import __version__
from labdeck.cli_mcp import mcp_command
from labdeck.cli_remote import RemoteTarget, run_workflow, runs_app, workflows_app
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
app.add_typer(runs_app, name="runs")
app.add_typer(workflows_app, name="workflows")

HostOpt = Annotated[str | None, typer.Option(help="Address to listen on (default: 127.0.0.1).")]
PortOpt = Annotated[int | None, typer.Option(help="Port to listen on (default: 8000).")]
PasswordOpt = Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data folder (default: ./labdeck_data).")
]


@app.callback()
def remote_server(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            help="The server of run, runs and workflows (default: http://127.0.0.1:8000)."
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="An API token for that server (default: $LABDECK_TOKEN).", envvar="LABDECK_TOKEN"
        ),
    ] = None,
) -> None:
    ctx.obj = RemoteTarget(url, token)


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
    from labdeck.demo.camera_plugin import camera_plugin
    from labdeck.server import load_deck, serve_deck

    settings = _settings(data_dir, port=port, host="127.0.0.1", demo_mode=True)
    try:
        serve_deck(load_deck(DECK_MODULE), settings, plugins=[camera_plugin])
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


# `labdeck run` talks to a server over HTTP, like the runs and workflows groups.
app.command("run")(run_workflow)
app.command("mcp")(mcp_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
