"""What the Data pages show: the runs list, one run's record, the direct-call history.

Owns turning the pages' query parameters into the same filters the API uses
(`labdeck.api.listing`) and assembling what the templates need from the services. Nothing
here writes. Big runs stay cheap: the run page reads per-phase and per-iteration summaries
(one grouped query each), the first `ITERATIONS_PAGE` iterations, and at most `PLOT_ROWS`
result rows (the browser draws the table and the plot from them); a step row is read only
when a person opens its iteration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from labdeck.api.listing import run_filter, run_page
from labdeck.errors import InvalidInput, LabdeckError
from labdeck.services import Services
from labdeck.store.repo_calls import CallRecord
from labdeck.store.repo_runs import ReplayChain, RunRecord
from labdeck.store.repo_workflows import WorkflowRecord
from labdeck.workflow.model import WorkflowDocument

PAGE_SIZE = 50
ITERATIONS_PAGE = 100
PLOT_ROWS = 5000  # results rows the run page carries (the table and the plot)
STEP_ROWS = 1000  # step rows of one opened iteration
LOG_LINES = 400
TRIGGER_WORDS = {
    "manual": "by hand",
    "webhook": "webhook",
    "schedule": "schedule",
    "replay": "replay",
}
# The kinds of direct calls a person picks from; the first is the default view.
CALL_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "": ("Calls people made", ("method", "function", "property_set")),
    "method": ("Instrument methods", ("method",)),
    "function": ("Deck functions", ("function",)),
    "property_set": ("Property changes", ("property_set",)),
    "property_get": ("Property reads", ("property_get",)),
    "all": ("Everything, reads too", ()),
}


# --- small helpers ------------------------------------------------------------------------------


def parse_day(text: str, name: str) -> date | None:
    """A `YYYY-MM-DD` field of a filter form (empty: no limit)."""
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"“{text}” is not a date: use YYYY-MM-DD",
            fields=[{"field": name, "message": "expected YYYY-MM-DD", "type": "date"}],
        ) from None


def day_range(date_from: str, date_to: str) -> tuple[datetime | None, datetime | None]:
    """From the start of the first day to the end of the last one (UTC)."""
    first, last = parse_day(date_from, "from"), parse_day(date_to, "to")
    since = datetime.combine(first, time(), UTC) if first else None
    until = datetime.combine(last + timedelta(days=1), time(), UTC) if last else None
    return since, until


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """How long from `start` to `end` (to now while it has not ended)."""
    if start is None:
        return None
    stop = end if end is not None else datetime.now(UTC)
    return max(0.0, (_utc(stop) - _utc(start)).total_seconds())


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def page_link(path: str, filters: Mapping[str, str], page: Mapping[str, str]) -> str:
    """The same list with the same filters, at another page."""
    query = urlencode({**filters, **{k: v for k, v in page.items() if v}})
    return f"{path}?{query}" if query else path


def mode_text(mode: Mapping[str, Any]) -> str:
    """How the run chose its iterations, in words."""
    if "table" in mode:
        rows = len(mode.get("table") or [])
        return f"parameter table, {rows} row{'s' if rows != 1 else ''}"
    if "campaign" in mode:
        config = mode.get("campaign") or {}
        optimizer = config.get("optimizer") or "optuna"
        return f"optimization campaign ({optimizer}, budget {config.get('budget', '?')})"
    if "repeat" in mode:
        return f"repeat {mode['repeat']} time{'s' if mode['repeat'] != 1 else ''}"
    return "—"


def span(seconds: float | None) -> str:
    """A run's or an iteration's length, in the units a person would say."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s"


def workflows_by_id(services: Services) -> dict[int, WorkflowRecord]:
    """Every workflow, archived ones too (old runs point at them)."""
    records = services.workflows.search() + services.workflows.search(status="archived")
    return {record.id: record for record in records}


# --- the runs list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRow:
    run: RunRecord
    workflow_name: str
    trigger: str
    duration_s: float | None
    iterations: str


