"""A PyLabRobot deck on chatterbox backends: a liquid handler and a plate reader.

Everything is built at import time without running asyncio code (`setup()` is async and is
left to the caller), as a real PyLabRobot deck file would be before labdeck starts it. These
are third-party objects, so they are only exposed when asked for:
`introspect_deck(module, expose=["lh", "plate_reader"])`.
"""

from __future__ import annotations

from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.liquid_handling.backends import LiquidHandlerChatterboxBackend
from pylabrobot.plate_reading import PlateReader, PlateReaderChatterboxBackend
from pylabrobot.resources.hamilton import STARLetDeck

lh = LiquidHandler(backend=LiquidHandlerChatterboxBackend(), deck=STARLetDeck())
plate_reader = PlateReader(
    name="plate_reader",
    size_x=128.0,
    size_y=86.0,
    size_z=30.0,
    backend=PlateReaderChatterboxBackend(),
)
