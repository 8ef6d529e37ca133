"""An example plugin: a Camera page with a simulated picture of the demo vial.

`labdeck demo` serves it; any deck built on the demo `Bench` can use it too:

    from labdeck.demo.camera_plugin import camera_plugin
    labdeck.run(__name__, plugins=[camera_plugin])

It shows everything a plugin can have (see `labdeck.plugins`):
- a page at `/plugins/camera`, rendered from `camera_templates/camera.html` inside labdeck's
  layout, with a "Camera" entry in the navigation;
- a form route (`POST /plugins/camera/snapshots`, operator) that takes a snapshot;
- API routes for programs: `GET /plugins/camera/api/snapshot` (the last snapshot) and
  `POST /plugins/camera/api/snapshots` (take one);
- a startup hook that refuses a deck without a demo bench, so the plugin is skipped there.

The "camera" draws the vial as SVG from the bench's state: the liquid's height is its volume
and its colour deepens with the dye's absorbance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup, escape

from labdeck.demo.bench import VIAL_CAPACITY_ML, Bench
from labdeck.errors import NotFound
from labdeck.plugins import Plugin, PluginUser, render_page
from labdeck.services import Services

NAME = "camera"
TEMPLATES = Path(__file__).parent / "camera_templates"
CLEAR_RGB = (232, 241, 248)  # solvent without dye: a faint blue tint of glass and liquid
DYE_RGB = (214, 72, 18)  # the dye absorbs blue light around 450 nm, so it looks orange-red


@dataclass(frozen=True)
class VialView:
    """What the camera sees in the vial."""

    volume_ml: float
    fill: float  # 0..1 of the vial's capacity
    concentration_mg_ml: float
    solvent: str | None
    temperature_c: float
    stir_rpm: float
    absorbance: float  # noise-free, at the band maximum
    colour: str  # CSS hex colour of the liquid


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    taken_by: str
    vial: VialView

    def as_json(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at.isoformat(),
            "taken_by": self.taken_by,
            "vial": asdict(self.vial),
        }


def find_bench(services: Services) -> Bench | None:
    """The demo bench of the served deck (the deck module keeps it in a private name)."""
    return next((v for v in vars(services.deck.module).values() if isinstance(v, Bench)), None)


def _bench(request: Request) -> Bench:
    bench = find_bench(request.app.state.services)
    if bench is None:
        raise NotFound("this deck has no demo vial for the camera to look at")
    return bench


def view_vial(bench: Bench) -> VialView:
    absorbance = bench.expected_absorbance(bench.peak_wavelength_nm()) if bench.volume_ml else 0.0
    # The share of light the dye absorbs decides how deep the colour looks.
    strength = min(1.0, max(0.0, 1.0 - 10.0 ** (-absorbance)))
    rgb = (round(c + (d - c) * strength) for c, d in zip(CLEAR_RGB, DYE_RGB, strict=True))
    solvent = bench.solvent
    return VialView(
        volume_ml=round(bench.volume_ml, 2),
        fill=round(min(1.0, bench.volume_ml / VIAL_CAPACITY_ML), 4),
        concentration_mg_ml=round(bench.concentration_mg_ml, 4),
        solvent=solvent.value if solvent is not None else None,
        temperature_c=round(bench.temperature_c, 1),
        stir_rpm=round(bench.stir_rpm),
        absorbance=round(absorbance, 4),
        colour="#{:02x}{:02x}{:02x}".format(*rgb),
    )


# The vial's inside in SVG units: liquid fills it from the bottom.
_TOP, _BOTTOM, _LEFT, _RIGHT = 40.0, 200.0, 34.0, 106.0


def vial_svg(vial: VialView, caption: str, ident: str = "live") -> Markup:
    """The picture: a vial with its liquid, a stir bar when stirring, and a caption.

    `ident` keeps the clip path's id unique when a page shows several pictures.
    """
    clip = f"vial-inside-{ident}"
    height = (_BOTTOM - _TOP) * vial.fill
    liquid = (
        f'<rect x="{_LEFT}" y="{_BOTTOM - height:.1f}" width="{_RIGHT - _LEFT}" '
        f'height="{height:.1f}" fill="{vial.colour}" clip-path="url(#{clip})"/>'
        if height > 0
        else ""
    )
    stir_bar = (
        '<rect x="58" y="190" width="24" height="5" rx="2.5" fill="#495057"/>'
        if vial.stir_rpm > 0
        else ""
    )
    label = escape(caption)
    return Markup(  # noqa: S704 (built from numbers and the escaped caption only)
        f'<svg class="camera-view" viewBox="0 0 140 240" width="210" height="360" role="img" '
        f'aria-label="{label}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{label}</title>"
        '<rect width="140" height="240" fill="#1f2328" rx="6"/>'
        f'<clipPath id="{clip}"><path d="M34 40 V188 a12 12 0 0 0 12 12 H94 '
        'a12 12 0 0 0 12 -12 V40 Z"/></clipPath>'
        f"{liquid}{stir_bar}"
        '<path d="M30 28 V188 a16 16 0 0 0 16 16 H94 a16 16 0 0 0 16 -16 V28" '
        'fill="none" stroke="#ced4da" stroke-width="3"/>'
        '<rect x="26" y="20" width="88" height="10" rx="2" fill="#868e96"/>'
        f'<text x="70" y="226" text-anchor="middle" fill="#f1f3f5" font-size="11" '
        f'font-family="sans-serif">{vial.volume_ml:g} mL · {vial.temperature_c:g} °C</text>'
        "</svg>"
    )


class Camera:
    """The camera of one server: its last snapshot."""

    def __init__(self) -> None:
        self.last: Snapshot | None = None

    def take(self, bench: Bench, user: str) -> Snapshot:
        self.last = Snapshot(datetime.now(UTC), user, view_vial(bench))
        return self.last


def _check_bench(services: Services) -> None:
    if find_bench(services) is None:
        raise RuntimeError(f"deck {services.deck.name!r} has no demo bench to film")


def camera_plugin() -> Plugin:
    """A fresh camera plugin (each server gets its own snapshot)."""
    camera = Camera()
    router = APIRouter()  # the pages
    api = APIRouter()  # for programs: in the OpenAPI document

    @router.get("", include_in_schema=False)
    async def camera_page(request: Request, _user: PluginUser) -> Response:
        live = view_vial(_bench(request))
        context = {
            "live": live,
            "live_svg": vial_svg(live, "The vial now"),
            "snapshot": camera.last,
            "snapshot_svg": (
                vial_svg(camera.last.vial, "The vial at the last snapshot", "snapshot")
                if camera.last is not None
                else None
            ),
        }
        return render_page(request, "camera.html", context)

    @router.post("/snapshots", include_in_schema=False)
    async def take_snapshot_from_page(request: Request, user: PluginUser) -> Response:
        camera.take(_bench(request), user.name)
        return RedirectResponse(f"/plugins/{NAME}", status_code=303)

    @api.get("/snapshot")
    async def last_snapshot() -> dict[str, Any]:
        """The last snapshot of the vial: when, by whom, and what it showed."""
        if camera.last is None:
            raise NotFound("no snapshot has been taken yet")
        return camera.last.as_json()

    @api.post("/snapshots")
    async def take_snapshot(request: Request, user: PluginUser) -> dict[str, Any]:
        """Take a snapshot of the vial now (operator)."""
        return camera.take(_bench(request), user.name).as_json()

    router.include_router(api, prefix="/api")
    return Plugin(
        name=NAME, label="Camera", router=router, templates=TEMPLATES, startup=_check_bench
    )
