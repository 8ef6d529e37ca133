"""The Python client of a labdeck server, and the errors its answers become.

`Client(url, token)` has one typed method per API route (see `client.py`); the generated
instrument proxy (`GET /api/proxy.py`) and `labdeck.remote` raise the same errors.
"""

from __future__ import annotations

from labdeck.client.client import Client
from labdeck.client.errors import LabdeckClientError, RemoteInstrumentError, connection_error
from labdeck.client.events import EventStream
from labdeck.client.types import Call, Event, Queue, Run, RunSteps, Workflow, WorkflowSummary

__all__ = [
    "Call",
    "Client",
    "Event",
    "EventStream",
    "LabdeckClientError",
    "Queue",
    "RemoteInstrumentError",
    "Run",
    "RunSteps",
    "Workflow",
    "WorkflowSummary",
    "connection_error",
]
