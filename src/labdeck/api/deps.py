"""Typed dependencies for routers and pages: the services and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from labdeck.auth.service import Principal, require_role
from labdeck.errors import NotAuthenticated
from labdeck.services import Services

SESSION_COOKIE = "labdeck_session"


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def authenticate(request: Request, services: Services) -> Principal | None:
    """The caller from a Bearer token or the session cookie; None when neither is given.

    A Bearer token that is given but invalid is an error even if a cookie is also present,
    so a program never silently acts as a browser user.
    """
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        principal = services.auth.resolve(token.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            raise NotAuthenticated("the API token is invalid, revoked or expired", code="BAD_TOKEN")
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return services.auth.resolve(cookie)
    return None


async def current_user(request: Request) -> Principal:
    # Each auth dependency reads the services itself instead of depending on get_services:
    # FastAPI's dependency solving is a measurable part of every direct call.
    principal = authenticate(request, request.app.state.services)
    if principal is None:
        raise NotAuthenticated("sign in first: send `Authorization: Bearer <token>`")
    return principal


async def operator_user(request: Request) -> Principal:
    principal = await current_user(request)
    require_role(principal, "operator")
    return principal


async def admin_user(request: Request) -> Principal:
    principal = await current_user(request)
    require_role(principal, "admin")
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]
Operator = Annotated[Principal, Depends(operator_user)]
Admin = Annotated[Principal, Depends(admin_user)]
