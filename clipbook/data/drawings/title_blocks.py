"""Title blocks: the institution templates drawn in a drawing's bottom-right corner, and the box that holds
every one of them (``TITLE_BLOCK_BOX``), in page fractions and in pixels, and how to mask it.

A title block is anchored at the frame's bottom-right corner, ``MARGIN`` inside the page edge; the template
names are ``labels.TITLE_BLOCKS``.
"""
from __future__ import annotations

import math

import numpy as np

from .labels import TITLE_BLOCKS, WEB_TITLE_BLOCKS
from .pen import Pen

# The institution's name each template prints.
INSTITUTIONS = {
    "allegheny": "ALLEGHENY TECH. INST.", "nordwerk": "NORDWERK GMBH", "kestrel": "KESTREL AERO",
    "meridian": "MERIDIAN WORKS", "harbor": "HARBOR PUMP CO.", "tessera": "TESSERA LABS",
    # the captioned corpus's own (WEB_TITLE_BLOCKS)
    "osprey": "OSPREY MARINE", "caldera": "CALDERA STEEL", "lindqvist": "LINDQVIST AB", "veritas": "VERITAS RAIL",
}
MARGIN = 0.03  # the frame sits this far (page fraction) inside the page edge
# (width, height) of each template as page fractions; all are anchored at the frame's bottom-right corner.
_TEMPLATE_SIZES = {"allegheny": (0.36, 0.15), "nordwerk": (0.40, 0.12), "kestrel": (0.30, 0.18),
                   "meridian": (0.34, 0.14), "harbor": (0.38, 0.16), "tessera": (0.28, 0.13),
                   "osprey": (0.32, 0.14), "caldera": (0.37, 0.13), "lindqvist": (0.33, 0.17), "veritas": (0.30, 0.15)}
# (x0, y0, x1, y1) page fractions holding every template: what masking the title block blanks out.
TITLE_BLOCK_BOX: tuple[float, float, float, float] = (
    round(1 - MARGIN - max(w for w, _ in _TEMPLATE_SIZES.values()), 4),
    round(1 - MARGIN - max(h for _, h in _TEMPLATE_SIZES.values()), 4), 1 - MARGIN, 1 - MARGIN)


def title_block_box(page_size: int) -> tuple[int, int, int, int]:
    """TITLE_BLOCK_BOX in pixels (x0, y0, x1, y1) of a `page_size` page, rounded outwards."""
    x0, y0, x1, y1 = TITLE_BLOCK_BOX
    return (math.floor(x0 * page_size), math.floor(y0 * page_size), math.ceil(x1 * page_size),
            math.ceil(y1 * page_size))


