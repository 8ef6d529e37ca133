"""The Execute page: start runs of published workflows, watch the queue, control a run.

Owns the page routes under `/execute`. The page is rendered here with what it needs to start
(published workflows, the chosen version's parameters with their defaults and JSON Schemas,
the selected run's workflow steps as an outline); everything live happens in the browser
(`static/execute/*.js`), which submits and controls runs through the JSON API
(`/api/runs`, `/api/queue`) and follows `GET /api/events`. Two small helpers answer here:
the CSV template of a workflow's parameters and the reading of an uploaded CSV file
(`parse_csv`, so the browser and the API read CSV files the same way).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from labdeck.api.deps import ServicesDep
from labdeck.auth.service import Principal
from labdeck.errors import InvalidInput, LabdeckError
from labdeck.runtime.modes import csv_template, has_default, parse_csv
from labdeck.services import Services
from labdeck.store.repo_runs import RunRecord
from labdeck.web.pages import PHASE_TITLES, PageUser, templates
from labdeck.workflow.model import WorkflowDocument

router = APIRouter(include_in_schema=False)

MAX_CSV_BYTES = 2_000_000


@dataclass(frozen=True)
class OutlineStep:
    path: str  # as the runner records it, without loop counters ("loop/inner")
    label: str
    kind: str
    depth: int


# --- what the page shows ------------------------------------------------------------------------


def _published(services: Services) -> list[Any]:
    """Workflows a run can be started from: in use and published at least once."""
    return [r for r in services.workflows.search(status="active") if r.active_version]


def _value_text(value: Any) -> str:
    if isinstance(value, dict):
        if "param" in value:
            return f"#{value['param']}"
        if "var" in value:
            return f"${value['var']}"
        if "expr" in value:
            return str(value["expr"])
    return str(value)


def _label(step: dict[str, Any]) -> str:
    kind = step.get("kind", "")
    if kind == "call":
        args = step.get("args") or {}
        shown = ", ".join(f"{k} = {_value_text(v)}" for k, v in args.items())
        return f"{step.get('target', '')}({shown})"
    texts = {
        "wait": lambda: f"Wait {_value_text(step.get('seconds'))} s",
        "comment": lambda: f"Log: {step.get('text', '')}",
        "input": lambda: f"Ask the operator: {step.get('prompt', '')}",
        "pause": lambda: f"Pause for the operator: {step.get('message', '')}",
        "if": lambda: f"If {step.get('condition', '')}",
        "while": lambda: f"Repeat while {step.get('condition', '')}",
        "repeat": lambda: f"Repeat {_value_text(step.get('times'))} times",
        "set": lambda: f"Set {step.get('name', '')} = {_value_text(step.get('value'))}",
        "workflow": lambda: f"Run workflow {step.get('workflow', '')}",
    }
    return texts[kind]() if kind in texts else kind


def outline(document: WorkflowDocument) -> list[dict[str, Any]]:
    """Each phase's steps, nested blocks flattened with a depth, keyed by their record path."""
    dumped = document.dump()

    def walk(steps: list[dict[str, Any]], prefix: str, depth: int) -> list[OutlineStep]:
        found: list[OutlineStep] = []
        for step in steps:
            path = prefix + str(step.get("id", ""))
            found.append(OutlineStep(path, _label(step), str(step.get("kind", "")), depth))
            for branch in ("then", "else", "do"):
                found += walk(step.get(branch) or [], path + "/", depth + 1)
        return found

    return [
        {
            "phase": phase,
            "title": PHASE_TITLES[phase],
            "steps": walk(dumped.get(phase) or [], "", 0),
        }
        for phase in ("prep", "script", "cleanup")
        if dumped.get(phase)
    ]


def normalize_path(path: str) -> str:
    """A recorded path without loop counters: `loop[2]/inner` -> `loop/inner`."""
    return re.sub(r"\[\d+\]", "", path)


def _setup(services: Services, ref: str, version: int) -> dict[str, Any]:
    document = services.workflows.document(ref, version)
    schemas = services.workflows.parameter_schemas(document)
    return {
        "parameters": [
            {
                "name": p.name,
                "default": p.default if has_default(p) else None,
                "has_default": has_default(p),
                "schema": schemas.get(p.name, {}),
            }
            for p in document.parameters
        ],
        "outputs": list(document.outputs),
    }


