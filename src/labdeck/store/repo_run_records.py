"""What a run did: step records, per-sample results, and the queue's paused state.

Step rows are written through the hot-path `Writer`: a row is committed as `running` before
the instrument is called and updated after, so a crash loses at most the outcome of the call
in flight. A sample's parameters and outputs are committed when its iteration ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Result, Table, bindparam, func, insert, select, update

from labdeck.store.orm import QueueState, RunSample, RunStep, utcnow
from labdeck.store.writer import Writer

_steps: Table = RunStep.__table__  # type: ignore[assignment]
_samples: Table = RunSample.__table__  # type: ignore[assignment]
_queue: Table = QueueState.__table__  # type: ignore[assignment]
_INSERT_STEP = insert(_steps)
_FINISH_STEP = (
    update(_steps)
    .where(_steps.c.id == bindparam("step_row"))
    .values(
        status=bindparam("new_status"),
        output=bindparam("new_output"),
        error=bindparam("new_error"),
        ended_at=bindparam("new_ended_at"),
    )
)


def _dicts(result: Result[Any]) -> list[dict[str, Any]]:
    """Rows as dicts (the key list is made once, not per row: runs have 10,000s of steps)."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def _counts() -> list[Any]:
    """Columns summarising a group of step rows."""
    return [
        func.count().label("steps"),
        func.count().filter(_steps.c.status == "failed").label("failed"),
        func.count().filter(_steps.c.status == "skipped").label("skipped"),
        func.count().filter(_steps.c.status == "running").label("running"),
        func.max(_steps.c.attempt).label("attempts"),
        func.min(_steps.c.started_at).label("started_at"),
        func.max(_steps.c.ended_at).label("ended_at"),
    ]


