"""The command line: db upgrade, user add/passwd, token create."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from labdeck.cli import app


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no stray .env; the default data dir lands in tmp
    return CliRunner()


def test_db_upgrade_creates_the_database(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    from labdeck.store.migrate import HEAD_REVISION

    assert f"revision {HEAD_REVISION}" in result.output
    assert (tmp_path / "d" / "labdeck.db").exists()


def test_user_add_then_token_create_gives_a_working_token(
    runner: CliRunner, tmp_path: Path
) -> None:
    data = str(tmp_path / "d")
    added = runner.invoke(
        app,
        ["user", "add", "ada", "--role", "viewer", "--data-dir", data],
        input="ada-password\nada-password\n",
    )
    assert added.exit_code == 0, added.output
    created = runner.invoke(app, ["token", "create", "ada", "--data-dir", data])
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]

    from labdeck.auth.service import AuthService
    from labdeck.settings import Settings
    from labdeck.store.db import create_db_engine
    from labdeck.store.repo_users import TokenRepository, UserRepository

    settings = Settings(_env_file=None, data_dir=Path(data))  # type: ignore[call-arg]
    engine = create_db_engine(settings.resolved_database_url())
    auth = AuthService(
        UserRepository(engine), TokenRepository(engine), settings.prepare_secret_key()
    )
    principal = auth.resolve(token)
    engine.dispose()
    assert principal is not None
    assert (principal.name, principal.role) == ("ada", "viewer")


def test_user_errors_are_reported_without_a_traceback(runner: CliRunner, tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    short = runner.invoke(app, ["user", "add", "ada", "--data-dir", data], input="short\nshort\n")
    assert short.exit_code == 1
    assert "at least 8 characters" in short.output
    unknown = runner.invoke(
        app, ["user", "passwd", "nobody", "--data-dir", data], input="long-enough\nlong-enough\n"
    )
    assert unknown.exit_code == 1
    assert "no user named 'nobody'" in unknown.output
    missing = runner.invoke(app, ["token", "create", "nobody", "--data-dir", data])
    assert missing.exit_code == 1


def test_serve_reports_a_missing_deck_clearly(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", str(tmp_path / "nope.py"), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "nope.py" in result.output


def test_serve_help_shows_the_defaults(runner: CliRunner) -> None:
    # Rich reads "[default: …]" in help text as markup and drops it; the defaults must show.
    result = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for default in ("127.0.0.1", "8000", "./labdeck_data"):
        assert default in result.output


IVORYOS_FIXTURES = Path(__file__).parent / "workflow" / "fixtures" / "ivoryos"


def test_import_ivoryos_writes_our_format(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "example.json"
    result = runner.invoke(
        app, ["import-ivoryos", str(IVORYOS_FIXTURES / "example.json"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    import json

    from labdeck.workflow.model import WorkflowDocument

    document = WorkflowDocument.model_validate(json.loads(out.read_text()))
    assert [step.target for step in document.script] == [
        "sdl.dose_solid",
        "sdl.dose_solvent",
        "sdl.analyze",
    ]


def test_import_ivoryos_exits_2_and_reports_what_it_dropped(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["import-ivoryos", str(IVORYOS_FIXTURES / "broken_unknown_action.json")]
    )
    assert result.exit_code == 2, result.output
    assert "error:" in result.output


def test_import_ivoryos_exits_1_when_nothing_converts(runner: CliRunner, tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    result = runner.invoke(app, ["import-ivoryos", str(empty)])
    assert result.exit_code == 1
    assert "nothing could be converted" in result.output
