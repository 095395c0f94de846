"""A procedural archive of document pages: technical drawings with title blocks, and everything else
(notebook 04 introduces it).

The seed's customer searched 100k PDF pages, about half of them technical drawings, with a drawing as the
query. This module generates such an archive:

* ``drawing`` pages show one part from a family (flange, shaft, bracket, gear, plate, pipe fitting) in two
  orthographic views with random dimensions and proportions, outlines, hidden and centre lines, hatched
  sections, dimension lines with arrows and numbers, notes, a frame, and a **title block** in the
  bottom-right corner drawn from one of several institution templates. The template is independent of the
  family by default; ``title_block_correlation`` (rho) gives each drawing its family's "house" template with
  probability rho (rho=1: the template gives the family away).
* the other pages of an archive: ``text``, ``table``, ``photo`` (embedded colour photos), ``blank`` (empty or
  nearly so) and ``diagram`` (flow charts and schemas; half of them carry a frame and a title block too).

Pages are square (``page_size`` pixels a side): every encoder compared here takes square inputs, so a
square page reaches them without letter-boxing or squashing, and the title block sits in the same pixels on
every drawing. Pages are drawn with PIL at twice the size and reduced (anti-aliasing), deterministically for
a seed, and cached under ``data/cache`` like the shapes corpus.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ...utils import atomic_path, check_choice, check_positive, data_dir

PAGE_KINDS: tuple[str, ...] = ("drawing", "text", "table", "photo", "blank", "diagram")
FAMILIES: tuple[str, ...] = ("flange", "shaft", "bracket", "gear", "plate", "pipe_fitting")
# Institutions whose title-block templates the drawings carry (fictional names).
TITLE_BLOCKS: tuple[str, ...] = ("allegheny", "nordwerk", "kestrel", "meridian", "harbor", "tessera")
INSTITUTIONS = {
    "allegheny": "ALLEGHENY TECH. INST.", "nordwerk": "NORDWERK GMBH", "kestrel": "KESTREL AERO",
    "meridian": "MERIDIAN WORKS", "harbor": "HARBOR PUMP CO.", "tessera": "TESSERA LABS",
}
# How the pages that are not drawings split among the other kinds.
OTHER_MIX: dict[str, float] = {"text": 0.35, "table": 0.2, "photo": 0.15, "blank": 0.1, "diagram": 0.2}
MARGIN = 0.03  # the frame sits this far (page fraction) inside the page edge
# (width, height) of each template as page fractions; all are anchored at the frame's bottom-right corner.
_TEMPLATE_SIZES = {"allegheny": (0.36, 0.15), "nordwerk": (0.40, 0.12), "kestrel": (0.30, 0.18),
                   "meridian": (0.34, 0.14), "harbor": (0.38, 0.16), "tessera": (0.28, 0.13)}
# (x0, y0, x1, y1) page fractions holding every template: what masking the title block blanks out.
TITLE_BLOCK_BOX: tuple[float, float, float, float] = (
    round(1 - MARGIN - max(w for w, _ in _TEMPLATE_SIZES.values()), 4),
    round(1 - MARGIN - max(h for _, h in _TEMPLATE_SIZES.values()), 4), 1 - MARGIN, 1 - MARGIN)
_CACHE_VERSION = 1


@dataclass(frozen=True)
class PageSpec:
    """What one page shows (its labels) and the seed its details are drawn from."""

    kind: str
    family: str | None
    template: str | None
    seed: int


@dataclass
class PageData:
    """Rendered pages: uint8 images (N, S, S, 3) and integer labels (-1: none) for kind, family, template."""

    images: np.ndarray
    kind: np.ndarray
    family: np.ndarray
    template: np.ndarray
    families: tuple[str, ...] = FAMILIES
    templates: tuple[str, ...] = TITLE_BLOCKS

    def __len__(self) -> int:
        return len(self.images)

    @property
    def is_drawing(self) -> np.ndarray:
        """Boolean mask of the technical drawings."""
        return self.kind == PAGE_KINDS.index("drawing")

    def names(self, i: int) -> dict[str, str | None]:
        """Labels of page `i` as names."""
        return {"kind": PAGE_KINDS[self.kind[i]],
                "family": self.families[self.family[i]] if self.family[i] >= 0 else None,
                "template": self.templates[self.template[i]] if self.template[i] >= 0 else None}

    def subset(self, index: Sequence[int] | np.ndarray) -> "PageData":
        """The pages at `index` (or a boolean mask), labels kept."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return PageData(self.images[index], self.kind[index], self.family[index], self.template[index],
                        self.families, self.templates)


