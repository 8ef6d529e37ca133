"""Plugins: extra pages and API routes a lab adds to its labdeck server.

A plugin is a `Plugin` value:

- `name`: URL-safe and unique (lowercase letters, digits, `-`, `_`); everything the plugin
  serves is under `/plugins/<name>`;
- `label`: the text of its entry in the navigation;
- `router`: a FastAPI `APIRouter` whose paths are relative to `/plugins/<name>` (`""` is the
  plugin's page; paths under `/api/` answer like labdeck's API: 401 JSON without a login);
- `templates`: a folder of Jinja templates for its pages; they may `{% extends "base.html" %}`
  and fill `{% block content %}`, and are rendered with `render_page(request, "x.html", {...})`.
  Without a folder, `render_html(request, title, html)` puts an HTML string in the layout;
- `nav_path`: where the navigation entry leads, relative to `/plugins/<name>` (default: the
  plugin's root); plugins without a router get no entry;
- `startup`: called once with the `Services` when the server starts (before it serves).

Register plugins with `labdeck.run(__name__, plugins=[...])` or `serve_deck(..., plugins=...)`,
or from an installed package through the `labdeck.plugins` entry point group; an entry point
may name a `Plugin` or a zero-argument factory returning one. A plugin that cannot be loaded
or whose startup fails is skipped with a startup note; a second plugin with a name already in
use is refused with a note (and `create_app` refuses duplicates outright).

Every plugin route sits behind labdeck's auth, added when it is mounted: a signed-in user for
GET/HEAD/OPTIONS, the operator role for other methods. A route may declare a stricter dependency
of its own (for example `labdeck.api.deps.Admin`). Pages without a login go to the sign-in
form; the cross-origin guard covers plugin routes like every other route.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import jinja2
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from labdeck.api.deps import current_user
from labdeck.api.openapi import errors
from labdeck.api.security import SAFE_METHODS
from labdeck.auth.service import Principal, require_role
from labdeck.web.pages import page_user, templates

if TYPE_CHECKING:
    from labdeck.services import Services

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "labdeck.plugins"
PLUGIN_ROOT = "/plugins"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


class PluginError(ValueError):
    """A plugin that cannot be mounted: an invalid value or a name already in use."""


@dataclass(frozen=True)
class Plugin:
    name: str
    label: str
    router: APIRouter | None = None
    templates: Path | None = None
    nav_path: str | None = None
    startup: Callable[[Services], None] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.fullmatch(self.name):
            raise PluginError(
                f"plugin name {self.name!r} is not URL-safe: use 1-40 lowercase letters, "
                "digits, '-' or '_', starting with a letter or digit"
            )
        if not isinstance(self.label, str) or not self.label.strip():
            raise PluginError(f"plugin {self.name!r} needs a label for the navigation")
        if self.router is not None and not isinstance(self.router, APIRouter):
            raise PluginError(f"plugin {self.name!r}: router must be a fastapi.APIRouter")
        if self.templates is not None:
            object.__setattr__(self, "templates", Path(self.templates))
        if self.nav_path is not None and not (self.nav_path == "" or self.nav_path[0] == "/"):
            raise PluginError(f"plugin {self.name!r}: nav_path must start with '/'")

    @property
    def prefix(self) -> str:
        return f"{PLUGIN_ROOT}/{self.name}"

    @property
    def nav_href(self) -> str | None:
        if self.router is None:
            return None
        return self.prefix + (self.nav_path or "")


PluginSource = Plugin | Callable[[], Plugin]


@dataclass(frozen=True)
class NavEntry:
    label: str
    href: str
    active: str  # the `active` value of the plugin's pages, which highlights the entry


# --- loading --------------------------------------------------------------------------------


def _resolve(source: object, origin: str) -> Plugin:
    plugin = source if isinstance(source, Plugin) or not callable(source) else source()
    if not isinstance(plugin, Plugin):
        raise PluginError(f"{origin} gave {type(plugin).__name__}, not a labdeck.plugins.Plugin")
    return plugin


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _given(source: PluginSource) -> Callable[[], object]:
    return lambda: source


def discovered_sources() -> list[tuple[str, Callable[[], object]]]:
    """The `labdeck.plugins` entry points installed, as (where from, loader)."""
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return [(f"entry point {ep.name!r} ({ep.value})", ep.load) for ep in found]


def load_plugins(
    given: Iterable[PluginSource], notes: list[str], *, discover: bool = True
) -> list[Plugin]:
    """The plugins to mount: those given, then the installed entry points.

    A plugin that fails to load is skipped and a second one with a taken name is refused;
    each gets a line in `notes`, and the traceback goes to the log.
    """
    sources = [(f"plugin argument {index}", _given(source)) for index, source in enumerate(given)]
    if discover:
        try:
            sources += discovered_sources()
        except Exception as exc:  # a broken distribution's metadata must not stop the server
            log.warning("cannot list %s entry points", ENTRY_POINT_GROUP, exc_info=exc)
            notes.append(f"plugin discovery failed: {_describe(exc)}")
    plugins: dict[str, tuple[Plugin, str]] = {}
    for origin, load in sources:
        try:
            plugin = _resolve(load(), origin)
        except Exception as exc:
            log.warning("plugin from %s skipped", origin, exc_info=exc)
            notes.append(f"plugin from {origin} skipped: {_describe(exc)}")
            continue
        if plugin.name in plugins:
            first = plugins[plugin.name][1]
            notes.append(
                f"plugin {plugin.name!r} from {origin} refused: the name is already used by "
                f"the plugin from {first}"
            )
            continue
        plugins[plugin.name] = (plugin, origin)
    return [plugin for plugin, _ in plugins.values()]


def start_plugins(plugins: Sequence[Plugin], services: Services) -> list[Plugin]:
    """Run each plugin's startup hook; one that raises is skipped with a startup note."""
    started = []
    for plugin in plugins:
        if plugin.startup is not None:
            try:
                plugin.startup(services)
            except Exception as exc:
                log.warning("plugin %r failed to start", plugin.name, exc_info=exc)
                services.startup_notes.append(
                    f"plugin {plugin.name!r} skipped: its startup failed ({_describe(exc)})"
                )
                continue
        started.append(plugin)
    if started:
        services.startup_notes.append(
            "plugins: " + ", ".join(f"{p.label} ({p.prefix})" for p in started)
        )
    return started


