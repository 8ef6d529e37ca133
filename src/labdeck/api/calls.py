"""Routes for the direct-call history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from labdeck.api.deps import CurrentUser, ServicesDep
from labdeck.api.listing import as_utc
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
    cursor: str | None = Query(
        default=None, pattern=r"^\d+$", description="`next_cursor` of the previous page"
    ),
    target: str | None = Query(default=None, description="e.g. `pump.dispense`"),
    status: Literal["running", "completed", "failed"] | None = None,
    user: str | None = Query(default=None, description="Only calls made by this user"),
    kind: Annotated[
        list[CallKind] | None,
        Query(description="Only these kinds; repeat for several (`?kind=method&kind=function`)"),
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Started at or after (ISO 8601; UTC if no zone).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Started before (ISO 8601; UTC if no zone).")
    ] = None,
) -> CallPage:
    page, next_cursor = services.calls.page(
        limit=limit,
        cursor=cursor,
        target=target,
        status=status,
        user_name=user,
        kinds=kind,
        since=as_utc(since),
        until=as_utc(until),
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