def iterations_text(progress: Mapping[str, Any]) -> str:
    total, done = progress.get("iterations"), progress.get("done", progress.get("iteration"))
    if total is None and done is None:
        return "—"
    if total is None:
        return str(done)
    return f"{done or 0} of {total}"


def trigger_text(run: RunRecord) -> str:
    words = TRIGGER_WORDS.get(run.trigger_kind, run.trigger_kind)
    who = run.trigger.get("by") or run.created_by
    return f"{words} · {who}" if who else words


def run_rows(services: Services, runs: Sequence[RunRecord]) -> list[RunRow]:
    names = {i: r.name for i, r in workflows_by_id(services).items()} if runs else {}
    return [
        RunRow(
            run=run,
            workflow_name=names.get(run.workflow_id, f"workflow {run.workflow_id}"),
            trigger=trigger_text(run),
            duration_s=seconds_between(run.started_at, run.ended_at),
            iterations=iterations_text(run.progress),
        )
        for run in runs
    ]


@dataclass(frozen=True)
class RunListParams:
    workflow: str = ""
    status: str = ""
    trigger: str = ""
    user: str = ""
    q: str = ""
    date_from: str = ""
    date_to: str = ""
    cursor: str = ""
    after: str = ""

    def filters(self) -> dict[str, str]:
        """The filter fields that are set, as query parameters (for paging links)."""
        names = ("workflow", "status", "trigger", "user", "q")
        found = {name: getattr(self, name) for name in names if getattr(self, name)}
        found |= {k: v for k, v in (("from", self.date_from), ("to", self.date_to)) if v}
        return found

    def link(self, **page: str) -> str:
        return page_link("/data/runs", self.filters(), page)


@dataclass
class RunsList:
    params: RunListParams
    rows: list[RunRow] = field(default_factory=list)
    next_cursor: str | None = None
    newer_after: str | None = None  # the id to page to newer runs from
    error: str = ""
    filtered: bool = False
    workflows: list[WorkflowRecord] = field(default_factory=list)


def runs_list(services: Services, params: RunListParams) -> RunsList:
    view = RunsList(params=params, filtered=bool(params.filters()))
    view.workflows = sorted(workflows_by_id(services).values(), key=lambda r: r.name.lower())
    try:
        since, until = day_range(params.date_from, params.date_to)
        where = run_filter(
            services,
            workflow=params.workflow,
            statuses=[params.status],
            triggers=[params.trigger],
            user=params.user,
            since=since,
            until=until,
            text=params.q,
        )
        page = run_page(services, where, limit=PAGE_SIZE, cursor=params.cursor, after=params.after)
    except LabdeckError as exc:
        view.error = exc.message[:1].upper() + exc.message[1:]
        return view
    view.rows = run_rows(services, page.runs)
    view.next_cursor = page.next_cursor
    view.newer_after = str(page.runs[0].id) if page.newer and page.runs else None
    return view


# --- one run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepGroup:
    """A phase, or one iteration of the script, summarised from its step rows."""

    phase: str
    iteration: int | None
    steps: int
    failed: int
    skipped: int
    running: int
    attempts: int
    started_at: datetime | None
    ended_at: datetime | None
    iterations: int = 0
    samples: int = 0

    @property
    def state(self) -> str:
        if self.running:
            return "running"
        if self.failed:
            return "failed"
        return "skipped" if self.skipped == self.steps else "completed"

    @property
    def duration_s(self) -> float | None:
        return seconds_between(self.started_at, self.ended_at) if self.ended_at else None


def _group(summary: Mapping[str, Any], phase: str | None = None) -> StepGroup:
    return StepGroup(
        phase=phase or str(summary["phase"]),
        iteration=summary.get("iteration"),
        steps=int(summary["steps"]),
        failed=int(summary["failed"] or 0),
        skipped=int(summary["skipped"] or 0),
        running=int(summary["running"] or 0),
        attempts=int(summary["attempts"] or 1),
        started_at=summary["started_at"],
        ended_at=summary["ended_at"],
        iterations=int(summary.get("iterations") or 0),
        samples=int(summary.get("samples") or 0),
    )