def _selected_run(services: Services, run_id: int | None) -> RunRecord | None:
    if run_id is not None:
        return services.run_service.get(run_id)
    active = services.run_service.queue_view().active
    if active is not None:
        return active
    recent = services.run_service.runs.recent(statuses=None, limit=1)
    return recent[0] if recent else None


def _page(
    request: Request,
    user: Principal,
    services: Services,
    *,
    workflow: str,
    version: int | None,
    run_id: int | None,
) -> Response:
    published = _published(services)
    chosen = next((r for r in published if workflow in (str(r.id), r.name)), None)
    if chosen is None and not workflow and published:
        chosen = published[0]
    versions: list[int] = []
    setup: dict[str, Any] | None = None
    if chosen is not None:
        versions = sorted(
            (v.number for v in services.workflows.versions(str(chosen.id))), reverse=True
        )
        if version not in versions:
            version = chosen.active_version
        assert version is not None
        setup = {"workflow": str(chosen.id), "name": chosen.name, "version": version}
        setup |= _setup(services, str(chosen.id), version)
    run = _selected_run(services, run_id)
    run_view = None
    if run is not None:
        document = services.workflows.document(str(run.workflow_id), run.version)
        names = {str(r.id): r.name for r in services.workflows.search()}
        run_view = {
            "id": str(run.id),
            "workflow_name": names.get(str(run.workflow_id), f"workflow {run.workflow_id}"),
            "outline": outline(document),
            # a campaign run gets the insight plots (and only then the plotting library)
            "campaign": "campaign" in (run.mode or {}),
        }
    context = {
        "user": user,
        "deck_name": services.deck.name,
        "fingerprint": services.deck.fingerprint,
        "active": "execute",
        "can_run": user.has_role("operator"),
        "published": published,
        "chosen": chosen,
        "versions": versions,
        "version": version,
        "wanted": workflow,
        "boot": {
            "setup": setup,
            "run": {k: v for k, v in run_view.items() if k != "outline"} if run_view else None,
            "can_run": user.has_role("operator"),
        },
        "run_view": run_view,
    }
    return templates.TemplateResponse(request, "execute.html", context)


# --- routes -------------------------------------------------------------------------------------


@router.get("/execute")
async def execute_page(
    request: Request,
    user: PageUser,
    services: ServicesDep,
    workflow: str = "",
    version: int | None = None,
    run: int | None = None,
) -> Response:
    return _page(request, user, services, workflow=workflow, version=version, run_id=run)


@router.get("/execute/runs/{run_id}")
async def run_page(
    request: Request,
    run_id: int,
    user: PageUser,
    services: ServicesDep,
    workflow: str = "",
    version: int | None = None,
) -> Response:
    try:
        return _page(request, user, services, workflow=workflow, version=version, run_id=run_id)
    except LabdeckError:
        return RedirectResponse("/execute", status_code=303)


@router.get("/execute/{ref}/template.csv")
async def template_csv(
    ref: str, _user: PageUser, services: ServicesDep, version: int | None = None
) -> Response:
    record = services.workflows.get(ref).record
    number = version or record.active_version
    document = services.workflows.document(ref, number)
    text = csv_template(document.parameters, services.workflows.parameter_schemas(document))
    filename = re.sub(r"[^A-Za-z0-9._-]+", "-", record.name).strip("-") or "workflow"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}-parameters.csv"
        },
    )


@router.post("/execute/csv")
async def read_csv(request: Request, _user: PageUser) -> Response:
    """An uploaded CSV file's text -> `{"rows": [...]}`, or the error shape with its problems."""
    body = await request.body()
    try:
        if len(body) > MAX_CSV_BYTES:
            raise InvalidInput("the CSV file is larger than 2 MB")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = body.decode("cp1252", errors="replace")  # spreadsheets on Windows
        rows = parse_csv(text)
    except LabdeckError as exc:
        return JSONResponse(exc.body(), status_code=exc.status_code)
    return JSONResponse({"rows": rows})
