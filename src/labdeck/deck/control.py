"""Direct control: calling one deck member on request, recorded.

Owns the life of a direct call: look the member up (404), convert its arguments with the
member's pydantic model (422), take the deck lock within the configured wait (409 when busy),
record the call as `running` and commit, invoke it through the executor, record the outcome
(output as JSON-safe data or a structured error) and release the lock. A call that ran is
returned as a `CallRecord` whatever the driver did; only refusals raise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from labdeck.deck.bindings import Deck, MethodBinding
from labdeck.deck.executor import DeckExecutor
from labdeck.deck.jsonsafe import to_jsonable
from labdeck.errors import NotFound, StructuredError, error_from_exception
from labdeck.store.repo_calls import CallRecord, CallRepository

CallKind = Literal["method", "function", "property_get", "property_set"]
MAX_CALL_PAGE = 500


class DirectControl:
    def __init__(
        self, deck: Deck, executor: DeckExecutor, calls: CallRepository, lock_wait_s: float
    ) -> None:
        self.deck = deck
        self.executor = executor
        self._calls = calls
        self._lock_wait_s = lock_wait_s

    async def call_method(
        self,
        instrument: str,
        method: str,
        raw_args: Mapping[str, Any],
        *,
        user: str | None,
        force: bool = False,
    ) -> CallRecord:
        binding = self.deck.method(instrument, method)
        return await self._call("method", binding, raw_args, user=user, force=force)

    async def call_function(
        self, name: str, raw_args: Mapping[str, Any], *, user: str | None, force: bool = False
    ) -> CallRecord:
        binding = self.deck.function(name)
        return await self._call("function", binding, raw_args, user=user, force=force)

    async def _call(
        self,
        kind: CallKind,
        binding: MethodBinding,
        raw_args: Mapping[str, Any],
        *,
        user: str | None,
        force: bool,
    ) -> CallRecord:
        bound = binding.convert(raw_args)
        return await self._run(
            kind,
            binding.target,
            bound.recorded,
            lambda: self.executor.invoke(binding.func, bound.args, bound.kwargs),
            user=user,
            force=force,
        )

    async def get_property(
        self, instrument: str, name: str, *, user: str | None, force: bool = False
    ) -> CallRecord:
        binding = self.deck.property(instrument, name)
        return await self._run(
            "property_get", binding.target, {}, binding.get, user=user, force=force
        )

    async def set_property(
        self, instrument: str, name: str, value: Any, *, user: str | None, force: bool = False
    ) -> CallRecord:
        binding = self.deck.property(instrument, name)
        converted = binding.convert(value)
        return await self._run(
            "property_set",
            binding.target,
            {"value": to_jsonable(converted)},
            lambda: binding.set(converted),
            user=user,
            force=force,
        )

    def get_call(self, call_id: str) -> CallRecord:
        record = self._calls.get(int(call_id)) if call_id.isdigit() else None
        if record is None:
            raise NotFound(f"no call with id {call_id!r}")
        return record

    def list_calls(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        target: str | None = None,
        status: str | None = None,
        user: str | None = None,
        kinds: Sequence[CallKind] | None = None,
    ) -> tuple[list[CallRecord], str | None]:
        """A page of calls, newest first, and the cursor of the next page (None at the end)."""
        limit = max(1, min(limit, MAX_CALL_PAGE))
        before = int(cursor) if cursor and cursor.isdigit() else None
        records = self._calls.list(
            limit=limit + 1,
            before_id=before,
            target=target,
            status=status,
            user_name=user,
            kinds=kinds,
        )
        page = records[:limit]
        return page, (str(page[-1].id) if len(records) > limit else None)

    async def _run(
        self,
        kind: CallKind,
        target: str,
        recorded_args: dict[str, Any],
        invoke: Callable[[], Any],
        *,
        user: str | None,
        force: bool,
    ) -> CallRecord:
        lock = self.executor.lock
        description = f"{target} called by {user or 'unknown'}"
        if force:
            holds_lock = lock.try_acquire(description)
        else:
            await lock.acquire_async(description, self._lock_wait_s)
            holds_lock = True

        def job() -> CallRecord:
            try:
                return self._record_and_invoke(kind, target, recorded_args, invoke, user, force)
            finally:
                if holds_lock:
                    lock.release()

        future = self.executor.submit(job, side_thread=not holds_lock)
        # Shielded: a client that disconnects must not cancel a job that holds the lock.
        return await asyncio.shield(asyncio.wrap_future(future))

    def _record_and_invoke(
        self,
        kind: CallKind,
        target: str,
        recorded_args: dict[str, Any],
        invoke: Callable[[], Any],
        user: str | None,
        forced: bool,
    ) -> CallRecord:
        started_at = datetime.now(UTC)
        call_id = self._calls.start(
            kind=kind,
            target=target,
            args=recorded_args,
            user_name=user,
            forced=forced,
            deck_fingerprint=self.deck.fingerprint,
            started_at=started_at,
        )
        clock = time.perf_counter()
        error: StructuredError | None = None
        output: Any = None
        try:
            output = to_jsonable(invoke())
        except Exception as exc:
            error = error_from_exception(exc)
        duration_s = time.perf_counter() - clock
        ended_at = datetime.now(UTC)
        status = "failed" if error else "completed"
        error_json = error.model_dump(mode="json") if error else None
        self._calls.finish(
            call_id,
            status=status,
            output=output,
            error=error_json,
            ended_at=ended_at,
            duration_s=duration_s,
        )
        return CallRecord(
            id=call_id,
            kind=kind,
            target=target,
            args=recorded_args,
            status=status,
            output=output,
            error=error_json,
            started_at=started_at,
            ended_at=ended_at,
            duration_s=duration_s,
            user_name=user,
            forced=forced,
            deck_fingerprint=self.deck.fingerprint,
        )
