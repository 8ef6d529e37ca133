"""The FastAPI application: routers, pages, static assets, error handlers, security.

`create_app(services)` is the only place the web application is assembled; plugins
(`labdeck.plugins`) are mounted here too, under `/plugins/<name>`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from labdeck import __version__
from labdeck.api import auth, calls, campaigns, deck, events, health, runs, triggers, workflows
from labdeck.api.errors import install_error_handlers
from labdeck.api.openapi import use_error_shape_for_validation
from labdeck.api.proxy import router as proxy_router
from labdeck.api.security import CrossOriginGuard
from labdeck.plugins import Plugin, mount_plugins
from labdeck.services import Services
from labdeck.web import STATIC_DIR
from labdeck.web.data import router as data_router
from labdeck.web.design import router as design_router
from labdeck.web.execute import router as execute_router
from labdeck.web.pages import router as pages_router

# Direct calls are the hot path: their router is matched first (no paths overlap).
ROUTERS = (
    deck.router,
    calls.router,
    runs.router,
    campaigns.router,
    triggers.router,
    events.router,
    workflows.router,
    auth.router,
    health.router,
    proxy_router,
    pages_router,
    design_router,
    execute_router,
    data_router,
)
OPENAPI_URL = "/api/openapi.json"
DOCS_URL = "/api/docs"
API_DESCRIPTION = """\
HTTP API of a labdeck server. Every route except `/api/health`, this documentation and the
login page needs a session cookie or `Authorization: Bearer <token>` (get one from
`POST /api/auth/token`). Errors always have the shape
`{"error": {"code", "message", "retryable", "detail"}}`. A 4xx means nothing was executed;
a 200 from a call means it ran (it may have failed: see `status` and `error`).
"""


def create_app(services: Services, plugins: Sequence[Plugin] | None = None) -> FastAPI:
    """The app over `services`, with `plugins` (default: those the server started with)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()

    app = FastAPI(
        title="labdeck",
        version=__version__,
        description=API_DESCRIPTION,
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    install_error_handlers(app)
    use_error_shape_for_validation(app)
    for router in ROUTERS:
        app.include_router(router)
    mount_plugins(app, services.plugins if plugins is None else plugins)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")

    @app.get(DOCS_URL, include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        # Served from the local vendor folder: labs are often offline, so no CDN.
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title="labdeck API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    app.add_middleware(CrossOriginGuard, trusted_origins=services.settings.trusted_origins)
    return app
