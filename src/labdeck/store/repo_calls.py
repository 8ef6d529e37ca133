"""Direct-call records: inserted before a call runs, finished after it.

This is on the hot path of every direct call: writes go through `store.writer.Writer` with
pre-built Core statements; each is still its own short, committed transaction.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, bindparam, insert, select, update

from labdeck.store.orm import Call
from labdeck.store.writer import Writer

_calls: Table = Call.__table__  # type: ignore[assignment]
_INSERT = insert(_calls)
_FINISH = (
    update(_calls)
    .where(_calls.c.id == bindparam("call_id"))
    .values(
        status=bindparam("new_status"),
        output=bindparam("new_output"),
        error=bindparam("new_error"),
        ended_at=bindparam("new_ended_at"),
        duration_s=bindparam("new_duration_s"),
    )
)


@dataclass(frozen=True)
class CallRecord:
    id: int
    kind: str
    target: str
    args: dict[str, Any]
    status: str
    output: Any
    error: dict[str, Any] | None
    started_at: datetime
    ended_at: datetime | None
    duration_s: float | None
    user_name: str | None
    forced: bool
    deck_fingerprint: str


class CallRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = Writer(engine)

    def close(self) -> None:
        self._writer.close()

    def start(
        self,
        *,
        kind: str,
        target: str,
        args: dict[str, Any],
        user_name: str | None,
        forced: bool,
        deck_fingerprint: str,
        started_at: datetime,
    ) -> int:
        """Record a call as `running` and commit, before the driver is touched."""
        result = self._writer.write(
            _INSERT,
            {
                "kind": kind,
                "target": target,
                "args": args,
                "status": "running",
                "started_at": started_at,
                "user_name": user_name,
                "forced": forced,
                "deck_fingerprint": deck_fingerprint,
            },
        )
        primary_key = result.inserted_primary_key
        assert primary_key is not None
        return int(primary_key[0])

    def finish(
        self,
        call_id: int,
        *,
        status: str,
        output: Any,
        error: dict[str, Any] | None,
        ended_at: datetime,
        duration_s: float,
    ) -> None:
        self._writer.write(
            _FINISH,
            {
                "call_id": call_id,
                "new_status": status,
                "new_output": output,
                "new_error": error,
                "new_ended_at": ended_at,
                "new_duration_s": duration_s,
            },
        )

    def get(self, call_id: int) -> CallRecord | None:
        with self._engine.connect() as connection:
            row = connection.execute(select(_calls).where(_calls.c.id == call_id)).first()
        return CallRecord(**row._mapping) if row is not None else None

    def list(
        self,
        *,
        limit: int,
        before_id: int | None = None,
        target: str | None = None,
        status: str | None = None,
        user_name: str | None = None,
        kinds: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[CallRecord]:
        """Newest first; `before_id` is the cursor (ids below it); `since` <= start < `until`."""
        query = select(_calls).order_by(_calls.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(_calls.c.started_at >= since)
        if until is not None:
            query = query.where(_calls.c.started_at < until)
        if before_id is not None:
            query = query.where(_calls.c.id < before_id)
        if target is not None:
            query = query.where(_calls.c.target == target)
        if status is not None:
            query = query.where(_calls.c.status == status)
        if user_name is not None:
            query = query.where(_calls.c.user_name == user_name)
        if kinds:
            query = query.where(_calls.c.kind.in_(list(kinds)))
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [CallRecord(**row._mapping) for row in rows]

    def page(
        self, *, limit: int, cursor: str | None = None, **filters: Any
    ) -> tuple[builtins.list[CallRecord], str | None]:
        """One page of `list` and the cursor of the next (older) page, None at the end."""
        before = int(cursor) if cursor and cursor.isdigit() else None
        records = self.list(limit=limit + 1, before_id=before, **filters)
        page = records[:limit]
        return page, (str(page[-1].id) if len(records) > limit else None)

    def fail_unfinished(self, *, error: dict[str, Any], ended_at: datetime) -> int:
        """Mark calls left `running` by a crash as failed; returns how many."""
        with self._engine.begin() as connection:
            result = connection.execute(
                update(_calls)
                .where(_calls.c.status == "running")
                .values(status="failed", error=error, ended_at=ended_at)
            )
            return int(result.rowcount)
