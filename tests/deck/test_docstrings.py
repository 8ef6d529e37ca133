"""Docstrings in the styles integrators write: summary, description, per-parameter text."""

from __future__ import annotations

from typing import Any

import docstring_parser
import pytest

from labdeck.deck.docstrings import DocInfo, parse_doc


def google(volume_ml: float, rate: float = 1.0) -> None:
    """Dose liquid.

    Draws from the selected reservoir.

    Args:
        volume_ml (float): Volume to dose,
            in mL.
        rate: Flow rate in mL/min.

    Returns:
        The dosed volume.
    """


def numpy_style(volume_ml: float, rate: float = 1.0) -> None:
    """Dose liquid.

    Draws from the selected reservoir.

    Parameters
    ----------
    volume_ml : float
        Volume to dose, in mL.
    rate : float, optional
        Flow rate in mL/min.

    Returns
    -------
    float
        The dosed volume.
    """


def rest_style(volume_ml: float, rate: float = 1.0) -> None:
    """Dose liquid.

    Draws from the selected reservoir.

    :param volume_ml: Volume to dose, in mL.
    :type volume_ml: float
    :param rate: Flow rate in mL/min.
    :returns: The dosed volume.
    """


def epydoc_style(volume_ml: float, rate: float = 1.0) -> None:
    """Dose liquid.

    Draws from the selected reservoir.

    @param volume_ml: Volume to dose, in mL.
    @param rate: Flow rate in mL/min.
    """


@pytest.mark.parametrize("func", [google, numpy_style, rest_style, epydoc_style])
def test_every_style_gives_summary_description_and_params(func: Any) -> None:
    info = parse_doc(func)
    assert info.summary == "Dose liquid."
    assert info.description == "Draws from the selected reservoir."
    assert info.params["volume_ml"].replace("\n", " ") == "Volume to dose, in mL."
    assert info.params["rate"] == "Flow rate in mL/min."
    assert set(info.params) == {"volume_ml", "rate"}


def test_only_parameter_sections_fill_params() -> None:
    def sectioned(x: int, y: int = 0) -> None:
        """Sum.

        Parameters
        ----------
        x : int
            First.

        Other Parameters
        ----------------
        y : int
            Rarely needed.

        Attributes
        ----------
        total : int
            Not a parameter.
        """

    assert parse_doc(sectioned).params == {"x": "First.", "y": "Rarely needed."}


def test_text_is_summary_blank_line_description() -> None:
    assert parse_doc(google).text == "Dose liquid.\n\nDraws from the selected reservoir."
    assert DocInfo(summary="Only this.").text == "Only this."


def test_a_summary_wrapped_over_two_lines_is_kept_whole() -> None:
    def wrapped() -> None:
        """Read the absorbance of every well
        at the given wavelength.

        Slow on old readers.
        """

    info = parse_doc(wrapped)
    assert info.summary == "Read the absorbance of every well at the given wavelength."
    assert info.description == "Slow on old readers."


def test_no_docstring_gives_empty_info() -> None:
    def bare() -> None: ...

    assert parse_doc(bare) == DocInfo()
    assert parse_doc(bare).text == ""


def test_an_overriding_method_inherits_the_base_docstring() -> None:
    class Base:
        def home(self) -> None:
            """Move to the home position."""

    class Child(Base):
        def home(self) -> None:
            pass

    assert parse_doc(Child().home).summary == "Move to the home position."


def test_parser_failure_falls_back_to_the_first_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise docstring_parser.ParseError("bad docstring")

    monkeypatch.setattr(docstring_parser, "parse", explode)
    info = parse_doc(google)
    assert info == DocInfo(summary="Dose liquid.")


def test_an_object_whose_doc_cannot_be_read_gives_empty_info() -> None:
    class Hostile:
        @property
        def __doc__(self) -> str:  # type: ignore[override]
            raise RuntimeError("no docs here")

    assert parse_doc(Hostile()) == DocInfo()
