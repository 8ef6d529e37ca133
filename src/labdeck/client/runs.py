"""The run and queue part of the Python client: submit, list, wait, control, results.

Owns `RunsMixin`, which `Client` inherits: every method maps to one route of API.md's "Runs",
"Queue" and "Campaigns" sections, except `wait` (polls a run until it ends) and `runs`
(follows the `X-Next-Cursor` header across pages when the server sends one).
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, cast

from labdeck.client.http import HttpSession, decode, segment
from labdeck.client.types import ENDED, Queue, Run, RunSteps

RunId = str | int
NEXT_CURSOR = "X-Next-Cursor"
MAX_PAGE = 500  # the API's largest `limit`


class RunsMixin:
    """Runs and the queue (`Client` provides the session)."""

    _session: HttpSession

    # --- submit and read -------------------------------------------------------------------

    def start_run(
        self,
        workflow: str,
        *,
        version: int | Literal["active"] = "active",
        name: str | None = None,
        repeat: int | None = None,
        table: Sequence[Mapping[str, Any]] | None = None,
        campaign: Mapping[str, Any] | None = None,
        batch_size: int = 1,
        on_error: Literal["pause", "fail"] = "pause",
        retries: int = 0,
        cleanup_on_failure: bool = True,
        continue_on_failure: bool = False,
    ) -> Run:
        """Queue a run of a published workflow (by id or name) and return it.

        Give at most one mode: `repeat` iterations with the parameters' defaults (the default,
        once), a `table` of parameter rows (one iteration each), or a `campaign` in which an
        optimizer chooses the parameters (see `CampaignConfig` in the API docs).
        """
        modes = {"repeat": repeat, "table": table, "campaign": campaign}
        given = {key: value for key, value in modes.items() if value is not None}
        if len(given) > 1:
            raise ValueError(f"give one mode, not {' and '.join(given)}")
        mode: dict[str, Any] = {"repeat": 1}
        if table is not None:
            mode = {"table": [dict(row) for row in table]}
        elif campaign is not None:
            mode = {"campaign": dict(campaign)}
        elif repeat is not None:
            mode = {"repeat": repeat}
        body = {
            "workflow": workflow,
            "version": version,
            "name": name,
            "mode": mode,
            "batch_size": batch_size,
            "on_error": on_error,
            "retries": retries,
            "cleanup_on_failure": cleanup_on_failure,
            "continue_on_failure": continue_on_failure,
        }
        return cast(Run, self._session.json("POST", "/api/runs", json=body))

    def run(self, run_id: RunId) -> Run:
        """A run, with `prompt` (what it waits for) and `actions` (the verbs valid now)."""
        return cast(Run, self._session.json("GET", f"/api/runs/{segment(run_id)}"))

    def runs(
        self,
        *,
        limit: int | None = 50,
        status: str | Sequence[str] | None = None,
        workflow: str | None = None,
        trigger: str | Sequence[str] | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        user: str | None = None,
        q: str | None = None,
        **filters: Any,
    ) -> list[Run]:
        """Runs, newest first: at most `limit` of them (None: all, page after page).

        `status` and `trigger` take one value or several. The filters are passed to
        `GET /api/runs` as they are; a server that does not know one ignores it.
        """
        query = dict(
            filters,
            status=status,
            workflow=workflow,
            trigger=trigger,
            since=since,
            until=until,
            user=user,
            q=q,
        )
        found: list[Run] = []
        for run in self._iter_runs(query, limit):
            found.append(run)
            if limit is not None and len(found) >= limit:
                break
        return found

    def _iter_runs(self, query: dict[str, Any], limit: int | None) -> Iterator[Run]:
        page_size = MAX_PAGE if limit is None else max(1, min(limit, MAX_PAGE))
        cursor: str | None = None
        while True:
            params = dict(query, limit=page_size, cursor=cursor)
            response = self._session.send("GET", "/api/runs", params=params)
            page = cast(list[Run], decode(response) or [])
            yield from page
            cursor = response.headers.get(NEXT_CURSOR)
            if not cursor or not page:
                return

    def steps(self, run_id: RunId) -> RunSteps:
        """The run's step records in execution order, and one result row per sample."""
        return cast(RunSteps, self._session.json("GET", f"/api/runs/{segment(run_id)}/steps"))

    def results(self, run_id: RunId) -> list[dict[str, Any]]:
        """One row per sample: iteration, sample, parameters and outputs."""
        path = f"/api/runs/{segment(run_id)}/results.json"
        return cast(list[dict[str, Any]], self._session.json("GET", path))

    def results_frame(self, run_id: RunId) -> Any:
        """The results as a `pandas.DataFrame` (needs pandas: `pip install pandas`)."""
        try:
            pandas = importlib.import_module("pandas")
        except ImportError as exc:
            raise ImportError(
                "results_frame needs pandas, which is not installed: `pip install pandas`,"
                " or use results() for a list of dicts"
            ) from exc
        return pandas.DataFrame.from_records(self.results(run_id))

    def log(self, run_id: RunId) -> str:
        """The run's log text."""
        return self._session.send("GET", f"/api/runs/{segment(run_id)}/log").text

    def campaign(self, run_id: RunId) -> dict[str, Any]:
        """A campaign run's observations, best so far, Pareto front and importance."""
        path = f"/api/runs/{segment(run_id)}/campaign"
        return cast(dict[str, Any], self._session.json("GET", path))

    def wait(
        self,
        run_id: RunId,
        timeout: float | None = None,
        poll_interval: float = 0.5,
        on_progress: Callable[[Run], object] | None = None,
    ) -> Run:
        """Poll the run until it is completed, failed or cancelled, and return it.

        `on_progress(run)` is called with the first state seen and each time the status, its
        reason, the progress or the prompt changes. Raises `TimeoutError` after `timeout`
        seconds (the run goes on on the server).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        seen: str | None = None
        while True:
            run = self.run(run_id)
            state = json.dumps(
                [run["status"], run.get("status_reason"), run["progress"], run.get("prompt")],
                sort_keys=True,
                default=str,
            )
            if on_progress is not None and state != seen:
                on_progress(run)
            seen = state
            if run["status"] in ENDED:
                return run
            if deadline is not None and time.monotonic() + poll_interval > deadline:
                raise TimeoutError(
                    f"run {run_id} is still {run['status']} after {timeout:g} s"
                    " (it goes on on the server)"
                )
            time.sleep(poll_interval)

    # --- control ---------------------------------------------------------------------------

    def _verb(self, run_id: RunId, verb: str, body: Any = None) -> Run:
        path = f"/api/runs/{segment(run_id)}/{verb}"
        return cast(Run, self._session.json("POST", path, json=body))

    def pause(self, run_id: RunId) -> Run:
        """Pause at the next step boundary (or hold a queued run)."""
        return self._verb(run_id, "pause")

    def resume(self, run_id: RunId) -> Run:
        """Resume a paused run."""
        return self._verb(run_id, "resume")

    def stop_pending(
        self, run_id: RunId, *, cleanup: bool = True, continue_queue: bool = True
    ) -> Run:
        """Finish the current iteration, skip the rest, then clean up."""
        body = {"cleanup": cleanup, "continue_queue": continue_queue}
        return self._verb(run_id, "stop-pending", body)

    def cancel(
        self,
        run_id: RunId,
        reason: str | None = None,
        *,
        cleanup: bool = False,
        continue_queue: bool = True,
    ) -> Run:
        """Stop current: skip the remaining steps (cleanup only if asked)."""
        body = {"reason": reason, "cleanup": cleanup, "continue_queue": continue_queue}
        return self._verb(run_id, "cancel", body)

    def retry(self, run_id: RunId) -> Run:
        """Run the failed step of an error-paused run again."""
        return self._verb(run_id, "retry")

    def skip(self, run_id: RunId) -> Run:
        """Skip the failed step of an error-paused run."""
        return self._verb(run_id, "skip")

    def answer(self, run_id: RunId, value: Any) -> Run:
        """Answer the input step the run waits at."""
        return self._verb(run_id, "input", {"value": value})

    def continue_run(self, run_id: RunId) -> Run:
        """Continue a run that waits at a pause step."""
        return self._verb(run_id, "continue")

    def replay(
        self,
        run_id: RunId,
        version: Literal["same", "active"] = "same",
        mapping: Mapping[str, str | None] | None = None,
    ) -> Run:
        """A new run from an ended one: `same` version and inputs, or the `active` version
        with table columns renamed by `mapping` (old name → new name, None drops it)."""
        return self._verb(run_id, "replay", {"version": version, "mapping": dict(mapping or {})})

    def rename_run(self, run_id: RunId, name: str) -> Run:
        return cast(
            Run, self._session.json("PATCH", f"/api/runs/{segment(run_id)}", json={"name": name})
        )

    # --- queue -----------------------------------------------------------------------------

    def queue(self) -> Queue:
        """Whether the queue is paused (and why), the active run, the pending runs in order."""
        return cast(Queue, self._session.json("GET", "/api/queue"))

    def pause_queue(self) -> Queue:
        """Stop starting new runs (the active one goes on)."""
        return cast(Queue, self._session.json("POST", "/api/queue/pause"))

    def resume_queue(self) -> Queue:
        """Start queued runs again."""
        return cast(Queue, self._session.json("POST", "/api/queue/resume"))

    def reorder_queue(self, run_ids: Sequence[RunId]) -> Queue:
        """Put the pending runs in this order."""
        body = {"run_ids": [int(run_id) for run_id in run_ids]}
        return cast(Queue, self._session.json("PUT", "/api/queue/order", json=body))
