"""Browser pages: sign-in and sign-out, the Devices page, and the htmx fragments it loads.

Owns the page routes and their templates' context. Routes stay thin: they read the request,
call one service (`services.auth` or `services.control`) and render a template. Form fields
and form-to-arguments conversion live in `labdeck.web.forms`.

Pages need a signed-in user: without one, a page answers 303 to `/login?next=<path>` (an
htmx fragment request gets `HX-Redirect` instead, so the whole page moves to the login form).
Fragments answer with HTML in every case, with the API's status rule: 4xx means nothing ran,
2xx means the call ran (it may have failed).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypedDict
from urllib.parse import quote, urlencode, urlsplit

import jinja2
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from labdeck import __version__
from labdeck.api.deps import SESSION_COOKIE, ServicesDep, authenticate
from labdeck.auth.service import Principal, require_role
from labdeck.deck.control import CallKind
from labdeck.deck.schema import MethodSchema, PropertySchema
from labdeck.errors import InvalidInput, LabdeckError, NotAuthenticated, NotFound, RateLimited
from labdeck.services import Services
from labdeck.store.repo_calls import CallRecord
from labdeck.web import TEMPLATES_DIR
from labdeck.web.forms import FormField, FormSpec, FormValue, form_to_args
from labdeck.web.helptext import doc_html, doc_paragraphs, doc_summary

router = APIRouter(include_in_schema=False)

CALL_FINISHED_EVENT = "labdeck:call-finished"
FORCE_FIELD = "__force__"
RECENT_CALLS = 20
# The three phases as operators see them, the same on every page: the designer's tabs, the run
# panel of Execute and the Data run page.
PHASE_TITLES = {
    "prep": "Before (once, at the start)",
    "script": "Each sample",
    "cleanup": "After (once, at the end)",
}
# Property reads are recorded calls too, but every page load makes a dozen of them; the panel
# shows the calls people made, so it leaves the reads out.
RECENT_CALL_KINDS: tuple[CallKind, ...] = ("method", "function", "property_set")


# --- templates --------------------------------------------------------------------------------


def _pretty_json(value: Any) -> str:
    """Compact when it fits on a line (a reading and its peak), indented otherwise."""
    compact = json.dumps(value, ensure_ascii=False, default=str)
    if len(compact) <= 60:
        return compact
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _short_json(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


MAX_TABLE_ROWS = 16


def _flat_mapping(value: Any) -> bool:
    """A small dict of plain values, shown as a table of names and values."""
    return (
        isinstance(value, Mapping)
        and 0 < len(value) <= MAX_TABLE_ROWS
        and all(not isinstance(item, Mapping | list) for item in value.values())
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 0.001:
        return "<1 ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters.update(
    pretty_json=_pretty_json,
    short_json=_short_json,
    duration=_duration,
    summary=doc_summary,
    paragraphs=doc_paragraphs,
    doc_html=doc_html,
    utc=_utc,
)
_environment.tests.update(flat_mapping=_flat_mapping)
_environment.globals.update(version=__version__, force_field=FORCE_FIELD)
templates = Jinja2Templates(env=_environment)


# --- who is asking ----------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """A same-site path to go to after login; anything else (other sites, schemes) is "/"."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(char) < 32 for char in target) or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def _login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    current = request.headers.get("hx-current-url")
    if current:  # a fragment: come back to the page it was on
        parts = urlsplit(current)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    return "/login?" + urlencode({"next": _safe_next(target)}, safe="/")


async def page_user(request: Request, services: ServicesDep) -> Principal:
    """The signed-in user of a page; otherwise off to the login form."""
    principal = authenticate(request, services)
    if principal is not None:
        return principal
    login = _login_url(request)
    if request.headers.get("hx-request"):
        raise HTTPException(401, "sign in first", headers={"HX-Redirect": login})
    raise HTTPException(303, "sign in first", headers={"Location": login})


PageUser = Annotated[Principal, Depends(page_user)]


# --- sign in, sign out ------------------------------------------------------------------------


def _login_page(
    request: Request,
    services: Services,
    *,
    next_path: str,
    message: str = "",
    username: str = "",
    status_code: int = 200,
) -> Response:
    context = {
        "user": None,
        "deck_name": services.deck.name,
        "next_path": next_path,
        "message": message,
        "username": username,
        "demo_mode": services.settings.demo_mode,
    }
    return templates.TemplateResponse(request, "login.html", context, status_code=status_code)


@router.get("/login")
async def login_form(
    request: Request,
    services: ServicesDep,
    next_path: Annotated[str, Query(alias="next")] = "/",
) -> Response:
    return _login_page(request, services, next_path=_safe_next(next_path))


