"""Starting a labdeck server for a deck: `labdeck serve`, `labdeck demo`, `labdeck.run()`."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import uvicorn

from labdeck.app import create_app
from labdeck.deck.bindings import Deck
from labdeck.deck.introspect import introspect_deck
from labdeck.deck.load import deck_name, is_loading_deck, load_deck_module, module_from_caller
from labdeck.demo import DECK_MODULE as DEMO_DECK_MODULE
from labdeck.plugins import PluginSource, load_plugins, start_plugins
from labdeck.runtime.notify import Handler
from labdeck.runtime.triggers import RedactHookSecrets
from labdeck.services import Services, build_services
from labdeck.settings import Settings, get_settings

log = logging.getLogger("labdeck")
DEMO_PASSWORD_FILE = "demo_admin_password"  # noqa: S105 (a file name)


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def load_deck(
    spec: str | ModuleType, expose: Sequence[str] = (), exclude: Sequence[str] = ()
) -> Deck:
    module = spec if isinstance(spec, ModuleType) else load_deck_module(spec)
    return introspect_deck(
        module, name=deck_name(module), expose=list(expose) or None, exclude=list(exclude) or None
    )


def prepare(
    settings: Settings,
    deck: Deck,
    templates: Path | None = None,
    notify: Sequence[Handler] = (),
    plugins: Sequence[PluginSource] = (),
) -> Services:
    """Build the services, load templates and plugins, and tell the person at the terminal
    how to log in. Plugins are those given plus the `labdeck.plugins` entry points."""
    services = build_services(settings, deck, notify)
    services.plugins = start_plugins(load_plugins(plugins, services.startup_notes), services)
    if templates is not None:
        from labdeck.workflow.templates import load_templates

        outcomes = load_templates(services.workflows, templates)
        counts = Counter(outcome.outcome for outcome in outcomes)
        services.startup_notes.append(
            f"templates from {templates}: "
            + ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
        )
    if settings.demo_mode and deck.name == DEMO_DECK_MODULE:
        from labdeck.demo.workflows import install_demo_workflows

        added = install_demo_workflows(services.workflows)
        if added:
            services.startup_notes.append(f"demo workflows published: {', '.join(added)}")
    password = services.generated_admin_password
    password_file = settings.data_dir / DEMO_PASSWORD_FILE
    if settings.demo_mode:
        if password is not None:
            password_file.write_text(password + "\n", encoding="utf-8")
            password_file.chmod(0o600)
        elif password_file.exists():
            password = password_file.read_text(encoding="utf-8").strip()
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
    lines = [f"labdeck {deck.name!r}: {len(deck.instruments)} instruments"]
    lines.append(f"  open   http://{host}:{settings.port}/")
    if password is not None:
        lines.append(f"  login  admin / {password}")
        if not settings.demo_mode:
            lines.append("         (generated now and shown only once: change it after login)")
    elif settings.admin_password is not None and services.auth.list_users():
        lines.append("  login  admin / the password in LABDECK_ADMIN_PASSWORD")
    lines.extend(f"  note   {note}" for note in services.startup_notes)
    for skipped in deck.schema.skipped:
        lines.append(f"  skip   {skipped.name}: {skipped.reason}")
    # Printed, not logged: the password must not end up in log files.
    print("\n".join(lines), flush=True)
    return services


def serve_deck(
    deck: Deck,
    settings: Settings,
    templates: Path | None = None,
    notify: Sequence[Handler] = (),
    plugins: Sequence[PluginSource] = (),
) -> None:
    configure_logging(settings)
    # Webhook URLs carry their secret: never let a log line show it.
    for name in ("uvicorn.access", "labdeck.api.errors"):
        logging.getLogger(name).addFilter(RedactHookSecrets())
    services = prepare(settings, deck, templates, notify, plugins)
    services.triggers.start()  # schedules fire only in a serving process, not in tests
    app = create_app(services)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=settings.access_log,
        lifespan="on",
        server_header=False,
    )
    uvicorn.Server(config).run()


def run(
    module: str,
    *,
    host: str | None = None,
    port: int | None = None,
    data_dir: str | Path | None = None,
    expose: Sequence[str] = (),
    exclude: Sequence[str] = (),
    templates: str | Path | None = None,
    notify: Sequence[Handler] = (),
    plugins: Sequence[PluginSource] = (),
    **settings_overrides: Any,
) -> None:
    """Serve the calling deck module: put `labdeck.run(__name__)` at the end of it.

    When `labdeck serve deck.py` imports that module, this call returns at once, so the
    module can be used both ways. A relative `templates` folder is found next to the deck file.
    `notify` handlers are called with a message dict when a run needs a person.
    `plugins` (`labdeck.plugins.Plugin` values or factories) add pages and API routes under
    `/plugins/<name>`; installed `labdeck.plugins` entry points are added to them.
    """
    if is_loading_deck():
        return
    overrides: dict[str, Any] = dict(settings_overrides)
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if data_dir is not None:
        overrides["data_dir"] = Path(data_dir)
    settings = get_settings().model_copy(update=overrides)
    deck = load_deck(module_from_caller(module), expose, exclude)
    folder = Path(templates) if templates is not None else None
    deck_file = getattr(deck.module, "__file__", None)
    if folder is not None and not folder.is_absolute() and deck_file:
        folder = Path(deck_file).resolve().parent / folder
    try:
        serve_deck(deck, settings, folder, notify, plugins)
    except KeyboardInterrupt:
        sys.exit(0)
