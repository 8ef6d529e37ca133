"""The Data pages: every run and every direct call, with results, plots and downloads.

Owns the page routes under `/data`: the runs list (filters and keyset pages), one run's
record (timeline, results table and plot, log, pinned version, replay chain, controls) and
the direct-call history, plus the htmx fragments the run page loads when a person opens a
part of the timeline. Page assembly lives in `labdeck.web.data_views`; behaviour in the
browser in `static/data/data.js` (sorting, the plot, control buttons, local times).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from labdeck.api.deps import ServicesDep
from labdeck.api.listing import RUN_STATUSES, TRIGGER_KINDS
from labdeck.auth.service import Principal
from labdeck.errors import NotFound
from labdeck.services import Services
from labdeck.web.data_views import (
    CALL_KINDS,
    CALL_STATUSES,
    TRIGGER_WORDS,
    CallListParams,
    RunListParams,
    calls_list,
    iteration_groups,
    pinned_document,
    run_view,
    runs_list,
    span,
    step_rows,
)
from labdeck.web.pages import PHASE_TITLES, PageUser, templates

router = APIRouter(include_in_schema=False)
templates.env.filters["span"] = span
Text = Annotated[str, Query(max_length=200)]


def _shell(user: Principal, services: Services, section: str) -> dict[str, Any]:
    return {
        "user": user,
        "deck_name": services.deck.name,
        "fingerprint": services.deck.fingerprint,
        "can_run": user.has_role("operator"),
        "active": "data",
        "section": section,
    }


@router.get("/data")
async def data_home(_user: PageUser) -> Response:
    return RedirectResponse("/data/runs", status_code=303)


@router.get("/data/runs")
async def runs_page(
    request: Request,
    user: PageUser,
    services: ServicesDep,
    workflow: Text = "",
    status: Text = "",
    trigger: Text = "",
    by: Annotated[str, Query(alias="user", max_length=200)] = "",
    q: Text = "",
    date_from: Annotated[str, Query(alias="from", max_length=40)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=40)] = "",
    cursor: Text = "",
    after: Text = "",
) -> Response:
    params = RunListParams(workflow, status, trigger, by, q, date_from, date_to, cursor, after)
    context = {
        **_shell(user, services, "runs"),
        "view": runs_list(services, params),
        "statuses": RUN_STATUSES,
        "triggers": TRIGGER_KINDS,
        "trigger_words": TRIGGER_WORDS,
    }
    return templates.TemplateResponse(request, "data_runs.html", context)


@router.get("/data/runs/{run_id}")
async def run_page(
    request: Request, run_id: int, user: PageUser, services: ServicesDep
) -> Response:
    try:
        view = run_view(services, run_id)
    except NotFound:
        context = {**_shell(user, services, "runs"), "run_id": run_id}
        return templates.TemplateResponse(request, "data_missing.html", context, status_code=404)
    context = {**_shell(user, services, "runs"), "view": view, "phase_titles": PHASE_TITLES}
    return templates.TemplateResponse(request, "data_run.html", context)


@router.get("/data/runs/{run_id}/iterations")
async def more_iterations(
    request: Request, run_id: int, _user: PageUser, services: ServicesDep, after: int = 0
) -> Response:
    services.run_service.get(run_id)
    groups, more_after = iteration_groups(services, run_id, after=after)
    context = {"run_id": run_id, "groups": groups, "more_after": more_after}
    return templates.TemplateResponse(request, "fragments/data_iterations.html", context)


@router.get("/data/runs/{run_id}/steps")
async def steps_fragment(
    request: Request,
    run_id: int,
    _user: PageUser,
    services: ServicesDep,
    phase: Annotated[str, Query(pattern="^(prep|script|cleanup)$")] = "script",
    iteration: int | None = None,
) -> Response:
    steps, more = step_rows(services, run_id, phase, iteration)
    context = {"steps": steps, "more": more, "run_id": run_id}
    return templates.TemplateResponse(request, "fragments/data_steps.html", context)


@router.get("/data/runs/{run_id}/python")
async def python_fragment(
    request: Request, run_id: int, _user: PageUser, services: ServicesDep
) -> Response:
    from labdeck.workflow.render_python import render_python

    document = pinned_document(services, services.run_service.get(run_id))
    code = render_python(document, services.deck.schema) if document else ""
    return templates.TemplateResponse(request, "fragments/data_python.html", {"code": code})


@router.get("/data/calls")
async def calls_page(
    request: Request,
    user: PageUser,
    services: ServicesDep,
    target: Text = "",
    status: Text = "",
    by: Annotated[str, Query(alias="user", max_length=200)] = "",
    kind: Text = "",
    date_from: Annotated[str, Query(alias="from", max_length=40)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=40)] = "",
    cursor: Text = "",
) -> Response:
    params = CallListParams(target, status, by, kind, date_from, date_to, cursor)
    context = {
        **_shell(user, services, "calls"),
        "view": calls_list(services, params),
        "statuses": CALL_STATUSES,
        "kinds": CALL_KINDS,
    }
    return templates.TemplateResponse(request, "data_calls.html", context)
