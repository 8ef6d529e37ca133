"""Runs and run events.

`compare_and_set_status` is the storage half of `runtime.states.change_run_status`: it reads
the status in its own short transaction, lets the caller check the transition, then updates
the row only if it still has the status that was read, writing the event in the same
transaction. The UPDATE is the first statement of the write transaction, so SQLite takes its
write lock there (no stale read snapshot to upgrade) and PostgreSQL re-checks the condition
under the row lock. A writer that lost a race reads again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, and_, func, insert, or_, select, update

from labdeck.errors import Conflict, NotFound
from labdeck.store.orm import Run, RunEvent, utcnow

_runs: Table = Run.__table__  # type: ignore[assignment]
_events: Table = RunEvent.__table__  # type: ignore[assignment]
MAX_RACES = 8


@dataclass(frozen=True)
class RunRecord:
    id: int
    name: str
    workflow_id: int
    version: int
    status: str
    status_reason: str | None
    trigger: dict[str, Any]
    mode: dict[str, Any]
    options: dict[str, Any]
    queue_position: int
    replay_of: int | None
    error: dict[str, Any] | None
    progress: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    created_by: str | None
    trigger_kind: str = "manual"


def _record(row: Any) -> RunRecord:
    return RunRecord(**row._mapping)


@dataclass(frozen=True)
class RunFilter:
    """What a runs list asks for; every field left empty matches every run."""

    workflow_id: int | None = None
    statuses: Sequence[str] = ()
    trigger_kinds: Sequence[str] = ()
    created_by: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    text: str | None = None  # in the run's name, any case

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.workflow_id is not None:
            found.append(_runs.c.workflow_id == self.workflow_id)
        if self.statuses:
            found.append(_runs.c.status.in_(list(self.statuses)))
        if self.trigger_kinds:
            found.append(_runs.c.trigger_kind.in_(list(self.trigger_kinds)))
        if self.created_by:
            found.append(_runs.c.created_by == self.created_by)
        if self.since is not None:
            found.append(_runs.c.created_at >= self.since)
        if self.until is not None:
            found.append(_runs.c.created_at < self.until)
        if self.text:
            found.append(_runs.c.name.icontains(self.text, autoescape=True))
        return found


@dataclass(frozen=True)
class ReplayChain:
    """The runs a run replays (oldest first) and the runs replaying it, with their depth."""

    replays_of: list[RunRecord]
    replayed_by: list[tuple[int, RunRecord]]


class RunRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(
        self,
        *,
        name: str,
        workflow_id: int,
        version: int,
        trigger: dict[str, Any],
        mode: dict[str, Any],
        options: dict[str, Any],
        created_by: str | None,
        replay_of: int | None = None,
    ) -> RunRecord:
        """A new pending run at the end of the queue, with its `run.created` event."""
        with self._engine.begin() as connection:
            last = connection.execute(select(func.max(_runs.c.queue_position))).scalar()
            result = connection.execute(
                insert(_runs).values(
                    name=name,
                    workflow_id=workflow_id,
                    version=version,
                    status="pending",
                    trigger=trigger,
                    trigger_kind=str(trigger.get("kind") or "manual")[:16],
                    mode=mode,
                    options=options,
                    queue_position=(last or 0) + 1,
                    replay_of=replay_of,
                    progress={},
                    created_at=utcnow(),
                    created_by=created_by,
                )
            )
            primary_key = result.inserted_primary_key
            assert primary_key is not None
            run_id = int(primary_key[0])
            connection.execute(
                insert(_events).values(
                    run_id=run_id,
                    kind="run.created",
                    to_status="pending",
                    by=created_by,
                    at=utcnow(),
                    data={},
                )
            )
        record = self.get(run_id)
        assert record is not None
        return record

    def get(self, run_id: int) -> RunRecord | None:
        with self._engine.connect() as connection:
            row = connection.execute(select(_runs).where(_runs.c.id == run_id)).first()
        return _record(row) if row is not None else None

    def events(self, run_id: int) -> list[dict[str, Any]]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(_events).where(_events.c.run_id == run_id).order_by(_events.c.id)
            ).all()
        return [dict(row._mapping) for row in rows]

    def compare_and_set_status(
        self,
        run_id: int,
        *,
        target: str,
        reason: str | None,
        by: str | None,
        check: Callable[[str], None],
        starts: bool = False,
        ends: bool = False,
    ) -> dict[str, Any]:
        """`starts`: stamp `started_at` if it is not set yet; `ends`: stamp `ended_at`."""
        for _ in range(MAX_RACES):
            with self._engine.connect() as connection:
                row = connection.execute(
                    select(_runs.c.status, _runs.c.started_at).where(_runs.c.id == run_id)
                ).first()
            if row is None:
                raise NotFound(f"no run with id {run_id}")
            current: str = row.status
            check(current)
            now = utcnow()
            values: dict[str, Any] = {"status": target, "status_reason": reason}
            if starts and row.started_at is None:
                values["started_at"] = now
            if ends:
                values["ended_at"] = now
            with self._engine.begin() as connection:
                changed = connection.execute(
                    update(_runs)
                    .where(_runs.c.id == run_id, _runs.c.status == current)
                    .values(**values)
                ).rowcount
                if changed != 1:
                    continue  # another writer changed it first: read and check again
                event = {
                    "run_id": run_id,
                    "kind": "run.status",
                    "from_status": current,
                    "to_status": target,
                    "reason": reason,
                    "by": by,
                    "at": now,
                    "data": {},
                }
                event_id = connection.execute(insert(_events).values(**event)).inserted_primary_key
                assert event_id is not None
                return {"id": int(event_id[0]), **event}
        raise Conflict(f"run {run_id} is changing too fast; try again", retryable=True)

    def recent(
        self,
        *,
        statuses: Sequence[str] | None = None,
        workflow_id: int | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[RunRecord]:
        """Newest first."""
        query = select(_runs).order_by(_runs.c.id.desc()).limit(limit)
        if statuses:
            query = query.where(_runs.c.status.in_(list(statuses)))
        if workflow_id is not None:
            query = query.where(_runs.c.workflow_id == workflow_id)
        if before_id is not None:
            query = query.where(_runs.c.id < before_id)
        with self._engine.connect() as connection:
            return [_record(row) for row in connection.execute(query)]

    def search(
        self,
        where: RunFilter,
        *,
        limit: int,
        before_id: int | None = None,
        after_id: int | None = None,
    ) -> list[RunRecord]:
        """Newest first, one page: `before_id` pages to older runs, `after_id` to newer ones.

        Keyset pagination: the page starts at an id, never at an OFFSET, so a page deep in
        100,000 runs costs what the first one does.
        """
        query = select(_runs).where(*where.conditions())
        if after_id is not None:
            query = query.where(_runs.c.id > after_id).order_by(_runs.c.id.asc())
        else:
            if before_id is not None:
                query = query.where(_runs.c.id < before_id)
            query = query.order_by(_runs.c.id.desc())
        with self._engine.connect() as connection:
            records = [_record(row) for row in connection.execute(query.limit(limit))]
        return records[::-1] if after_id is not None else records

    def replay_chain(self, run_id: int, *, limit: int = 50) -> ReplayChain:
        """Walk `replay_of` up to the first run, and down through the runs replaying it."""
        up: list[RunRecord] = []
        seen = {run_id}
        with self._engine.connect() as connection:
            parent = connection.execute(
                select(_runs.c.replay_of).where(_runs.c.id == run_id)
            ).scalar()
            while parent is not None and parent not in seen and len(up) < limit:
                seen.add(parent)
                row = connection.execute(select(_runs).where(_runs.c.id == parent)).first()
                if row is None:
                    break
                up.append(_record(row))
                parent = row.replay_of
            down: list[tuple[int, RunRecord]] = []
            level, depth = [run_id], 1
            while level and len(down) < limit:
                rows = connection.execute(
                    select(_runs)
                    .where(_runs.c.replay_of.in_(level))
                    .order_by(_runs.c.id)
                    .limit(limit - len(down))
                ).all()
                found = [_record(row) for row in rows if row.id not in seen]
                seen.update(r.id for r in found)
                down += [(depth, r) for r in found]
                level, depth = [r.id for r in found], depth + 1
        return ReplayChain(replays_of=up[::-1], replayed_by=down)

    def queued(self) -> list[RunRecord]:
        """Pending runs and runs held in the queue (paused before they started), in order."""
        query = (
            select(_runs)
            .where(
                or_(
                    _runs.c.status == "pending",
                    and_(_runs.c.status == "paused", _runs.c.started_at.is_(None)),
                )
            )
            .order_by(_runs.c.queue_position, _runs.c.id)
        )
        with self._engine.connect() as connection:
            return [_record(row) for row in connection.execute(query)]

    def next_pending(self) -> RunRecord | None:
        query = (
            select(_runs)
            .where(_runs.c.status == "pending")
            .order_by(_runs.c.queue_position, _runs.c.id)
            .limit(1)
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return _record(row) if row is not None else None

    def update_fields(self, run_id: int, **values: Any) -> None:
        """Name, progress, error: fields that are not the status (that is states.py's)."""
        assert "status" not in values
        with self._engine.begin() as connection:
            connection.execute(update(_runs).where(_runs.c.id == run_id).values(**values))

    def set_positions(self, run_ids: Sequence[int]) -> None:
        with self._engine.begin() as connection:
            for position, run_id in enumerate(run_ids, start=1):
                connection.execute(
                    update(_runs).where(_runs.c.id == run_id).values(queue_position=position)
                )

    def add_event(self, run_id: int, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        event = {"run_id": run_id, "kind": kind, "at": utcnow(), "data": data}
        with self._engine.begin() as connection:
            event_id = connection.execute(insert(_events).values(**event)).inserted_primary_key
        assert event_id is not None
        return {"id": int(event_id[0]), **event}
