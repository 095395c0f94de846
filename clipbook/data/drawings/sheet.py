"""The drawing sheet around the part: the frame, the drawing area the views are laid out in (above the strip
of notes and title block), general notes and a revision table.
"""
from __future__ import annotations

import numpy as np

from .pen import Pen, words
from .title_blocks import MARGIN, TITLE_BLOCK_BOX


def frame(pen: Pen) -> None:
    """The frame, MARGIN inside the page edge."""
    m = MARGIN * pen.c
    pen.rect(m, m, pen.c - m, pen.c - m)


def drawing_area(c: int) -> tuple[float, float, float, float]:
    """Where the views go: inside the frame, above the strip that holds notes and the title block."""
    pad = 0.04 * c
    return (MARGIN * c + pad, MARGIN * c + pad, c - MARGIN * c - pad, TITLE_BLOCK_BOX[1] * c - 0.6 * pad)


def notes(pen: Pen, rng: np.random.Generator) -> None:
    """General notes in the strip left of the title block."""
    c = pen.c
    x0, y0 = MARGIN * c + 0.03 * c, TITLE_BLOCK_BOX[1] * c + 0.02 * c
    if rng.random() < 0.8:
        pen.text(x0, y0, "NOTES:", small=True)
        for k in range(int(rng.integers(1, 4))):
            words(pen, rng, x0, y0 + (k + 1.2) * 0.035 * c, x0 + rng.uniform(0.2, 0.45) * c, 0.014 * c)


def revision_table(pen: Pen, rng: np.random.Generator) -> None:
    """An empty revision table in the frame's top-right corner."""
    c = pen.c
    x1, y0 = (1 - MARGIN) * c, MARGIN * c
    w, rows = rng.uniform(0.2, 0.3) * c, int(rng.integers(2, 4))
    h = 0.03 * c
    for r in range(rows + 1):
        pen.line([(x1 - w, y0 + r * h), (x1, y0 + r * h)], thick=False)
    for f in (0, 0.2, 1):
        pen.line([(x1 - w + f * w, y0), (x1 - w + f * w, y0 + rows * h)], thick=False)
