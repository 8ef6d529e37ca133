"""Settings: declared once, documented in the README, secret-key rules."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from labdeck.settings import KNOWN_DEFAULT_SECRETS, Settings, SettingsError

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    documented = set(re.findall(r"^\| `(LABDECK_[A-Z_]+)` \|", README.read_text(), re.MULTILINE))
    declared = {f"LABDECK_{name.upper()}" for name in Settings.model_fields}
    assert declared == documented


def test_every_setting_has_a_description() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, name


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LABDECK_PORT", "9123")
    monkeypatch.setenv("LABDECK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LABDECK_TRUSTED_ORIGINS", '["https://lab.example.org"]')
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.port == 9123
    assert settings.data_dir == tmp_path
    assert settings.trusted_origins == ["https://lab.example.org"]
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path.resolve() / 'labdeck.db'}"


def test_a_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    key = settings.prepare_secret_key()
    assert len(key) >= 32
    assert settings.prepare_secret_key() == key
    mode = (tmp_path / "secret_key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


@pytest.mark.parametrize("known", [*sorted(KNOWN_DEFAULT_SECRETS), "short"])
def test_known_or_short_secrets_are_refused_outside_demo_mode(tmp_path: Path, known: str) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, secret_key=known)  # type: ignore[call-arg]
    with pytest.raises(SettingsError):
        settings.prepare_secret_key()
    demo = settings.model_copy(update={"demo_mode": True})
    assert demo.prepare_secret_key() == known


def test_a_long_random_secret_is_accepted(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        secret_key="x" * 8 + "a-long-random-value",  # type: ignore[call-arg]
    )
    assert settings.prepare_secret_key() == "xxxxxxxxa-long-random-value"
