"""Routes for the deck schema and direct control of instruments and functions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from labdeck.api.deps import CurrentUser, Operator, ServicesDep
from labdeck.api.openapi import AUTHED, errors
from labdeck.api.schemas import CallOut, CallRequest, PropertyValue, call_response
from labdeck.auth.service import Principal, require_role
from labdeck.deck.schema import InterfaceSchema

router = APIRouter(prefix="/api", tags=["deck"])

CALL_DOC = (
    "200 means the call ran: `status` is `completed` with its `output`, or `failed` with a "
    "structured `error`. 4xx means nothing ran."
)


def _check_force(principal: Principal, force: bool) -> None:
    if force:
        require_role(principal, "admin")


@router.get(
    "/deck",
    response_model=InterfaceSchema,
    responses=errors(*AUTHED),
    summary="The deck's interface schema with its fingerprint",
)
async def get_deck(_user: CurrentUser, services: ServicesDep) -> Any:
    return services.deck.schema


@router.post(
    "/instruments/{instrument}/{method}",
    response_model=CallOut,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="Call an instrument method",
    description=CALL_DOC,
)
async def call_method(
    instrument: str, method: str, body: CallRequest, user: Operator, services: ServicesDep
) -> Response:
    _check_force(user, body.force)
    record = await services.control.call_method(
        instrument, method, body.args, user=user.name, force=body.force
    )
    return call_response(record)


@router.get(
    "/instruments/{instrument}/properties/{name}",
    response_model=CallOut,
    responses=errors(*AUTHED, 404, 409),
    summary="Read a property (recorded as a call)",
    description=CALL_DOC,
)
async def get_property(
    instrument: str, name: str, user: Operator, services: ServicesDep
) -> Response:
    record = await services.control.get_property(instrument, name, user=user.name)
    return call_response(record)


@router.put(
    "/instruments/{instrument}/properties/{name}",
    response_model=CallOut,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="Set a property (recorded as a call)",
    description=CALL_DOC,
)
async def set_property(
    instrument: str, name: str, body: PropertyValue, user: Operator, services: ServicesDep
) -> Response:
    _check_force(user, body.force)
    record = await services.control.set_property(
        instrument, name, body.value, user=user.name, force=body.force
    )
    return call_response(record)


@router.post(
    "/functions/{function}",
    response_model=CallOut,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="Call a deck function",
    description=CALL_DOC,
)
async def call_function(
    function: str, body: CallRequest, user: Operator, services: ServicesDep
) -> Response:
    _check_force(user, body.force)
    record = await services.control.call_function(
        function, body.args, user=user.name, force=body.force
    )
    return call_response(record)
