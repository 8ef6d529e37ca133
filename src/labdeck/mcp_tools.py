"""The lab as MCP tools: what an AI agent may read and do, through one `labdeck.client.Client`.

Owns `LabTools`, one method per MCP tool; `mcp_server.py` registers them (with the error
mapping and the tool hints). Every method is a request or a few to the server with the
client's token, so an agent has exactly the permissions of that token: a viewer token reads,
an operator token also starts and steers runs and calls instruments. The docstrings are the
tool descriptions the agent reads: what the tool does, when to use it, what it sets in motion.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from labdeck.client import Client
from labdeck.client.types import ENDED

WAIT_DEFAULT_S = 30.0
WAIT_MAX_S = 600.0
POLL_INTERVAL_S = 0.5
# The verbs that mean the run waits for someone (`actions` of a run, see the API docs).
ATTENTION_VERBS = ("resume", "retry", "skip", "input", "continue")


def _summary_line(doc: str) -> str:
    return doc.strip().split("\n", 1)[0]


def _method_summary(method: dict[str, Any], full: bool) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "doc": method.get("doc", "") if full else _summary_line(method.get("doc", "")),
        "args_schema": method.get("params_schema", {}),
        "returns": method.get("returns", {}),
    }
    if not method.get("callable", True):
        summary["callable"] = False
        summary["reason"] = method.get("reason")
    return summary


class LabTools:
    """The MCP tools over a client of one labdeck server (see the module docstring)."""

    def __init__(self, client: Client, poll_interval: float = POLL_INTERVAL_S) -> None:
        self.client = client
        self.poll_interval = poll_interval

    # --- the deck and the library ----------------------------------------------------------

    def deck_info(self, instrument: str | None = None) -> dict[str, Any]:
        """Describe the lab deck: its instruments, their methods with argument JSON schemas,
        their properties, the deck functions, and the role of your token.

        Use it first, to learn what the lab can do and which arguments each method takes
        (needed for `call_instrument`). Without `instrument` each method's doc is its summary
        line; give an instrument's name for its full docs. Reads only; moves nothing.
        """
        deck = self.client.deck()
        me = self.client.me()
        instruments = deck.get("instruments", {})
        if instrument is not None and instrument not in instruments:
            raise ValueError(
                f"no instrument {instrument!r} on the deck; there are: {', '.join(instruments)}"
            )
        full = instrument is not None
        chosen = {instrument: instruments[instrument]} if full else instruments
        # One instrument asked for: its full docs, and the deck functions are left out.
        functions = {} if full else deck.get("functions", {})
        return {
            "deck": deck.get("name"),
            "fingerprint": deck.get("fingerprint"),
            "you": {"name": me["name"], "role": me["role"]},
            "instruments": {
                name: {
                    "class": spec.get("class"),
                    "doc": spec.get("doc", "") if full else _summary_line(spec.get("doc", "")),
                    "methods": {
                        method: _method_summary(schema, full)
                        for method, schema in spec.get("methods", {}).items()
                    },
                    "properties": spec.get("properties", {}),
                }
                for name, spec in chosen.items()
            },
            "functions": {
                name: _method_summary(schema, full) for name, schema in functions.items()
            },
        }

    def list_workflows(self, query: str | None = None, tag: str | None = None) -> dict[str, Any]:
        """List the workflow library: id, name, description, tags, status and active version.

        Only workflows with an `active_version` can be run (`start_run`); a workflow whose
        status is `paused_safety` or `archived` cannot be started. `query` matches text in
        the name or description. Reads only.
        """
        return {"workflows": self.client.workflows(query, tag=tag)}

    def get_workflow(self, workflow: str, version: int | None = None) -> dict[str, Any]:
        """Show one workflow (by name or id): its parameters (names, types, defaults), outputs,
        steps, and the problems of its draft.

        `document` is the version a run would use: the active version unless `version` is
        given (the draft when nothing is published yet). Use it before `start_run` to learn
        the parameter names for a `table` or the campaign's search space. Reads only.
        """
        found = self.client.workflow(workflow)
        chosen = version if version is not None else found["active_version"]
        return {
            "id": found["id"],
            "name": found["name"],
            "description": found["description"],
            "tags": found["tags"],
            "status": found["status"],
            "active_version": found["active_version"],
            "document_version": chosen if chosen is not None else "draft",
            "document": self.client.export_workflow(found["id"], chosen),
            "draft_problems": found["problems"],
            "drift": found["drift"],
        }

    # --- runs ------------------------------------------------------------------------------

    def start_run(
        self,
        workflow: str,
        mode: Literal["repeat", "table", "campaign"] = "repeat",
        repeat: int = 1,
        table: list[dict[str, Any]] | None = None,
        campaign: dict[str, Any] | None = None,
        version: int | Literal["active"] = "active",
        name: str | None = None,
        on_error: Literal["pause", "fail"] = "pause",
        retries: int = 0,
        batch_size: int = 1,
        cleanup_on_failure: bool = True,
        continue_on_failure: bool = False,
    ) -> dict[str, Any]:
        """Queue a run of a published workflow; the lab then performs it on real instruments.

        SIDE EFFECTS: the run dispenses, heats, moves and measures physically, and uses up
        materials. It starts when the queue reaches it (see `queue_status`). Needs an
        operator token.

        Modes: `repeat` runs the workflow `repeat` times with the parameters' defaults;
        `table` runs one iteration per row of parameter values (`[{"param": value}, ...]`;
        omitted parameters take their defaults); `campaign` lets an optimizer choose the
        parameters (`campaign` is a CampaignConfig object, see the API docs). `on_error`:
        `pause` waits for `retry_step`/`skip_step`/`stop_run` when a step fails, `fail` ends
        the run; `retries` retries a failed step that many times first. Returns the run;
        follow it with `wait_for_run` or `run_status`.
        """
        options: dict[str, Any] = {"repeat": repeat}
        if mode == "table":
            if table is None:
                raise ValueError("mode 'table' needs `table`: a list of parameter rows")
            options = {"table": table}
        elif mode == "campaign":
            if campaign is None:
                raise ValueError("mode 'campaign' needs `campaign`: a CampaignConfig object")
            options = {"campaign": campaign}
        run = self.client.start_run(
            workflow,
            version=version,
            name=name,
            on_error=on_error,
            retries=retries,
            batch_size=batch_size,
            cleanup_on_failure=cleanup_on_failure,
            continue_on_failure=continue_on_failure,
            **options,
        )
        return dict(run)

    def run_status(self, run_id: str) -> dict[str, Any]:
        """A run's status, progress (iterations done of total), error, what it waits for
        (`prompt`) and `actions`: the control verbs valid now (e.g. `input` → `answer_input`,
        `retry`/`skip` → `retry_step`/`skip_step`, `continue` → `continue_run`). Reads only.
        """
        return dict(self.client.run(run_id))

    def wait_for_run(self, run_id: str, timeout_s: float = WAIT_DEFAULT_S) -> dict[str, Any]:
        """Wait until the run ends or needs someone, for at most `timeout_s` seconds (≤ 600).

        Returns `{"run", "outcome"}`: `outcome` is `ended` (completed, failed or cancelled:
        see `run_results`), `needs_attention` (paused, failed step waiting for a decision,
        an input to answer, a pause step to continue: see the run's `actions` and `prompt`),
        or `still_running` when the time ran out (call again; the run goes on). Reads only.
        """
        deadline = time.monotonic() + max(0.0, min(timeout_s, WAIT_MAX_S))
        while True:
            run = self.client.run(run_id)
            if run["status"] in ENDED:
                return {"run": run, "outcome": "ended"}
            if run["status"] == "paused" or any(
                verb in ATTENTION_VERBS for verb in run.get("actions") or []
            ):
                return {"run": run, "outcome": "needs_attention"}
            if time.monotonic() + self.poll_interval > deadline:
                return {"run": run, "outcome": "still_running"}
            time.sleep(self.poll_interval)

    def run_results(self, run_id: str) -> dict[str, Any]:
        """A run's results: one row per sample with its iteration, parameters and outputs,
        and the run's status and error. Works while the run goes on (the rows so far).
        Reads only.
        """
        run = self.client.run(run_id)
        return {
            "run_id": run["id"],
            "status": run["status"],
            "error": run["error"],
            "results": self.client.results(run_id),
        }

    def run_campaign(self, run_id: str) -> dict[str, Any]:
        """A campaign run's optimization so far: the observations, the best one (or the
        Pareto front for several objectives) and parameter importance.

        Use it to follow or report an optimizer-driven run (started by `start_run` with
        mode `campaign`). Reads only.
        """
        return self.client.campaign(run_id)

    def queue_status(self) -> dict[str, Any]:
        """The run queue: whether it is paused (and why), the active run, the pending runs
        in the order they will start. Reads only.
        """
        return dict(self.client.queue())

    # --- controls --------------------------------------------------------------------------

    def pause_run(self, run_id: str) -> dict[str, Any]:
        """Pause a run at the next step boundary (the current step finishes), or hold a
        queued run. Instruments stop after that step; nothing is cleaned up. Operator token.
        """
        return dict(self.client.pause(run_id))

    def resume_run(self, run_id: str) -> dict[str, Any]:
        """Resume a paused run: the lab carries on with the next step. Operator token."""
        return dict(self.client.resume(run_id))

    def stop_run(self, run_id: str, reason: str, cleanup: bool = False) -> dict[str, Any]:
        """Stop a run now (cancel): the current step ends and the remaining steps are
        skipped; with `cleanup` the workflow's cleanup steps run. The run ends `cancelled`
        and cannot be resumed. Give the reason (it is recorded). Operator token.
        Prefer `stop_pending` to end gracefully after the current iteration.
        """
        return dict(self.client.cancel(run_id, reason, cleanup=cleanup))

    def stop_pending(self, run_id: str, cleanup: bool = True) -> dict[str, Any]:
        """Stop gracefully: finish the current iteration, skip the rest, then run the
        cleanup steps (unless `cleanup` is false). Operator token.
        """
        return dict(self.client.stop_pending(run_id, cleanup=cleanup))

    def retry_step(self, run_id: str) -> dict[str, Any]:
        """Run the failed step of an error-paused run again (a physical action again).
        Only when the run's `actions` include `retry`; check the error first. Operator token.
        """
        return dict(self.client.retry(run_id))

    def skip_step(self, run_id: str) -> dict[str, Any]:
        """Skip the failed step of an error-paused run and go on with the next one: its
        outputs stay missing. Only when the run's `actions` include `skip`. Operator token.
        """
        return dict(self.client.skip(run_id))

    def answer_input(self, run_id: str, value: Any) -> dict[str, Any]:
        """Answer the input step the run waits at (its `prompt` says the question, the type
        and the choices); the run then goes on. Only when `actions` include `input`.
        Operator token.
        """
        return dict(self.client.answer(run_id, value))

    def continue_run(self, run_id: str) -> dict[str, Any]:
        """Continue a run that waits at a pause step (its `prompt` says what to check
        first, e.g. that a vial is in place). Only when `actions` include `continue`.
        Operator token.
        """
        return dict(self.client.continue_run(run_id))

    # --- direct calls ----------------------------------------------------------------------

    def call_instrument(
        self, instrument: str, method: str, args: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Call one instrument method directly, outside any run, and return its output.

        SIDE EFFECTS: this acts on the physical instrument at once. Needs an operator token
        (a viewer token is refused). Refused with `INSTRUMENT_BUSY` while a run uses the
        instrument. `args` are the method's keyword arguments, as in `deck_info`'s
        `args_schema`. Use it for a single action or reading; use workflows for procedures.
        """
        output = self.client.call(instrument, method, **(args or {}))
        return {"output": output}
