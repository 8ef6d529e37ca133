"""Applying Alembic migrations: at server start and from `labdeck db upgrade`.

Alembic itself is imported only when there is something to migrate: a server starting on an
up-to-date database checks the stored revision with one query (start-up time matters).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The newest migration's revision; a test keeps it equal to Alembic's head.
HEAD_REVISION = "0005"


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision stored in the database, or None for an empty database."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to `revision` (no-op when it is already there)."""
    if revision == "head" and current_revision(engine) == HEAD_REVISION:
        return
    before = current_revision(engine)
    with _quiet_alembic(), engine.begin() as connection:
        from alembic import command  # quiet: importing it logs its plugin set-up at INFO

        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    log.info("database schema upgraded from %s to %s", before or "empty", current_revision(engine))


def downgrade(engine: Engine, revision: str) -> None:
    with _quiet_alembic(), engine.begin() as connection:
        from alembic import command

        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic logs its plugin set-up at INFO; operators need one line, which we write."""
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        alembic_log.setLevel(level)
