"""`GET /api/proxy.py`: the deck's instruments as a generated, importable Python module.

Viewers may download it; the calls it makes need an operator token like any direct call.
The module is generated from the live deck's interface schema (`client/proxy_gen.py`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from labdeck.api.deps import CurrentUser, ServicesDep
from labdeck.api.openapi import AUTHED, errors

router = APIRouter(prefix="/api", tags=["deck"])


@router.get(
    "/proxy.py",
    response_class=Response,
    responses={200: {"content": {"text/x-python": {}}}, **errors(*AUTHED)},
    summary="A typed Python module with one class per instrument (needs only httpx)",
    description="Base URL and token are constructor arguments; nothing happens at import. "
    "Errors are raised as `labdeck.client.RemoteInstrumentError` (or an identical class "
    "when labdeck is not installed) with `code` and `retryable`.",
)
async def proxy_module(request: Request, _user: CurrentUser, services: ServicesDep) -> Response:
    # Imported here: the `labdeck.client` package brings httpx, which costs start-up time.
    from labdeck.client.proxy_gen import generate_proxy, proxy_filename

    schema = services.deck.schema
    base_url = str(request.base_url).rstrip("/")
    return Response(
        generate_proxy(schema, base_url),
        media_type="text/x-python",
        headers={
            "Content-Disposition": f'attachment; filename="{proxy_filename(schema.name)}"',
            "X-Deck-Fingerprint": schema.fingerprint,
        },
    )