@router.post("/login")
async def login(
    request: Request,
    services: ServicesDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    target = _safe_next(next_path)
    try:
        user = services.auth.check_password(username.strip(), password)
    except (NotAuthenticated, RateLimited) as exc:
        message = "Wrong username or password." if exc.code == "BAD_CREDENTIALS" else exc.message
        message = message[:1].upper() + message[1:].rstrip(".") + "."
        return _login_page(
            request,
            services,
            next_path=target,
            message=message,
            username=username,
            status_code=exc.status_code,
        )
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:  # rotation: a session cookie planted before login is worthless afterwards
        services.auth.revoke(previous)
    ttl = timedelta(hours=services.settings.session_ttl_hours)
    issued = services.auth.issue_token(user, kind="session", ttl=ttl, label="browser session")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, issued.token, max_age=int(ttl.total_seconds()), **_cookie_flags(request)
    )
    return response


@router.post("/logout")
async def logout(request: Request, services: ServicesDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        services.auth.revoke(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, **_cookie_flags(request))
    return response


def _cookie_flags(request: Request) -> _CookieFlags:
    """The session cookie's flags, the same when it is set and when it is cleared."""
    return {
        "path": "/",
        "httponly": True,
        "samesite": "lax",
        "secure": request.url.scheme == "https",
    }


class _CookieFlags(TypedDict):
    path: str
    httponly: bool
    samesite: Literal["lax", "strict", "none"]
    secure: bool


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/devices", status_code=303)


# --- what the Devices page shows --------------------------------------------------------------


@dataclass(frozen=True)
class MethodView:
    name: str
    form_id: str
    url: str
    schema: MethodSchema
    fields: list[FormField]
    search_text: str


@dataclass(frozen=True)
class PropertyView:
    name: str
    form_id: str
    url: str
    schema: PropertySchema
    fields: list[FormField]


@dataclass(frozen=True)
class InstrumentView:
    name: str
    class_name: str
    class_path: str
    doc: str
    methods: list[MethodView]
    properties: list[PropertyView]


def _method_view(owner: str, name: str, schema: MethodSchema, form_id: str, url: str) -> MethodView:
    fields = FormSpec.of_method(schema).fields() if schema.callable else []
    search_text = " ".join([owner, name, schema.doc]).lower()
    return MethodView(name, form_id, url, schema, fields, search_text)


def _instrument_views(services: Services) -> list[InstrumentView]:
    views = []
    for name, instrument in services.deck.schema.instruments.items():
        base = f"/devices/instruments/{quote(name)}"
        methods = [
            _method_view(name, method, schema, f"m-{name}-{method}", f"{base}/{quote(method)}")
            for method, schema in instrument.methods.items()
        ]
        properties = [
            PropertyView(
                prop,
                f"p-{name}-{prop}",
                f"{base}/properties/{quote(prop)}",
                schema,
                FormSpec.of_property(schema).fields() if schema.settable else [],
            )
            for prop, schema in instrument.properties.items()
        ]
        class_path = instrument.class_
        class_name = class_path.rsplit(".", 1)[-1]
        views.append(
            InstrumentView(name, class_name, class_path, instrument.doc, methods, properties)
        )
    return views


def _function_views(services: Services) -> list[MethodView]:
    return [
        _method_view(
            "deck functions", name, schema, f"f-{name}", f"/devices/functions/{quote(name)}"
        )
        for name, schema in services.deck.schema.functions.items()
    ]


def _recent_calls(services: Services) -> list[CallRecord]:
    records, _ = services.control.list_calls(limit=RECENT_CALLS, kinds=RECENT_CALL_KINDS)
    return records


def _shell(user: Principal, services: Services) -> dict[str, Any]:
    return {
        "user": user,
        "deck_name": services.deck.name,
        "fingerprint": services.deck.fingerprint,
        "can_run": user.has_role("operator"),
    }


@router.get("/devices")
async def devices_page(request: Request, user: PageUser, services: ServicesDep) -> Response:
    context = {
        **_shell(user, services),
        "active": "devices",
        "instruments": _instrument_views(services),
        "functions": _function_views(services),
        "calls": _recent_calls(services),
    }
    return templates.TemplateResponse(request, "devices.html", context)


@router.get("/devices/calls")
async def recent_calls(request: Request, _user: PageUser, services: ServicesDep) -> Response:
    context = {"calls": _recent_calls(services)}
    return templates.TemplateResponse(request, "fragments/recent_calls.html", context)


# --- running things from a form ---------------------------------------------------------------

Invoke = Callable[[dict[str, Any], bool], Awaitable[CallRecord]]


async def _form_values(request: Request) -> dict[str, FormValue]:
    form = await request.form()
    return {key: [v for v in form.getlist(key) if isinstance(v, str)] for key in form}


def _refusal(
    request: Request,
    user: Principal,
    exc: LabdeckError,
    form_id: str,
    fields: list[FormField],
    url: str,
) -> Response:
    problems = exc.detail.get("fields", []) if isinstance(exc, InvalidInput) else []
    shown = {f.name for f in fields}
    context = {
        "form_id": form_id,
        "fields": fields,
        "error": exc,
        "problems": problems,
        "field_messages": _field_messages(problems, shown),
        "unplaced": [p for p in problems if _field_root(p) not in shown],
        "can_force": user.has_role("admin") and exc.code == "INSTRUMENT_BUSY",
        "url": url,
        "user": user,
    }
    return templates.TemplateResponse(
        request, "fragments/refusal.html", context, status_code=exc.status_code
    )


def _field_root(problem: Mapping[str, Any]) -> str:
    return str(problem.get("field", "")).split(".", 1)[0]


def _field_messages(problems: list[dict[str, Any]], shown: set[str]) -> dict[str, str]:
    messages: dict[str, list[str]] = {}
    for problem in problems:
        root = _field_root(problem)
        if root in shown:
            path = str(problem.get("field", ""))
            prefix = f"{path[len(root) + 1 :]}: " if path != root else ""
            messages.setdefault(root, []).append(prefix + str(problem.get("message", "")))
    return {name: "; ".join(texts) for name, texts in messages.items()}


async def _run_from_form(
    request: Request,
    user: Principal,
    *,
    form_id: str,
    find_spec: Callable[[], FormSpec],
    invoke: Invoke,
    template: str = "fragments/call_result.html",
) -> Response:
    """Check the role, read the form, call, and render the outcome under the form."""
    fields: list[FormField] = []
    url = request.url.path
    try:
        require_role(user, "operator")
        spec = find_spec()
        fields = spec.fields()
        form = await _form_values(request)
        args, problems = form_to_args(spec.params_schema, form, extra=spec.extra)
        if problems:
            raise InvalidInput("some fields need attention", fields=problems)
        force = "true" in form.get(FORCE_FIELD, [])
        if force:
            require_role(user, "admin")
        record = await invoke(args, force)
    except LabdeckError as exc:
        return _refusal(request, user, exc, form_id, fields, url)
    context = {"form_id": form_id, "fields": fields, "record": record, "url": url}
    return templates.TemplateResponse(
        request, template, context, headers={"HX-Trigger": CALL_FINISHED_EVENT}
    )


def _find_spec(services: Services, kind: str, name: str, instrument: str = "") -> FormSpec:
    """The form of a deck member; NotFound when the page is older than the deck."""
    deck = services.deck.schema
    found = deck.instruments.get(instrument)
    if kind == "function" and name in deck.functions:
        return FormSpec.of_method(deck.functions[name])
    if kind == "method" and found is not None and name in found.methods:
        return FormSpec.of_method(found.methods[name])
    if kind == "property" and found is not None and name in found.properties:
        return FormSpec.of_property(found.properties[name])
    target = f"{instrument}.{name}" if instrument else name
    raise NotFound(f"the deck has no {kind} {target!r}: reload the page")


@router.post("/devices/instruments/{instrument}/{method}")
async def run_method(
    request: Request, instrument: str, method: str, user: PageUser, services: ServicesDep
) -> Response:
    async def invoke(args: dict[str, Any], force: bool) -> CallRecord:
        return await services.control.call_method(
            instrument, method, args, user=user.name, force=force
        )

    return await _run_from_form(
        request,
        user,
        form_id=f"m-{instrument}-{method}",
        find_spec=lambda: _find_spec(services, "method", method, instrument),
        invoke=invoke,
    )


@router.post("/devices/functions/{function}")
async def run_function(
    request: Request, function: str, user: PageUser, services: ServicesDep
) -> Response:
    async def invoke(args: dict[str, Any], force: bool) -> CallRecord:
        return await services.control.call_function(function, args, user=user.name, force=force)

    return await _run_from_form(
        request,
        user,
        form_id=f"f-{function}",
        find_spec=lambda: _find_spec(services, "function", function),
        invoke=invoke,
    )


@router.get("/devices/instruments/{instrument}/properties/{name}")
async def read_property(
    request: Request, instrument: str, name: str, user: PageUser, services: ServicesDep
) -> Response:
    context: dict[str, Any] = {"record": None, "error": None}
    status_code = 200
    try:
        require_role(user, "operator")
        context["record"] = await services.control.get_property(instrument, name, user=user.name)
    except LabdeckError as exc:
        context["error"], status_code = exc, exc.status_code
    return templates.TemplateResponse(
        request, "fragments/property_value.html", context, status_code=status_code
    )


@router.post("/devices/instruments/{instrument}/properties/{name}")
async def set_property(
    request: Request, instrument: str, name: str, user: PageUser, services: ServicesDep
) -> Response:
    async def invoke(args: dict[str, Any], force: bool) -> CallRecord:
        return await services.control.set_property(
            instrument, name, args.get("value"), user=user.name, force=force
        )

    return await _run_from_form(
        request,
        user,
        form_id=f"p-{instrument}-{name}",
        find_spec=lambda: _find_spec(services, "property", name, instrument),
        invoke=invoke,
        template="fragments/property_set.html",
    )
