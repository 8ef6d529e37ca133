"""Every labdeck setting, declared once.

Each field reads `LABDECK_<NAME>` from the environment or a `.env` file in the working
directory. Every field has a description; the README's configuration table lists them all
(a test checks it). `prepare_secret_key` owns the secret-key rules: generate and store one in
the data dir when unset, refuse a publicly known value outside demo mode.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that appear in examples, tutorials or other tools' defaults: anyone could forge
# session cookies with them, so a real server refuses them.
KNOWN_DEFAULT_SECRETS = frozenset(
    {"", "changeme", "change-me", "secret", "secret-key", "default_secret_key", "labdeck", "demo"}
)
MIN_SECRET_LENGTH = 16
SECRET_FILE_NAME = "secret_key"  # noqa: S105 (a file name)


class SettingsError(RuntimeError):
    """A setting makes it unsafe or impossible to start."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LABDECK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("./labdeck_data"),
        description="Folder for the embedded database, the secret key and run logs.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the database. Empty: SQLite file `labdeck.db` in the data dir. "
            "PostgreSQL: `postgresql+psycopg://user:pass@host/db` (install the `postgres` extra)."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address the server listens on.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port the server listens on.")
    secret_key: str | None = Field(
        default=None,
        description=(
            "Key that signs session and API tokens. Empty: generated on first start and kept "
            "in `<data dir>/secret_key`. Known example values are refused outside demo mode."
        ),
    )
    admin_password: str | None = Field(
        default=None,
        description=(
            "Password of the `admin` user created on first start when there are no users. "
            "Empty: a random one is generated and printed once."
        ),
    )
    demo_mode: bool = Field(
        default=False,
        description="Set by `labdeck demo`: allows known secrets and prints the demo login.",
    )
    call_lock_wait_s: float = Field(
        default=2.0,
        ge=0,
        description=(
            "How long a direct call waits for the deck while another call or run holds it, "
            "before answering 409 INSTRUMENT_BUSY."
        ),
    )
    session_ttl_hours: float = Field(
        default=12.0, gt=0, description="Lifetime of a browser login session, in hours."
    )
    token_ttl_days: float = Field(
        default=30.0, gt=0, description="Default lifetime of an API token, in days."
    )
    trusted_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Extra origins (e.g. `https://lab.example.org`) allowed to send state-changing "
            "requests, for a server behind a reverse proxy. JSON list."
        ),
    )
    demo_time_scale: float = Field(
        default=1.0,
        gt=0,
        description="Multiplies every sleep of the simulated demo instruments (0.01 in tests).",
    )
    notify_webhook_url: str | None = Field(
        default=None,
        description=(
            "URL that receives a JSON POST when a run needs a person (an input or pause step, "
            "a failed step that paused the run)."
        ),
    )
    log_level: str = Field(default="info", description="Log level: debug, info, warning, error.")
    access_log: bool = Field(
        default=False, description="Log every HTTP request (off by default: it costs latency)."
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'labdeck.db').resolve()}"

    def prepare_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def prepare_secret_key(self) -> str:
        """Return the secret key to use, creating and storing one if none is configured."""
        if self.secret_key is not None:
            key = self.secret_key
            if not self.demo_mode and (
                key.strip().lower() in KNOWN_DEFAULT_SECRETS or len(key) < MIN_SECRET_LENGTH
            ):
                raise SettingsError(
                    "LABDECK_SECRET_KEY is a known example value or shorter than "
                    f"{MIN_SECRET_LENGTH} characters; anyone could forge logins with it. "
                    "Unset it to have one generated, or set a long random value."
                )
            return key
        path = self.prepare_data_dir() / SECRET_FILE_NAME
        if path.exists():
            key = path.read_text(encoding="utf-8").strip()
            if len(key) >= MIN_SECRET_LENGTH:
                return key
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