def iteration_groups(
    services: Services, run_id: int, after: int = 0
) -> tuple[list[StepGroup], int | None]:
    """One page of script iterations, and the iteration to continue after (None: no more)."""
    found = services.run_service.records.iteration_summaries(
        run_id, after=after, limit=ITERATIONS_PAGE + 1
    )
    groups = [_group(s, "script") for s in found[:ITERATIONS_PAGE]]
    more = len(found) > ITERATIONS_PAGE and groups
    return groups, (groups[-1].iteration if more else None)


@dataclass(frozen=True)
class ResultsTable:
    """The run's samples for the results table and the plot (the browser draws both)."""

    columns: list[str]
    parameters: list[str]
    outputs: list[str]
    rows: list[dict[str, Any]]  # at most PLOT_ROWS, in order
    total: int
    numeric: frozenset[str] = frozenset()  # columns of numbers only (aligned right)


def results_table(
    services: Services, run_id: int, document: WorkflowDocument | None
) -> ResultsTable:
    records = services.run_service.records
    samples = records.samples(run_id, limit=PLOT_ROWS, values_only=True)
    total = len(samples) if len(samples) < PLOT_ROWS else records.sample_count(run_id)
    parameters = [p.name for p in document.parameters] if document else []
    outputs = list(document.outputs) if document else []
    rows = []
    seen: set[str] = set()
    for s in samples:
        rows.append(
            {
                "iteration": s["iteration"],
                "sample": s["sample"],
                "status": s["status"],
                **s["params"],
                **s["outputs"],
            }
        )
        if not seen.issuperset(s["params"]) or not seen.issuperset(s["outputs"]):
            # values the pinned document does not name (an older sample's), in order
            parameters += [k for k in s["params"] if k not in parameters]
            outputs += [k for k in s["outputs"] if k not in outputs and k not in parameters]
            seen.update(s["params"], s["outputs"])
    parameters = [p for p in parameters if p in seen]
    outputs = [o for o in outputs if o in seen]
    # A sample number only says something in batch runs (several samples per iteration);
    # otherwise it repeats the iteration, counted from 0, which only confuses.
    iterations = [row["iteration"] for row in rows]
    batched = len(set(iterations)) < len(iterations)
    columns = ["iteration", *(["sample"] if batched else []), *parameters, *outputs]
    numeric = frozenset(c for c in columns if _numbers_only(row.get(c) for row in rows))
    return ResultsTable(columns, parameters, outputs, rows, total, numeric)