class RunRecords:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = Writer(engine)

    def close(self) -> None:
        self._writer.close()

    def start_step(
        self,
        *,
        run_id: int,
        phase: str,
        iteration: int | None,
        sample: int | None,
        step_id: str,
        path: str,
        kind: str,
        target: str | None,
        args: dict[str, Any],
        attempt: int,
        status: str = "running",
    ) -> int:
        """Commit a step row (running, or skipped for a step that will not run)."""
        now = utcnow()
        result = self._writer.write(
            _INSERT_STEP,
            {
                "run_id": run_id,
                "phase": phase,
                "iteration": iteration,
                "sample": sample,
                "step_id": step_id,
                "path": path,
                "kind": kind,
                "target": target,
                "args": args,
                "status": status,
                "attempt": attempt,
                "started_at": now,
                "ended_at": None if status == "running" else now,
            },
        )
        primary_key = result.inserted_primary_key
        assert primary_key is not None
        return int(primary_key[0])

    def finish_step(
        self, row_id: int, *, status: str, output: Any, error: dict[str, Any] | None
    ) -> None:
        self._writer.write(
            _FINISH_STEP,
            {
                "step_row": row_id,
                "new_status": status,
                "new_output": output,
                "new_error": error,
                "new_ended_at": utcnow(),
            },
        )

    def fail_running_steps(self, run_id: int, error: dict[str, Any]) -> int:
        """Steps a crash left `running`: their outcome is unknown; returns how many."""
        with self._engine.begin() as connection:
            result = connection.execute(
                update(_steps)
                .where(_steps.c.run_id == run_id, _steps.c.status == "running")
                .values(status="failed", error=error, ended_at=utcnow())
            )
            return int(result.rowcount)

    def close_running_steps(self, run_id: int, status: str) -> int:
        """Give steps still marked running a final status (the run ended around them)."""
        with self._engine.begin() as connection:
            result = connection.execute(
                update(_steps)
                .where(_steps.c.run_id == run_id, _steps.c.status == "running")
                .values(status=status, ended_at=utcnow())
            )
            return int(result.rowcount)

    def steps(
        self,
        run_id: int,
        *,
        phase: str | None = None,
        iteration: int | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Step rows in execution order; `after` (a row id) and `limit` page through them."""
        query = select(_steps).where(_steps.c.run_id == run_id)
        if iteration is not None and phase is None:
            phase = "script"  # only the script iterates (and the index leads with the phase)
        if phase is not None:
            query = query.where(_steps.c.phase == phase)
        if iteration is not None:
            query = query.where(_steps.c.iteration == iteration)
        if after is not None:
            query = query.where(_steps.c.id > after)
        query = query.order_by(_steps.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as connection:
            return _dicts(connection.execute(query))

    def phase_summaries(self, run_id: int) -> list[dict[str, Any]]:
        """Per phase: step rows, iterations, failed/skipped/running rows, first start, last end."""
        query = (
            select(
                _steps.c.phase,
                *_counts(),
                func.count(func.distinct(_steps.c.iteration)).label("iterations"),
            )
            .where(_steps.c.run_id == run_id)
            .group_by(_steps.c.phase)
        )
        with self._engine.connect() as connection:
            return _dicts(connection.execute(query))

    def iteration_summaries(
        self, run_id: int, *, after: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Per script iteration above `after`, in order: the same counts as a phase has."""
        query = (
            select(
                _steps.c.iteration,
                *_counts(),
                func.count(func.distinct(_steps.c.sample)).label("samples"),
            )
            .where(
                _steps.c.run_id == run_id,
                _steps.c.phase == "script",
                _steps.c.iteration > after,
            )
            .group_by(_steps.c.iteration)
            .order_by(_steps.c.iteration)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return _dicts(connection.execute(query))

    def failed_steps(self, run_id: int, *, limit: int = 20) -> list[dict[str, Any]]:
        """The run's failed step rows, first failure first."""
        query = (
            select(_steps)
            .where(_steps.c.run_id == run_id, _steps.c.status == "failed")
            .order_by(_steps.c.id)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return _dicts(connection.execute(query))

    def record_sample(
        self,
        *,
        run_id: int,
        iteration: int,
        sample: int,
        params: dict[str, Any],
        outputs: dict[str, Any],
        status: str,
    ) -> None:
        self._writer.write(
            insert(_samples),
            {
                "run_id": run_id,
                "iteration": iteration,
                "sample": sample,
                "params": params,
                "outputs": outputs,
                "status": status,
                "ended_at": utcnow(),
            },
        )

    def samples(
        self,
        run_id: int,
        *,
        iteration: int | None = None,
        limit: int | None = None,
        values_only: bool = False,
    ) -> list[dict[str, Any]]:
        """In order; `values_only`: iteration, sample, status, params and outputs."""
        columns = (
            [_samples.c[name] for name in ("iteration", "sample", "status", "params", "outputs")]
            if values_only
            else [_samples]
        )
        query = select(*columns).where(_samples.c.run_id == run_id)
        if iteration is not None:
            query = query.where(_samples.c.iteration == iteration)
        query = query.order_by(_samples.c.iteration, _samples.c.sample)
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as connection:
            return _dicts(connection.execute(query))

    def sample_count(self, run_id: int) -> int:
        query = select(func.count()).select_from(_samples).where(_samples.c.run_id == run_id)
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar() or 0)

    def queue_paused(self, deck_name: str) -> tuple[bool, str | None]:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(_queue.c.paused, _queue.c.reason).where(_queue.c.deck_name == deck_name)
            ).first()
        return (bool(row.paused), row.reason) if row is not None else (False, None)

    def set_queue_paused(self, deck_name: str, paused: bool, reason: str | None) -> datetime:
        now = utcnow()
        with self._engine.begin() as connection:
            changed = connection.execute(
                update(_queue)
                .where(_queue.c.deck_name == deck_name)
                .values(paused=paused, reason=reason, updated_at=now)
            ).rowcount
            if not changed:
                connection.execute(
                    insert(_queue).values(
                        deck_name=deck_name, paused=paused, reason=reason, updated_at=now
                    )
                )
        return now
