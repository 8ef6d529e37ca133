"""labdeck: a web orchestrator for self-driving laboratories.

The public face for integrators: `run()` serves a deck module, `InstrumentError` is what
drivers raise for structured failures.
"""

from __future__ import annotations

from labdeck.errors import InstrumentError

__version__ = "0.1.0"
__all__ = ["InstrumentError", "__version__", "run"]


def __getattr__(name: str) -> object:
    # `run` pulls in the web server; importing labdeck for InstrumentError must stay light.
    if name == "run":
        from labdeck.server import run

        return run
    raise AttributeError(f"module 'labdeck' has no attribute {name!r}")