def check_fraction(name: str, value: float) -> float:
    """Return `value` if it is a number in [0, 1], else raise naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 <= value <= 1:
        raise ValueError(f"{name}={value!r} is not allowed: it must be a number from 0 to 1.")
    return float(value)


class PageCorpus:
    """The generator of an archive's pages: which kinds, families and templates, and how they correlate.

    >>> corpus = PageCorpus(page_size=128, drawing_fraction=0.5, title_block_correlation=0.0)
    >>> pages = corpus.dataset(2000, seed=0)
    >>> pages.images.shape, pages.names(0)
    """

    def __init__(self, page_size: int = 128, drawing_fraction: float = 0.5, title_block_correlation: float = 0.0,
                 families: Sequence[str] = FAMILIES, templates: Sequence[str] = TITLE_BLOCKS,
                 other_mix: Mapping[str, float] | None = None) -> None:
        check_positive("page_size", page_size)
        if page_size < 64:
            raise ValueError(f"page_size={page_size!r} is not allowed: it must be at least 64 pixels.")
        self.page_size = int(page_size)
        self.drawing_fraction = check_fraction("drawing_fraction", drawing_fraction)
        self.title_block_correlation = check_fraction("title_block_correlation", title_block_correlation)
        for name, values, known in (("families", list(families), FAMILIES),
                                    ("templates", list(templates), TITLE_BLOCKS)):
            if len(values) < 2 or len(set(values)) != len(values):
                raise ValueError(f"{name}={values!r} is not allowed: give at least two distinct names.")
            for v in values:
                check_choice(f"{name} entry", v, known)
        self.families = tuple(families)
        self.templates = tuple(templates)
        mix = dict(OTHER_MIX if other_mix is None else other_mix)
        for k, w in mix.items():
            check_choice("other_mix key", k, PAGE_KINDS[1:])
            if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
                raise ValueError(f"other_mix[{k!r}]={w!r} is not allowed: weights must be non-negative numbers.")
        if sum(mix.values()) <= 0:
            raise ValueError(f"other_mix={mix!r} is not allowed: at least one weight must be positive.")
        self.other_mix = mix

    def describe(self) -> dict:
        """Parameters that define this corpus (used in cache keys)."""
        return {"page_size": self.page_size, "drawing_fraction": self.drawing_fraction,
                "title_block_correlation": self.title_block_correlation, "families": list(self.families),
                "templates": list(self.templates), "other_mix": self.other_mix}

    def house_template(self, family: str) -> str:
        """The template a family's drawings carry when title block and family correlate."""
        return self.templates[self.families.index(family) % len(self.templates)]

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, seed: int = 0, drawings_only: bool = False) -> list[PageSpec]:
        """Draw what `n` pages show: kinds (about `drawing_fraction` drawings), families and templates."""
        check_positive("n", n)
        # one row of uniforms per page, so the first pages of a longer corpus are the same pages
        u = np.random.default_rng([seed, 7_368_787]).random((n, 7))
        others = list(self.other_mix)
        weights = np.cumsum([self.other_mix[k] for k in others])
        drawing = np.ones(n, bool) if drawings_only else u[:, 0] < self.drawing_fraction
        other_kind = np.minimum(np.searchsorted(weights, u[:, 1] * weights[-1], side="right"), len(others) - 1)
        family = (u[:, 2] * len(self.families)).astype(int)
        house = u[:, 3] < self.title_block_correlation
        free_template = (u[:, 4] * len(self.templates)).astype(int)
        diagram_block = u[:, 5] < 0.5
        page_seeds = (u[:, 6] * 2**62).astype(np.int64)
        specs = []
        for i in range(n):
            if drawing[i]:
                fam = self.families[family[i]]
                tpl = self.house_template(fam) if house[i] else self.templates[free_template[i]]
                specs.append(PageSpec("drawing", fam, tpl, int(page_seeds[i])))
            else:
                kind = others[other_kind[i]]
                tpl = self.templates[free_template[i]] if kind == "diagram" and diagram_block[i] else None
                specs.append(PageSpec(kind, None, tpl, int(page_seeds[i])))
        return specs

    # ------------------------------------------------------------------ rendering
    def render(self, specs: Sequence[PageSpec], title_block: bool = True) -> np.ndarray:
        """Draw pages as uint8 RGB images (N, S, S, 3); `title_block=False` leaves the title blocks out
        (everything else identical)."""
        out = np.empty((len(specs), self.page_size, self.page_size, 3), np.uint8)
        for i, spec in enumerate(specs):
            out[i] = render_page(spec, self.page_size, title_block)
        return out

    def labels(self, specs: Sequence[PageSpec]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Integer kind, family and template labels of `specs` (-1: none)."""
        kind = np.array([PAGE_KINDS.index(s.kind) for s in specs], np.int64)
        family = np.array([self.families.index(s.family) if s.family else -1 for s in specs], np.int64)
        template = np.array([self.templates.index(s.template) if s.template else -1 for s in specs], np.int64)
        return kind, family, template

    def dataset(self, n: int, seed: int = 0, drawings_only: bool = False, cache: bool = True) -> PageData:
        """`n` rendered pages with labels, loaded from data/cache when generated before."""
        check_positive("n", n)
        key = {"v": _CACHE_VERSION, "corpus": self.describe(), "n": n, "seed": seed, "drawings_only": drawings_only}
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        path = data_dir("cache") / f"pages-{self.page_size}px-{n}-{digest}.npz"
        if cache and path.exists():
            try:
                with np.load(path, allow_pickle=False) as z:
                    return PageData(z["images"], z["kind"], z["family"], z["template"], self.families, self.templates)
            except (OSError, ValueError, KeyError, EOFError):
                path.unlink(missing_ok=True)  # a damaged cache file is regenerated, not trusted
        specs = self.sample(n, seed=seed, drawings_only=drawings_only)
        images = self.render(specs)
        kind, family, template = self.labels(specs)
        if cache:
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, images=images, kind=kind, family=family, template=template)
        return PageData(images, kind, family, template, self.families, self.templates)


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


def render_page(spec: PageSpec, page_size: int, title_block: bool = True) -> np.ndarray:
    """One page as a uint8 RGB array (S, S, 3), drawn at twice the size and reduced."""
    rng = np.random.default_rng([spec.seed, 31337])
    c = 2 * page_size
    paper = int(rng.integers(236, 256))
    colour = spec.kind == "photo"
    img = Image.new("RGB" if colour else "L", (c, c), (paper,) * 3 if colour else paper)
    pen = _Pen(ImageDraw.Draw(img), c, ink=int(rng.integers(0, 40)), paper=paper, colour=colour)
    if spec.kind == "drawing":
        _frame(pen)
        _FAMILY_DRAWERS[spec.family](pen, rng, _drawing_area(c))
        _notes(pen, rng)
        if rng.random() < 0.3:
            _revision_table(pen, rng)
    elif spec.kind == "diagram":
        if spec.template:
            _frame(pen)
        area = _drawing_area(c) if spec.template else (0.1 * c, 0.1 * c, 0.9 * c, 0.9 * c)
        (_flowchart if rng.random() < 0.6 else _schema)(pen, rng, area)
    else:
        _OTHER_DRAWERS[spec.kind](pen, img, rng)
    if spec.template and title_block:
        # drawn on a copy and pasted back through TITLE_BLOCK_BOX, so nothing of it can land outside the box
        box = tuple(2 * v for v in title_block_box(page_size))
        block = img.copy()
        _title_block(_Pen(ImageDraw.Draw(block), c, pen.ink_level, paper, colour), rng, spec.template)
        img.paste(block.crop(box), box[:2])
    img = img.reduce(2)
    return np.asarray(img.convert("RGB"))


# ---------------------------------------------------------------------- drawing tools
@lru_cache(maxsize=None)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


class _Pen:
    """ImageDraw with a technical drawing's line weights, scaled to the canvas."""

    def __init__(self, draw: ImageDraw.ImageDraw, c: int, ink: int, paper: int, colour: bool) -> None:
        self.d, self.c, self.colour, self.ink_level = draw, c, colour, ink
        self.ink = (ink,) * 3 if colour else ink
        self.grey = (min(255, ink + 90),) * 3 if colour else min(255, ink + 90)
        self.paper = (paper,) * 3 if colour else paper
        self.thick = max(2, round(c / 128))  # visible outlines
        self.thin = max(1, round(c / 320))   # dimension, centre, hatch and hidden lines
        self.font = _font(max(6, round(c / 36)))
        self.small = _font(max(5, round(c / 48)))

    def line(self, pts, thick: bool = True, fill=None) -> None:
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
        self.dashed(p, q, dash=0.035 * self.c, gap=0.008 * self.c, dot=True)

    def hidden(self, p, q) -> None:
        self.dashed(p, q, dash=0.012 * self.c, gap=0.008 * self.c)

    def rect(self, x0, y0, x1, y1, thick: bool = True, fill=None) -> None:
        self.d.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], outline=self.ink, fill=fill,
                         width=self.thick if thick else self.thin)

    def circle(self, cx, cy, r, thick: bool = True, fill=None) -> None:
        if r > 0.5:
            self.d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=self.ink, fill=fill,
                           width=self.thick if thick else self.thin)

    def dashed_circle(self, cx, cy, r, n: int = 24) -> None:
        for k in range(n):
            a0 = 360 * k / n
            self.d.arc([cx - r, cy - r, cx + r, cy + r], a0, a0 + 360 * 0.7 / n, fill=self.ink, width=self.thin)

    def text(self, x, y, s: str, small: bool = False, anchor: str = "la", fill=None) -> None:
        self.d.text((x, y), s, font=self.small if small else self.font, fill=self.ink if fill is None else fill,
                    anchor=anchor)

    def arrow(self, tip, tail) -> None:
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


