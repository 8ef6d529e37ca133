"""Alembic environment: runs migrations on the connection labdeck hands over."""

from __future__ import annotations

from alembic import context

from labdeck.store.orm import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("labdeck runs its migrations through labdeck.store.migrate.upgrade()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
