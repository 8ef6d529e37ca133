"""What a run did: step records, per-sample results, and the queue's paused state.

Step rows are written through the hot-path `Writer`: a row is committed as `running` before
the instrument is called and updated after, so a crash loses at most the outcome of the call
in flight. A sample's parameters and outputs are committed when its iteration ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, bindparam, insert, select, update

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

    def steps(self, run_id: int) -> list[dict[str, Any]]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(_steps).where(_steps.c.run_id == run_id).order_by(_steps.c.id)
            ).all()
        return [dict(row._mapping) for row in rows]

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

    def samples(self, run_id: int) -> list[dict[str, Any]]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(_samples)
                .where(_samples.c.run_id == run_id)
                .order_by(_samples.c.iteration, _samples.c.sample)
            ).all()
        return [dict(row._mapping) for row in rows]

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
