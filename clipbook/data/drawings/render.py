"""Rendering one page from its ``PageSpec``: the pipeline every page goes through.

1. a seeded generator picks paper tone and ink; the canvas is twice the page size (for anti-aliasing);
2. the page's content: a drawing (frame, a part family's views, notes, maybe a revision table), a diagram
   (framed when it carries a title block) or one of the other kinds;
3. the title block, drawn on a copy and pasted back through ``TITLE_BLOCK_BOX``;
4. the canvas reduced to the page size, as RGB.

Anything done to a whole page belongs here, between those steps.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .labels import PageSpec
from .other_pages import OTHER_DRAWERS, flowchart, schema
from .parts import FAMILY_DRAWERS
from .pen import Pen
from .sheet import drawing_area, frame, notes, revision_table
from .title_blocks import draw_title_block, title_block_box


def render_page(spec: PageSpec, page_size: int, title_block: bool = True) -> np.ndarray:
    """One page as a uint8 RGB array (S, S, 3), drawn at twice the size and reduced."""
    rng = np.random.default_rng([spec.seed, 31337])
    c = 2 * page_size
    paper = int(rng.integers(236, 256))
    colour = spec.kind == "photo"
    img = Image.new("RGB" if colour else "L", (c, c), (paper,) * 3 if colour else paper)
    pen = Pen(ImageDraw.Draw(img), c, ink=int(rng.integers(0, 40)), paper=paper, colour=colour)
    if spec.kind == "drawing":
        frame(pen)
        FAMILY_DRAWERS[spec.family](pen, rng, drawing_area(c))
        notes(pen, rng)
        if rng.random() < 0.3:
            revision_table(pen, rng)
    elif spec.kind == "diagram":
        if spec.template:
            frame(pen)
        area = drawing_area(c) if spec.template else (0.1 * c, 0.1 * c, 0.9 * c, 0.9 * c)
        (flowchart if rng.random() < 0.6 else schema)(pen, rng, area)
    else:
        OTHER_DRAWERS[spec.kind](pen, img, rng)
    if spec.template and title_block:
        # drawn on a copy and pasted back through TITLE_BLOCK_BOX, so nothing of it can land outside the box
        box = tuple(2 * v for v in title_block_box(page_size))
        block = img.copy()
        draw_title_block(Pen(ImageDraw.Draw(block), c, pen.ink_level, paper, colour), rng, spec.template)
        img.paste(block.crop(box), box[:2])
    img = img.reduce(2)
    return np.asarray(img.convert("RGB"))
