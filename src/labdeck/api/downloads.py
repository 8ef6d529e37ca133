"""Downloads of run records: server-made file names and CSV text.

A download's file name is made here from ids and fixed words (`run-12-results.csv`), never
from anything a person typed (run or workflow names may hold `../`, quotes or new lines), so
the `Content-Disposition` header cannot be bent and a browser cannot be told where to save.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{0,100}")
STEP_COLUMNS = (
    "step_row",
    "phase",
    "iteration",
    "sample",
    "path",
    "step_id",
    "kind",
    "target",
    "status",
    "attempt",
    "started_at",
    "ended_at",
    "duration_s",
    "args",
    "output",
    "error_code",
    "error_message",
)


def run_file_name(run_id: int, what: str, extension: str) -> str:
    """`run-12-results.csv`: only an integer id and the caller's fixed words."""
    name = f"run-{int(run_id)}-{what}.{extension}"
    if not SAFE_NAME.fullmatch(name):
        raise ValueError(f"not a safe download name: {name!r}")
    return name


def disposition(name: str, *, inline: bool = False) -> dict[str, str]:
    """The header that names a download; `name` must come from `run_file_name`."""
    if not SAFE_NAME.fullmatch(name):
        raise ValueError(f"not a safe download name: {name!r}")
    return {"Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{name}"'}


def cell(value: Any) -> Any:
    """A CSV cell: lists and dicts as JSON, times in ISO 8601, None as empty."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def csv_text(rows: Sequence[Mapping[str, Any]], fallback: Sequence[str]) -> str:
    """Rows as CSV with the union of their keys as the header (first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns or list(fallback))
    writer.writeheader()
    for row in rows:
        writer.writerow({key: cell(value) for key, value in row.items()})
    return buffer.getvalue()


def step_row(step: Mapping[str, Any]) -> dict[str, Any]:
    started, ended = step.get("started_at"), step.get("ended_at")
    error = step.get("error") or {}
    return {
        "step_row": step["id"],
        "phase": step["phase"],
        "iteration": step["iteration"],
        "sample": step["sample"],
        "path": step["path"],
        "step_id": step["step_id"],
        "kind": step["kind"],
        "target": step["target"],
        "status": step["status"],
        "attempt": step["attempt"],
        "started_at": started,
        "ended_at": ended,
        "duration_s": round((ended - started).total_seconds(), 6) if started and ended else None,
        "args": step["args"],
        "output": step["output"],
        "error_code": error.get("code"),
        "error_message": error.get("message"),
    }


def steps_csv(batches: Iterable[Sequence[Mapping[str, Any]]]) -> Iterator[str]:
    """The steps CSV, one chunk per batch of step rows (a long run is never held whole)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=STEP_COLUMNS)
    writer.writeheader()
    yield buffer.getvalue()
    for batch in batches:
        buffer.seek(0)
        buffer.truncate()
        for step in batch:
            writer.writerow({key: cell(value) for key, value in step_row(step).items()})
        yield buffer.getvalue()
