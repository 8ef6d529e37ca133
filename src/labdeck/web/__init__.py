"""Browser pages: Jinja2 templates with htmx, over the same services as the API."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATES_DIR = Path(__file__).parent / "templates"