# --- mounting -------------------------------------------------------------------------------


def _access_guard(plugin: Plugin) -> Callable[[Request], Awaitable[None]]:
    """The auth every route of `plugin` gets: viewer to read, operator to change state."""
    api_prefix = f"{plugin.prefix}/api/"

    async def plugin_access(request: Request) -> None:
        if request.url.path.startswith(api_prefix):
            principal = await current_user(request)
        else:
            principal = await page_user(request, request.app.state.services)
        if request.method not in SAFE_METHODS:
            require_role(principal, "operator")
        request.state.labdeck_user = principal
        request.state.labdeck_plugin = plugin

    return plugin_access


def mount_plugins(app: FastAPI, plugins: Sequence[Plugin]) -> None:
    """Include each plugin's router under `/plugins/<name>` behind the auth, and list the
    plugins for the navigation."""
    names = [plugin.name for plugin in plugins]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PluginError(f"two plugins cannot share a name: {', '.join(duplicates)}")
    for plugin in plugins:
        if plugin.router is not None:
            app.include_router(
                plugin.router,
                prefix=plugin.prefix,
                tags=[f"plugin: {plugin.name}"],
                dependencies=[Depends(_access_guard(plugin))],
                responses=errors(401, 403),
            )
    app.state.plugin_nav = tuple(
        NavEntry(plugin.label, plugin.nav_href, _active(plugin))
        for plugin in plugins
        if plugin.nav_href is not None
    )


def _active(plugin: Plugin) -> str:
    return f"plugin:{plugin.name}"


def plugin_nav(request: Request) -> tuple[NavEntry, ...]:
    """The navigation entries of the app serving `request` (a template global)."""
    entries: tuple[NavEntry, ...] = getattr(request.app.state, "plugin_nav", ())
    return entries


templates.env.globals["plugin_nav"] = plugin_nav


# --- what plugin routes use -----------------------------------------------------------------


async def plugin_user(request: Request) -> Principal:
    """The signed-in caller of a plugin route (checked when the plugin was mounted)."""
    principal: Principal = request.state.labdeck_user
    return principal


PluginUser = Annotated[Principal, Depends(plugin_user)]


@cache
def _templates_for(folder: Path) -> Jinja2Templates:
    # An overlay shares labdeck's filters and globals, and finds "base.html" after the
    # plugin's own folder.
    base_loader = templates.env.loader
    assert base_loader is not None
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(folder), base_loader])
    return Jinja2Templates(env=templates.env.overlay(loader=loader))


def render_page(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    """A plugin page in labdeck's layout: `template` from the plugin's templates folder."""
    plugin: Plugin = request.state.labdeck_plugin
    services: Services = request.app.state.services
    user: Principal = request.state.labdeck_user
    shell = {
        "user": user,
        "deck_name": services.deck.name,
        "fingerprint": services.deck.fingerprint,
        "can_run": user.has_role("operator"),
        "active": _active(plugin),
        "plugin": plugin,
    }
    renderer = templates if plugin.templates is None else _templates_for(plugin.templates)
    return renderer.TemplateResponse(
        request, template, {**shell, **(context or {})}, status_code=status_code
    )


def render_html(request: Request, title: str, html: str, *, status_code: int = 200) -> Response:
    """A plugin page from an HTML string (trusted: the plugin escapes what it inserts)."""
    context = {"title": title, "body": Markup(html)}  # noqa: S704 (the plugin's own markup)
    return render_page(request, "plugin_page.html", context, status_code=status_code)
