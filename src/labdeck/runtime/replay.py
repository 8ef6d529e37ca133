"""Replay: a new run made from a terminal one (a run is never re-executed in place).

`Replayer.replay` owns the rules of DESIGN.md ("Run model", replay):
- only a terminal run (completed, failed, cancelled) can be replayed;
- `version="same"` submits the same workflow version with the same stored mode (the repeat
  count, or the table rows as they were converted and checked) and the same options;
- a campaign run is replayed as a campaign that knows every experiment the run made: they
  join its history, and a run that ended before its budget continues with the budget left
  (`runtime.campaign.continued_campaign`; renamed parameters follow the mapping);
- `version="active"` submits the workflow's active version with the table's parameter names
  mapped old → new. A table column that has no parameter of that name in the new version and
  is not mapped is refused (`UNMAPPED_PARAMETERS`, listed in `detail.unmapped`) rather than
  dropped silently; map it to null to drop it on purpose. Parameters new in that version take
  their defaults. A repeat run had no explicit values: it repeats with the new defaults;
- the new run records `replay_of`; chains of replays are capped at depth 5 (`REPLAY_LIMIT`)
  and a server makes at most 20 replays a minute (`RATE_LIMITED`), so a script looping on
  replay cannot flood the queue;
- a safety-paused workflow refuses replays (`WORKFLOW_SAFETY_PAUSED`), as it refuses runs.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Literal

from labdeck.errors import Conflict, InvalidInput, NotFound, RateLimited
from labdeck.runtime.campaign import continued_campaign, renamed_campaign
from labdeck.runtime.service import RunOptions, RunService
from labdeck.runtime.states import TERMINAL
from labdeck.store.repo_runs import RunRecord, RunRepository
from labdeck.workflow.library import WorkflowLibrary

MAX_DEPTH = 5
MAX_PER_WINDOW = 20
WINDOW_S = 60.0
_REPLAY_SUFFIX = re.compile(r" \(replay of #\d+\)$")

ReplayVersion = Literal["same", "active"]


class Replayer:
    def __init__(
        self,
        run_service: RunService,
        runs: RunRepository,
        library: WorkflowLibrary,
        *,
        max_depth: int = MAX_DEPTH,
        max_per_window: int = MAX_PER_WINDOW,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._run_service = run_service
        self._runs = runs
        self._library = library
        self._max_depth = max_depth
        self._max_per_window = max_per_window
        self._window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()  # times of the replays in the sliding window

    def replay(
        self,
        run_id: int,
        *,
        version: ReplayVersion,
        mapping: Mapping[str, str | None] | None = None,
        user: str | None,
    ) -> RunRecord:
        run = self._runs.get(run_id)
        if run is None:
            raise NotFound(f"no run with id {run_id}")
        if run.status not in TERMINAL:
            raise Conflict(
                f"run {run_id} is {run.status}: only a completed, failed or cancelled run"
                " can be replayed",
                code="INVALID_TRANSITION",
                detail={"status": str(run.status)},
            )
        self._check_depth(run)
        workflow = self._library.get(str(run.workflow_id)).record
        if workflow.status == "paused_safety":
            # submit checks this too; checking first gives the right error before a mapping one.
            raise Conflict(
                f"{workflow.name!r} is safety-paused: clear it before replaying",
                code="WORKFLOW_SAFETY_PAUSED",
            )
        mode = dict(run.mode)
        if "campaign" in mode:
            # Its experiments become the new campaign's history (see runtime/campaign.py).
            mode = continued_campaign(run, self._run_service.records.samples(run.id))
        if version == "same":
            number = run.version
        else:
            if workflow.active_version is None:
                raise Conflict(
                    f"{workflow.name!r} has no active version: publish first",
                    code="NOT_PUBLISHED",
                )
            number = workflow.active_version
            mode = self._mapped_mode(run, mode, number, dict(mapping or {}))
        self._take_slot()
        try:
            return self._run_service.submit(
                workflow=str(run.workflow_id),
                version=number,  # the number the mapping was checked against, not "active"
                mode=mode,
                options=RunOptions.model_validate(run.options),
                name=f"{_REPLAY_SUFFIX.sub('', run.name)} (replay of #{run.id})",
                user=user,
                trigger="replay",
                trigger_input=run.trigger.get("input"),
                replay_of=run.id,
            )
        except BaseException:
            self._give_back_slot()  # a refused replay does not count against the limit
            raise

    # --- rules ---------------------------------------------------------------------------------

    def _check_depth(self, run: RunRecord) -> None:
        """The replay would be one deeper than `run`; follow `replay_of` to the original."""
        depth, current, seen = 0, run, {run.id}
        while current.replay_of is not None and depth <= self._max_depth:
            depth += 1
            parent = self._runs.get(current.replay_of)
            if parent is None or parent.id in seen:
                break  # a deleted or (impossibly) circular link ends the chain
            seen.add(parent.id)
            current = parent
        if depth + 1 > self._max_depth:
            raise Conflict(
                f"run {run.id} is already replay {depth} of run {current.id}: replays of"
                f" replays stop at depth {self._max_depth}; replay an earlier run instead",
                code="REPLAY_LIMIT",
                detail={"depth": depth, "max_depth": self._max_depth},
            )

    def _mapped_mode(
        self, run: RunRecord, mode: dict[str, Any], number: int, mapping: dict[str, str | None]
    ) -> dict[str, Any]:
        ref = str(run.workflow_id)
        old_names = {p.name for p in self._library.document(ref, run.version).parameters}
        new_names = {p.name for p in self._library.document(ref, number).parameters}
        _check_mapping(mapping, old_names, new_names)
        if "campaign" in mode:
            return renamed_campaign(mode, mapping)  # submit checks it against `number`
        table = mode.get("table")
        if not isinstance(table, list):
            return mode  # repeat (new defaults) or a mode submit judges itself
        rows: list[dict[str, Any]] = []
        unmapped: set[str] = set()
        for row in table:
            new_row: dict[str, Any] = {}
            for old, value in dict(row).items():
                if old in mapping:
                    target = mapping[old]
                    if target:
                        new_row[target] = value
                elif old in new_names:
                    new_row[old] = value
                else:
                    unmapped.add(old)
            rows.append(new_row)  # parameters missing here take their defaults in submit
        if unmapped:
            listed = sorted(unmapped)
            raise Conflict(
                f"version {number} has no parameter named {', '.join(listed)}: map each to a"
                ' parameter of that version (or to null to drop it) in "mapping"',
                code="UNMAPPED_PARAMETERS",
                detail={"unmapped": listed, "parameters": sorted(new_names)},
            )
        return {"table": rows}

    def _take_slot(self) -> None:
        with self._lock:
            now = self._clock()
            while self._recent and now - self._recent[0] >= self._window_s:
                self._recent.popleft()
            if len(self._recent) >= self._max_per_window:
                wait_s = round(self._window_s - (now - self._recent[0]), 1)
                raise RateLimited(
                    f"at most {self._max_per_window} replays a minute: try again in {wait_s} s",
                    detail={"retry_after_s": wait_s},
                )
            self._recent.append(now)

    def _give_back_slot(self) -> None:
        with self._lock:
            if self._recent:
                self._recent.pop()


def _check_mapping(
    mapping: Mapping[str, str | None], old_names: set[str], new_names: set[str]
) -> None:
    """Every key an old parameter, every target a new one, no target given twice: else 422."""
    problems: list[dict[str, Any]] = []
    targets: dict[str, str] = {}
    for old, new in mapping.items():
        field = f"mapping.{old}"
        if old not in old_names:
            listed = ", ".join(sorted(old_names)) or "none"
            message = f"the replayed run's version has no parameter {old!r} (it has {listed})"
            problems.append({"field": field, "message": message, "type": "unknown_parameter"})
        if not new:
            continue
        if new not in new_names:
            listed = ", ".join(sorted(new_names)) or "none"
            message = f"the active version has no parameter {new!r} (it has {listed})"
            problems.append({"field": field, "message": message, "type": "unknown_parameter"})
        elif new in targets:
            message = f"{targets[new]!r} and {old!r} are both mapped to {new!r}"
            problems.append({"field": field, "message": message, "type": "duplicate_target"})
        elif new in old_names and new not in mapping:
            # The old column of that name would keep its value too: one of the two is lost.
            message = f"{new!r} keeps its own value: map {new!r} elsewhere or to null first"
            problems.append({"field": field, "message": message, "type": "duplicate_target"})
        else:
            targets[new] = old
    if problems:
        raise InvalidInput("the parameter mapping does not fit these versions", fields=problems)
