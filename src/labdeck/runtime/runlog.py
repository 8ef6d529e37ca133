"""The log file of one run: its events and whatever the deck logs while it runs.

While a run executes, a file handler on the root logger captures the deck's own loggers
(drivers log through `logging` as usual), and the run's events (status changes, steps,
comments) are written to the same file. The file lives in `<data dir>/runs/run-<id>.log`
and is served by `GET /api/runs/{id}/log`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

from labdeck.runtime.states import EventBus

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def run_log_path(folder: Path, run_id: int) -> Path:
    return folder / f"run-{run_id}.log"


class RunLog:
    """Context manager attaching a run's log file for the duration of the run."""

    def __init__(self, folder: Path, run_id: int, bus: EventBus) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._run_id = run_id
        self._handler = logging.FileHandler(run_log_path(folder, run_id), encoding="utf-8")
        self._handler.setFormatter(logging.Formatter(FORMAT))
        self._bus = bus
        self._unsubscribe: Any = None

    def __enter__(self) -> RunLog:
        logging.getLogger().addHandler(self._handler)
        self._unsubscribe = self._bus.subscribe(self._event)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._unsubscribe()
        logging.getLogger().removeHandler(self._handler)
        self._handler.close()

    def _event(self, event: dict[str, Any]) -> None:
        if event.get("run_id") != self._run_id:
            return
        kind = event.get("kind")
        if kind == "run.status":
            text = f"status {event['from_status']} -> {event['to_status']}"
            if event.get("reason"):
                text += f" ({event['reason']})"
        elif kind == "log":
            text = str(event.get("message", ""))
        elif kind == "step.finished":
            text = f"step {event.get('path')} {event.get('status')}"
        elif kind == "run.waiting":
            text = f"waiting for an operator: {event.get('text', '')}"
        else:
            return
        record = logging.makeLogRecord(
            {
                "name": f"labdeck.run.{self._run_id}",
                "levelno": logging.INFO,
                "levelname": "INFO",
                "msg": text,
            }
        )
        self._handler.handle(record)
