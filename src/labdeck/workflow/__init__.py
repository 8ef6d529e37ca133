"""Workflows: the stored format, validation against a deck, expressions, Python export/import."""
