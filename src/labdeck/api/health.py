"""The unauthenticated liveness route."""

from __future__ import annotations

from fastapi import APIRouter

from labdeck import __version__
from labdeck.api.schemas import Health

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness; needs no login")
async def health() -> Health:
    return Health(version=__version__)