def _words(pen: _Pen, rng: np.random.Generator, x0: float, y: float, x1: float, height: float,
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


def _paragraphs(pen: _Pen, rng, x0, y0, x1, y1, line_h: float) -> float:
    """Paragraphs of word blocks filling the box from the top; returns the y where they stopped."""
    y = y0
    while y + line_h < y1:
        n = int(rng.integers(2, 8))
        for k in range(n):
            if y + line_h >= y1:
                break
            _words(pen, rng, x0 + (line_h * 1.5 if k == 0 else 0), y, x1, 0.6 * line_h, last=k == n - 1)
            y += line_h
        y += line_h * rng.uniform(0.5, 1.2)
    return y


def _frame(pen: _Pen) -> None:
    m = MARGIN * pen.c
    pen.rect(m, m, pen.c - m, pen.c - m)


def _drawing_area(c: int) -> tuple[float, float, float, float]:
    """Where the views go: inside the frame, above the strip that holds notes and the title block."""
    pad = 0.04 * c
    return (MARGIN * c + pad, MARGIN * c + pad, c - MARGIN * c - pad, TITLE_BLOCK_BOX[1] * c - 0.6 * pad)


# ---------------------------------------------------------------------- title blocks
def _title_block(pen: _Pen, rng: np.random.Generator, template: str) -> None:
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
    else:  # pragma: no cover - check_choice keeps unknown names out
        raise ValueError(f"template={template!r} is not a title-block template: choose one of {TITLE_BLOCKS}.")


def _notes(pen: _Pen, rng: np.random.Generator) -> None:
    """General notes in the strip left of the title block."""
    c = pen.c
    x0, y0 = MARGIN * c + 0.03 * c, TITLE_BLOCK_BOX[1] * c + 0.02 * c
    if rng.random() < 0.8:
        pen.text(x0, y0, "NOTES:", small=True)
        for k in range(int(rng.integers(1, 4))):
            _words(pen, rng, x0, y0 + (k + 1.2) * 0.035 * c, x0 + rng.uniform(0.2, 0.45) * c, 0.014 * c)


def _revision_table(pen: _Pen, rng: np.random.Generator) -> None:
    c = pen.c
    x1, y0 = (1 - MARGIN) * c, MARGIN * c
    w, rows = rng.uniform(0.2, 0.3) * c, int(rng.integers(2, 4))
    h = 0.03 * c
    for r in range(rows + 1):
        pen.line([(x1 - w, y0 + r * h), (x1, y0 + r * h)], thick=False)
    for f in (0, 0.2, 1):
        pen.line([(x1 - w + f * w, y0), (x1 - w + f * w, y0 + rows * h)], thick=False)


# ---------------------------------------------------------------------- part families
class _View:
    """A view of a part: its size in part units (with room for dimensions) and how to draw it."""

    def __init__(self, w: float, h: float, draw: Callable[[_Pen, float, float, float], None]) -> None:
        self.w, self.h, self.draw = w, h, draw


def _layout(pen: _Pen, rng: np.random.Generator, area, views: Sequence[_View]) -> None:
    """Place two views side by side or one above the other, at a random scale and offset inside `area`."""
    x0, y0, x1, y1 = area
    aw, ah = x1 - x0, y1 - y0
    gap = 0.35
    horizontal = (sum(v.w for v in views) + gap, max(v.h for v in views))
    vertical = (max(v.w for v in views), sum(v.h for v in views) + gap)
    fit = lambda wh: min(aw / wh[0], ah / wh[1])  # noqa: E731
    side_by_side = fit(horizontal) >= fit(vertical) if rng.random() < 0.8 else rng.random() < 0.5
    tw, th = horizontal if side_by_side else vertical
    scale = fit((tw, th)) * rng.uniform(0.7, 0.95)
    ox = x0 + rng.uniform(0, aw - tw * scale)
    oy = y0 + rng.uniform(0, ah - th * scale)
    pos = 0.0
    for v in views:
        if side_by_side:
            cx, cy = ox + (pos + v.w / 2) * scale, oy + th * scale / 2
            pos += v.w + gap
        else:
            cx, cy = ox + tw * scale / 2, oy + (pos + v.h / 2) * scale
            pos += v.h + gap
        v.draw(pen, cx, cy, scale)


def _mm(value: float, unit: float) -> str:
    return str(int(round(value * unit)))


def _flange(pen: _Pen, rng: np.random.Generator, area) -> None:
    R = 1.0
    bore = rng.uniform(0.22, 0.42)
    hub = rng.uniform(bore + 0.12, 0.62)
    bolt = rng.uniform(hub + 0.1, 0.85)
    n_holes = int(rng.choice([4, 6, 8]))
    hole = rng.uniform(0.05, min(0.1, (1 - bolt) * 0.8))
    t, th = rng.uniform(0.2, 0.45), rng.uniform(0.15, 0.5)
    unit = rng.uniform(60, 400)

    def front(p: _Pen, cx, cy, s):
        p.circle(cx, cy, R * s)
        p.circle(cx, cy, hub * s, thick=False)
        p.circle(cx, cy, bore * s)
        p.dashed_circle(cx, cy, bolt * s, n=28)
        a0 = rng.uniform(0, np.pi / n_holes)
        for k in range(n_holes):
            a = a0 + 2 * np.pi * k / n_holes
            p.circle(cx + bolt * s * np.cos(a), cy + bolt * s * np.sin(a), hole * s)
        p.centre_line((cx - 1.15 * R * s, cy), (cx + 1.15 * R * s, cy))
        p.centre_line((cx, cy - 1.15 * R * s), (cx, cy + 1.15 * R * s))

    def side(p: _Pen, cx, cy, s):
        left = cx - (t + th) * s / 2
        for y_a, y_b in ((-R, -bore), (bore, R)):  # flange plate, cut: hatched above and below the bore
            p.hatch(left, cy + y_a * s, left + t * s, cy + y_b * s)
        for y_a, y_b in ((-hub, -bore), (bore, hub)):
            p.hatch(left + t * s, cy + y_a * s, left + (t + th) * s, cy + y_b * s)
        p.rect(left, cy - R * s, left + t * s, cy + R * s)
        p.rect(left + t * s, cy - hub * s, left + (t + th) * s, cy + hub * s)
        p.line([(left, cy - bore * s), (left + (t + th) * s, cy - bore * s)])
        p.line([(left, cy + bore * s), (left + (t + th) * s, cy + bore * s)])
        p.centre_line((left - 0.15 * s, cy), (left + (t + th + 0.15) * s, cy))
        p.dimension((left, cy - R * s), (left, cy + R * s), -0.25 * s, "Ø" + _mm(2 * R, unit))
        p.dimension((left, cy + R * s), (left + (t + th) * s, cy + R * s), 0.25 * s, _mm(t + th, unit))

    _layout(pen, rng, area, [_View(2.5 * R, 2.5 * R, front), _View(t + th + 0.8, 2.6 * R, side)])


def _shaft(pen: _Pen, rng: np.random.Generator, area) -> None:
    n = int(rng.integers(3, 6))
    lengths = rng.uniform(0.35, 1.1, n)
    diams = rng.uniform(0.3, 0.75, n)
    diams[int(rng.integers(1, n - 1))] = rng.uniform(0.8, 1.0)  # a shoulder somewhere in the middle
    L = lengths.sum()
    key = int(rng.integers(n))
    unit = rng.uniform(40, 250)

    def side(p: _Pen, cx, cy, s):
        x = cx - L * s / 2
        for k in range(n):
            r = diams[k] / 2
            p.rect(x, cy - r * s, x + lengths[k] * s, cy + r * s)
            if k == key and lengths[k] > 0.45:  # keyway slot
                kw, kl = 0.22 * diams[k], 0.6 * lengths[k]
                kx = x + (lengths[k] - kl) / 2 * s
                p.d.rounded_rectangle([kx, cy - kw / 2 * s, kx + kl * s, cy + kw / 2 * s], radius=kw / 2 * s,
                                      outline=p.ink, width=p.thin)
            x += lengths[k] * s
        ch = 0.05 * s  # chamfers at both ends
        for xe, sign in ((cx - L * s / 2, 1), (cx + L * s / 2, -1)):
            r0 = diams[0 if sign > 0 else -1] / 2 * s
            p.line([(xe, cy - r0 + ch), (xe + sign * ch, cy - r0)], thick=False)
            p.line([(xe, cy + r0 - ch), (xe + sign * ch, cy + r0)], thick=False)
        p.centre_line((cx - (L / 2 + 0.15) * s, cy), (cx + (L / 2 + 0.15) * s, cy))
        p.dimension((cx - L * s / 2, cy + diams[0] / 2 * s), (cx + L * s / 2, cy + diams[-1] / 2 * s),
                    (max(diams) - diams[0] / 2 + 0.05) * s + 0.2 * s, _mm(L, unit))
        big = int(np.argmax(diams))
        xb = cx - L * s / 2 + lengths[:big].sum() * s
        p.dimension((xb, cy - diams[big] / 2 * s), (xb, cy + diams[big] / 2 * s), 0.2 * s,
                    "Ø" + _mm(diams[big], unit))

    def end(p: _Pen, cx, cy, s):
        for d in sorted(set(np.round(diams, 3)))[-3:]:
            p.circle(cx, cy, d / 2 * s)
        p.centre_line((cx - 0.6 * s, cy), (cx + 0.6 * s, cy))
        p.centre_line((cx, cy - 0.6 * s), (cx, cy + 0.6 * s))

    _layout(pen, rng, area, [_View(L + 0.4, 1.6, side), _View(1.3, 1.3, end)])


def _bracket(pen: _Pen, rng: np.random.Generator, area) -> None:
    a, b = rng.uniform(1.2, 2.2), rng.uniform(0.8, 1.8)
    t = rng.uniform(0.14, 0.28)
    depth = rng.uniform(0.6, 1.1)
    gusset = rng.random() < 0.5
    holes = np.sort(rng.uniform(t + 0.25, a - 0.15, int(rng.integers(1, 4))))
    holes = holes[np.concatenate([[True], np.diff(holes) > 0.22])]
    hr = rng.uniform(0.05, 0.09)
    unit = rng.uniform(40, 200)

    def front(p: _Pen, cx, cy, s):
        ox, oy = cx - a * s / 2, cy + b * s / 2  # y grows downwards on the page
        pts = [(0, 0), (a, 0), (a, t), (t, t), (t, b), (0, b)]
        p.d.polygon([(ox + x * s, oy - y * s) for x, y in pts], outline=p.ink, width=p.thick)
        if gusset:
            g = 0.55 * min(a, b)
            p.line([(ox + t * s, oy - (t + g) * s), (ox + (t + g) * s, oy - t * s)])
        for hx in holes:
            for sgn in (-1, 1):
                p.hidden((ox + (hx + sgn * hr) * s, oy), (ox + (hx + sgn * hr) * s, oy - t * s))
            p.centre_line((ox + hx * s, oy + 0.08 * s), (ox + hx * s, oy - (t + 0.08) * s))
        p.dimension((ox, oy), (ox + a * s, oy), 0.25 * s, _mm(a, unit))
        p.dimension((ox, oy), (ox, oy - b * s), 0.25 * s, _mm(b, unit))

    def top(p: _Pen, cx, cy, s):
        ox, oy = cx - a * s / 2, cy - depth * s / 2
        p.rect(ox, oy, ox + a * s, oy + depth * s)
        p.line([(ox + t * s, oy), (ox + t * s, oy + depth * s)])
        for hx in holes:
            p.circle(ox + hx * s, oy + depth * s / 2, hr * s)
            p.centre_line((ox + hx * s, oy - 0.05 * s), (ox + hx * s, oy + (depth + 0.05) * s))

    _layout(pen, rng, area, [_View(a + 0.6, b + 0.6, front), _View(a + 0.3, depth + 0.3, top)])


def _gear(pen: _Pen, rng: np.random.Generator, area) -> None:
    teeth = int(rng.integers(10, 29))
    R = 1.0
    root = R - rng.uniform(0.08, 0.15)
    bore = rng.uniform(0.14, 0.28)
    hub = rng.uniform(bore + 0.1, 0.5)
    lighten = int(rng.choice([0, 4, 5, 6])) if rng.random() < 0.7 else 0
    face = rng.uniform(0.25, 0.55)
    unit = rng.uniform(40, 300)

    def front(p: _Pen, cx, cy, s):
        pts = []
        for k in range(teeth):
            a = 2 * np.pi * k / teeth
            step = 2 * np.pi / teeth
            for frac, r in ((0.0, root), (0.15, R), (0.45, R), (0.6, root)):
                pts.append((cx + r * s * np.cos(a + frac * step), cy + r * s * np.sin(a + frac * step)))
        p.d.polygon(pts, outline=p.ink, width=p.thick)
        p.dashed_circle(cx, cy, (R + root) / 2 * s, n=36)
        p.circle(cx, cy, bore * s)
        kw = 0.35 * bore * s
        p.rect(cx - kw / 2, cy - bore * s - 0.3 * kw, cx + kw / 2, cy - bore * s + 0.6 * kw, thick=False)
        p.circle(cx, cy, hub * s, thick=False)
        for k in range(lighten):
            a = 2 * np.pi * (k + 0.5) / lighten
            rm = (hub + root) / 2
            p.circle(cx + rm * s * np.cos(a), cy + rm * s * np.sin(a), 0.4 * (root - hub) * s)
        p.centre_line((cx - 1.15 * s, cy), (cx + 1.15 * s, cy))
        p.centre_line((cx, cy - 1.15 * s), (cx, cy + 1.15 * s))

    def side(p: _Pen, cx, cy, s):
        left = cx - face * s / 2
        for y_a, y_b in ((-R, -bore), (bore, R)):
            p.hatch(left, cy + y_a * s, left + face * s, cy + y_b * s)
        p.rect(left, cy - R * s, left + face * s, cy + R * s)
        for r in (root, -root):
            p.line([(left, cy + r * s), (left + face * s, cy + r * s)], thick=False)
        for r in (bore, -bore):
            p.line([(left, cy + r * s), (left + face * s, cy + r * s)])
        p.centre_line((left - 0.15 * s, cy), (left + (face + 0.15) * s, cy))
        p.dimension((left, cy - R * s), (left + face * s, cy - R * s), -0.2 * s, _mm(face, unit))
        p.dimension((left + face * s, cy - R * s), (left + face * s, cy + R * s), 0.2 * s, "Ø" + _mm(2, unit))

    _layout(pen, rng, area, [_View(2.4, 2.4, front), _View(face + 0.8, 2.6, side)])


def _plate(pen: _Pen, rng: np.random.Generator, area) -> None:
    W, H = rng.uniform(1.6, 3.0), rng.uniform(0.8, 1.6)
    rows, cols = int(rng.integers(1, 4)), int(rng.integers(2, 6))
    hr = rng.uniform(0.04, min(0.1, H / (4 * rows + 2)))
    radius = rng.uniform(0, 0.15)
    thick = rng.uniform(0.06, 0.16)
    inset = rng.uniform(0.15, 0.3)
    unit = rng.uniform(40, 300)
    xs = np.linspace(-W / 2 + inset, W / 2 - inset, cols)
    ys = np.linspace(-H / 2 + inset, H / 2 - inset, rows) if rows > 1 else np.zeros(1)

    def front(p: _Pen, cx, cy, s):
        p.d.rounded_rectangle([cx - W / 2 * s, cy - H / 2 * s, cx + W / 2 * s, cy + H / 2 * s],
                              radius=radius * s, outline=p.ink, width=p.thick)
        for x in xs:
            for y in ys:
                p.circle(cx + x * s, cy + y * s, hr * s)
                m = (hr + 0.04) * s
                p.line([(cx + x * s - m, cy + y * s), (cx + x * s + m, cy + y * s)], thick=False)
                p.line([(cx + x * s, cy + y * s - m), (cx + x * s, cy + y * s + m)], thick=False)
        p.dimension((cx - W / 2 * s, cy - H / 2 * s), (cx + W / 2 * s, cy - H / 2 * s), 0.22 * s, _mm(W, unit))
        p.dimension((cx + W / 2 * s, cy - H / 2 * s), (cx + W / 2 * s, cy + H / 2 * s), -0.22 * s, _mm(H, unit))
        if cols > 1:
            p.dimension((cx + xs[0] * s, cy + H / 2 * s), (cx + xs[1] * s, cy + H / 2 * s), -0.18 * s,
                        _mm(xs[1] - xs[0], unit))

    def side(p: _Pen, cx, cy, s):
        p.rect(cx - W / 2 * s, cy - thick / 2 * s, cx + W / 2 * s, cy + thick / 2 * s)
        for x in xs:
            for sgn in (-1, 1):
                p.hidden((cx + (x + sgn * hr) * s, cy - thick / 2 * s), (cx + (x + sgn * hr) * s, cy + thick / 2 * s))

    _layout(pen, rng, area, [_View(W + 0.6, H + 0.6, front), _View(W + 0.3, thick + 0.3, side)])


def _pipe_fitting(pen: _Pen, rng: np.random.Generator, area) -> None:
    d = rng.uniform(0.35, 0.6)
    wall = rng.uniform(0.1, 0.18) * d
    fl_w, fl_t = rng.uniform(1.4, 1.8) * d, rng.uniform(0.08, 0.14)
    tee = rng.random() < 0.5
    unit = rng.uniform(20, 150)

    def flange_end(p: _Pen, centre, direction, s):
        """A flange at a pipe end: a short, wide rectangle across the pipe."""
        c0 = np.asarray(centre, float)
        u = np.asarray(direction, float)
        n = np.array([-u[1], u[0]])
        corners = [c0 + n * fl_w / 2 * s, c0 - n * fl_w / 2 * s,
                   c0 - n * fl_w / 2 * s + u * fl_t * s, c0 + n * fl_w / 2 * s + u * fl_t * s]
        p.d.polygon([tuple(q) for q in corners], outline=p.ink, width=p.thick)

    if tee:
        run, branch = rng.uniform(2.0, 3.0), rng.uniform(0.8, 1.4)

        def front(p: _Pen, cx, cy, s):
            r = d / 2
            y = cy + branch * s / 2 - 0.1 * s
            left, right = cx - run / 2 * s, cx + run / 2 * s
            for sgn in (-1, 1):
                yy = y + sgn * r * s
                if sgn < 0:  # the branch interrupts the run's upper wall
                    p.line([(left, yy), (cx - r * s, yy)])
                    p.line([(cx + r * s, yy), (right, yy)])
                else:
                    p.line([(left, yy), (right, yy)])
                p.hidden((left, y + sgn * (r - wall) * s), (right, y + sgn * (r - wall) * s))
            top = y - branch * s
            for sgn in (-1, 1):
                p.line([(cx + sgn * r * s, y - r * s), (cx + sgn * r * s, top)])
            p.centre_line((left - 0.1 * s, y), (right + 0.1 * s, y))
            p.centre_line((cx, y + 0.1 * s), (cx, top - 0.1 * s))
            flange_end(p, (left, y), (1, 0), s)
            flange_end(p, (right, y), (-1, 0), s)
            flange_end(p, (cx, top), (0, 1), s)
            p.dimension((left, y + fl_w / 2 * s), (right, y + fl_w / 2 * s), 0.2 * s, _mm(run, unit))

        main = _View(run + 0.6, branch + fl_w / 2 + 0.6, front)
    else:
        bend = rng.uniform(0.7, 1.3)
        leg = rng.uniform(0.2, 0.7)

        def front(p: _Pen, cx, cy, s):
            ox, oy = cx - (bend + leg) * s / 2, cy + (bend + leg) * s / 2  # the bend's centre, lower left
            for r, thick in ((bend + d / 2, True), (bend - d / 2, True)):
                p.d.arc([ox - r * s, oy - r * s, ox + r * s, oy + r * s], 270, 360, fill=p.ink,
                        width=p.thick if thick else p.thin)
            for k in range(12):  # the bend's centre line, dash by dash
                a0 = 270 + 90 * k / 12
                p.d.arc([ox - bend * s, oy - bend * s, ox + bend * s, oy + bend * s], a0, a0 + 4.5, fill=p.ink,
                        width=p.thin)
            for sgn in (-1, 1):  # straight legs: one going up, one going right
                x = ox + (bend + sgn * d / 2) * s
                p.line([(x, oy), (x, oy + leg * s)])
                y = oy - (bend + sgn * d / 2) * s
                p.line([(ox, y), (ox - leg * s, y)])
            flange_end(p, (ox + bend * s, oy + leg * s), (0, -1), s)
            flange_end(p, (ox - leg * s, oy - bend * s), (1, 0), s)
            p.dimension((ox - leg * s, oy - (bend + fl_w / 2) * s), (ox + bend * s, oy - (bend + fl_w / 2) * s),
                        0.15 * s, _mm(bend + leg, unit))

        main = _View(bend + leg + fl_w / 2 + 0.6, bend + leg + fl_w / 2 + 0.6, front)

    holes = int(rng.choice([4, 6, 8]))

    def end(p: _Pen, cx, cy, s):
        p.circle(cx, cy, fl_w / 2 * s)
        p.circle(cx, cy, d / 2 * s)
        p.circle(cx, cy, (d / 2 - wall) * s)
        bolt = (fl_w / 2 + d / 2) / 2
        for k in range(holes):
            a = 2 * np.pi * (k + 0.5) / holes
            p.circle(cx + bolt * s * np.cos(a), cy + bolt * s * np.sin(a), 0.25 * (fl_w - d) / 2 * s)
        p.centre_line((cx - (fl_w / 2 + 0.1) * s, cy), (cx + (fl_w / 2 + 0.1) * s, cy))
        p.centre_line((cx, cy - (fl_w / 2 + 0.1) * s), (cx, cy + (fl_w / 2 + 0.1) * s))

    _layout(pen, rng, area, [main, _View(fl_w + 0.4, fl_w + 0.4, end)])


_FAMILY_DRAWERS = {"flange": _flange, "shaft": _shaft, "bracket": _bracket, "gear": _gear, "plate": _plate,
                   "pipe_fitting": _pipe_fitting}


# ---------------------------------------------------------------------- the other pages
def _text_page(pen: _Pen, img: Image.Image, rng: np.random.Generator) -> None:
    c = pen.c
    m = rng.uniform(0.08, 0.14) * c
    line_h = rng.uniform(0.028, 0.04) * c
    y = m
    if rng.random() < 0.7:  # a heading
        _words(pen, rng, m, y, c - m - rng.uniform(0.1, 0.4) * c, 0.9 * line_h, fill=pen.ink)
        y += 2.2 * line_h
    if rng.random() < 0.3:  # a header rule
        pen.line([(m, y - 0.8 * line_h), (c - m, y - 0.8 * line_h)], thick=False)
    columns = 2 if rng.random() < 0.3 else 1
    width = (c - 2 * m - (columns - 1) * 0.04 * c) / columns
    for k in range(columns):
        x0 = m + k * (width + 0.04 * c)
        _paragraphs(pen, rng, x0, y, x0 + width, c - m - rng.uniform(0, 0.25) * c, line_h)
    _words(pen, rng, c / 2 - 0.02 * c, c - 0.6 * m, c / 2 + 0.02 * c, 0.5 * line_h)  # page number


def _table_page(pen: _Pen, img: Image.Image, rng: np.random.Generator) -> None:
    c = pen.c
    m = rng.uniform(0.08, 0.12) * c
    line_h = rng.uniform(0.028, 0.036) * c
    y = m
    _words(pen, rng, m, y, c - m - 0.3 * c, 0.8 * line_h, fill=pen.ink)
    y += 2 * line_h
    if rng.random() < 0.5:
        y = _paragraphs(pen, rng, m, y, c - m, y + rng.uniform(0.1, 0.25) * c, line_h)
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


def _photo_page(pen: _Pen, img: Image.Image, rng: np.random.Generator) -> None:
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
        _words(pen, rng, x, y, x + pw, 0.5 * line_h, last=True)  # caption
        y += 1.5 * line_h
    _paragraphs(pen, rng, m, y, c - m, c - m, line_h)


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


def _blank_page(pen: _Pen, img: Image.Image, rng: np.random.Generator) -> None:
    c = pen.c
    style = rng.integers(4)
    if style >= 1:  # a page number
        _words(pen, rng, c / 2 - 0.02 * c, 0.93 * c, c / 2 + 0.02 * c, 0.012 * c)
    if style == 2:  # "this page intentionally left blank"
        _words(pen, rng, 0.3 * c, 0.48 * c, 0.7 * c, 0.018 * c)
    if style == 3:  # scan specks and punch holes
        for _ in range(int(rng.integers(3, 30))):
            x, y = rng.uniform(0, c, 2)
            r = rng.uniform(0.5, 2.0)
            pen.d.ellipse([x - r, y - r, x + r, y + r], fill=pen.grey)
        for y in (0.3 * c, 0.7 * c):
            pen.circle(0.05 * c, y, 0.015 * c, thick=False, fill=pen.grey)


def _flowchart(pen: _Pen, rng: np.random.Generator, area) -> None:
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
                _words(pen, rng, cx - 0.3 * bw, cy - 0.08 * bh, cx + 0.3 * bw, 0.16 * bh)
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


def _schema(pen: _Pen, rng: np.random.Generator, area) -> None:
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


def _component(pen: _Pen, rng: np.random.Generator, p, q, s: float) -> None:
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


_OTHER_DRAWERS = {"text": _text_page, "table": _table_page, "photo": _photo_page, "blank": _blank_page}
