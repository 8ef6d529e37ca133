"""labdeck: a web orchestrator for self-driving laboratories.

The public face for integrators: `run()` serves a deck module, `InstrumentError` is what
drivers raise for structured failures, and `remote()` mounts instruments served by another
labdeck server into a deck:

    lab_b = labdeck.remote("http://bench-b:8000", token=os.environ["LAB_B_TOKEN"],
                           instruments=["spectrometer"])
    spectrometer_b = lab_b.spectrometer  # exposed on this deck as `spectrometer_b`

See `labdeck.deck.remote` for how remote calls, busy retries and errors behave.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labdeck.errors import InstrumentError

if TYPE_CHECKING:  # typed for checkers; imported on first use (see __getattr__)
    from labdeck.deck.remote import remote
    from labdeck.server import run

__version__ = "0.1.0"
__all__ = ["InstrumentError", "__version__", "remote", "run"]


def __getattr__(name: str) -> object:
    # `run` pulls in the web server and `remote` httpx: importing labdeck for InstrumentError
    # must stay light.
    if name == "run":
        from labdeck.server import run

        return run
    if name == "remote":
        from labdeck.deck.remote import remote

        return remote
    raise AttributeError(f"module 'labdeck' has no attribute {name!r}")
