"""Routes for triggers and replay (API.md, "Workflows" triggers and hooks rows, "Runs" replay).

`POST /api/hooks/{secret}` is the one route here without a login: its secret authorizes it.
The secret is returned once, when the webhook is created, and never listed again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Request, Response, status
from pydantic import BaseModel, Field

from labdeck.api.deps import CurrentUser, Operator, ServicesDep
from labdeck.api.openapi import AUTHED, errors
from labdeck.api.runs import RunOut, run_out
from labdeck.runtime.replay import Replayer
from labdeck.runtime.service import RunOptions
from labdeck.runtime.triggers import TriggerRecord, Triggers

router = APIRouter(prefix="/api", tags=["triggers"])


def get_replayer(request: Request) -> Replayer:
    replayer: Replayer = request.app.state.services.replayer
    return replayer


def get_triggers(request: Request) -> Triggers:
    triggers: Triggers = request.app.state.services.triggers
    return triggers


ReplayerDep = Annotated[Replayer, Depends(get_replayer)]
TriggersDep = Annotated[Triggers, Depends(get_triggers)]


class WebhookRequest(RunOptions):
    kind: Literal["webhook"]


class ScheduleRequest(RunOptions):
    kind: Literal["schedule"]
    cron: str = Field(
        max_length=200,
        description="Crontab: minute hour day-of-month month day-of-week (server local time).",
        examples=["*/5 * * * *"],
    )
    mode: dict[str, Any] = Field(
        default_factory=lambda: {"repeat": 1},
        description='Each firing\'s run: `{"repeat": n}` or `{"table": [{param: value}, ...]}`',
    )


TriggerRequest = Annotated[WebhookRequest | ScheduleRequest, Field(discriminator="kind")]


class TriggerOut(BaseModel):
    id: str
    workflow: str
    kind: Literal["webhook", "schedule"]
    created_at: datetime
    created_by: str | None
    cron: str | None
    mode: dict[str, Any] | None = Field(description="Schedules: the mode of each run.")
    options: dict[str, Any]
    next_fire_at: datetime | None = Field(description="Schedules: when the next run starts.")
    last_fired_at: datetime | None
    last_run_id: str | None
    last_error: str | None = Field(description="Why the last activation was refused, if it was.")

    @classmethod
    def of(cls, trigger: TriggerRecord, triggers: Triggers) -> TriggerOut:
        return cls(
            id=trigger.id,
            workflow=str(trigger.workflow_id),
            kind=trigger.kind,
            created_at=trigger.created_at,
            created_by=trigger.created_by,
            cron=trigger.cron,
            mode=trigger.mode,
            options=trigger.options,
            next_fire_at=triggers.next_fire_time(trigger),
            last_fired_at=trigger.last_fired_at,
            last_run_id=str(trigger.last_run_id) if trigger.last_run_id is not None else None,
            last_error=trigger.last_error,
        )


class TriggerCreated(TriggerOut):
    path: str | None = Field(
        default=None, description="Webhooks: the secret path to POST to. Shown only this once."
    )
    url: str | None = Field(default=None, description="Webhooks: `path` on this server's URL.")


class HookAccepted(BaseModel):
    run_id: str


class ReplayRequest(BaseModel):
    version: Literal["same", "active"] = Field(
        default="same",
        description="`same`: the replayed run's version and inputs; `active`: the active "
        "version, with table columns renamed by `mapping`.",
    )
    mapping: dict[str, str | None] = Field(
        default_factory=dict,
        description="Old parameter name → new name (null drops that column).",
    )


@router.get(
    "/workflows/{ref}/triggers",
    response_model=list[TriggerOut],
    responses=errors(*AUTHED, 404, 422),
    summary="The workflow's webhook and schedule triggers (webhook secrets are not shown)",
)
async def list_triggers(ref: str, _user: CurrentUser, triggers: TriggersDep) -> list[TriggerOut]:
    return [TriggerOut.of(t, triggers) for t in triggers.list_triggers(ref)]


@router.post(
    "/workflows/{ref}/triggers",
    response_model=TriggerCreated,
    status_code=status.HTTP_201_CREATED,
    responses=errors(*AUTHED, 404, 422),
    summary="Add a webhook (its secret URL is returned once) or a cron schedule",
)
async def create_trigger(
    ref: str,
    body: Annotated[TriggerRequest, Body()],
    request: Request,
    user: Operator,
    triggers: TriggersDep,
) -> TriggerCreated:
    options = RunOptions(**body.model_dump(include=set(RunOptions.model_fields)))
    if isinstance(body, WebhookRequest):
        trigger, path = triggers.create_webhook(ref, user.name, options)
        url = str(request.base_url).rstrip("/") + path
        return TriggerCreated(**TriggerOut.of(trigger, triggers).model_dump(), path=path, url=url)
    trigger = triggers.create_schedule(ref, body.cron, body.mode, options, user.name)
    return TriggerCreated(**TriggerOut.of(trigger, triggers).model_dump())


@router.delete(
    "/workflows/{ref}/triggers/{trigger_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(*AUTHED, 404, 422),
    summary="Delete a trigger (a webhook's URL stops working)",
)
async def delete_trigger(
    ref: str, trigger_id: str, _user: Operator, triggers: TriggersDep
) -> Response:
    triggers.delete(ref, trigger_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/hooks/{secret}",
    response_model=HookAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(404, 409, 422),
    summary="Webhook delivery: the JSON payload starts one run (no login: the secret authorizes)",
)
async def deliver_webhook(
    secret: str,
    triggers: TriggersDep,
    payload: Annotated[
        Any,
        Body(
            description="Stored as the run's trigger input. A list of parameter rows, or "
            '`{"rows": [...]}`, makes a table run of those rows; anything else one run.'
        ),
    ] = None,
) -> HookAccepted:
    run = triggers.deliver_webhook(secret, payload)
    return HookAccepted(run_id=str(run.id))


@router.post(
    "/runs/{run_id}/replay",
    response_model=RunOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(*AUTHED, 404, 409, 422, 429),
    summary="A new run from a completed, failed or cancelled one",
)
async def replay_run(
    run_id: int,
    body: ReplayRequest,
    user: Operator,
    replayer: ReplayerDep,
    services: ServicesDep,
) -> RunOut:
    run = replayer.replay(run_id, version=body.version, mapping=body.mapping, user=user.name)
    return run_out(services, run)
