"""The demo lab: a simulated chemistry bench served by `labdeck demo`.

Owns the simulated instruments (`instruments.py`), the physical state and chemistry they share
(`bench.py`) and the deck module that puts them on one bench (`deck.py`). Tests, benchmarks and
optimization campaigns use the same deck, so it behaves like real hardware: calls take time
(scaled by `LABDECK_DEMO_TIME_SCALE`), readings are noisy, and some instruments fail on purpose.
"""

DECK_MODULE = "labdeck.demo.deck"
