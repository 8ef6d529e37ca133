"""One long-lived connection for hot-path writes (call records, run step records).

A pool checkout and statement construction per write cost more than the write itself on
SQLite, so hot writers keep one connection and pre-built statements; every write is still its
own short committed transaction. A lock serializes the connection between threads; a broken
connection (e.g. PostgreSQL restarted) is replaced and the write retried once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, Executable
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError


class Writer:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def write(self, statement: Executable, params: Mapping[str, Any]) -> CursorResult[Any]:
        """Execute one statement in its own committed transaction."""
        with self._lock:
            for attempt in (1, 2):
                if self._connection is None:
                    self._connection = self._engine.connect()
                try:
                    with self._connection.begin():
                        return self._connection.execute(statement, params)
                except DBAPIError as exc:
                    if attempt == 2 or not exc.connection_invalidated:
                        raise
                    self._connection.close()
                    self._connection = None
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
