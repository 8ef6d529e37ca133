"""Runtime overhead on a live `labdeck serve`: per-step cost, start latency, memory growth.

For each database (SQLite always; PostgreSQL when LABDECK_TEST_POSTGRES_URL points at a
server, a fresh database is created), runs a workflow of no-op calls (`counter.add` of
benchmarks/bench_deck.py) and prints:
- per-step overhead: run duration / steps, with every step row committed before and after;
- submit-to-first-step latency: from the run's creation to its first step record (idle queue);
- RSS growth of the server over a 10,000-step run.

Targets (issue 4): <= 0.5 ms per step on SQLite, <= 50 ms to the first step, <= 20 MB growth.

    .venv/bin/python benchmarks/runtime.py [--steps 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.server_process import ServerProcess  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def publish(client: httpx.Client, name: str, calls_per_iteration: int) -> None:
    document = {
        "format": "labdeck.workflow/1",
        "name": name,
        "script": [
            {
                "id": "loop",
                "kind": "repeat",
                "times": calls_per_iteration,
                "do": [
                    {"id": "add", "kind": "call", "target": "counter.add", "args": {"amount": 1}}
                ],
            }
        ],
    }
    created = client.post("/api/workflows", json=document).json()
    client.post(f"/api/workflows/{created['id']}/publish").raise_for_status()


def run_and_wait(client: httpx.Client, name: str, iterations: int) -> dict:
    run = client.post("/api/runs", json={"workflow": name, "mode": {"repeat": iterations}}).json()
    while True:
        state = client.get(f"/api/runs/{run['id']}").json()
        if state["status"] in ("completed", "failed", "cancelled"):
            return state
        time.sleep(0.05)


def first_step_latency_ms(client: httpx.Client, name: str) -> float:
    run = run_and_wait(client, name, 1)
    steps = client.get(f"/api/runs/{run['id']}/steps").json()["steps"]
    created = datetime.fromisoformat(run["created_at"])
    first = datetime.fromisoformat(steps[0]["started_at"])
    return (first - created).total_seconds() * 1000


def measure(label: str, database_url: str | None, total_steps: int) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        env = {"LABDECK_DATABASE_URL": database_url} if database_url else {}
        server = ServerProcess(
            ["serve", str(HERE / "bench_deck.py")], Path(data_dir), env=env
        ).start(timeout_s=30)
        try:
            client = httpx.Client(base_url=server.base_url, headers=server.token(), timeout=60)
            publish(client, "one call", 1)
            publish(client, "hundred calls", 100)
            run_and_wait(client, "hundred calls", 2)  # warm-up
            latencies = sorted(first_step_latency_ms(client, "one call") for _ in range(15))
            assert server.process is not None
            rss_before = rss_mb(server.process.pid)
            started = time.perf_counter()
            run = run_and_wait(client, "hundred calls", total_steps // 100)
            wall = time.perf_counter() - started
            rss_after = rss_mb(server.process.pid)
            run_s = (
                datetime.fromisoformat(run["ended_at"]) - datetime.fromisoformat(run["started_at"])
            ).total_seconds()
            print(f"{label}")
            status = f"{run['status']} ({total_steps} steps, {wall:.1f} s wall)"
            print(f"  run status                  {status}")
            print(f"  per-step overhead           {run_s / total_steps * 1000:.3f} ms")
            print(
                f"  submit to first step        median {statistics.median(latencies):.1f} ms, "
                f"max {latencies[-1]:.1f} ms (15 runs, idle queue)"
            )
            print(
                f"  RSS                         {rss_before:.1f} MB -> {rss_after:.1f} MB "
                f"(growth {rss_after - rss_before:+.1f} MB)"
            )
            client.close()
        finally:
            server.stop()


def fresh_postgres_database(server_url: str) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"labdeck_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    options = parser.parse_args()
    measure("SQLite (WAL)", None, options.steps)
    postgres = os.environ.get("LABDECK_TEST_POSTGRES_URL")
    if postgres:
        measure("PostgreSQL", fresh_postgres_database(postgres), options.steps)
    else:
        print("PostgreSQL: skipped (set LABDECK_TEST_POSTGRES_URL to a server URL)")


if __name__ == "__main__":
    main()
