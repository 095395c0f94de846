"""Rendering one page from its ``PageSpec``: the pipeline every page goes through.

1. a seeded generator picks paper tone and ink; the canvas is twice the page size (for anti-aliasing);
2. the page's content: a drawing (frame, a part family's views, notes, maybe a revision table), a diagram
   (framed when it carries a title block) or one of the other kinds;
3. the title block, drawn on a copy and pasted back through ``TITLE_BLOCK_BOX``;
4. the canvas reduced to the page size, as RGB.

With ``realism`` > 0 (see ``scan``) the same page is drawn as a scanned sheet: ink fainter and lines of
another weight (1), the views drawn on a layer of their own and placed on the sheet at another scale and
place, squashed with an A-series sheet read onto the square (2), the title block squashed with it in the
same corner (3), the scanner's warp and blur on the canvas before the reduction, then paper tone, light,
noise, speckle and JPEG artefacts on the page (4). Realism 0 draws exactly the clean page.

Anything done to a whole page belongs here, between those steps.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .labels import PageSpec
from .other_pages import OTHER_DRAWERS, flowchart, schema
from .parts import FAMILY_DRAWERS
from .pen import Pen
from .scan import Scan
from .sheet import drawing_area, frame, notes, revision_table
from .title_blocks import draw_title_block, title_block_box


def render_page(spec: PageSpec, page_size: int, title_block: bool = True, realism: float = 0.0) -> np.ndarray:
    """One page as a uint8 RGB array (S, S, 3), drawn at twice the size and reduced; `realism` in [0, 1] draws
    it as a scanned sheet (0: the clean page)."""
    return draw_page(spec, page_size, title_block, realism)[0]


def draw_page(spec: PageSpec, page_size: int, title_block: bool = True,
              realism: float = 0.0) -> tuple[np.ndarray, frozenset[str]]:
    """`render_page`'s page, and the visible features its part was drawn with (``labels.FEATURES``: two views,
    holes, hatching; none on a page that is not a drawing)."""
    drawn: frozenset[str] = frozenset()
    rng = np.random.default_rng([spec.seed, 31337])
    scan = Scan.draw(spec.seed, realism) if realism > 0 else None
    c = 2 * page_size
    paper = int(rng.integers(236, 256))
    colour = spec.kind == "photo"
    img = Image.new("RGB" if colour else "L", (c, c), (paper,) * 3 if colour else paper)
    ink = int(rng.integers(0, 40))
    if scan is not None:
        ink = int(min(ink + scan.fade, paper - 80))
    pen = Pen(ImageDraw.Draw(img), c, ink=ink, paper=paper, colour=colour)
    if scan is not None:
        pen.reweigh(scan.weight)
    if spec.kind == "drawing":
        frame(pen)
        if scan is None:
            FAMILY_DRAWERS[spec.family](pen, rng, drawing_area(c))
            drawn = frozenset(pen.drawn)
        else:  # the views on a layer of their own, then scaled, squashed and placed on the sheet
            layer = Image.new("L", (c, c), 255)
            layer_pen = Pen(ImageDraw.Draw(layer), c, ink=ink, paper=255, colour=False, variety=scan.variety)
            layer_pen.reweigh(scan.weight)
            FAMILY_DRAWERS[spec.family](layer_pen, rng, drawing_area(c))
            drawn = frozenset(layer_pen.drawn)
            scan.place_views(img, layer, drawing_area(c))
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
        block_pen = Pen(ImageDraw.Draw(block), c, pen.ink_level, paper, colour)
        if scan is not None:
            block_pen.reweigh(scan.weight)
        draw_title_block(block_pen, rng, spec.template)
        if scan is None:
            img.paste(block.crop(box), box[:2])
        else:  # the institution's block in the same corner, squashed with the sheet and a little resized
            target = scan.block_size(box)
            img.paste(paper if not colour else (paper,) * 3, box)
            frame(pen)  # the frame's corner, which the paper just covered
            img.paste(block.crop(box).resize((target[2] - target[0], target[3] - target[1]), Image.LANCZOS),
                      target[:2])
    if scan is not None:
        img = scan.scan(img, (paper,) * 3 if colour else paper)
    img = img.reduce(2)
    page = np.asarray(img.convert("RGB"))
    if scan is not None:
        page = scan.degrade(page, spec.seed)
    return page, drawn
