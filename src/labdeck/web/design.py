"""The Design area: the workflow Library page, the designer page and their fragments.

Owns the page routes under `/design`. The designer itself runs in the browser
(`static/designer/*.js`): the page embeds the draft and the deck's interface schema as JSON,
and the script edits that document and talks to the JSON API (`/api/workflows/...`) to
preview, save and publish. Library actions (new, duplicate, archive, restore, import) are
plain HTML forms answered with a redirect, so they work without any script. Versions and
their differences are htmx fragments rendered here (the diff is `difflib` over the Python
export or the pretty-printed JSON of the two documents).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from labdeck.api.deps import ServicesDep
from labdeck.auth.service import Principal, require_role
from labdeck.errors import InvalidInput, LabdeckError
from labdeck.services import Services
from labdeck.web.pages import PageUser, templates
from labdeck.workflow.model import FORMAT, WorkflowDocument

router = APIRouter(include_in_schema=False)

DiffView = Literal["python", "json"]
STATUS_WORDS = {"active": "in use", "paused_safety": "safety pause", "archived": "archived"}


def _shell(user: Principal, services: Services, active: str = "design") -> dict[str, Any]:
    return {
        "user": user,
        "deck_name": services.deck.name,
        "fingerprint": services.deck.fingerprint,
        "can_edit": user.has_role("operator"),
        "active": active,
    }


def _designer_url(ref: str | int) -> str:
    return f"/design/{quote(str(ref))}"


def _library_url(message: str = "", error: str = "") -> str:
    query = {k: v for k, v in (("message", message), ("error", error)) if v}
    return "/design" + (f"?{urlencode(query)}" if query else "")


# --- the library --------------------------------------------------------------------------------


@router.get("/design")
async def library_page(
    request: Request,
    user: PageUser,
    services: ServicesDep,
    q: str = "",
    tag: str = "",
    status: str = "",
    message: str = "",
    error: str = "",
) -> Response:
    chosen_status = status if status in STATUS_WORDS else None
    records = services.workflows.search(
        text=q.strip() or None, tag=tag or None, status=chosen_status
    )
    every = services.workflows.search() + services.workflows.search(status="archived")
    context = {
        **_shell(user, services),
        "records": records,
        "q": q,
        "tag": tag,
        "status": chosen_status or "",
        "tags": sorted({t for record in every for t in record.tags}),
        "status_words": STATUS_WORDS,
        "message": message,
        "error": error,
    }
    return templates.TemplateResponse(request, "library.html", context)


def _empty_document(name: str) -> dict[str, Any]:
    return {"format": FORMAT, "name": name}


@router.post("/design/new")
async def new_workflow(
    user: PageUser, services: ServicesDep, name: Annotated[str, Form()] = ""
) -> Response:
    try:
        require_role(user, "operator")
        view = services.workflows.create(_empty_document(name.strip()), user=user.name)
    except LabdeckError as exc:
        return RedirectResponse(_library_url(error=_refusal_text(exc)), status_code=303)
    return RedirectResponse(_designer_url(view.record.id), status_code=303)


@router.post("/design/import")
async def import_workflow(
    user: PageUser, services: ServicesDep, source: Annotated[str, Form()] = ""
) -> Response:
    """Pasted (or file-loaded) JSON of our format or IvoryOS, or Python source."""
    text = source.strip()
    try:
        require_role(user, "operator")
        payload: Any = {"python": text}
        if text.startswith("{"):
            try:
                payload = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"this looks like JSON but cannot be read: {exc}") from exc
        outcome = services.workflows.import_payload(payload, user=user.name)
    except LabdeckError as exc:
        return RedirectResponse(_library_url(error=_refusal_text(exc)), status_code=303)
    url = _designer_url(outcome.view.record.id)
    if outcome.report:
        notes = "; ".join(note.message for note in outcome.report)
        url += "?" + urlencode({"message": f"Imported, with notes: {notes}"})
    return RedirectResponse(url, status_code=303)


@router.post("/design/{ref}/duplicate")
async def duplicate_workflow(
    ref: str, user: PageUser, services: ServicesDep, name: Annotated[str, Form()] = ""
) -> Response:
    try:
        require_role(user, "operator")
        view = services.workflows.duplicate(ref, name.strip(), user=user.name)
    except LabdeckError as exc:
        return RedirectResponse(_library_url(error=_refusal_text(exc)), status_code=303)
    return RedirectResponse(_designer_url(view.record.id), status_code=303)


@router.post("/design/{ref}/archive")
async def archive_workflow(ref: str, user: PageUser, services: ServicesDep) -> Response:
    try:
        require_role(user, "operator")
        record = services.workflows.archive(ref)
    except LabdeckError as exc:
        return RedirectResponse(_library_url(error=_refusal_text(exc)), status_code=303)
    message = f"Archived {record.name!r}. Find it again with the filter “archived”."
    return RedirectResponse(_library_url(message=message), status_code=303)


@router.post("/design/{ref}/restore")
async def restore_workflow(ref: str, user: PageUser, services: ServicesDep) -> Response:
    try:
        require_role(user, "operator")
        record = services.workflows.restore(ref)
    except LabdeckError as exc:
        return RedirectResponse(_library_url(error=_refusal_text(exc)), status_code=303)
    return RedirectResponse(_library_url(message=f"Restored {record.name!r}."), status_code=303)


def _refusal_text(exc: LabdeckError) -> str:
    fields = exc.detail.get("fields", []) if isinstance(exc.detail, dict) else []
    details = "; ".join(f"{f.get('field')}: {f.get('message')}" for f in fields[:5])
    text = exc.message[:1].upper() + exc.message[1:]
    return f"{text} ({details})" if details else text


# --- the designer -------------------------------------------------------------------------------


@router.get("/design/{ref}")
async def designer_page(
    request: Request, ref: str, user: PageUser, services: ServicesDep, message: str = ""
) -> Response:
    view = services.workflows.get(ref)
    record = view.record
    boot = {
        "workflow": {
            "id": str(record.id),
            "name": record.name,
            "status": record.status,
            "active_version": record.active_version,
        },
        "draft": record.draft,
        "problems": [p.model_dump() for p in view.problems],
        "deck": services.deck.schema.model_dump(mode="json", by_alias=True),
        "can_edit": user.has_role("operator") and record.status != "archived",
    }
    context = {
        **_shell(user, services),
        "record": record,
        "boot": boot,
        "message": message,
        "versions": services.workflows.versions(ref),
        "drift": view.drift,
    }
    return templates.TemplateResponse(request, "design.html", context)


@router.get("/design/{ref}/versions")
async def versions_fragment(
    request: Request, ref: str, _user: PageUser, services: ServicesDep
) -> Response:
    record = services.workflows.get(ref).record
    context = {"record": record, "versions": services.workflows.versions(ref)}
    return templates.TemplateResponse(request, "fragments/design_versions.html", context)


@dataclass(frozen=True)
class DiffLine:
    kind: Literal["same", "added", "removed", "gap"]
    text: str


def _document_text(document: WorkflowDocument, view: DiffView, services: Services) -> str:
    if view == "json":
        return json.dumps(document.dump(), indent=2, ensure_ascii=False)
    from labdeck.workflow.render_python import render_python

    return render_python(document, services.deck.schema)


def diff_lines(old: str, new: str, context: int = 3) -> list[DiffLine]:
    """A unified line diff, as lines a template can colour."""
    lines: list[DiffLine] = []
    for raw in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=context):
        if raw.startswith(("---", "+++")):
            continue
        if raw.startswith("@@"):
            lines.append(DiffLine("gap", "⋯"))
        elif raw.startswith("+"):
            lines.append(DiffLine("added", raw[1:]))
        elif raw.startswith("-"):
            lines.append(DiffLine("removed", raw[1:]))
        else:
            lines.append(DiffLine("same", raw[1:]))
    return lines


def _version_label(number: int | None) -> str:
    return "the draft" if number is None else f"version {number}"


@router.get("/design/{ref}/diff")
async def diff_fragment(
    request: Request,
    ref: str,
    _user: PageUser,
    services: ServicesDep,
    old: Annotated[str, Query(description="A version number or 'draft'")] = "1",
    new: Annotated[str, Query(description="A version number or 'draft'")] = "draft",
    view: DiffView = "python",
) -> Response:
    old_number = None if old == "draft" else int(old) if old.isdigit() else 0
    new_number = None if new == "draft" else int(new) if new.isdigit() else 0
    context: dict[str, Any] = {
        "old_label": _version_label(old_number),
        "new_label": _version_label(new_number),
        "view": view,
        "lines": [],
        "error": "",
    }
    try:
        before = _document_text(services.workflows.document(ref, old_number), view, services)
        after = _document_text(services.workflows.document(ref, new_number), view, services)
        context["lines"] = diff_lines(before, after)
    except LabdeckError as exc:
        context["error"] = _refusal_text(exc)
    return templates.TemplateResponse(request, "fragments/design_diff.html", context)
