"""Direct-call latency and throughput against a live `labdeck serve` on loopback.

Prints: time from process start to the first 200 of /api/health (first start, which creates
the database and the admin user, and a restart on that data dir), server RSS after start,
sequential latency (median, p95, calls/s) with keep-alive, 4-thread latency and throughput,
and whether every call was executed and recorded exactly once.

Targets (issue 2): median <= 1 ms, >= 700 calls/s sequential, no lost calls, start <= 1.5 s,
RSS <= 120 MB.

The timed requests go through a minimal HTTP/1.1 client (`KeepAlive`: one socket per thread,
the status line, Content-Length and the JSON body are parsed): client and server share this
machine's cores, and a heavier client would be measured instead of the server. Here the
standard library's `http.client` adds 0.13-0.26 ms a request (its header parsing), httpx
about 0.4 ms.

    .venv/bin/python benchmarks/direct_calls.py [--calls 3000] [--threads 4]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
PASSWORD = "benchmark-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(data_dir: str, port: int) -> tuple[subprocess.Popen[bytes], float]:
    env = dict(os.environ, LABDECK_ADMIN_PASSWORD=PASSWORD, LABDECK_LOG_LEVEL="warning")
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "labdeck",
            "serve",
            str(HERE / "bench_deck.py"),
            "--port",
            str(port),
            "--data-dir",
            data_dir,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/api/health"
    while time.perf_counter() - started < 30:
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return process, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise SystemExit(
                f"server exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
        time.sleep(0.005)
    raise SystemExit("server did not answer within 30 s")


class KeepAlive:
    """One keep-alive HTTP/1.1 connection that sends prepared requests and reads the answers
    (status and Content-Length body; labdeck never sends chunked JSON to these routes)."""

    def __init__(self, port: int) -> None:
        self._socket = socket.create_connection(("127.0.0.1", port))
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""

    @staticmethod
    def prepare(method: str, path: str, body: bytes = b"", token: str | None = None) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        if token:
            lines.append(f"Authorization: Bearer {token}")
        if body:
            lines.append("Content-Type: application/json")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def send(self, request: bytes) -> tuple[int, bytes]:
        self._socket.sendall(request)
        while True:
            head, found, rest = self._buffer.partition(b"\r\n\r\n")
            if found:
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if len(rest) >= length:
                    self._buffer = rest[length:]
                    return int(head.split(b" ", 2)[1]), rest[:length]
            chunk = self._socket.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self._buffer += chunk

    def close(self) -> None:
        self._socket.close()


def timed_calls(port: int, token: str, n: int, out: list[float], failures: list[str]) -> None:
    """`n` calls of counter.add(1) over one keep-alive connection, each one timed."""
    connection = KeepAlive(port)
    body = json.dumps({"args": {"amount": 1}}).encode()
    request = KeepAlive.prepare("POST", "/api/instruments/counter/add", body, token)
    for _ in range(n):
        start = time.perf_counter()
        status, payload = connection.send(request)
        out.append(time.perf_counter() - start)
        if status != 200 or json.loads(payload)["status"] != "completed":
            failures.append(f"{status} {payload[:200]!r}")
    connection.close()


def health_floor(port: int, n: int) -> float:
    """Median of GET /api/health over keep-alive: what any request costs on this machine."""
    connection = KeepAlive(port)
    request = KeepAlive.prepare("GET", "/api/health")
    latencies = []
    for _ in range(n):
        start = time.perf_counter()
        connection.send(request)
        latencies.append(time.perf_counter() - start)
    connection.close()
    return statistics.median(latencies)


def summary(label: str, latencies: list[float], wall_s: float) -> str:
    ordered = sorted(latencies)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return (
        f"{label:<22} n={len(latencies):>5}  median={statistics.median(ordered) * 1000:6.3f} ms  "
        f"p95={p95 * 1000:6.3f} ms  throughput={len(latencies) / wall_s:7.0f} calls/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=4)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        process, first_start_s = start_server(data_dir, port)
        process.terminate()
        process.wait(timeout=10)
        process, startup_s = start_server(data_dir, port)
        try:
            rss_start = rss_mb(process.pid)
            base = f"http://127.0.0.1:{port}"
            token = httpx.post(
                f"{base}/api/auth/token", json={"username": "admin", "password": PASSWORD}
            ).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}

            print(f"first start to first 200 {first_start_s * 1000:6.0f} ms  (new database)")
            print(f"start to first 200      {startup_s * 1000:7.0f} ms  (restart)")
            print(f"server RSS after start  {rss_start:7.1f} MB")

            timed_calls(port, token, 200, [], [])  # warm-up
            floor_ms = health_floor(port, 1000) * 1000
            print(f"GET /api/health        median={floor_ms:6.3f} ms  (the HTTP floor, no work)")
            sequential: list[float] = []
            failures: list[str] = []
            wall = time.perf_counter()
            timed_calls(port, token, options.calls, sequential, failures)
            print(summary("sequential keep-alive", sequential, time.perf_counter() - wall))

            per_thread = options.calls // options.threads
            results: list[list[float]] = [[] for _ in range(options.threads)]
            threads = [
                threading.Thread(
                    target=timed_calls, args=(port, token, per_thread, results[i], failures)
                )
                for i in range(options.threads)
            ]
            wall = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            concurrent_wall = time.perf_counter() - wall
            merged = [latency for chunk in results for latency in chunk]
            print(summary(f"{options.threads} threads", merged, concurrent_wall))

            expected = 200 + options.calls + per_thread * options.threads
            with httpx.Client(base_url=base, headers=headers) as client:
                total = client.get("/api/instruments/counter/properties/calls").json()["output"]
                recorded = 0
                cursor = None
                while True:
                    params = {"limit": 500, "target": "counter.add"}
                    if cursor:
                        params["cursor"] = cursor
                    page = client.get("/api/calls", params=params).json()
                    recorded += sum(1 for call in page["items"] if call["status"] == "completed")
                    cursor = page["next_cursor"]
                    if cursor is None:
                        break
            lost = expected - total
            print(
                f"calls sent={expected}  executed={total}  recorded={recorded}  "
                f"failed responses={len(failures)}  lost={lost}"
            )
            print(f"server RSS after run    {rss_mb(process.pid):7.1f} MB")
            if failures:
                print("first failure:", failures[0])
        finally:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
