"""Server time of the Data pages and the runs API over a big record store.

Seeds a database with 100,000 runs and 1,000,000 step rows (bulk Core inserts in batches:
98,999 runs of 10 steps in 4 iterations, 1,000 cancelled before they started, one run of
10,010 steps in 2,502 iterations), then measures requests in process through
the ASGI app (Starlette's TestClient, no network): the median and the slowest of N requests
each, after two warm-up requests. Lists: first page, filtered pages, a date range, a text
search, a deep cursor page. One run: its page, one iteration's steps (API and fragment),
the next page of iterations, a page of step rows.

Target (issue 6): the runs list and the run page under 200 ms, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/data_pages.py                 # a temporary SQLite file
    .venv/bin/python benchmarks/data_pages.py --database-url postgresql+psycopg://...
    .venv/bin/python benchmarks/data_pages.py --database-url sqlite:////tmp/big.db --keep

A database that already holds the seeded runs is measured as it is (seeding is skipped).
With LABDECK_TEST_POSTGRES_URL set to a server URL and no --database-url, a fresh
PostgreSQL database is created for the run and dropped afterwards (after SQLite).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from labdeck.store.db import create_db_engine  # noqa: E402
from labdeck.store.migrate import upgrade  # noqa: E402
from labdeck.store.orm import Run, RunSample, RunStep, Workflow, WorkflowVersion  # noqa: E402

BATCH = 10_000
WORKFLOWS = 20
ITERATIONS = 4  # x 2 steps + prep + cleanup = 10 step rows a run
BIG_ITERATIONS = 2_502  # x 4 steps + prep + cleanup = 10,010 step rows
USERS = ["olga", "ada", "marie", "rosalind", "dorothy"]
T0 = datetime(2025, 6, 1, tzinfo=UTC)
PASSWORD = "benchmark-password"
TARGET_MS = 200.0


def document(name: str) -> dict[str, Any]:
    return {
        "format": "labdeck.workflow/1",
        "name": name,
        "parameters": [{"name": "amount_mg", "default": 5.0}],
        "outputs": ["mass", "absorbance"],
        "prep": [{"id": "tare", "kind": "call", "target": "balance.tare"}],
        "script": [
            {
                "id": "dose",
                "kind": "call",
                "target": "balance.dose_solid",
                "args": {"amount_mg": {"param": "amount_mg"}},
                "save": "mass",
            },
            {"id": "read", "kind": "call", "target": "spectrometer.measure", "save": "absorbance"},
        ],
        "cleanup": [{"id": "off", "kind": "call", "target": "hotplate.off"}],
    }


# --- seeding ---------------------------------------------------------------------------------


def batched(rows: Iterator[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_rows(count: int, big: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    for run_id in range(1, count + 1):
        created = T0 + timedelta(minutes=5 * run_id)
        roll = rng.random()
        status = "completed" if roll < 0.85 else "failed" if roll < 0.95 else "cancelled"
        unstarted = run_id % 100 == 1 and run_id != big
        if unstarted:
            status = "cancelled"
        kind_roll = rng.random()
        trigger = (
            "manual"
            if kind_roll < 0.80
            else "schedule"
            if kind_roll < 0.95
            else "webhook"
            if kind_roll < 0.99
            else "replay"
        )
        by = rng.choice(USERS) if trigger in ("manual", "replay") else None
        iterations = BIG_ITERATIONS if run_id == big else ITERATIONS
        workflow_id = rng.randrange(1, WORKFLOWS + 1)
        word = "calibration" if run_id % 997 == 0 else "screen"
        yield {
            "id": run_id,
            "name": f"{word} {run_id} of workflow {workflow_id}",
            "workflow_id": workflow_id,
            "version": 1,
            "status": status,
            "status_reason": "step read failed: no signal" if status == "failed" else None,
            "trigger": {"kind": trigger, "by": by},
            "trigger_kind": trigger,
            "mode": {"repeat": iterations},
            "options": {"on_error": "fail"},
            "queue_position": run_id,
            "replay_of": run_id - 1 if trigger == "replay" and run_id > 1 else None,
            "error": {"code": "NO_SIGNAL", "message": "no signal"} if status == "failed" else None,
            "progress": {"iteration": iterations, "iterations": iterations, "done": iterations},
            "created_at": created,
            "started_at": None if unstarted else created + timedelta(seconds=2),
            "ended_at": created + timedelta(seconds=95),
            "created_by": by,
        }


def step(
    run_id: int, phase: str, iteration: int | None, path: str, target: str, at: datetime
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "phase": phase,
        "iteration": iteration,
        "sample": iteration - 1 if iteration else None,
        "step_id": path.rsplit("/", 1)[-1],
        "path": path,
        "kind": "call",
        "target": target,
        "args": {"amount_mg": 5.0} if target == "balance.dose_solid" else {},
        "output": 5.01,
        "status": "completed",
        "attempt": 1,
        "error": None,
        "started_at": at,
        "ended_at": at + timedelta(milliseconds=40),
    }


def step_rows(count: int, big: int) -> Iterator[dict[str, Any]]:
    for run_id in range(1, count + 1):
        if run_id % 100 == 1 and run_id != big:
            continue  # cancelled before it started
        at = T0 + timedelta(minutes=5 * run_id, seconds=2)
        yield step(run_id, "prep", None, "tare", "balance.tare", at)
        iterations = BIG_ITERATIONS if run_id == big else ITERATIONS
        doses = [f"loop[{n}]/dose" for n in (1, 2, 3)] if run_id == big else ["dose"]
        script = [(path, "balance.dose_solid") for path in doses]
        script.append(("read", "spectrometer.measure"))
        for iteration in range(1, iterations + 1):
            for path, target in script:
                yield step(run_id, "script", iteration, path, target, at)
        yield step(run_id, "cleanup", None, "off", "hotplate.off", at)


def sample_rows(count: int, big: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    for run_id in range(1, count + 1):
        if run_id % 100 == 1 and run_id != big:
            continue
        for iteration in range(1, (BIG_ITERATIONS if run_id == big else ITERATIONS) + 1):
            amount = round(rng.uniform(1, 20), 1)
            yield {
                "run_id": run_id,
                "iteration": iteration,
                "sample": iteration - 1,
                "params": {"amount_mg": amount},
                "outputs": {"mass": round(amount * rng.uniform(0.97, 1.03), 2), "absorbance": 0.05},
                "status": "completed",
                "ended_at": T0 + timedelta(minutes=5 * run_id, seconds=3),
            }


def seed(engine: Engine, runs: int, big: int) -> dict[str, float]:
    rng = random.Random(7)
    timings: dict[str, float] = {}
    with engine.begin() as connection:
        for number in range(1, WORKFLOWS + 1):
            name = f"workflow {number}"
            connection.execute(
                insert(Workflow).values(
                    id=number,
                    name=name,
                    description="",
                    tags=[],
                    status="active",
                    deck_name="labdeck.demo.deck",
                    draft=document(name),
                    draft_updated_at=T0,
                    active_version=1,
                    created_at=T0,
                )
            )
            connection.execute(
                insert(WorkflowVersion).values(
                    workflow_id=number,
                    number=1,
                    document=document(name),
                    published_at=T0,
                    deck_name="labdeck.demo.deck",
                    deck_fingerprint="",
                )
            )
    for label, table, rows in (
        ("runs", Run.__table__, run_rows(runs, big, rng)),
        ("steps", RunStep.__table__, step_rows(runs, big)),
        ("samples", RunSample.__table__, sample_rows(runs, big, rng)),
    ):
        started = time.perf_counter()
        for batch in batched(rows):
            with engine.begin() as connection:
                connection.execute(insert(table), batch)
        timings[label] = time.perf_counter() - started
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT setval('runs_id_seq', (SELECT max(id) FROM runs))"))
            connection.commit()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            started = time.perf_counter()
            connection.execute(text("VACUUM ANALYZE"))  # what autovacuum does after a bulk load
            timings["vacuum analyze"] = time.perf_counter() - started
    return timings


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        runs = connection.execute(select(func.count()).select_from(Run.__table__)).scalar() or 0
        steps = connection.execute(select(func.count()).select_from(RunStep.__table__)).scalar()
    return int(runs), int(steps or 0)


# --- measuring -------------------------------------------------------------------------------


def measure(label: str, url: str, runs: int, repeats: int) -> None:
    from fastapi.testclient import TestClient

    from labdeck.app import create_app
    from labdeck.demo import DECK_MODULE
    from labdeck.server import load_deck
    from labdeck.services import build_services
    from labdeck.settings import Settings

    big = runs // 2
    engine = create_db_engine(url)
    upgrade(engine)
    have_runs, have_steps = counts(engine)
    if have_runs == 0:
        started = time.perf_counter()
        timings = seed(engine, runs, big)
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        have_runs, have_steps = counts(engine)
        print(f"{label}: seeded in {time.perf_counter() - started:.1f} s ({parts})")
    else:
        print(f"{label}: measuring the existing database")
        big = have_runs // 2
    engine.dispose()
    print(f"  {have_runs:,} runs, {have_steps:,} step rows; the big run is #{big}")

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=Path(data_dir),
            database_url=url,
            admin_password=PASSWORD,
            log_level="warning",
        )
        services = build_services(settings, load_deck(DECK_MODULE))
        from datetime import timedelta as _td

        admin = services.auth.get_user("admin")
        token = services.auth.issue_token(admin, kind="api", ttl=_td(hours=1)).token
        middle = T0 + timedelta(minutes=5 * (have_runs // 2))
        regular = big + 2
        cases = [
            ("API   runs, first page", "/api/runs"),
            ("API   runs, workflow + failed", "/api/runs?workflow=7&status=failed"),
            ("API   runs, schedule trigger", "/api/runs?trigger=schedule"),
            ("API   runs, user + 2 statuses", "/api/runs?user=ada&status=failed,cancelled"),
            (
                "API   runs, one week",
                f"/api/runs?since={middle.date()}&until={(middle + timedelta(days=7)).date()}",
            ),
            ("API   runs, text (rare word)", "/api/runs?q=calibration"),
            ("API   runs, deep cursor", "/api/runs?cursor=150"),
            ("API   runs, failed, deep cursor", "/api/runs?status=failed&cursor=3000"),
            ("page  runs list", "/data/runs"),
            ("page  runs, workflow + failed", "/data/runs?workflow=7&status=failed"),
            (
                "page  runs, one week",
                f"/data/runs?from={middle.date()}&to={(middle + timedelta(days=6)).date()}",
            ),
            ("page  runs, deep cursor", "/data/runs?cursor=150"),
            ("page  calls list", "/data/calls"),
            (f"page  run #{big} (10,010 steps)", f"/data/runs/{big}"),
            (f"page  run #{regular} (10 steps)", f"/data/runs/{regular}"),
            ("API   big run, iteration 1234", f"/api/runs/{big}/steps?iteration=1234"),
            ("frag  big run, iteration 1234", f"/data/runs/{big}/steps?iteration=1234"),
            ("frag  big run, iterations 1201-", f"/data/runs/{big}/iterations?after=1200"),
            ("API   big run, 500 steps after", f"/api/runs/{big}/steps?limit=500&after=0"),
            ("API   big run, all 10,010 steps*", f"/api/runs/{big}/steps"),
            ("API   big run, steps.csv*", f"/api/runs/{big}/steps.csv"),
        ]
        print(f"  {'request':<36} {'median':>9} {'slowest':>9}  (of {repeats})")
        with TestClient(create_app(services)) as client:
            client.headers["Authorization"] = f"Bearer {token}"
            for name, path in cases:
                times = []
                for attempt in range(repeats + 2):
                    started = time.perf_counter()
                    response = client.get(path)
                    elapsed = (time.perf_counter() - started) * 1000
                    assert response.status_code == 200, (path, response.status_code)
                    if attempt >= 2:
                        times.append(elapsed)
                median = statistics.median(times)
                flag = "" if median < TARGET_MS or name.endswith("*") else "  over target"
                print(f"  {name:<36} {median:7.1f} ms {max(times):7.1f} ms{flag}")
        services.close()
    print("  (* for programs, not used by the pages: no target)")


def fresh_postgres_database(server_url: str) -> tuple[str, str]:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"labdeck_bench_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False), name


def drop_postgres_database(server_url: str, name: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(server_url).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: a temporary SQLite file)")
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the temporary SQLite file")
    options = parser.parse_args()
    if options.database_url:
        label = "PostgreSQL" if options.database_url.startswith("postgres") else "SQLite (WAL)"
        measure(label, options.database_url, options.runs, options.repeats)
        return
    folder = tempfile.mkdtemp(prefix="labdeck-data-bench-")
    path = Path(folder) / "labdeck.db"
    try:
        measure("SQLite (WAL)", f"sqlite:///{path}", options.runs, options.repeats)
    finally:
        if options.keep:
            print(f"  kept {path}")
        else:
            for leftover in Path(folder).iterdir():
                leftover.unlink()
            Path(folder).rmdir()
    server = os.environ.get("LABDECK_TEST_POSTGRES_URL")
    if server:
        url, name = fresh_postgres_database(server)
        try:
            measure("PostgreSQL", url, options.runs, options.repeats)
        finally:
            drop_postgres_database(server, name)
    else:
        print("PostgreSQL: skipped (pass --database-url or set LABDECK_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
