"""The pen: PIL drawing with a technical drawing's line weights (outlines, hidden and centre lines, circles,
arrows, dimensions, section hatching, text), scaled to the canvas, and text shown as word-shaped blocks.

Every page kind draws with it; it knows nothing of pages, parts or title blocks, but keeps a record of the
visible features a part drawer marks (``Pen.drawn``), which captions name.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import ImageDraw, ImageFont

from .labels import FEATURES


@lru_cache(maxsize=None)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


class Pen:
    """ImageDraw with a technical drawing's line weights, scaled to the canvas."""

    def __init__(self, draw: ImageDraw.ImageDraw, c: int, ink: int, paper: int, colour: bool,
                 variety: np.random.Generator | None = None) -> None:
        self.d, self.c, self.colour, self.ink_level = draw, c, colour, ink
        # scan realism's generator for extra layouts and sub-types of the parts (None: the clean drawings)
        self.variety = variety
        self.ink = (ink,) * 3 if colour else ink
        self.grey = (min(255, ink + 90),) * 3 if colour else min(255, ink + 90)
        self.paper = (paper,) * 3 if colour else paper
        self.thick = max(2, round(c / 128))  # visible outlines
        self.thin = max(1, round(c / 320))   # dimension, centre, hatch and hidden lines
        self.font = _font(max(6, round(c / 36)))
        self.small = _font(max(5, round(c / 48)))
        # what a part drawer drew with this pen (labels.FEATURES), for the captions: views, holes, hatching
        self.drawn: set[str] = set()

    def mark(self, feature: str) -> None:
        """Record that a visible `feature` (one of ``labels.FEATURES``) was drawn."""
        if feature not in FEATURES:
            raise ValueError(f"feature={feature!r} is not allowed: use one of {', '.join(FEATURES)}.")
        self.drawn.add(feature)

    def reweigh(self, factor: float) -> None:
        """Line weights `factor` times the standard's (a scanned sheet's pen), at least a pixel."""
        self.thick = max(1, round(self.thick * factor))
        self.thin = max(1, round(self.thin * factor))

    def line(self, pts, thick: bool = True, fill=None) -> None:
        """A polyline through `pts`, an outline (`thick`) or a thin line."""
        self.d.line([tuple(map(float, p)) for p in pts], fill=self.ink if fill is None else fill,
                    width=self.thick if thick else self.thin)

    def dashed(self, p, q, dash: float, gap: float, dot: bool = False) -> None:
        """A hidden line (dashes) or, with `dot`, a centre line (long dash, dot)."""
        p, q = np.asarray(p, float), np.asarray(q, float)
        length = float(np.hypot(*(q - p)))
        if length == 0:
            return
        u = (q - p) / length
        t = 0.0
        while t < length:
            e = min(t + dash, length)
            self.line([p + t * u, p + e * u], thick=False)
            t = e + gap
            if dot and t < length:
                self.line([p + t * u, p + min(t + 1.0, length) * u], thick=False)
                t += 1.0 + gap

    def centre_line(self, p, q) -> None:
        """A centre line (long dash, dot) from p to q."""
        self.dashed(p, q, dash=0.035 * self.c, gap=0.008 * self.c, dot=True)

    def hidden(self, p, q) -> None:
        """A hidden line (short dashes) from p to q."""
        self.dashed(p, q, dash=0.012 * self.c, gap=0.008 * self.c)

    def rect(self, x0, y0, x1, y1, thick: bool = True, fill=None) -> None:
        """A rectangle's outline between two corners, in any order."""
        self.d.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], outline=self.ink, fill=fill,
                         width=self.thick if thick else self.thin)

    def circle(self, cx, cy, r, thick: bool = True, fill=None) -> None:
        """A circle's outline (nothing when under a pixel across)."""
        if r > 0.5:
            self.d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=self.ink, fill=fill,
                           width=self.thick if thick else self.thin)

    def dashed_circle(self, cx, cy, r, n: int = 24) -> None:
        """A thin circle of `n` dashes (a bolt or pitch circle)."""
        for k in range(n):
            a0 = 360 * k / n
            self.d.arc([cx - r, cy - r, cx + r, cy + r], a0, a0 + 360 * 0.7 / n, fill=self.ink, width=self.thin)

    def text(self, x, y, s: str, small: bool = False, anchor: str = "la", fill=None) -> None:
        """Text `s` at (x, y) in the pen's font (or its small one)."""
        self.d.text((x, y), s, font=self.small if small else self.font, fill=self.ink if fill is None else fill,
                    anchor=anchor)

    def arrow(self, tip, tail) -> None:
        """A filled arrowhead at `tip`, pointing away from `tail`."""
        tip, tail = np.asarray(tip, float), np.asarray(tail, float)
        u = tail - tip
        u /= max(np.hypot(*u), 1e-6)
        size = 0.018 * self.c
        n = np.array([-u[1], u[0]])
        pts = [tip, tip + size * u + 0.35 * size * n, tip + size * u - 0.35 * size * n]
        self.d.polygon([tuple(p) for p in pts], fill=self.ink)

    def dimension(self, p, q, offset: float, label: str) -> None:
        """A dimension between points p and q: extension lines, a dimension line `offset` away (along the
        normal), arrows at both ends and the number in the middle."""
        p, q = np.asarray(p, float), np.asarray(q, float)
        u = q - p
        length = np.hypot(*u)
        if length < 0.04 * self.c:
            return
        u /= length
        n = np.array([u[1], -u[0]])
        a, b = p + offset * n, q + offset * n
        ext = np.sign(offset) * 0.012 * self.c
        self.line([p + 0.01 * self.c * n * np.sign(offset), a + ext * n], thick=False)
        self.line([q + 0.01 * self.c * n * np.sign(offset), b + ext * n], thick=False)
        self.line([a, b], thick=False)
        self.arrow(a, b)
        self.arrow(b, a)
        m = (a + b) / 2 + np.sign(offset) * 0.004 * self.c * n
        vertical = abs(u[1]) > abs(u[0])
        if vertical:  # PIL cannot rotate text cheaply; a vertical dimension carries its number beside the line
            self.text(m[0] + (3 if offset > 0 else -3), m[1], label, small=True, anchor="lm" if offset > 0 else "rm")
        else:
            self.text(m[0], m[1] - 1, label, small=True, anchor="md" if offset < 0 else "ma")

    def hatch(self, x0, y0, x1, y1, spacing: float | None = None) -> None:
        """45-degree section hatching clipped to a rectangle."""
        self.mark("hatching")
        x0, x1 = sorted((x0, x1))
        y0, y1 = sorted((y0, y1))
        s = spacing or 0.022 * self.c
        w, h = x1 - x0, y1 - y0
        t = s
        while t < w + h:
            # the line x + y = x0 + y0 + t, clipped to the rectangle
            ax, ay = x0 + max(0, t - h), y0 + min(t, h)
            bx, by = x0 + min(t, w), y0 + max(0, t - w)
            self.line([(ax, ay), (bx, by)], thick=False)
            t += s


def words(pen: Pen, rng: np.random.Generator, x0: float, y: float, x1: float, height: float,
          fill=None, last: bool = False) -> None:
    """A line of text as word-shaped blocks (what body text looks like at page-thumbnail scale)."""
    x = x0
    end = x0 + (x1 - x0) * rng.uniform(0.3, 0.8) if last else x1
    fill = pen.grey if fill is None else fill
    while True:
        w = height * rng.uniform(1.2, 5.5)
        if x + w > end:
            break
        pen.d.rectangle([x, y, x + w, y + height], fill=fill)
        x += w + height * rng.uniform(0.5, 0.9)


def paragraphs(pen: Pen, rng, x0, y0, x1, y1, line_h: float) -> float:
    """Paragraphs of word blocks filling the box from the top; returns the y where they stopped."""
    y = y0
    while y + line_h < y1:
        n = int(rng.integers(2, 8))
        for k in range(n):
            if y + line_h >= y1:
                break
            words(pen, rng, x0 + (line_h * 1.5 if k == 0 else 0), y, x1, 0.6 * line_h, last=k == n - 1)
            y += line_h
        y += line_h * rng.uniform(0.5, 1.2)
    return y
