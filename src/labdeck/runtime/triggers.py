"""Webhook and schedule triggers: runs that start without a person pressing Run.

Owns:
- `TriggerStore`, the triggers of every workflow in `<data_dir>/triggers.json`, rewritten
  atomically (temp file + `os.replace`) so a crash leaves the old file or the new one, never
  half of one. A webhook's secret is stored only as its SHA-256: the file (and a backup of it)
  cannot be turned back into working URLs;
- `Triggers`, the service: create, list and delete triggers; `deliver_webhook` (the payload is
  the run's trigger input; a list of parameter rows, or `{"rows": [...]}`, is a table run of
  those rows, anything else a repeat-1 run); `fire` (one run of a schedule trigger);
  `start`/`stop` of the APScheduler clock that fires schedules (optional: tests call `fire`);
- `parse_cron`, standard crontab text turned into an APScheduler trigger with crontab's meaning.

Every activation submits exactly one run of the workflow's ACTIVE version (DESIGN.md,
"Triggers"); the run service refuses it while the workflow is safety-paused or unpublished.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from labdeck.errors import InvalidInput, LabdeckError, NotFound
from labdeck.runtime.modes import build_source
from labdeck.runtime.service import RunOptions, RunService
from labdeck.store.repo_runs import RunRecord
from labdeck.workflow.library import WorkflowLibrary

if TYPE_CHECKING:  # APScheduler is imported on first use: most labs have no schedules
    from apscheduler.schedulers.base import BaseScheduler  # type: ignore[import-untyped]
    from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

FILE_NAME = "triggers.json"
HOOK_PATH = "/api/hooks/"
MAX_PAYLOAD_BYTES = 1_000_000  # trigger input is stored with the run: keep rows, not files
MISFIRE_GRACE_S = 60

TriggerKind = Literal["webhook", "schedule"]


class TriggerRecord(BaseModel):
    id: str
    workflow_id: int
    kind: TriggerKind
    created_at: datetime
    created_by: str | None
    options: dict[str, Any] = Field(default_factory=dict)
    cron: str | None = None
    mode: dict[str, Any] | None = None
    secret_sha256: str | None = Field(default=None, repr=False)
    last_fired_at: datetime | None = None
    last_run_id: int | None = None
    last_error: str | None = None


class _TriggerFile(BaseModel):
    triggers: list[TriggerRecord] = Field(default_factory=list)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class TriggerStore:
    """The triggers file. Each change reads, edits and atomically rewrites it under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._read()  # a damaged file stops the server at start, before anything overwrites it

    def all(self) -> list[TriggerRecord]:
        with self._lock:
            return self._read()

    def get(self, trigger_id: str) -> TriggerRecord | None:
        return next((t for t in self.all() if t.id == trigger_id), None)

    def by_secret(self, secret: str) -> TriggerRecord | None:
        digest = _digest(secret)
        found = None
        for trigger in self.all():
            # Every hash is compared, in constant time, so the timing tells nothing.
            stored = trigger.secret_sha256 or ""
            if trigger.kind == "webhook" and hmac.compare_digest(stored, digest):
                found = trigger
        return found

    def add(self, trigger: TriggerRecord) -> None:
        with self._lock:
            self._write([*self._read(), trigger])

    def remove(self, trigger_id: str) -> bool:
        with self._lock:
            triggers = self._read()
            kept = [t for t in triggers if t.id != trigger_id]
            self._write(kept)
            return len(kept) != len(triggers)

    def update(self, trigger_id: str, **changes: Any) -> None:
        with self._lock:
            triggers = self._read()
            self._write(
                [t.model_copy(update=changes) if t.id == trigger_id else t for t in triggers]
            )

    def _read(self) -> list[TriggerRecord]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        try:
            return _TriggerFile.model_validate_json(text).triggers
        except ValidationError as exc:
            raise RuntimeError(f"{self.path} is damaged ({exc.error_count()} problems)") from exc

    def _write(self, triggers: list[TriggerRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = _TriggerFile(triggers=triggers).model_dump_json(indent=2)
        handle, temp = tempfile.mkstemp(prefix=".triggers.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


class Triggers:
    def __init__(
        self,
        store: TriggerStore,
        run_service: RunService,
        library: WorkflowLibrary,
        *,
        timezone: tzinfo | None = None,
    ) -> None:
        self.store = store
        self._run_service = run_service
        self._library = library
        self._timezone = timezone  # None: the server's local time, as crontab means it
        self._scheduler: BaseScheduler | None = None
        self._clock_on = False  # `start` was called: schedules fire on time
        self._clock_lock = threading.Lock()  # two first schedules must not make two schedulers

    # --- managing triggers -----------------------------------------------------------------

    def create_webhook(
        self, workflow_ref: str, user: str | None, options: RunOptions | None = None
    ) -> tuple[TriggerRecord, str]:
        """The trigger and its URL path; the secret is in that path and nowhere else."""
        workflow_id = self._workflow_id(workflow_ref)
        secret = secrets.token_urlsafe(32)
        trigger = self._new(workflow_id, "webhook", user, options, secret_sha256=_digest(secret))
        self.store.add(trigger)
        return trigger, HOOK_PATH + secret

    def create_schedule(
        self,
        workflow_ref: str,
        cron: str,
        mode: Mapping[str, Any],
        options: RunOptions | None,
        user: str | None,
    ) -> TriggerRecord:
        workflow_id = self._workflow_id(workflow_ref)
        try:
            parse_cron(cron, self._timezone)
        except ValueError as exc:
            message = f"{cron!r} is not a crontab schedule: {exc}"
            hint = 'five fields: minute hour day-of-month month day-of-week, e.g. "*/5 * * * *"'
            raise InvalidInput(message, fields=[_field("cron", hint)]) from None
        self._check_mode(workflow_id, mode, options or RunOptions())
        trigger = self._new(workflow_id, "schedule", user, options, cron=cron, mode=dict(mode))
        self.store.add(trigger)
        self._schedule(trigger)
        return trigger

    def list_triggers(self, workflow_ref: str) -> list[TriggerRecord]:
        workflow_id = self._workflow_id(workflow_ref)
        return [t for t in self.store.all() if t.workflow_id == workflow_id]

    def delete(self, workflow_ref: str, trigger_id: str) -> None:
        workflow_id = self._workflow_id(workflow_ref)
        found = self.store.get(trigger_id)
        if found is None or found.workflow_id != workflow_id:
            raise NotFound(f"workflow {workflow_ref!r} has no trigger {trigger_id!r}")
        self.store.remove(trigger_id)
        if self._scheduler is not None and self._scheduler.get_job(trigger_id) is not None:
            self._scheduler.remove_job(trigger_id)

    def next_fire_time(self, trigger: TriggerRecord) -> datetime | None:
        if trigger.cron is None:
            return None
        now = datetime.now(UTC)
        fire: datetime | None = parse_cron(trigger.cron, self._timezone).get_next_fire_time(
            None, now
        )
        return fire

    # --- activations -----------------------------------------------------------------------

    def deliver_webhook(self, secret: str, payload: Any) -> RunRecord:
        trigger = self.store.by_secret(secret)
        if trigger is None:
            raise NotFound("no webhook has this URL (it may have been deleted)")
        if len(json.dumps(payload)) > MAX_PAYLOAD_BYTES:
            raise InvalidInput(f"the payload is larger than {MAX_PAYLOAD_BYTES} bytes")
        return self._submit(trigger, webhook_mode(payload), payload)

    def fire(self, trigger_id: str) -> RunRecord:
        """One run of a schedule trigger, now (the scheduler calls this at each firing)."""
        trigger = self.store.get(trigger_id)
        if trigger is None or trigger.kind != "schedule" or trigger.mode is None:
            raise NotFound(f"no schedule trigger {trigger_id!r}")
        return self._submit(trigger, trigger.mode, None)

    def _submit(self, trigger: TriggerRecord, mode: Mapping[str, Any], payload: Any) -> RunRecord:
        now = datetime.now(UTC)
        try:
            name = self._library.get(str(trigger.workflow_id)).record.name
            run = self._run_service.submit(
                workflow=str(trigger.workflow_id),
                version="active",
                mode=mode,
                options=RunOptions.model_validate(trigger.options),
                name=f"{name} ({trigger.kind} {trigger.id})",
                # The run acts on the authority of whoever set the trigger up.
                user=trigger.created_by,
                trigger=trigger.kind,
                trigger_input=payload,
            )
        except LabdeckError as exc:
            self.store.update(trigger.id, last_fired_at=now, last_error=exc.message)
            raise
        self.store.update(trigger.id, last_fired_at=now, last_run_id=run.id, last_error=None)
        return run

    # --- the clock -------------------------------------------------------------------------

    def start(self, scheduler: BaseScheduler | None = None) -> None:
        """Fire schedule triggers on time from now on (one job per trigger).

        The scheduler's thread starts with the first schedule trigger, so a lab without
        schedules runs none. `scheduler` replaces APScheduler's default (tests pass one).
        """
        if self._clock_on:
            return
        self._clock_on = True
        self._scheduler = scheduler
        for trigger in self.store.all():
            self._schedule(trigger)

    def stop(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None
        self._clock_on = False

    def _schedule(self, trigger: TriggerRecord) -> None:
        if not self._clock_on or trigger.cron is None:
            return
        with self._clock_lock:
            if self._scheduler is None:
                from apscheduler.schedulers.background import (  # type: ignore[import-untyped]
                    BackgroundScheduler,
                )

                self._scheduler = BackgroundScheduler(timezone=self._timezone)
            self._scheduler.add_job(
                self._fire_on_time,
                trigger=parse_cron(trigger.cron, self._timezone),
                args=[trigger.id],
                id=trigger.id,
                replace_existing=True,
                coalesce=True,  # firings missed while the server was busy or down make one run
                max_instances=1,
                misfire_grace_time=MISFIRE_GRACE_S,
            )
            if not self._scheduler.running:
                self._scheduler.start()

    def _fire_on_time(self, trigger_id: str) -> None:
        try:
            run = self.fire(trigger_id)
        except LabdeckError as exc:
            log.warning("schedule trigger %s was refused: %s", trigger_id, exc.message)
        except Exception:
            log.exception("schedule trigger %s failed to submit its run", trigger_id)
        else:
            log.info("schedule trigger %s submitted run %s", trigger_id, run.id)

    # --- helpers ---------------------------------------------------------------------------

    def _workflow_id(self, workflow_ref: str) -> int:
        return self._library.get(workflow_ref).record.id

    def _new(
        self,
        workflow_id: int,
        kind: TriggerKind,
        user: str | None,
        options: RunOptions | None,
        **fields: Any,
    ) -> TriggerRecord:
        return TriggerRecord(
            id=uuid.uuid4().hex[:12],
            workflow_id=workflow_id,
            kind=kind,
            created_at=datetime.now(UTC),
            created_by=user,
            options=(options or RunOptions()).model_dump(),
            **fields,
        )

    def _check_mode(self, workflow_id: int, mode: Mapping[str, Any], options: RunOptions) -> None:
        """Refuse a mode that does not fit the active version now (it is checked again later)."""
        active = self._library.get(str(workflow_id)).record.active_version
        if active is None:
            if not isinstance(mode, Mapping) or len(mode) != 1:  # at least its shape
                message = 'mode must be one of {"repeat": n}, {"table": [rows]}'
                raise InvalidInput(message, fields=[_field("mode", message)])
            return
        document = self._library.document(str(workflow_id), active)
        build_source(mode, document, self._library.parameter_schemas(document), options.batch_size)


def webhook_mode(payload: Any) -> dict[str, Any]:
    """A list of rows, or `{"rows": [...]}`, is a table run; any other payload repeats once."""
    rows = payload.get("rows") if isinstance(payload, dict) else payload
    if not isinstance(rows, list):
        return {"repeat": 1}
    if not rows:
        message = "the payload has no parameter rows: send at least one row"
        raise InvalidInput(message, fields=[_field("rows", message)])
    return {"table": rows}


def _field(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message, "type": "invalid"}


# --- crontab -------------------------------------------------------------------------------

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DAY_ITEM = re.compile(r"^(\*|\?|[a-z0-9]+)(?:-([a-z0-9]+))?(?:/(\d+))?$")


def parse_cron(expr: str, timezone: tzinfo | None = None) -> Any:
    """Crontab text as an APScheduler trigger that fires when crontab would.

    APScheduler 3 reads crontab fields with two differences this corrects: its weekday 0 is
    Monday (crontab: Sunday), and when both day-of-month and day-of-week are restricted it
    needs both to match (crontab: either).
    """
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"it has {len(fields)} fields, not 5")
    minute, hour, day, month, weekday = fields
    day_of_week = _crontab_weekdays(weekday)
    from apscheduler.triggers.combining import OrTrigger  # type: ignore[import-untyped]
    from apscheduler.triggers.cron import CronTrigger

    def cron(day: str, day_of_week: str) -> CronTrigger:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=day_of_week,
            timezone=timezone,
        )

    if not day.startswith("*") and not weekday.startswith("*"):
        return OrTrigger([cron(day, "*"), cron("*", day_of_week)])
    return cron(day, day_of_week)


def _crontab_weekdays(field: str) -> str:
    """Crontab's day-of-week field (0 or 7 = Sunday, names, ranges, steps) as day names."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for item in field.lower().split(","):
        match = _DAY_ITEM.fullmatch(item)
        if match is None:
            raise ValueError(f"day of week {item!r} is not a day, a range or a step")
        start, end, step_text = match.groups()
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"day of week {item!r}: the step must be at least 1")
        if start in ("*", "?"):
            first, last = 0, 6
        else:
            first = _crontab_day(start)
            last = _crontab_day(end) if end else (6 if step_text else first)
        if last < first:
            raise ValueError(f"day of week {item!r}: the range runs backwards")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_DAY_NAMES[day] for day in sorted(days))


def _crontab_day(text: str) -> int:
    if text.isdigit() and int(text) <= 7:
        return int(text)
    if text[:3] in _DAY_NAMES and len(text) == 3:
        return _DAY_NAMES.index(text)
    raise ValueError(f"{text!r} is not a day of the week (0-7 or sun-sat)")


class RedactHookSecrets(logging.Filter):
    """For the access log: `/api/hooks/<secret>` is logged as `/api/hooks/…`."""

    _pattern = re.compile(re.escape(HOOK_PATH) + r"[^\s\"?]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._pattern.sub(HOOK_PATH + "…", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        record.msg = self._pattern.sub(HOOK_PATH + "…", str(record.msg))
        return True
