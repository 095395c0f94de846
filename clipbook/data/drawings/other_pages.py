"""The pages of an archive that are not technical drawings: text, tables, photos, blank pages and diagrams
(flow charts and circuit-like schemas).

``OTHER_DRAWERS`` maps the kinds drawn on the whole page to their drawer; diagrams take an area instead, as
``render`` frames some of them like a drawing.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .pen import Pen, paragraphs, words


def _text_page(pen: Pen, img: Image.Image, rng: np.random.Generator) -> None:
    """A page of body text: maybe a heading and a rule, one or two columns of paragraphs, a page number."""
    c = pen.c
    m = rng.uniform(0.08, 0.14) * c
    line_h = rng.uniform(0.028, 0.04) * c
    y = m
    if rng.random() < 0.7:  # a heading
        words(pen, rng, m, y, c - m - rng.uniform(0.1, 0.4) * c, 0.9 * line_h, fill=pen.ink)
        y += 2.2 * line_h
    if rng.random() < 0.3:  # a header rule
        pen.line([(m, y - 0.8 * line_h), (c - m, y - 0.8 * line_h)], thick=False)
    columns = 2 if rng.random() < 0.3 else 1
    width = (c - 2 * m - (columns - 1) * 0.04 * c) / columns
    for k in range(columns):
        x0 = m + k * (width + 0.04 * c)
        paragraphs(pen, rng, x0, y, x0 + width, c - m - rng.uniform(0, 0.25) * c, line_h)
    words(pen, rng, c / 2 - 0.02 * c, c - 0.6 * m, c / 2 + 0.02 * c, 0.5 * line_h)  # page number


def _table_page(pen: Pen, img: Image.Image, rng: np.random.Generator) -> None:
    """A page with a heading, maybe a paragraph, and a ruled table."""
    c = pen.c
    m = rng.uniform(0.08, 0.12) * c
    line_h = rng.uniform(0.028, 0.036) * c
    y = m
    words(pen, rng, m, y, c - m - 0.3 * c, 0.8 * line_h, fill=pen.ink)
    y += 2 * line_h
    if rng.random() < 0.5:
        y = paragraphs(pen, rng, m, y, c - m, y + rng.uniform(0.1, 0.25) * c, line_h)
    rows, cols = int(rng.integers(5, 16)), int(rng.integers(3, 7))
    row_h = rng.uniform(0.035, 0.05) * c
    rows = max(2, min(rows, int((c - m - y) / row_h)))
    edges = np.concatenate([[0], np.sort(rng.uniform(0.1, 0.9, cols - 1)), [1]]) * (c - 2 * m) + m
    pen.d.rectangle([m, y, c - m, y + row_h], fill=pen.grey if rng.random() < 0.6 else pen.paper)
    for r in range(rows + 1):
        pen.line([(m, y + r * row_h), (c - m, y + r * row_h)], thick=r in (0, 1, rows))
    for e in edges:
        pen.line([(e, y), (e, y + rows * row_h)], thick=False)
    for r in range(1, rows):
        for k in range(cols):
            w = (edges[k + 1] - edges[k]) * rng.uniform(0.2, 0.7)
            pen.d.rectangle([edges[k] + 3, y + (r + 0.3) * row_h, edges[k] + 3 + w, y + (r + 0.7) * row_h],
                            fill=pen.grey)


def _photo_page(pen: Pen, img: Image.Image, rng: np.random.Generator) -> None:
    """A page of one or two colour photos with captions, and text below."""
    c = pen.c
    m = rng.uniform(0.08, 0.12) * c
    line_h = rng.uniform(0.028, 0.04) * c
    y = m
    for _ in range(int(rng.integers(1, 3))):
        pw = int(rng.uniform(0.4, 1.0) * (c - 2 * m))
        ph = int(min(rng.uniform(0.25, 0.45) * c, c - m - y - 3 * line_h))
        if ph < 0.1 * c:
            break
        x = int(m + rng.uniform(0, c - 2 * m - pw))
        img.paste(_photo(rng, pw, ph), (x, int(y)))
        y += ph + 0.5 * line_h
        words(pen, rng, x, y, x + pw, 0.5 * line_h, last=True)  # caption
        y += 1.5 * line_h
    paragraphs(pen, rng, m, y, c - m, c - m, line_h)


def _photo(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A photo-like picture: a smooth colour field with a few blurred blobs."""
    field = rng.uniform(30, 230, size=(3, 4, 3)).astype(np.uint8)
    photo = Image.fromarray(field, "RGB").resize((w, h), Image.BICUBIC)
    d = ImageDraw.Draw(photo)
    for _ in range(int(rng.integers(2, 6))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(0.05, 0.3) * w, rng.uniform(0.05, 0.4) * h
        d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return photo.filter(ImageFilter.GaussianBlur(radius=max(1.0, w / 80)))


def _blank_page(pen: Pen, img: Image.Image, rng: np.random.Generator) -> None:
    """An empty page, or one with a page number and maybe a notice or scan specks and punch holes."""
    c = pen.c
    style = rng.integers(4)
    if style >= 1:  # a page number
        words(pen, rng, c / 2 - 0.02 * c, 0.93 * c, c / 2 + 0.02 * c, 0.012 * c)
    if style == 2:  # "this page intentionally left blank"
        words(pen, rng, 0.3 * c, 0.48 * c, 0.7 * c, 0.018 * c)
    if style == 3:  # scan specks and punch holes
        for _ in range(int(rng.integers(3, 30))):
            x, y = rng.uniform(0, c, 2)
            r = rng.uniform(0.5, 2.0)
            pen.d.ellipse([x - r, y - r, x + r, y + r], fill=pen.grey)
        for y in (0.3 * c, 0.7 * c):
            pen.circle(0.05 * c, y, 0.015 * c, thick=False, fill=pen.grey)


def flowchart(pen: Pen, rng: np.random.Generator, area) -> None:
    """A flow chart: a grid of boxes, ellipses and diamonds joined by arrows."""
    x0, y0, x1, y1 = area
    rows, cols = int(rng.integers(2, 5)), int(rng.integers(2, 4))
    cw, rh = (x1 - x0) / cols, (y1 - y0) / rows
    bw, bh = cw * rng.uniform(0.45, 0.7), rh * rng.uniform(0.3, 0.5)
    centres = {}
    for r in range(rows):
        for k in range(cols):
            if rng.random() < 0.8:
                cx, cy = x0 + (k + 0.5) * cw, y0 + (r + 0.5) * rh
                centres[(r, k)] = (cx, cy)
                shape = rng.integers(3)
                box = [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]
                if shape == 0:
                    pen.d.rectangle(box, outline=pen.ink, width=pen.thick)
                elif shape == 1:
                    pen.d.ellipse(box, outline=pen.ink, width=pen.thick)
                else:
                    pen.d.polygon([(cx, box[1]), (box[2], cy), (cx, box[3]), (box[0], cy)], outline=pen.ink,
                                  width=pen.thick)
                words(pen, rng, cx - 0.3 * bw, cy - 0.08 * bh, cx + 0.3 * bw, 0.16 * bh)
    for (r, k), (cx, cy) in centres.items():
        for dr, dk in ((0, 1), (1, 0)):
            if (r + dr, k + dk) in centres and rng.random() < 0.75:
                tx, ty = centres[(r + dr, k + dk)]
                if dk:
                    a, b = (cx + bw / 2, cy), (tx - bw / 2, ty)
                else:
                    a, b = (cx, cy + bh / 2), (tx, ty - bh / 2)
                pen.line([a, b], thick=False)
                pen.arrow(b, a)


def schema(pen: Pen, rng: np.random.Generator, area) -> None:
    """A circuit-like schema: a grid of wires with resistors, capacitors and junction dots."""
    x0, y0, x1, y1 = area
    nx, ny = int(rng.integers(3, 6)), int(rng.integers(2, 5))
    xs = np.linspace(x0, x1, nx)
    ys = np.linspace(y0, y1, ny)
    s = 0.03 * pen.c
    for y in ys:
        for a, b in zip(xs[:-1], xs[1:]):
            if rng.random() < 0.8:
                _component(pen, rng, (a, y), (b, y), s)
    for x in xs:
        for a, b in zip(ys[:-1], ys[1:]):
            if rng.random() < 0.5:
                _component(pen, rng, (x, a), (x, b), s)
    for x in xs:
        for y in ys:
            if rng.random() < 0.4:
                pen.circle(x, y, 0.25 * s, fill=pen.ink)


def _component(pen: Pen, rng: np.random.Generator, p, q, s: float) -> None:
    """A schema's wire from p to q, plain or with a resistor or capacitor in its middle."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    u = q - p
    length = np.hypot(*u)
    u /= length
    n = np.array([-u[1], u[0]])
    kind = rng.integers(3)
    m = (p + q) / 2
    if kind == 0 or length < 3 * s:
        pen.line([p, q], thick=False)
        return
    a, b = m - u * s, m + u * s
    pen.line([p, a], thick=False)
    pen.line([b, q], thick=False)
    if kind == 1:  # resistor zig-zag
        pts = [a] + [a + u * (2 * s) * (k + 0.5) / 6 + n * s * 0.4 * (1 if k % 2 else -1) for k in range(6)] + [b]
        pen.line(pts, thick=False)
    else:  # capacitor plates
        for e in (m - u * 0.2 * s, m + u * 0.2 * s):
            pen.line([e - n * 0.6 * s, e + n * 0.6 * s])
        pen.line([a, m - u * 0.2 * s], thick=False)
        pen.line([m + u * 0.2 * s, b], thick=False)


OTHER_DRAWERS = {"text": _text_page, "table": _table_page, "photo": _photo_page, "blank": _blank_page}
