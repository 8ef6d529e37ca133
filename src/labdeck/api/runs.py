"""Routes for runs and the queue: submit, inspect, control (API.md, "Runs" and "Queue")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from labdeck.api.deps import CurrentUser, Operator, ServicesDep
from labdeck.api.downloads import csv_text, disposition, run_file_name, steps_csv
from labdeck.api.listing import DEFAULT_LIMIT, MAX_LIMIT, run_filter, run_page
from labdeck.api.openapi import AUTHED, errors
from labdeck.runtime.service import QueueView, RunOptions
from labdeck.store.repo_runs import RunRecord

router = APIRouter(prefix="/api", tags=["runs"])
NEXT_CURSOR = "X-Next-Cursor"
STEPS_CSV_BATCH = 2000
RunStatusText = Literal[
    "pending", "running", "waiting", "paused", "completed", "failed", "cancelled"
]


class RunRequest(RunOptions):
    workflow: str = Field(description="The workflow's id or name.")
    version: int | Literal["active"] = "active"
    name: str | None = Field(default=None, max_length=200)
    mode: dict[str, Any] = Field(
        default_factory=lambda: {"repeat": 1},
        description='`{"repeat": n}` or `{"table": [{param: value}, ...]}`',
    )


class RunOut(BaseModel):
    id: str
    name: str
    workflow: str
    version: int
    status: RunStatusText
    status_reason: str | None
    trigger: dict[str, Any]
    mode: dict[str, Any]
    options: dict[str, Any]
    progress: dict[str, Any]
    error: dict[str, Any] | None
    replay_of: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    prompt: dict[str, Any] | None = Field(
        default=None, description="What the run waits for (an input, a pause, a decision)."
    )
    actions: list[str] = Field(
        default_factory=list,
        description="The control verbs valid now: pause, resume, stop-pending, cancel, retry,"
        " skip, input, continue, replay (each is `POST /api/runs/{id}/<verb>`).",
    )

    @classmethod
    def of(
        cls,
        run: RunRecord,
        prompt: dict[str, Any] | None = None,
        actions: list[str] | None = None,
    ) -> RunOut:
        return cls(
            id=str(run.id),
            name=run.name,
            workflow=str(run.workflow_id),
            version=run.version,
            status=run.status,
            status_reason=run.status_reason,
            trigger=run.trigger,
            mode=run.mode,
            options=run.options,
            progress=run.progress,
            error=run.error,
            replay_of=str(run.replay_of) if run.replay_of else None,
            created_at=run.created_at,
            started_at=run.started_at,
            ended_at=run.ended_at,
            prompt=prompt,
            actions=actions or [],
        )


class QueueOut(BaseModel):
    paused: bool
    reason: str | None
    active: RunOut | None
    pending: list[RunOut]

    @classmethod
    def of(cls, view: QueueView, services: Any) -> QueueOut:
        return cls(
            paused=view.paused,
            reason=view.reason,
            active=run_out(services, view.active) if view.active else None,
            pending=[run_out(services, run) for run in view.pending],
        )


class CancelRequest(BaseModel):
    reason: str | None = None
    cleanup: bool = False
    continue_queue: bool = True


class StopPendingRequest(BaseModel):
    cleanup: bool = True
    continue_queue: bool = True


class AnswerRequest(BaseModel):
    value: Any


class RenameRequest(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class OrderRequest(BaseModel):
    run_ids: list[int]


def records_json(payload: Any, headers: dict[str, str] | None = None) -> Response:
    """Step and sample records as JSON, quickly: a run may have 10,000s of them.

    They hold JSON values and datetimes only, so the standard encoder with ISO 8601 times
    gives what FastAPI's generic (and much slower) encoder would.
    """
    body = json.dumps(
        payload,
        default=_iso,
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":"),
    )
    return Response(body, media_type="application/json", headers=headers)


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def run_out(services: Any, run: RunRecord) -> RunOut:
    """A run as the API shows it, with what it waits for and the verbs valid now."""
    return RunOut.of(run, services.run_service.prompt(run.id), services.run_service.actions(run))


@router.post(
    "/runs",
    response_model=RunOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="Submit a run of a published workflow version to the queue",
)
async def submit_run(body: RunRequest, user: Operator, services: ServicesDep) -> RunOut:
    options = RunOptions(**body.model_dump(include=set(RunOptions.model_fields)))
    run = services.run_service.submit(
        workflow=body.workflow,
        version=body.version,
        mode=body.mode,
        options=options,
        name=body.name,
        user=user.name,
    )
    return run_out(services, run)


@router.get(
    "/runs",
    response_model=list[RunOut],
    responses={
        200: {
            "headers": {
                NEXT_CURSOR: {
                    "description": "Present when older runs match: pass it as `cursor`.",
                    "schema": {"type": "string"},
                }
            }
        },
        **errors(*AUTHED, 422),
    },
    summary="Runs, newest first, filtered; one page at a time",
    description="Filters combine (all must match). Pages use a keyset cursor: the "
    f"`{NEXT_CURSOR}` response header holds the id of the last run of this page when "
    "older runs match; pass it as `cursor` for the next page.",
)
async def list_runs(
    response: Response,
    _user: CurrentUser,
    services: ServicesDep,
    status_: Annotated[
        list[str] | None,
        Query(
            alias="status",
            description="Only these statuses; repeat or comma-separate (`failed,cancelled`).",
        ),
    ] = None,
    workflow: Annotated[str | None, Query(description="The workflow's id or name.")] = None,
    trigger: Annotated[
        list[str] | None,
        Query(description="manual, webhook, schedule, replay; repeat or comma-separate."),
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Created at or after (ISO 8601; UTC if no zone).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Created before (ISO 8601; UTC if no zone).")
    ] = None,
    user: Annotated[str | None, Query(description="Started by this user.")] = None,
    q: Annotated[str | None, Query(description="Text in the run's name (any case).")] = None,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: Annotated[
        str | None,
        Query(pattern=r"^\d+$", description=f"The `{NEXT_CURSOR}` of the previous page."),
    ] = None,
) -> list[RunOut]:
    where = run_filter(
        services,
        workflow=workflow,
        statuses=status_,
        triggers=trigger,
        user=user,
        since=since,
        until=until,
        text=q,
    )
    page = run_page(services, where, limit=limit, cursor=cursor)
    if page.next_cursor is not None:
        response.headers[NEXT_CURSOR] = page.next_cursor
    return [run_out(services, run) for run in page.runs]


@router.get(
    "/runs/{run_id}", response_model=RunOut, responses=errors(*AUTHED, 404, 422), summary="A run"
)
async def get_run(run_id: int, _user: CurrentUser, services: ServicesDep) -> RunOut:
    return run_out(services, services.run_service.get(run_id))


@router.get(
    "/runs/{run_id}/steps",
    responses=errors(*AUTHED, 404, 422),
    summary="The run's step records, in execution order, and its per-sample results",
    description="Without parameters: every step row and sample. `phase` and `iteration` "
    "narrow both to one part of the run; `limit` pages through step rows in order, "
    "`next_after` is then the `after` of the next page (null at the end). Samples come "
    "with the first page only (no `after`).",
)
async def run_steps(
    run_id: int,
    _user: CurrentUser,
    services: ServicesDep,
    phase: Literal["prep", "script", "cleanup"] | None = None,
    iteration: Annotated[int | None, Query(ge=0, description="One script iteration.")] = None,
    after: Annotated[int | None, Query(ge=0, description="Step rows after this row id.")] = None,
    limit: Annotated[int | None, Query(ge=1, le=5000)] = None,
) -> Response:
    services.run_service.get(run_id)
    records = services.run_service.records
    rows = records.steps(
        run_id,
        phase=phase,
        iteration=iteration,
        after=after,
        limit=limit + 1 if limit else None,
    )
    more = limit is not None and len(rows) > limit
    rows = rows[:limit] if limit else rows
    first_page = after is None
    wanted = phase not in ("prep", "cleanup") and first_page
    samples = records.samples(run_id, iteration=iteration) if wanted else []
    return records_json(
        {"steps": rows, "samples": samples, "next_after": rows[-1]["id"] if more else None}
    )


@router.get(
    "/runs/{run_id}/steps.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **errors(*AUTHED, 404, 422)},
    summary="Every step record of the run as CSV, in execution order",
)
async def steps_csv_download(
    run_id: int, _user: CurrentUser, services: ServicesDep
) -> StreamingResponse:
    services.run_service.get(run_id)
    records = services.run_service.records

    def batches() -> Iterator[list[dict[str, Any]]]:
        after: int | None = None
        while batch := records.steps(run_id, after=after, limit=STEPS_CSV_BATCH):
            yield batch
            after = batch[-1]["id"]

    return StreamingResponse(
        steps_csv(batches()),
        media_type="text/csv; charset=utf-8",
        headers=disposition(run_file_name(run_id, "steps", "csv")),
    )


@router.get(
    "/runs/{run_id}/log",
    response_class=PlainTextResponse,
    responses=errors(*AUTHED, 404, 422),
    summary="The run's log: its events and what the deck logged while it ran",
)
async def run_log(
    run_id: int,
    _user: CurrentUser,
    services: ServicesDep,
    download: Annotated[
        bool, Query(description="Ask the browser to save it (`run-<id>-log.txt`).")
    ] = False,
) -> PlainTextResponse:
    name = run_file_name(run_id, "log", "txt")
    return PlainTextResponse(
        services.run_service.log_text(run_id), headers=disposition(name, inline=not download)
    )


@router.get(
    "/runs/{run_id}/results.json",
    responses=errors(*AUTHED, 404, 422),
    summary="One row per sample: parameters and outputs",
)
async def results_json(
    run_id: int,
    _user: CurrentUser,
    services: ServicesDep,
    download: Annotated[
        bool, Query(description="Ask the browser to save it (`run-<id>-results.json`).")
    ] = False,
) -> Response:
    rows = services.run_service.results(run_id)
    name = run_file_name(run_id, "results", "json")
    return records_json(rows, headers=disposition(name, inline=not download))


@router.get(
    "/runs/{run_id}/results.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **errors(*AUTHED, 404, 422)},
    summary="One row per sample as CSV (a header row, then values)",
)
async def results_csv(run_id: int, _user: CurrentUser, services: ServicesDep) -> Response:
    rows = services.run_service.results(run_id)
    return Response(
        csv_text(rows, fallback=["iteration", "sample"]),
        media_type="text/csv",
        headers=disposition(run_file_name(run_id, "results", "csv")),
    )


@router.post(
    "/runs/{run_id}/pause",
    response_model=RunOut,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="Pause at the next step boundary (or hold a queued run)",
)
async def pause_run(run_id: int, user: Operator, services: ServicesDep) -> RunOut:
    return run_out(services, services.run_service.pause(run_id, user.name))


@router.post(
    "/runs/{run_id}/resume",
    response_model=RunOut,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="Resume a paused run",
)
async def resume_run(run_id: int, user: Operator, services: ServicesDep) -> RunOut:
    return run_out(services, services.run_service.resume(run_id, user.name))


@router.post(
    "/runs/{run_id}/cancel",
    response_model=RunOut,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="Stop current: skip the remaining steps (cleanup only if asked)",
)
async def cancel_run(
    run_id: int, body: CancelRequest, user: Operator, services: ServicesDep
) -> RunOut:
    run = services.run_service.cancel(
        run_id,
        user.name,
        reason=body.reason,
        cleanup=body.cleanup,
        continue_queue=body.continue_queue,
    )
    return run_out(services, run)


@router.post(
    "/runs/{run_id}/stop-pending",
    response_model=RunOut,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="Finish the current iteration, skip the rest, then cleanup",
)
async def stop_pending(
    run_id: int, body: StopPendingRequest, user: Operator, services: ServicesDep
) -> RunOut:
    run = services.run_service.stop_pending(
        run_id, user.name, cleanup=body.cleanup, continue_queue=body.continue_queue
    )
    return run_out(services, run)


@router.post(
    "/runs/{run_id}/retry",
    response_model=RunOut,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="Run the failed step of an error-paused run again",
)
async def retry_run(run_id: int, _user: Operator, services: ServicesDep) -> RunOut:
    return run_out(services, services.run_service.decide(run_id, "retry"))


@router.post(
    "/runs/{run_id}/skip",
    response_model=RunOut,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="Skip the failed step of an error-paused run",
)
async def skip_step(run_id: int, _user: Operator, services: ServicesDep) -> RunOut:
    return run_out(services, services.run_service.decide(run_id, "skip"))


@router.post(
    "/runs/{run_id}/input",
    response_model=RunOut,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="Answer the waiting input step",
)
async def answer_input(
    run_id: int, body: AnswerRequest, _user: Operator, services: ServicesDep
) -> RunOut:
    return run_out(services, services.run_service.answer(run_id, body.value, pause_step=False))


@router.post(
    "/runs/{run_id}/continue",
    response_model=RunOut,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="Continue after a pause step",
)
async def continue_run(run_id: int, _user: Operator, services: ServicesDep) -> RunOut:
    return run_out(services, services.run_service.answer(run_id, None, pause_step=True))


@router.patch(
    "/runs/{run_id}",
    response_model=RunOut,
    responses=errors(*AUTHED, 404, 422),
    summary="Rename a run",
)
async def rename_run(
    run_id: int, body: RenameRequest, _user: Operator, services: ServicesDep
) -> RunOut:
    return run_out(services, services.run_service.rename(run_id, body.name))


@router.get(
    "/queue",
    response_model=QueueOut,
    responses=errors(*AUTHED),
    summary="The queue: paused?, the active run, pending runs in order",
)
async def get_queue(_user: CurrentUser, services: ServicesDep) -> QueueOut:
    return QueueOut.of(services.run_service.queue_view(), services)


@router.post(
    "/queue/pause",
    response_model=QueueOut,
    responses=errors(*AUTHED),
    summary="Stop starting new runs",
)
async def pause_queue(_user: Operator, services: ServicesDep) -> QueueOut:
    return QueueOut.of(services.run_service.set_queue_paused(True), services)


@router.post(
    "/queue/resume",
    response_model=QueueOut,
    responses=errors(*AUTHED),
    summary="Start queued runs again",
)
async def resume_queue(_user: Operator, services: ServicesDep) -> QueueOut:
    return QueueOut.of(services.run_service.set_queue_paused(False), services)


@router.put(
    "/queue/order",
    response_model=QueueOut,
    responses=errors(*AUTHED, 422),
    summary="Set the order of the queued runs",
)
async def order_queue(body: OrderRequest, _user: Operator, services: ServicesDep) -> QueueOut:
    return QueueOut.of(services.run_service.reorder(body.run_ids), services)
