"""`Client`: a typed Python client of a labdeck server's HTTP API.

Owns the client's entry point and the routes for auth, the deck, direct calls, workflows and
events; runs and the queue are in `runs.py` (`RunsMixin`). Every method is one request (or a
few, for `runs` and `wait`), returns the decoded JSON, and raises `LabdeckClientError` for a
refusal (4xx) or a server error (5xx) with the server's `code`, and a retryable `CONNECTION`
error when the server does not answer. Direct calls raise `RemoteInstrumentError`, also when
the call ran and failed.

    with Client("http://127.0.0.1:8000", token) as lab:
        lab.call("dispenser", "dispense", volume_ml=2.5, solvent="ethanol")
        run = lab.start_run("dye-absorbance", repeat=3)
        done = lab.wait(run["id"], on_progress=lambda r: print(r["status"], r["progress"]))
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal, cast

import httpx

from labdeck.client.errors import LabdeckClientError, RemoteInstrumentError
from labdeck.client.events import EventStream
from labdeck.client.http import HttpSession, as_remote_error, segment
from labdeck.client.runs import RunId, RunsMixin
from labdeck.client.types import (
    Call,
    ImportedWorkflow,
    Me,
    Problem,
    Token,
    Workflow,
    WorkflowSummary,
)

EVENTS_READ_TIMEOUT_S = 60.0  # the server sends a heartbeat every 15 s


class Client(RunsMixin):
    """A labdeck server at `url`, used with an API token (or `login()`).

    One `httpx.Client` underneath, so connections are reused; close it with `close()` or a
    `with` block. `transport` is handed to httpx (tests use it to reach an in-process app).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._session = HttpSession(url, token, timeout=timeout, transport=transport)

    @property
    def url(self) -> str:
        return self._session.url

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # --- auth ------------------------------------------------------------------------------

    def login(
        self, username: str, password: str, *, label: str = "", ttl_days: float | None = None
    ) -> Token:
        """Exchange a password for an API token; this client uses it from now on."""
        body = {"username": username, "password": password, "label": label, "ttl_days": ttl_days}
        token = cast(Token, self._session.json("POST", "/api/auth/token", json=body))
        self._session.set_token(token["token"])
        return token

    def logout(self) -> None:
        """Revoke the token this client uses."""
        self._session.send("DELETE", "/api/auth/token")
        self._session.set_token(None)

    def me(self) -> Me:
        """Who the token belongs to, and their role."""
        return cast(Me, self._session.json("GET", "/api/me"))

    def health(self) -> dict[str, Any]:
        """`{"status": "ok", "version"}` (needs no token)."""
        return cast(dict[str, Any], self._session.json("GET", "/api/health"))

    # --- deck and direct calls -------------------------------------------------------------

    def deck(self) -> dict[str, Any]:
        """The interface schema: instruments, their methods and properties, functions."""
        return cast(dict[str, Any], self._session.json("GET", "/api/deck"))

    def call(self, instrument: str, method: str, /, **args: Any) -> Any:
        """Call an instrument method and return its output.

        Raises `RemoteInstrumentError`: when the call ran and failed (`status` 200, the
        instrument's error code), was refused (`INSTRUMENT_BUSY`, invalid arguments…) or the
        server did not answer (`CONNECTION`).
        """
        path = f"/api/instruments/{segment(instrument)}/{segment(method)}"
        return self._call("POST", path, {"args": args})

    def call_function(self, function: str, /, **args: Any) -> Any:
        """Call a deck function and return its output (errors as for `call`)."""
        return self._call("POST", f"/api/functions/{segment(function)}", {"args": args})

    def get_property(self, instrument: str, name: str) -> Any:
        """Read an instrument property (recorded as a call)."""
        path = f"/api/instruments/{segment(instrument)}/properties/{segment(name)}"
        return self._call("GET", path, None)

    def set_property(self, instrument: str, name: str, value: Any) -> None:
        """Set an instrument property (recorded as a call)."""
        path = f"/api/instruments/{segment(instrument)}/properties/{segment(name)}"
        self._call("PUT", path, {"value": value})

    def _call(self, method: str, path: str, body: Any) -> Any:
        try:
            record = cast(Call, self._session.json(method, path, json=body))
        except LabdeckClientError as exc:
            raise as_remote_error(exc) from exc
        error = record.get("error")
        if record["status"] == "failed" and error:
            raise RemoteInstrumentError(
                error["code"],
                error["message"],
                retryable=error["retryable"],
                status=200,
                detail={**error.get("detail", {}), "call_id": record["id"]},
            )
        return record.get("output")

    # --- workflows -------------------------------------------------------------------------

    def workflows(
        self,
        q: str | None = None,
        *,
        tag: str | None = None,
        status: Literal["active", "paused_safety", "archived"] | None = None,
        deck: str | None = None,
    ) -> list[WorkflowSummary]:
        """The library: text `q` in the name or description, a tag, a status, a deck."""
        params = {"q": q, "tag": tag, "status": status, "deck": deck}
        return cast(
            list[WorkflowSummary], self._session.json("GET", "/api/workflows", params=params)
        )

    def workflow(self, ref: str) -> Workflow:
        """A workflow (by id or name) with its draft, its problems and its drift."""
        return cast(Workflow, self._session.json("GET", f"/api/workflows/{segment(ref)}"))

    def create_workflow(self, document: Mapping[str, Any]) -> Workflow:
        """Create a workflow whose draft is this `labdeck.workflow/1` document."""
        return cast(Workflow, self._session.json("POST", "/api/workflows", json=dict(document)))

    def update_draft(self, ref: str, document: Mapping[str, Any]) -> list[Problem]:
        """Replace the draft (saved even with problems); returns its problems."""
        path = f"/api/workflows/{segment(ref)}/draft"
        saved = self._session.json("PUT", path, json=dict(document))
        return cast(list[Problem], saved["problems"])

    def publish(self, ref: str) -> int:
        """Freeze the draft as the next version, make it active, return its number."""
        published = self._session.json("POST", f"/api/workflows/{segment(ref)}/publish")
        return int(published["version"])

    def import_workflow(self, payload: Mapping[str, Any]) -> ImportedWorkflow:
        """Import a labdeck document, an IvoryOS workflow JSON or `{"python", "function"}`."""
        imported = self._session.json("POST", "/api/workflows/import", json=dict(payload))
        return cast(ImportedWorkflow, imported)

    def export_workflow(self, ref: str, version: int | None = None) -> dict[str, Any]:
        """The draft (or a published version) as a `labdeck.workflow/1` document."""
        path = f"/api/workflows/{segment(ref)}/export"
        return cast(dict[str, Any], self._session.json("GET", path, params={"version": version}))

    # --- events ----------------------------------------------------------------------------

    def events(self, run_id: RunId | None = None) -> EventStream:
        """Live events (all, or one run's) as an iterator of `Event` dicts.

        The subscription exists when this returns. Close the stream (or use `with`) when done:

            with lab.events(run_id) as stream:
                for event in stream:
                    if event["event"] == "run.status": ...
        """
        params = {"run": run_id}
        response = self._session.stream("/api/events", params, EVENTS_READ_TIMEOUT_S)
        return EventStream(response, self._session.url)
