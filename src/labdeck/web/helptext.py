"""Docstring text as help shown next to controls: summary, flowing paragraphs, safe HTML.

Backticked names are shown as code; everything else is escaped.
"""

from __future__ import annotations

from markupsafe import Markup


def doc_summary(doc: str) -> str:
    """The first paragraph of a docstring, on one line."""
    return doc.strip().split("\n\n", 1)[0].replace("\n", " ")


def doc_paragraphs(doc: str) -> list[str]:
    """The long description of a docstring (after the summary) as paragraphs.

    Docstrings are wrapped by hand at ~100 columns; those line breaks are joined so the text
    flows in the card. Bulleted lines keep their own line.
    """
    blocks = doc.strip().split("\n\n")[1:]
    paragraphs = []
    for block in blocks:
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        text = ""
        for line in lines:
            bullet = line[:2] in ("- ", "* ", "• ") or (line[:1].isdigit() and line[1:3] == ". ")
            text += ("\n" if bullet and text else " " if text else "") + line
        if text:
            paragraphs.append(text)
    return paragraphs


def doc_html(text: str) -> Markup:
    """Docstring text with `backticked` names shown as code; everything else escaped."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: show the text as written
        return Markup.escape(text)
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if index % 2 else Markup.escape(part)
        for index, part in enumerate(parts)
    )
