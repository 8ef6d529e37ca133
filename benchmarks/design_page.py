"""How fast the designer page opens for a 500-step workflow.

Starts `labdeck demo` on loopback, creates a 500-step workflow on the demo deck through the
API (100 groups of: dose a #param and save it, an if block with a call in `then` and a log
line in `else`, a measurement saving a tuple), then prints:

- server: GET /design/{id} (the page shell with the embedded draft and deck schema),
  median and p95 over 20 requests;
- browser: in headless Chromium, from navigation start until the canvas has drawn all 500
  steps (the `labdeck:designer-ready` performance mark), and the drawing alone
  (`labdeck:designer-start` to ready), median and p95 over 5 loads.

Target (issue): the design page for a 500-step document renders in <= 300 ms.

    .venv/bin/python benchmarks/design_page.py
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import httpx

PASSWORD = "benchmark-password"
GROUPS = 100  # five steps each
SERVER_SAMPLES = 20
BROWSER_SAMPLES = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def big_document() -> dict[str, Any]:
    script: list[dict[str, Any]] = []
    for i in range(GROUPS):
        script += [
            {
                "id": f"dose_{i}",
                "kind": "call",
                "target": "balance.dose_solid",
                "args": {"amount_mg": {"param": "amount_mg"}},
                "save": f"mass_{i}",
            },
            {
                "id": f"check_{i}",
                "kind": "if",
                "condition": f"mass_{i} > 4.5",
                "then": [
                    {
                        "id": f"solvent_{i}",
                        "kind": "call",
                        "target": "dispenser.dispense",
                        "args": {"volume_ml": 2, "solvent": "methanol"},
                    }
                ],
                "else": [{"id": f"warn_{i}", "kind": "comment", "text": f"low mass {{mass_{i}}}"}],
            },
            {
                "id": f"read_{i}",
                "kind": "call",
                "target": "spectrometer.measure",
                "save": [f"absorbance_{i}", f"peak_{i}"],
            },
        ]
    return {
        "format": "labdeck.workflow/1",
        "name": "five-hundred-steps",
        "parameters": [{"name": "amount_mg", "default": 5.0}],
        "script": script,
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("labdeck demo exited early")
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("labdeck demo did not start")


def time_server(base: str, path: str) -> list[float]:
    with httpx.Client(base_url=base) as client:
        client.post("/login", data={"username": "admin", "password": PASSWORD, "next": "/"})
        client.get(path).raise_for_status()  # warm up
        timings = []
        for _ in range(SERVER_SAMPLES):
            started = time.perf_counter()
            response = client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return timings


def time_browser(base: str, path: str) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium: apt-get install chromium")
    totals, drawing = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(f"{base}/login")
        page.fill("#username", "admin")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        for attempt in range(BROWSER_SAMPLES + 1):
            page.goto(f"{base}{path}")
            page.wait_for_selector("body.designer-ready")
            steps = page.locator(".designer .step").count()
            assert steps == GROUPS * 5, steps
            ready, start = page.evaluate(
                """() => [performance.getEntriesByName("labdeck:designer-ready")[0].startTime,
                          performance.getEntriesByName("labdeck:designer-start")[0].startTime]"""
            )
            if attempt:  # the first load fills the browser's cache
                totals.append(ready)
                drawing.append(ready - start)
        browser.close()
    return totals, drawing


def main() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        env = dict(os.environ, LABDECK_ADMIN_PASSWORD=PASSWORD, LABDECK_LOG_LEVEL="warning")
        command = [sys.executable, "-m", "labdeck", "demo", "--port", str(port)]
        process = subprocess.Popen(
            [*command, "--data-dir", data_dir],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_healthy(base, process)
            token = httpx.post(
                f"{base}/api/auth/token", json={"username": "admin", "password": PASSWORD}
            ).json()["token"]
            created = httpx.post(
                f"{base}/api/workflows",
                json=big_document(),
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            created.raise_for_status()
            path = f"/design/{created.json()['id']}"
            server = time_server(base, path)
            totals, drawing = time_browser(base, path)
        finally:
            process.terminate()
            process.wait(timeout=15)
    print(f"design page, {GROUPS * 5} steps")
    print(
        f"  server GET {path}: median {statistics.median(server):.1f} ms, "
        f"p95 {percentile(server, 0.95):.1f} ms ({SERVER_SAMPLES} requests)"
    )
    print(
        f"  browser, navigation to all steps drawn: median {statistics.median(totals):.0f} ms, "
        f"p95 {percentile(totals, 0.95):.0f} ms ({BROWSER_SAMPLES} loads)"
    )
    print(
        f"  of which drawing the canvas: median {statistics.median(drawing):.0f} ms, "
        f"p95 {percentile(drawing, 0.95):.0f} ms"
    )
    print("  target: <= 300 ms")


if __name__ == "__main__":
    main()