def mask_title_block(images: np.ndarray) -> np.ndarray:
    """A copy of uint8 pages (N, S, S, 3) with TITLE_BLOCK_BOX painted in each page's paper colour."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != images.shape[2]:
        raise ValueError(f"images of shape {images.shape} and dtype {images.dtype} are not allowed: "
                         "give uint8 square pages shaped (N, S, S, 3).")
    s = images.shape[1]
    x0, y0, x1, y1 = title_block_box(s)
    strip = images[:, : max(1, int(MARGIN * s) - 1)]  # the margin outside the frame is always bare paper
    paper = np.median(strip.reshape(len(images), -1, images.shape[-1]), axis=1).astype(np.uint8)
    out = images.copy()
    out[:, y0:y1, x0:x1] = paper[:, None, None, :]
    return out


def draw_title_block(pen: Pen, rng: np.random.Generator, template: str) -> None:
    """The title block of `template`, with a random drawing number, scale and date."""
    c = pen.c
    w, h = _TEMPLATE_SIZES[template]
    x1 = y1 = (1 - MARGIN) * c
    x0, y0 = x1 - w * c, y1 - h * c
    pen.d.rectangle([x0, y0, x1, y1], fill=pen.paper)
    number = f"{rng.choice(['TD', 'DWG', 'A3', 'P'])}-{int(rng.integers(1000, 99999))}"
    scale = f"SCALE {rng.choice(['1:1', '1:2', '1:5', '2:1', '1:10'])}"
    date = f"{int(rng.integers(1, 29)):02d}.{int(rng.integers(1, 13)):02d}.{int(rng.integers(1975, 2024))}"
    name = INSTITUTIONS[template]
    W, H = x1 - x0, y1 - y0
    if template == "allegheny":  # logo cell with a filled disc, institution row, three data rows
        pen.rect(x0, y0, x1, y1)
        lx = x0 + 0.25 * W
        pen.line([(lx, y0), (lx, y1)])
        pen.circle(x0 + 0.125 * W, y0 + 0.5 * H, 0.3 * H, fill=pen.ink)
        for f in (0.4, 0.6, 0.8):
            pen.line([(lx, y0 + f * H), (x1, y0 + f * H)], thick=False)
        pen.text(lx + 3, y0 + 0.06 * H, name, small=True)
        for f, s in ((0.42, number), (0.62, scale), (0.82, date)):
            pen.text(lx + 3, y0 + f * H, s, small=True)
    elif template == "nordwerk":  # black header band with the name in paper colour, 2 x 4 grid below
        pen.rect(x0, y0, x1, y1)
        pen.d.rectangle([x0, y0, x1, y0 + 0.38 * H], fill=pen.ink)
        pen.text(x0 + 4, y0 + 0.05 * H, name, fill=pen.paper)
        for f in (0.25, 0.5, 0.75):
            pen.line([(x0 + f * W, y0 + 0.38 * H), (x0 + f * W, y1)], thick=False)
        pen.line([(x0, y0 + 0.69 * H), (x1, y0 + 0.69 * H)], thick=False)
        for k, s in enumerate((number, scale, date, "A3")):
            pen.text(x0 + (k * 0.25 + 0.02) * W, y0 + 0.72 * H, s, small=True)
    elif template == "kestrel":  # tall block, triangle logo top-left, four rows, a diagonal in the last cell
        pen.rect(x0, y0, x1, y1)
        pen.d.polygon([(x0 + 0.05 * W, y0 + 0.28 * H), (x0 + 0.15 * W, y0 + 0.04 * H),
                       (x0 + 0.25 * W, y0 + 0.28 * H)], outline=pen.ink, width=pen.thick)
        for f in (0.32, 0.54, 0.76):
            pen.line([(x0, y0 + f * H), (x1, y0 + f * H)])
        pen.line([(x0 + 0.6 * W, y0 + 0.76 * H), (x1, y1)], thick=False)
        pen.text(x0 + 0.3 * W, y0 + 0.08 * H, name, small=True)
        for f, s in ((0.36, number), (0.58, scale), (0.8, date)):
            pen.text(x0 + 3, y0 + f * H, s, small=True)
    elif template == "meridian":  # double border, three columns, concentric-circle logo on the right
        pen.rect(x0, y0, x1, y1)
        g = 0.05 * H
        pen.rect(x0 + g, y0 + g, x1 - g, y1 - g, thick=False)
        for f in (0.38, 0.72):
            pen.line([(x0 + f * W, y0 + g), (x0 + f * W, y1 - g)], thick=False)
        for r in (0.32, 0.2, 0.08):
            pen.circle(x0 + 0.86 * W, y0 + 0.5 * H, r * H)
        pen.text(x0 + 0.04 * W, y0 + 0.15 * H, name[:8], small=True)
        pen.text(x0 + 0.42 * W, y0 + 0.15 * H, number, small=True)
        pen.text(x0 + 0.42 * W, y0 + 0.55 * H, date, small=True)
        pen.text(x0 + 0.04 * W, y0 + 0.55 * H, scale, small=True)
    elif template == "harbor":  # filled square logo with waves, name column, five thin rows on the right
        pen.rect(x0, y0, x1, y1)
        s = 0.6 * H
        lx, ly = x0 + 0.05 * W, y0 + 0.2 * H
        pen.d.rectangle([lx, ly, lx + s, ly + s], fill=pen.ink)
        for k in range(3):
            yy = ly + (0.3 + 0.2 * k) * s
            pen.d.line([(lx + 0.1 * s, yy), (lx + 0.35 * s, yy - 0.08 * s), (lx + 0.6 * s, yy),
                        (lx + 0.9 * s, yy - 0.08 * s)], fill=pen.paper, width=pen.thin)
        mx = x0 + 0.55 * W
        pen.line([(mx, y0), (mx, y1)])
        for k in range(1, 5):
            pen.line([(mx, y0 + k * H / 5), (x1, y0 + k * H / 5)], thick=False)
        pen.text(lx + s + 3, y0 + 0.3 * H, name[:6], small=True)
        for k, s_ in enumerate((number, scale, date)):
            pen.text(mx + 3, y0 + (k + 0.1) * H / 5, s_, small=True)
    elif template == "tessera":  # heavy border, 2 x 2 checker logo, three rows
        pen.d.rectangle([x0, y0, x1, y1], outline=pen.ink, width=2 * pen.thick)
        q = 0.22 * H
        cx, cy = x0 + 0.08 * W, y0 + 0.25 * H
        pen.d.rectangle([cx, cy, cx + q, cy + q], fill=pen.ink)
        pen.d.rectangle([cx + q, cy + q, cx + 2 * q, cy + 2 * q], fill=pen.ink)
        pen.rect(cx, cy, cx + 2 * q, cy + 2 * q, thick=False)
        for f in (0.34, 0.67):
            pen.line([(x0 + 0.35 * W, y0 + f * H), (x1, y0 + f * H)], thick=False)
        pen.line([(x0 + 0.35 * W, y0), (x0 + 0.35 * W, y1)], thick=False)
        for f, s in ((0.05, name[:7]), (0.38, number), (0.71, date)):
            pen.text(x0 + 0.38 * W, y0 + f * H, s, small=True)
    elif template == "osprey":  # filled sail logo on the left, name over three rows on the right
        pen.rect(x0, y0, x1, y1)
        pen.d.polygon([(x0 + 0.06 * W, y1 - 0.15 * H), (x0 + 0.2 * W, y0 + 0.12 * H), (x0 + 0.2 * W, y1 - 0.15 * H)],
                      fill=pen.ink)
        pen.line([(x0 + 0.26 * W, y0), (x0 + 0.26 * W, y1)])
        for f in (0.3, 0.55, 0.78):
            pen.line([(x0 + 0.26 * W, y0 + f * H), (x1, y0 + f * H)], thick=False)
        for f, s in ((0.06, name), (0.33, number), (0.58, scale), (0.8, date)):
            pen.text(x0 + 0.29 * W, y0 + f * H, s, small=True)
    elif template == "caldera":  # ink band along the bottom, name on top, two columns between
        pen.rect(x0, y0, x1, y1)
        pen.d.rectangle([x0, y1 - 0.22 * H, x1, y1], fill=pen.ink)
        pen.line([(x0, y0 + 0.35 * H), (x1, y0 + 0.35 * H)])
        pen.line([(x0 + 0.5 * W, y0 + 0.35 * H), (x0 + 0.5 * W, y1 - 0.22 * H)], thick=False)
        pen.text(x0 + 4, y0 + 0.06 * H, name, small=True)
        pen.text(x0 + 4, y0 + 0.42 * H, number, small=True)
        pen.text(x0 + 0.53 * W, y0 + 0.42 * H, date, small=True)
    elif template == "lindqvist":  # four rows on the left, a crossed square on the right
        pen.rect(x0, y0, x1, y1)
        mx = x0 + 0.7 * W
        pen.line([(mx, y0), (mx, y1)])
        pen.line([(mx, y0), (x1, y1)], thick=False)
        pen.line([(mx, y1), (x1, y0)], thick=False)
        for k in range(1, 4):
            pen.line([(x0, y0 + k * H / 4), (mx, y0 + k * H / 4)], thick=False)
        for k, s in enumerate((name, number, scale, date)):
            pen.text(x0 + 3, y0 + (k + 0.1) * H / 4, s, small=True)
    elif template == "veritas":  # rails: two thick horizontal bars through a ring logo, name and two rows
        pen.rect(x0, y0, x1, y1)
        pen.circle(x0 + 0.15 * W, y0 + 0.5 * H, 0.32 * H)
        for f in (0.38, 0.62):
            pen.d.rectangle([x0 + 0.03 * W, y0 + f * H - 1, x0 + 0.27 * W, y0 + f * H + 1], fill=pen.ink)
        for f in (0.4, 0.7):
            pen.line([(x0 + 0.32 * W, y0 + f * H), (x1, y0 + f * H)], thick=False)
        for f, s in ((0.08, name), (0.45, number), (0.74, date)):
            pen.text(x0 + 0.35 * W, y0 + f * H, s, small=True)
    else:  # pragma: no cover - check_choice keeps unknown names out
        raise ValueError(f"template={template!r} is not a title-block template: choose one of "
                         f"{TITLE_BLOCKS + WEB_TITLE_BLOCKS}.")
