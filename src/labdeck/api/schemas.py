"""Request and response bodies of the API (what OpenAPI documents)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import Response
from pydantic import BaseModel, Field

from labdeck.store.repo_calls import CallRecord
from labdeck.store.repo_users import UserRecord


class ErrorInfo(BaseModel):
    code: str = Field(examples=["INSTRUMENT_BUSY"])
    message: str
    retryable: bool = False
    detail: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    """Every error response has this shape."""

    error: ErrorInfo


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class CallRequest(BaseModel):
    args: dict[str, Any] = Field(default_factory=dict, description="Arguments by name.")
    force: bool = Field(default=False, description="Admins only: run even while the deck is busy.")


class PropertyValue(BaseModel):
    value: Any
    force: bool = False


class CallOut(BaseModel):
    id: str
    kind: Literal["method", "function", "property_get", "property_set"]
    target: str
    args: dict[str, Any]
    status: Literal["running", "completed", "failed"]
    output: Any = None
    error: ErrorInfo | None = None
    started_at: datetime
    ended_at: datetime | None = None
    duration_s: float | None = None
    user: str | None = None
    forced: bool = False
    deck_fingerprint: str = ""

    @classmethod
    def of(cls, record: CallRecord) -> CallOut:
        return cls(
            id=str(record.id),
            kind=record.kind,
            target=record.target,
            args=record.args,
            status=record.status,
            output=record.output,
            error=ErrorInfo(**record.error) if record.error else None,
            started_at=record.started_at,
            ended_at=record.ended_at,
            duration_s=record.duration_s,
            user=record.user_name,
            forced=record.forced,
            deck_fingerprint=record.deck_fingerprint,
        )


def call_response(record: CallRecord) -> Response:
    """A `Call` body serialized once (skips FastAPI's second validation of response_model)."""
    return Response(CallOut.of(record).model_dump_json(), media_type="application/json")


class CallPage(BaseModel):
    items: list[CallOut]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next (older) page."
    )


class TokenRequest(BaseModel):
    username: str
    password: str
    label: str = Field(default="", max_length=128, description="What the token is for.")
    ttl_days: float | None = Field(default=None, gt=0, le=3650)


class UserOut(BaseModel):
    name: str
    role: Literal["admin", "operator", "viewer"]
    disabled: bool = False
    created_at: datetime | None = None

    @classmethod
    def of(cls, user: UserRecord) -> UserOut:
        return cls(
            name=user.name,
            role=user.role,
            disabled=user.disabled,
            created_at=user.created_at,
        )


class TokenOut(BaseModel):
    token: str
    expires_at: datetime
    user: UserOut


class Me(BaseModel):
    name: str
    role: Literal["admin", "operator", "viewer"]
    auth: Literal["api", "session"]


class UserCreate(BaseModel):
    name: str
    password: str
    role: Literal["admin", "operator", "viewer"] = "operator"


class UserPatch(BaseModel):
    password: str | None = None
    role: Literal["admin", "operator", "viewer"] | None = None
    disabled: bool | None = None
