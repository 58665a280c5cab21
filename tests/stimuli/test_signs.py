"""The sign drawings follow the class table: each row's `symbol` text alone decides what is drawn."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from stimuli.classes import gtsrb_sign_specs
from stimuli.signs import _Pen, _symbol_drawing, canonical_sign


def _symbol_only(symbol: str, px: int = 64) -> np.ndarray:
    """The symbol drawn alone on a transparent canvas, as an RGBA array."""
    img = Image.new("RGBA", (px, px), (0, 0, 0, 0))
    _symbol_drawing(symbol)(_Pen(ImageDraw.Draw(img), px))
    return np.asarray(img)


def test_every_symbol_of_the_class_table_has_a_drawing() -> None:
    symbols = {spec.symbol for spec in gtsrb_sign_specs()}
    drawn = {s: _symbol_only(s)[..., 3].sum() for s in symbols}
    empty = {s for s, ink in drawn.items() if ink == 0}
    # Only the rows whose table entry says "none" carry no symbol on the plate.
    assert empty == {s for s in symbols if s.startswith("none")}


def test_lettering_comes_from_the_symbol_text() -> None:
    # The speed classes differ only in their digits, which the table carries: "digits 20" vs "digits 30".
    assert not np.array_equal(_symbol_only("digits 20"), _symbol_only("digits 30"))
    # A lettering that no class uses is still drawn from its text (a new table row needs no code).
    assert _symbol_only("digits 90")[..., 3].sum() > 0
    white = _symbol_only("white letters STOP")
    inked = white[..., 3] > 0
    assert inked.any()
    assert (white[inked][:, :3].min(axis=1) > 200).mean() > 0.9  # white, as the text says


def test_canonical_sign_draws_the_symbol_its_row_names() -> None:
    specs = gtsrb_sign_specs()
    stop = next(s for s in specs if s.name == "Stop")
    assert stop.symbol == "white letters STOP"
    # Two classes with the same plate differ exactly where their symbols differ.
    a, b = (np.asarray(canonical_sign(c, 64)) for c in (0, 1))
    assert specs[0].shape == specs[1].shape and not np.array_equal(a, b)


def test_unknown_symbol_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no drawing for the sign symbol 'purple unicorn'"):
        _symbol_drawing("purple unicorn")
