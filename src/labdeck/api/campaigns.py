"""Routes for optimization campaigns (API.md, "Campaigns"): optimizers, templates, history, views.

A campaign itself is started as a run (`POST /api/runs` with `mode: {"campaign": ...}`);
these routes help prepare one and show one. Viewers may read; starting needs an operator,
and so does converting a history file (a step of starting one).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, Field

from labdeck.api.deps import CurrentUser, Operator
from labdeck.api.openapi import AUTHED, errors
from labdeck.optimize.base import CampaignParameter, Capabilities, Objective
from labdeck.runtime.campaign_service import MAX_CSV_BYTES, CampaignService

router = APIRouter(prefix="/api", tags=["campaigns"])
RunStatusText = Literal[
    "pending", "running", "waiting", "paused", "completed", "failed", "cancelled"
]


def get_campaigns(request: Request) -> CampaignService:
    campaigns: CampaignService = request.app.state.services.campaigns
    return campaigns


CampaignsDep = Annotated[CampaignService, Depends(get_campaigns)]


class OptimizersOut(BaseModel):
    default: str = Field(description="The optimizer a campaign uses when it names none.")
    optimizers: list[Capabilities] = Field(description="The optimizers installed on this server.")


class CampaignTemplate(BaseModel):
    """A `CampaignConfig` to start from; `notes` say why a parameter is fixed."""

    optimizer: str
    parameters: list[dict[str, Any]] = Field(
        description="One per workflow parameter: a float or int range from the argument's"
        " bounds, a choice of its values, or fixed at its default."
    )
    objectives: list[dict[str, Any]]
    budget: int
    initial_random: int
    constraints: list[str]
    seed: int | None
    settings: dict[str, Any]
    notes: dict[str, str]


class HistoryRows(BaseModel):
    rows: list[dict[str, Any]] = Field(
        description="Converted rows for `CampaignConfig.history` (a null objective: failed)."
    )
    ignored_columns: list[str] = Field(
        description="Columns that are neither a parameter nor a named objective."
    )


class ObservationOut(BaseModel):
    index: int
    source: Literal["history", "run"]
    iteration: int | None
    sample: int | None
    params: dict[str, Any]
    values: dict[str, float]
    failed: bool


class BestOut(BaseModel):
    index: int
    value: float
    params: dict[str, Any]


class CampaignView(BaseModel):
    run: str
    status: RunStatusText
    optimizer: str
    budget: int
    parameters: list[CampaignParameter]
    objectives: list[Objective]
    observations: list[ObservationOut] = Field(
        description="History rows first, then the run's experiments, in order."
    )
    best: dict[str, BestOut | None] = Field(
        description="Per objective, the best non-failed observation (history included)."
    )
    best_so_far: dict[str, list[float | None]] = Field(
        description="Per objective, the best value up to each observation."
    )
    pareto: list[int] | None = Field(
        description="With exactly two objectives, the indices of the observations no other"
        " one dominates; otherwise null."
    )
    importance: dict[str, float] | None = Field(
        description="Parameter importance (shares summing to about 1), when the optimizer can tell."
    )
    stopped_reason: str | None = Field(
        description="Why the campaign stopped before its budget (a threshold reached)."
    )


@router.get(
    "/optimizers",
    response_model=OptimizersOut,
    responses=errors(*AUTHED),
    summary="The installed optimizers and what each can do",
)
async def list_optimizers(_user: CurrentUser, campaigns: CampaignsDep) -> dict[str, Any]:
    return campaigns.optimizers()


@router.get(
    "/workflows/{ref}/campaign-template",
    response_model=CampaignTemplate,
    responses=errors(*AUTHED, 404, 409, 422),
    summary="A campaign to start from for a workflow version",
)
async def campaign_template(
    ref: str,
    _user: CurrentUser,
    campaigns: CampaignsDep,
    version: Annotated[
        int | Literal["active"], Query(description='A version number, or "active".')
    ] = "active",
) -> dict[str, Any]:
    return campaigns.template(ref, version)


@router.post(
    "/campaigns/history.csv",
    response_model=HistoryRows,
    responses=errors(*AUTHED, 404, 409, 413, 422),
    summary="Campaign history rows from a CSV file of earlier experiments",
)
def history_csv(
    _user: Operator,
    campaigns: CampaignsDep,
    file: Annotated[UploadFile, File(description="CSV with a header row (at most 5 MB).")],
    workflow: Annotated[str, Form(description="The workflow's id or name.")],
    objectives: Annotated[str, Form(description="The objective columns, comma-separated.")],
    version: Annotated[int | Literal["active"], Form()] = "active",
) -> dict[str, Any]:
    data = file.file.read(MAX_CSV_BYTES + 1)  # one byte more tells a file over the limit
    return campaigns.history_from_csv(
        data, workflow=workflow, version=version, objectives=objectives.split(",")
    )


@router.get(
    "/runs/{run_id}/campaign",
    response_model=CampaignView,
    responses=errors(*AUTHED, 404, 422),
    summary="A campaign run: observations, best so far, Pareto front, importance",
)
def campaign_view(run_id: int, _user: CurrentUser, campaigns: CampaignsDep) -> dict[str, Any]:
    # A plain function: FastAPI runs it on a worker thread, as rebuilding an optimizer for
    # the importance may take a moment.
    return campaigns.view(run_id)
