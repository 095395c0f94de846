"""Scan realism: what an archive of scanned sheets does to a page, drawn from one number, ``realism`` in [0, 1].

0 is the clean page (``render_page`` then draws exactly what it drew before realism existed); 1 is the
default of notebook 04. Every knob grows with realism, and every draw comes from the page's own realism
generator (``Scan.draw``), apart from the one the page's content is drawn with, so a page shows the same
part at every realism and the clean page is untouched. In the generator (``render`` and ``parts`` ask for
them) and then on the sheet:

* **sheet** — a portrait or landscape sheet of A-series proportions (1 : sqrt 2), read onto the square page
  the way ``clipbook.data.pdf`` reads any page (stretched to the square): the part's views and the title block
  are squashed along one axis (``squash``, up to 1/sqrt 2 at realism 1; a square sheet otherwise);
* **placement** — the views, laid out as before, are scaled again (down to ~45% at realism 1) and placed
  anywhere in the drawing area (``views_scale``, ``views_x``, ``views_y``);
* **layouts and sub-types** — ``variety`` is the generator the part families take their extra layouts
  (views swapped, stacked diagonally, one view only) and sub-types (square flange, hollow shaft, channel
  bracket, spoked gear, slotted plate) from; ``None`` on a clean page;
* **line weight** — outlines and thin lines thicker or thinner than the drawing standard (``weight``), ink
  faded (``fade``);
* **title block** — still in the sheet's bottom-right corner in its institution's style, a little smaller or
  larger per sheet (``block_scale``), squashed with the sheet;
* **the scan** — rotation and skew of a few degrees, a small shift and zoom (``warp``), blur, paper tone
  and tint, uneven light, sensor noise, speckle (dust, toner dots), and JPEG compression artefacts.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

A_SERIES = math.sqrt(2)  # the long side of an A-series sheet over its short side


@dataclass
class Scan:
    """One page's scan, drawn from its seed and the realism (see the module's docstring for each knob)."""

    realism: float
    variety: np.random.Generator
    squash: tuple[float, float]
    views_scale: float
    views_x: float
    views_y: float
    weight: float
    fade: float
    block_scale: float
    warp: tuple[float, float, float, float, float]  # rotation (deg), skew (deg), zoom, shift x, shift y (page fractions)
    blur: float
    paper_drop: float
    tint: float
    light: tuple[float, float]  # strength, direction (radians)
    noise: float
    speckle: float
    jpeg_quality: int | None

    @classmethod
    def draw(cls, seed: int, realism: float) -> "Scan":
        r = float(realism)
        g = np.random.default_rng([seed, 4_242_4242])
        u = lambda lo, hi: float(g.uniform(lo, hi))  # noqa: E731
        sheet = g.random()
        squash = A_SERIES ** -r  # the short side shrinks against the long one when the sheet is stretched square
        if sheet < 0.1 + 0.3 * (1 - r):  # a square sheet
            squash_xy = (1.0, 1.0)
        elif g.random() < 0.5:  # landscape: the page is squashed horizontally
            squash_xy = (squash, 1.0)
        else:  # portrait
            squash_xy = (1.0, squash)
        return cls(
            realism=r,
            variety=np.random.default_rng([seed, 5_151_5151]),
            squash=squash_xy,
            views_scale=u(1 - 0.55 * r, 1.0),
            views_x=u(0, 1), views_y=u(0, 1),
            weight=float(np.clip(math.exp(g.normal(0, 0.45 * r)), 0.5, 2.2)),
            fade=u(0, 90 * r),
            block_scale=u(1 - 0.2 * r, 1.0),
            warp=(u(-3.5, 3.5) * r, u(-1.5, 1.5) * r, 1 + u(-0.05, 0.02) * r, u(-0.02, 0.02) * r, u(-0.02, 0.02) * r),
            blur=u(0, 1.4 * r),
            paper_drop=u(0, 45 * r),
            tint=u(0, 0.12 * r),
            light=(u(0, 0.12 * r), u(0, 2 * math.pi)),
            noise=u(1, 7) * r,
            speckle=u(0, 0.004 * r),
            jpeg_quality=int(round(95 - u(30, 80) * r)) if g.random() < 0.5 + 0.5 * r else None,
        )

    # ------------------------------------------------------------------ on the canvas (twice the page size)
    def place_views(self, sheet: Image.Image, layer: Image.Image, area) -> None:
        """Scale the views drawn on `layer` (white paper) by the sheet's squash and `views_scale`, place them in
        `area` and print them onto `sheet` (the darker of the two wins, as ink on paper)."""
        ink = np.asarray(layer) < 250
        if not ink.any():
            return
        ys, xs = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
        box = (int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1)
        crop = layer.crop(box)
        x0, y0, x1, y1 = area
        w, h = crop.size
        fx, fy = self.squash
        fit = min((x1 - x0) / (w * fx), (y1 - y0) / (h * fy))
        s = min(fit, 1.15) * self.views_scale
        nw, nh = max(1, round(w * fx * s)), max(1, round(h * fy * s))
        crop = crop.resize((nw, nh), Image.LANCZOS)
        px = int(x0 + self.views_x * max(0.0, x1 - x0 - nw))
        py = int(y0 + self.views_y * max(0.0, y1 - y0 - nh))
        region = sheet.crop((px, py, px + nw, py + nh))
        sheet.paste(Image.fromarray(np.minimum(np.asarray(region), np.asarray(crop))), (px, py))

    def block_size(self, box) -> tuple[int, int, int, int]:
        """Where the title block's crop `box` (anchored at its bottom-right corner) goes on this sheet."""
        x0, y0, x1, y1 = box
        fx, fy = self.squash
        w = max(1, round((x1 - x0) * fx * self.block_scale))
        h = max(1, round((y1 - y0) * fy * self.block_scale))
        return x1 - w, y1 - h, x1, y1

    def scan(self, img: Image.Image, paper) -> Image.Image:
        """The scanner's warp and optics on the whole canvas: rotation, skew, zoom, shift, blur."""
        c = img.size[0]
        rot, skew, zoom, tx, ty = self.warp
        a, k = math.radians(rot), math.radians(skew)
        # output pixel -> input pixel: about the page's centre, rotate, skew, zoom, then shift
        m = np.array([[math.cos(a), -math.sin(a + k)], [math.sin(a), math.cos(a + k)]]) / zoom
        centre = np.array([c / 2, c / 2])
        offset = centre - m @ (centre + np.array([tx, ty]) * c)
        img = img.transform(img.size, Image.AFFINE, (m[0, 0], m[0, 1], offset[0], m[1, 0], m[1, 1], offset[1]),
                            resample=Image.BILINEAR, fillcolor=paper)
        if self.blur > 0.05:
            img = img.filter(ImageFilter.GaussianBlur(self.blur))
        return img

    # ------------------------------------------------------------------ on the page
    def degrade(self, page: np.ndarray, seed: int) -> np.ndarray:
        """Paper tone and tint, uneven light, noise, speckle and JPEG artefacts on a uint8 RGB page."""
        g = np.random.default_rng([seed, 6_161_6161])
        s = page.shape[0]
        x = page.astype(np.float32)
        x -= self.paper_drop * (x / 255)  # the paper (and the ink a little) darker
        strength, direction = self.light
        yy, xx = np.mgrid[0:s, 0:s] / s - 0.5
        x *= (1 - strength * (0.5 + xx * math.cos(direction) + yy * math.sin(direction)))[..., None]
        x *= np.array([1.0, 1 - 0.35 * self.tint, 1 - self.tint], np.float32)  # yellowed paper
        x += g.normal(0, self.noise, (s, s, 1)).astype(np.float32)
        dots = g.random((s, s)) < self.speckle
        x[dots] = g.uniform(0, 120, (int(dots.sum()), 1))
        page = np.clip(x, 0, 255).round().astype(np.uint8)
        if self.jpeg_quality is not None:
            buf = io.BytesIO()
            Image.fromarray(page).save(buf, format="JPEG", quality=max(5, self.jpeg_quality))
            buf.seek(0)
            page = np.asarray(Image.open(buf).convert("RGB"))
        return page
