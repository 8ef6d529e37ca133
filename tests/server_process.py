"""Running a real `labdeck` server in a subprocess for lifecycle and crash tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

PASSWORD = "process-password-123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`labdeck <args>` on a free port; `start()` waits for /api/health."""

    def __init__(
        self,
        args: Sequence[str],
        data_dir: Path,
        cwd: Path | None = None,
        admin_password: str | None = PASSWORD,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.admin_password = admin_password
        self.extra_env = env or {}
        self.args = [*args, "--port", str(self.port), "--data-dir", str(data_dir)]
        self.cwd = cwd
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.output = ""

    def start(self, command: Sequence[str] | None = None, timeout_s: float = 20) -> ServerProcess:
        env = dict(
            os.environ,
            LABDECK_DEMO_TIME_SCALE="0.01",
            LABDECK_LOG_LEVEL="warning",
            PYTHONUNBUFFERED="1",
        )
        env.pop("LABDECK_ADMIN_PASSWORD", None)
        if self.admin_password is not None:
            env["LABDECK_ADMIN_PASSWORD"] = self.admin_password
        env.update(self.extra_env)
        argv = list(command) if command else [sys.executable, "-m", "labdeck", *self.args]
        # A file, not a pipe: a long-running server must never block on a full pipe.
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / f"server-{self.port}.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                argv, cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self._collect()}")
            try:
                if httpx.get(f"{self.base_url}/api/health", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError(f"server did not start:\n{self.stop()}")

    def token(self, password: str | None = None) -> dict[str, str]:
        response = httpx.post(
            f"{self.base_url}/api/auth/token",
            json={"username": "admin", "password": password or self.admin_password},
        )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['token']}"}

    def kill(self) -> str:
        """SIGKILL: the server gets no chance to clean up, like a power cut or OOM kill."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        return self._collect()

    def stop(self) -> str:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
        return self._collect()

    def read_output(self) -> str:
        """What the server printed so far (it may still be running)."""
        if self.log_path is not None and self.log_path.exists():
            return self.log_path.read_text(errors="replace")
        return self.output

    def _collect(self) -> str:
        """Wait for the process to end and read what it printed."""
        assert self.process is not None
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        if self.log_path is not None and self.log_path.exists():
            self.output = self.log_path.read_text(errors="replace")
        return self.output
