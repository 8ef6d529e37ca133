"""Routes for API tokens, the caller, and user administration (admin only)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status

from labdeck.api.deps import Admin, CurrentUser, ServicesDep
from labdeck.api.openapi import AUTHED, errors
from labdeck.api.schemas import Me, TokenOut, TokenRequest, UserCreate, UserOut, UserPatch
from labdeck.errors import Conflict

router = APIRouter(prefix="/api", tags=["auth"])


@router.post(
    "/auth/token",
    response_model=TokenOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 422, 429),
    summary="Exchange a user name and password for an API token",
)
async def create_token(body: TokenRequest, services: ServicesDep) -> TokenOut:
    user = services.auth.check_password(body.username, body.password)
    ttl = timedelta(days=body.ttl_days or services.settings.token_ttl_days)
    issued = services.auth.issue_token(user, kind="api", ttl=ttl, label=body.label)
    return TokenOut(token=issued.token, expires_at=issued.expires_at, user=UserOut.of(user))


@router.delete(
    "/auth/token",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(*AUTHED, 409),
    summary="Revoke the token this request is authenticated with",
)
async def revoke_token(request: Request, principal: CurrentUser, services: ServicesDep) -> Response:
    if principal.token_kind != "api":  # noqa: S105 (a token kind, not a secret)
        raise Conflict("this request uses a browser session, not an API token; sign out instead")
    header = request.headers.get("authorization", "")
    services.auth.revoke(header.partition(" ")[2].strip())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=Me, responses=errors(*AUTHED), summary="The caller")
async def me(principal: CurrentUser) -> Me:
    return Me(
        name=principal.name,
        role=principal.role,
        auth="api" if principal.token_kind == "api" else "session",  # noqa: S105
    )


@router.get("/users", response_model=list[UserOut], responses=errors(*AUTHED), summary="List users")
async def list_users(_admin: Admin, services: ServicesDep) -> list[UserOut]:
    return [UserOut.of(user) for user in services.auth.list_users()]


@router.post(
    "/users",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(*AUTHED, 409, 422),
    summary="Create a user with a role",
)
async def create_user(body: UserCreate, _admin: Admin, services: ServicesDep) -> UserOut:
    return UserOut.of(services.auth.create_user(body.name, body.password, body.role))


@router.get(
    "/users/{name}", response_model=UserOut, responses=errors(*AUTHED, 404), summary="One user"
)
async def get_user(name: str, _admin: Admin, services: ServicesDep) -> UserOut:
    return UserOut.of(services.auth.get_user(name))


@router.patch(
    "/users/{name}",
    response_model=UserOut,
    responses=errors(*AUTHED, 404, 422),
    summary="Reset a password, change a role, or disable/enable a user",
)
async def update_user(name: str, body: UserPatch, admin: Admin, services: ServicesDep) -> UserOut:
    if name == admin.name and (body.disabled or (body.role and body.role != "admin")):
        raise Conflict("you cannot disable or demote yourself; ask another admin")
    user = services.auth.update_user(
        name, password=body.password, role=body.role, disabled=body.disabled
    )
    return UserOut.of(user)


@router.delete(
    "/users/{name}",
    response_model=UserOut,
    responses=errors(*AUTHED, 404, 409),
    summary="Disable a user (records keep their name) and revoke their tokens",
)
async def disable_user(name: str, admin: Admin, services: ServicesDep) -> UserOut:
    if name == admin.name:
        raise Conflict("you cannot disable yourself; ask another admin")
    return UserOut.of(services.auth.update_user(name, disabled=True))
