"""Plugins: registration, entry point discovery, broken and duplicate plugins, navigation, auth."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from labdeck.api.deps import Admin
from labdeck.app import create_app
from labdeck.demo.camera_plugin import camera_plugin
from labdeck.plugins import (
    ENTRY_POINT_GROUP,
    Plugin,
    PluginError,
    PluginUser,
    load_plugins,
    render_html,
    render_page,
    start_plugins,
)
from labdeck.services import Services
from tests.api.test_errors_and_routes import PUBLIC, assert_error_shape, concrete
from tests.conftest import bearer_for


def make_plugin(name: str = "notes", label: str = "Notes", **kwargs: Any) -> Plugin:
    """A small plugin: a page, a form post, an API read and write, an admin-only route."""
    router = APIRouter()
    written: list[str] = []

    @router.get("")
    async def page(request: Request, user: PluginUser) -> Response:
        return render_html(request, label, f"<h1>{label}</h1><p>hello {user.name}</p>")

    @router.post("/notes")
    async def add_note(user: PluginUser) -> dict[str, Any]:
        written.append(user.name)
        return {"written": written}

    @router.get("/api/notes")
    async def list_notes() -> dict[str, Any]:
        return {"written": written}

    @router.post("/api/notes")
    async def add_note_api(user: PluginUser) -> dict[str, Any]:
        written.append(user.name)
        return {"written": written}

    @router.delete("/api/notes")
    async def clear_notes(_admin: Admin) -> dict[str, Any]:
        written.clear()
        return {"written": written}

    return Plugin(name=name, label=label, router=router, **kwargs)


def plugin_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route under /plugins, including those of included routers
    (which `app.routes` holds as one lazily expanded entry per router)."""
    found = {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if route.path and route.path.startswith("/plugins")
        for method in route.methods or ()
        if method != "HEAD"
    }
    return sorted(found)


@pytest.fixture
def plugin_app(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services, [make_plugin()])) as client:
        yield client


class FakeEntryPoint:
    def __init__(self, name: str, loaded: Any) -> None:
        self.name = name
        self.value = f"somewhere:{name}"
        self.group = ENTRY_POINT_GROUP
        self._loaded = loaded

    def load(self) -> Any:
        if isinstance(self._loaded, BaseException):
            raise self._loaded
        return self._loaded


def fake_entry_points(monkeypatch: pytest.MonkeyPatch, *installed: FakeEntryPoint) -> None:
    def entry_points(*, group: str | None = None) -> list[FakeEntryPoint]:
        return list(installed) if group == ENTRY_POINT_GROUP else []

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def sign_in(client: TestClient, services: Services, name: str, role: str) -> None:
    client.headers.update(bearer_for(services, name, role))


# --- registration ---------------------------------------------------------------------------


def test_a_plugin_given_to_create_app_is_mounted_under_its_name(
    plugin_app: TestClient, admin_headers: dict[str, str]
) -> None:
    page = plugin_app.get("/plugins/notes", headers=admin_headers)
    assert page.status_code == 200
    assert "<h1>Notes</h1><p>hello admin</p>" in page.text
    assert plugin_app.get("/plugins/notes/api/notes", headers=admin_headers).json() == {
        "written": []
    }


def test_run_and_serve_deck_pass_plugins_through_prepare(
    monkeypatch: pytest.MonkeyPatch, settings, demo_deck
) -> None:
    """`run(plugins=...)` -> `serve_deck` -> `prepare` -> `services.plugins` -> `create_app`."""
    import labdeck.server as server

    fake_entry_points(monkeypatch)
    started: list[Services] = []
    plugin = make_plugin(startup=started.append)
    served: dict[str, Any] = {}

    def fake_server_run(self: Any) -> None:
        served["app"] = self.config.app

    monkeypatch.setattr(server.uvicorn.Server, "run", fake_server_run)
    monkeypatch.setattr(server, "get_settings", lambda: settings)
    server.run("labdeck.demo.deck", plugins=[plugin])
    app = served["app"]
    services: Services = app.state.services
    try:
        assert started == [services]
        assert services.plugins == [plugin]
        assert any("plugins: Notes (/plugins/notes)" in n for n in services.startup_notes)
        assert ("GET", "/plugins/notes") in plugin_routes(app)
    finally:
        services.close()