def _numbers_only(values: Iterable[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in present
    )


def log_tail(services: Services, run_id: int) -> tuple[list[str], int]:
    lines = services.run_service.log_text(run_id).splitlines()
    return lines[-LOG_LINES:], len(lines)


def pinned_document(services: Services, run: RunRecord) -> WorkflowDocument | None:
    try:
        return services.workflows.document(str(run.workflow_id), run.version)
    except LabdeckError:
        return None


@dataclass
class RunView:
    run: RunRecord
    workflow: WorkflowRecord | None
    workflow_name: str
    trigger: str
    duration_s: float | None
    iterations: str
    mode: str
    phases: dict[str, StepGroup]
    script_groups: list[StepGroup]
    more_after: int | None
    failures: list[dict[str, Any]]
    results: ResultsTable
    log_lines: list[str]
    log_total: int
    chain: ReplayChain
    actions: list[str]
    prompt: dict[str, Any] | None
    campaign: bool
    boot: dict[str, Any]


def run_view(services: Services, run_id: int) -> RunView:
    """Everything the run page shows; NotFound when there is no such run."""
    run = services.run_service.get(run_id)
    records = services.run_service.records
    workflows = workflows_by_id(services)
    workflow = workflows.get(run.workflow_id)
    document = pinned_document(services, run)
    phases = {s["phase"]: _group(s) for s in records.phase_summaries(run_id)}
    groups, more_after = iteration_groups(services, run_id)
    results = results_table(services, run_id, document)
    lines, total = log_tail(services, run_id)
    return RunView(
        run=run,
        workflow=workflow,
        workflow_name=workflow.name if workflow else f"workflow {run.workflow_id}",
        trigger=trigger_text(run),
        duration_s=seconds_between(run.started_at, run.ended_at),
        iterations=iterations_text(run.progress),
        mode=mode_text(run.mode or {}),
        phases=phases,
        script_groups=groups,
        more_after=more_after,
        failures=records.failed_steps(run_id, limit=20),
        results=results,
        log_lines=lines,
        log_total=total,
        chain=services.run_service.runs.replay_chain(run_id),
        actions=services.run_service.actions(run),
        prompt=services.run_service.prompt(run_id),
        campaign="campaign" in (run.mode or {}),
        boot={
            "run": {"id": str(run.id), "status": run.status},
            "columns": results.columns,
            "parameters": results.parameters,
            "outputs": results.outputs,
            "rows": results.rows,
            "total": results.total,
        },
    )


def step_rows(
    services: Services, run_id: int, phase: str, iteration: int | None
) -> tuple[list[dict[str, Any]], bool]:
    """The step rows of one phase, or of one script iteration, with their durations, and
    whether there were more than `STEP_ROWS` (a `while` loop can make thousands in one
    iteration; the steps CSV has them all).
    """
    services.run_service.get(run_id)
    rows = services.run_service.records.steps(
        run_id,
        phase=phase,
        iteration=iteration if phase == "script" else None,
        limit=STEP_ROWS + 1,
    )
    more = len(rows) > STEP_ROWS
    rows = rows[:STEP_ROWS]
    for row in rows:
        row["duration_s"] = (
            seconds_between(row["started_at"], row["ended_at"]) if row["ended_at"] else None
        )
    return rows, more


# --- direct calls -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallListParams:
    target: str = ""
    status: str = ""
    user: str = ""
    kind: str = ""
    date_from: str = ""
    date_to: str = ""
    cursor: str = ""

    def filters(self) -> dict[str, str]:
        names = ("target", "status", "user", "kind")
        found = {name: getattr(self, name) for name in names if getattr(self, name)}
        found |= {k: v for k, v in (("from", self.date_from), ("to", self.date_to)) if v}
        return found

    def link(self, **page: str) -> str:
        return page_link("/data/calls", self.filters(), page)


@dataclass
class CallsList:
    params: CallListParams
    calls: list[CallRecord] = field(default_factory=list)
    next_cursor: str | None = None
    error: str = ""
    targets: list[str] = field(default_factory=list)


CALL_STATUSES = ("running", "completed", "failed")


def deck_targets(services: Services) -> list[str]:
    """Every method, property and function of the deck, as call records name them."""
    schema = services.deck.schema
    found = [
        f"{name}.{member}"
        for name, instrument in schema.instruments.items()
        for member in (*instrument.methods, *instrument.properties)
    ]
    return sorted(found + list(schema.functions))


def calls_list(services: Services, params: CallListParams) -> CallsList:
    view = CallsList(params=params, targets=deck_targets(services))
    try:
        since, until = day_range(params.date_from, params.date_to)
        if params.status and params.status not in CALL_STATUSES:
            raise InvalidInput(f"unknown status {params.status!r}")
        if params.kind not in CALL_KINDS:
            raise InvalidInput(f"unknown kind of call {params.kind!r}")
        if params.cursor and not params.cursor.isdigit():
            raise InvalidInput("the page cursor must be a call id")
        view.calls, view.next_cursor = services.calls.page(
            limit=PAGE_SIZE,
            cursor=params.cursor or None,
            target=params.target.strip() or None,
            status=params.status or None,
            user_name=params.user.strip() or None,
            kinds=CALL_KINDS[params.kind][1] or None,
            since=since,
            until=until,
        )
    except LabdeckError as exc:
        view.error = exc.message[:1].upper() + exc.message[1:]
    return view
