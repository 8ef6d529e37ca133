"""Docstring help text: summary, flowing paragraphs, backticks as code, everything escaped."""

from __future__ import annotations

from labdeck.web.helptext import doc_html, doc_paragraphs, doc_summary


def test_backticks_become_code_and_the_rest_is_escaped() -> None:
    assert str(doc_html("call `setup()` <b>first</b>")) == (
        "call <code>setup()</code> &lt;b&gt;first&lt;/b&gt;"
    )
    assert str(doc_html("a `b")) == "a `b"


def test_summary_is_the_first_paragraph_on_one_line() -> None:
    assert doc_summary("Dispense liquid\ninto the vial.\n\nMore text.") == (
        "Dispense liquid into the vial."
    )


def test_hand_wrapped_lines_flow_and_bullets_keep_their_lines() -> None:
    doc = "Summary.\n\nFirst line\ncontinues here.\n\n- one\n- two\n\n1. first\n2. second"
    assert doc_paragraphs(doc) == [
        "First line continues here.",
        "- one\n- two",
        "1. first\n2. second",
    ]