def test_plugins_are_discovered_through_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    given = make_plugin("given", "Given")
    as_value = make_plugin("listed", "Listed")
    fake_entry_points(
        monkeypatch,
        FakeEntryPoint("listed", as_value),
        FakeEntryPoint("made", lambda: make_plugin("made", "Made")),
    )
    notes: list[str] = []
    plugins = load_plugins([given], notes)
    assert [p.name for p in plugins] == ["given", "listed", "made"]
    assert notes == []
    assert load_plugins([given], notes, discover=False) == [given]


def test_a_real_entry_point_loads_the_camera_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = importlib.metadata.EntryPoint(
        name="camera", value="labdeck.demo.camera_plugin:camera_plugin", group=ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda *, group=None: [entry])
    (plugin,) = load_plugins([], [])
    assert (plugin.name, plugin.label) == ("camera", "Camera")


def test_broken_plugins_are_skipped_with_a_note(
    monkeypatch: pytest.MonkeyPatch, services: Services
) -> None:
    def broken_factory() -> Plugin:
        raise RuntimeError("no camera attached")

    fake_entry_points(
        monkeypatch,
        FakeEntryPoint("missing", ModuleNotFoundError("No module named 'nowhere'")),
        FakeEntryPoint("wrong", object()),
        FakeEntryPoint("bad-name", lambda: Plugin(name="Bad Name!", label="x")),
        FakeEntryPoint("factory", broken_factory),
        FakeEntryPoint("fine", make_plugin("fine", "Fine")),
    )
    notes: list[str] = []
    plugins = load_plugins([], notes)
    assert [p.name for p in plugins] == ["fine"]
    assert len(notes) == 4
    assert "entry point 'missing' (somewhere:missing) skipped: ModuleNotFoundError" in notes[0]
    assert "not a labdeck.plugins.Plugin" in notes[1]
    assert "not URL-safe" in notes[2]
    assert "RuntimeError: no camera attached" in notes[3]

    def failing_startup(_services: Services) -> None:
        raise OSError("camera unplugged")

    failing = make_plugin("failing", "Failing", startup=failing_startup)
    started = start_plugins([failing, *plugins], services)
    assert started == plugins
    assert any(
        "plugin 'failing' skipped: its startup failed (OSError: camera unplugged)" in note
        for note in services.startup_notes
    )


def test_duplicate_names_are_refused(monkeypatch: pytest.MonkeyPatch, services: Services) -> None:
    first = make_plugin()
    fake_entry_points(monkeypatch, FakeEntryPoint("notes", make_plugin(label="Other notes")))
    notes: list[str] = []
    assert load_plugins([first], notes) == [first]
    assert notes == [
        "plugin 'notes' from entry point 'notes' (somewhere:notes) refused: the name is "
        "already used by the plugin from plugin argument 0"
    ]
    with pytest.raises(PluginError, match="two plugins cannot share a name: notes"):
        create_app(services, [first, make_plugin()])


@pytest.mark.parametrize("name", ["", "Camera", "a/b", "a b", "-x", "x" * 41])
def test_plugin_names_must_be_url_safe(name: str) -> None:
    with pytest.raises(PluginError, match="not URL-safe"):
        Plugin(name=name, label="x")


# --- navigation and pages -------------------------------------------------------------------


def test_the_navigation_shows_each_plugin_and_marks_the_current_one(
    plugin_app: TestClient, admin_headers: dict[str, str]
) -> None:
    devices = plugin_app.get("/devices", headers=admin_headers).text
    assert '<a href="/plugins/notes" class="plugin-link">Notes</a>' in devices
    page = plugin_app.get("/plugins/notes", headers=admin_headers).text
    assert (
        '<a href="/plugins/notes" class="plugin-link active" aria-current="page">Notes</a>' in page
    )
    assert '<a href="/devices">Devices</a>' in page


def test_a_plugin_without_a_router_has_no_navigation_entry(
    services: Services, admin_headers: dict[str, str]
) -> None:
    with TestClient(create_app(services, [Plugin(name="quiet", label="Quiet")])) as client:
        assert "Quiet" not in client.get("/devices", headers=admin_headers).text


