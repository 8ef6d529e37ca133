"""Notifications when a run needs a person: handlers and the webhook, off the run's thread."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from fastapi.testclient import TestClient

from labdeck.app import create_app
from labdeck.runtime.notify import notification_for
from tests.conftest import bearer_for
from tests.runtime.test_runs_api import WORKFLOW, publish, submit, wait_for


def test_which_events_become_notifications() -> None:
    waiting = {
        "kind": "run.waiting",
        "step_kind": "input",
        "run_id": 3,
        "step": "ask",
        "text": "mL?",
    }
    assert notification_for(waiting) == {
        "kind": "input",
        "run_id": 3,
        "step": "ask",
        "message": "mL?",
    }
    paused = {"kind": "run.waiting", "step_kind": "pause", "run_id": 3, "step": "p", "text": ""}
    assert notification_for(paused)["kind"] == "pause"  # type: ignore[index]
    error = {
        "kind": "run.status",
        "to_status": "paused",
        "run_id": 3,
        "reason": "step x failed: boom",
    }
    assert notification_for(error) == {
        "kind": "error",
        "run_id": 3,
        "message": "step x failed: boom",
    }
    by_hand = {
        "kind": "run.status",
        "to_status": "paused",
        "run_id": 3,
        "reason": "paused by an operator",
    }
    assert notification_for(by_hand) is None
    assert notification_for({"kind": "step.started", "run_id": 3}) is None


def test_handlers_and_the_webhook_hear_about_input_and_errors(settings, demo_deck) -> None:
    posted: list[bytes] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posted.append(self.rfile.read(int(self.headers["content-length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    hook = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    heard: list[dict[str, Any]] = []
    from labdeck.services import build_services

    services = build_services(
        settings.model_copy(
            update={"notify_webhook_url": f"http://127.0.0.1:{hook.server_address[1]}/hook"}
        ),
        demo_deck,
        notify=[heard.append],
    )
    try:
        with TestClient(create_app(services)) as client:
            client.headers.update(bearer_for(services, "olga", "operator"))
            name = publish(
                client,
                dict(
                    WORKFLOW,
                    name="ask",
                    parameters=[],
                    outputs=[],
                    script=[
                        {
                            "id": "ask",
                            "kind": "input",
                            "prompt": "How many mL?",
                            "save": "ml",
                            "type": "number",
                        }
                    ],
                ),
            )
            run = submit(client, name)
            wait_for(client, run["id"], "waiting")
            deadline = time.monotonic() + 5
            while not (heard and posted):
                assert time.monotonic() < deadline, (heard, posted)
                time.sleep(0.02)
            assert heard[0] == {
                "kind": "input",
                "run_id": int(run["id"]),
                "step": "ask",
                "message": "How many mL?",
            }
            assert b'"How many mL?"' in posted[0]
            client.post(f"/api/runs/{run['id']}/input", json={"value": 1})
            wait_for(client, run["id"], "completed")
    finally:
        services.close()
        hook.shutdown()
        hook.server_close()
