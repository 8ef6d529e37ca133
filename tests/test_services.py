"""Building the services at start: admin bootstrap, crash reconciliation, interface notes."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

from labdeck.deck.introspect import introspect_deck
from labdeck.deck.load import load_deck_module
from labdeck.settings import Settings


def _deck(folder: Path, body: str):
    """The same deck name with another body: a deck file edited between two starts."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bench_{folder.name}_{uuid.uuid4().hex[:8]}.py"
    path.write_text(textwrap.dedent(body))
    return introspect_deck(load_deck_module(str(path)), name="bench")


def test_interface_changes_are_noted_only_when_they_happen(make_services, tmp_path) -> None:
    first = _deck(
        tmp_path / "v1", "class Pump:\n    def go(self, ml: float) -> None: ...\npump = Pump()\n"
    )
    assert make_services(first).startup_notes == []
    assert make_services(first).startup_notes == []  # same interface again: nothing to say
    retyped = _deck(
        tmp_path / "v2", "class Pump:\n    def go(self, ml: int) -> None: ...\npump = Pump()\n"
    )
    notes = make_services(retyped).startup_notes
    assert notes == [
        f"the deck's interface changed since the last start "
        f"(fingerprint {first.fingerprint} -> {retyped.fingerprint})"
    ]


def test_first_start_creates_the_admin_from_the_setting(
    make_services, demo_deck, settings: Settings
) -> None:
    services = make_services(demo_deck)
    assert services.generated_admin_password is None
    assert services.auth.check_password("admin", settings.admin_password or "").role == "admin"


def test_first_start_without_a_password_generates_one(make_services, demo_deck) -> None:
    services = make_services(demo_deck, admin_password=None)
    generated = services.generated_admin_password
    assert generated is not None
    assert services.auth.check_password("admin", generated).role == "admin"
