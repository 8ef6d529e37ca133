"""Deck snapshots: the interface schema kept each time a deck's fingerprint is new."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from labdeck.store.orm import DeckSnapshot, utcnow


class DeckSnapshotRepository:
    def __init__(self, engine: Engine) -> None:
        self._sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)

    def record(self, name: str, fingerprint: str, schema: dict[str, Any]) -> bool:
        """Store the schema if this fingerprint is new for the deck; returns True if new.

        The newest snapshot is the last one seen, so `fingerprints()[0]` is the interface the
        server last started with.
        """
        with self._sessions() as session:
            existing = session.scalar(
                select(DeckSnapshot).where(
                    DeckSnapshot.name == name, DeckSnapshot.fingerprint == fingerprint
                )
            )
            if existing is not None:
                existing.last_seen_at = utcnow()
                session.commit()
                return False
            session.add(DeckSnapshot(name=name, fingerprint=fingerprint, schema_json=schema))
            session.commit()
            return True

    def get(self, name: str, fingerprint: str) -> dict[str, Any] | None:
        with self._sessions() as session:
            snapshot = session.scalar(
                select(DeckSnapshot).where(
                    DeckSnapshot.name == name, DeckSnapshot.fingerprint == fingerprint
                )
            )
            return dict(snapshot.schema_json) if snapshot is not None else None

    def fingerprints(self, name: str) -> list[str]:
        """Known fingerprints of a deck, the one seen most recently first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(DeckSnapshot.fingerprint)
                .where(DeckSnapshot.name == name)
                .order_by(DeckSnapshot.last_seen_at.desc(), DeckSnapshot.id.desc())
            )
            return list(rows)
