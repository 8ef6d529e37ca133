"""Routes for the direct-call history."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from labdeck.api.deps import CurrentUser, ServicesDep
from labdeck.api.openapi import AUTHED, errors
from labdeck.api.schemas import CallOut, CallPage
from labdeck.deck.control import CallKind

router = APIRouter(prefix="/api", tags=["calls"])


@router.get(
    "/calls",
    response_model=CallPage,
    responses=errors(*AUTHED, 422),
    summary="Direct-call history, newest first",
)
async def list_calls(
    _user: CurrentUser,
    services: ServicesDep,
    limit: int = Query(default=50, ge=1, le=500),
    cursor: str | None = Query(default=None, description="`next_cursor` of the previous page"),
    target: str | None = Query(default=None, description="e.g. `pump.dispense`"),
    status: Literal["running", "completed", "failed"] | None = None,
    user: str | None = Query(default=None, description="Only calls made by this user"),
    kind: Annotated[
        list[CallKind] | None,
        Query(description="Only these kinds; repeat for several (`?kind=method&kind=function`)"),
    ] = None,
) -> CallPage:
    page, next_cursor = services.control.list_calls(
        limit=limit, cursor=cursor, target=target, status=status, user=user, kinds=kind
    )
    return CallPage(items=[CallOut.of(r) for r in page], next_cursor=next_cursor)


@router.get(
    "/calls/{call_id}",
    response_model=CallOut,
    responses=errors(*AUTHED, 404),
    summary="One recorded call",
)
async def get_call(call_id: str, _user: CurrentUser, services: ServicesDep) -> CallOut:
    return CallOut.of(services.control.get_call(call_id))
