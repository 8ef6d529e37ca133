"""The example Camera plugin: the picture of the vial, its page, snapshots and who may take them."""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labdeck.app import create_app
from labdeck.demo.bench import VIAL_CAPACITY_ML, Bench, Solvent
from labdeck.demo.camera_plugin import CLEAR_RGB, camera_plugin, vial_svg, view_vial
from labdeck.plugins import start_plugins
from labdeck.services import Services
from tests.api.test_errors_and_routes import assert_error_shape
from tests.conftest import bearer_for


@pytest.fixture
def camera_app(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services, [camera_plugin()])) as client:
        yield client


def _bench_of(services: Services) -> Bench:
    return next(v for v in vars(services.deck.module).values() if isinstance(v, Bench))


def test_an_empty_vial_is_clear_and_empty(bench: Bench) -> None:
    vial = view_vial(bench)
    assert (vial.volume_ml, vial.fill, vial.absorbance, vial.solvent) == (0, 0, 0, None)
    assert vial.colour == "#{:02x}{:02x}{:02x}".format(*CLEAR_RGB)
    assert 'clip-path="url(#vial-inside-live)"' not in vial_svg(vial, "empty")


def test_the_liquid_rises_with_volume_and_darkens_with_dye(bench: Bench) -> None:
    bench.add_solvent(Solvent.ETHANOL, 10.0)
    solvent_only = view_vial(bench)
    assert solvent_only.fill == pytest.approx(10.0 / VIAL_CAPACITY_ML)
    assert solvent_only.solvent == "ethanol"
    bench.add_solid(25.0)
    dyed = view_vial(bench)
    assert dyed.absorbance > solvent_only.absorbance
    blue = int(dyed.colour[5:7], 16)
    assert blue < CLEAR_RGB[2]  # the dye takes out blue: the liquid turns orange
    svg = vial_svg(dyed, "the <vial>", "snap")
    assert f'fill="{dyed.colour}" clip-path="url(#vial-inside-snap)"' in svg
    assert "the &lt;vial&gt;" in svg
    assert "10 mL" in svg


def test_the_camera_page_shows_the_vial_in_the_layout(
    camera_app: TestClient, services: Services
) -> None:
    _bench_of(services).add_solvent(Solvent.WATER, 20.0)
    camera_app.headers.update(bearer_for(services, "olga", "operator"))
    page = camera_app.get("/plugins/camera")
    assert page.status_code == 200
    assert 'class="plugin-link active" aria-current="page">Camera</a>' in page.text
    assert '<svg class="camera-view"' in page.text
    assert "20 mL" in page.text
    assert "Take snapshot" in page.text
    assert "No snapshot yet." in page.text


def test_an_operator_takes_a_snapshot_from_the_page_and_the_api(
    camera_app: TestClient, services: Services
) -> None:
    camera_app.headers.update(bearer_for(services, "olga", "operator"))
    missing = camera_app.get("/plugins/camera/api/snapshot")
    assert missing.status_code == 404
    assert_error_shape(missing.json())

    _bench_of(services).add_solvent(Solvent.METHANOL, 8.0)
    taken = camera_app.post("/plugins/camera/snapshots", follow_redirects=False)
    assert taken.status_code == 303
    assert taken.headers["location"] == "/plugins/camera"
    page = camera_app.get("/plugins/camera").text
    assert "by olga" in page
    assert 'clip-path="url(#vial-inside-snapshot)"' in page

    last: dict[str, Any] = camera_app.get("/plugins/camera/api/snapshot").json()
    assert last["taken_by"] == "olga"
    assert last["vial"]["volume_ml"] == pytest.approx(8.0)
    assert last["vial"]["solvent"] == "methanol"
    again = camera_app.post("/plugins/camera/api/snapshots").json()
    assert again["taken_at"] >= last["taken_at"]


def test_a_viewer_sees_the_camera_but_cannot_take_snapshots(
    camera_app: TestClient, services: Services
) -> None:
    camera_app.headers.update(bearer_for(services, "victor", "viewer"))
    page = camera_app.get("/plugins/camera")
    assert page.status_code == 200
    assert "Take snapshot" not in page.text
    assert "needs the operator role" in page.text
    for path in ("/plugins/camera/snapshots", "/plugins/camera/api/snapshots"):
        assert camera_app.post(path).status_code == 403, path
    assert camera_app.get("/plugins/camera/api/snapshot").status_code == 404


def test_each_server_has_its_own_camera(services: Services, admin_headers) -> None:
    first, second = camera_plugin(), camera_plugin()
    with TestClient(create_app(services, [first]), headers=admin_headers) as client:
        assert client.post("/plugins/camera/api/snapshots").status_code == 200
    with TestClient(create_app(services, [second]), headers=admin_headers) as client:
        assert client.get("/plugins/camera/api/snapshot").status_code == 404


def test_the_camera_is_skipped_on_a_deck_without_a_demo_bench() -> None:
    deck = types.SimpleNamespace(name="plain", module=types.ModuleType("plain"))
    services: Any = types.SimpleNamespace(deck=deck, startup_notes=[])
    assert start_plugins([camera_plugin()], services) == []
    assert "no demo bench" in services.startup_notes[0]


def test_labdeck_demo_serves_the_camera(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from typer.testing import CliRunner

    import labdeck.server as server
    from labdeck.cli import app as cli_app

    served: dict[str, Any] = {}

    def fake_serve_deck(deck: Any, settings: Any, *args: Any, **kwargs: Any) -> None:
        served.update(kwargs, deck=deck.name)

    monkeypatch.setattr(server, "serve_deck", fake_serve_deck)
    result = CliRunner().invoke(cli_app, ["demo", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert served["deck"] == "labdeck.demo.deck"
    (plugin,) = served["plugins"]
    assert plugin().name == "camera"