def test_a_plugin_template_extends_the_base_layout(
    tmp_path: Path, services: Services, admin_headers: dict[str, str]
) -> None:
    (tmp_path / "hello.html").write_text(
        '{% extends "base.html" %}{% block content %}<p id="hi">{{ greeting }}</p>{% endblock %}',
        encoding="utf-8",
    )
    router = APIRouter()

    @router.get("/hello")
    async def hello(request: Request) -> Response:
        return render_page(request, "hello.html", {"greeting": "hi there"})

    plugin = Plugin(
        name="hello", label="Hello", router=router, templates=tmp_path, nav_path="/hello"
    )
    with TestClient(create_app(services, [plugin])) as client:
        page = client.get("/plugins/hello/hello", headers=admin_headers)
    assert page.status_code == 200
    assert '<p id="hi">hi there</p>' in page.text
    assert 'href="/plugins/hello/hello" class="plugin-link active"' in page.text
    assert "Sign out" in page.text


def test_the_app_without_plugins_shows_no_plugin_links(app_client: TestClient, admin_headers):
    assert "plugin-link" not in app_client.get("/devices", headers=admin_headers).text


# --- auth -----------------------------------------------------------------------------------


def test_every_plugin_route_needs_a_login(services: Services) -> None:
    """Like the every-route test of the API, over an app with two plugins mounted."""
    app = create_app(services, [make_plugin(), camera_plugin()])
    routes = plugin_routes(app)
    assert len(routes) == 9
    with TestClient(app) as client:
        responses = [
            (method, path, client.request(method, concrete(path), follow_redirects=False))
            for method, path in routes
        ]
    for method, path, response in responses:
        assert (method, path) not in PUBLIC
        if "/api/" in path:
            assert response.status_code == 401, (method, path)
            assert_error_shape(response.json())
            assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"
        else:
            assert response.status_code == 303, (method, path)
            assert response.headers["location"] == f"/login?next={path}"


def test_an_htmx_request_without_a_login_is_sent_to_the_login_form(
    plugin_app: TestClient,
) -> None:
    response = plugin_app.get("/plugins/notes", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["hx-redirect"].startswith("/login")


def test_a_bad_token_is_refused_even_on_a_plugin_page(plugin_app: TestClient) -> None:
    response = plugin_app.get("/plugins/notes", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "BAD_TOKEN"


def test_a_viewer_reads_but_cannot_change_state(plugin_app: TestClient, services: Services) -> None:
    sign_in(plugin_app, services, "victor", "viewer")
    assert plugin_app.get("/plugins/notes").status_code == 200
    assert plugin_app.get("/plugins/notes/api/notes").status_code == 200
    for path in ("/plugins/notes/notes", "/plugins/notes/api/notes"):
        refused = plugin_app.post(path)
        assert refused.status_code == 403, path
        assert refused.json()["error"]["code"] == "ROLE_REQUIRED"
    assert plugin_app.get("/plugins/notes/api/notes").json() == {"written": []}


def test_an_operator_changes_state_but_a_stricter_route_stays_strict(
    plugin_app: TestClient, services: Services
) -> None:
    sign_in(plugin_app, services, "olga", "operator")
    assert plugin_app.post("/plugins/notes/notes").json() == {"written": ["olga"]}
    assert plugin_app.post("/plugins/notes/api/notes").json() == {"written": ["olga", "olga"]}
    refused = plugin_app.delete("/plugins/notes/api/notes")
    assert refused.status_code == 403
    assert refused.json()["error"]["detail"]["needed"] == "admin"


def test_cross_origin_posts_to_a_plugin_are_refused(
    plugin_app: TestClient, services: Services
) -> None:
    sign_in(plugin_app, services, "olga", "operator")
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        refused = plugin_app.post("/plugins/notes/api/notes", headers=headers)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "CROSS_ORIGIN"
    assert plugin_app.get("/plugins/notes/api/notes").json() == {"written": []}


def test_plugin_api_routes_document_their_auth_errors(plugin_app: TestClient) -> None:
    document = plugin_app.get("/api/openapi.json").json()
    operation = document["paths"]["/plugins/notes/api/notes"]["post"]
    assert {"401", "403"} <= set(operation["responses"])
    assert operation["tags"] == ["plugin: notes"]
