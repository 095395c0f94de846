"""The part families of the technical drawings: flange, shaft, bracket, gear, plate and pipe fitting.

Each family draws one part with random dimensions and proportions in two orthographic views (outlines,
hidden and centre lines, hatched sections, dimensions), laid out side by side or stacked at a random scale
and place in the drawing area. ``FAMILY_DRAWERS`` maps ``labels.FAMILIES`` to them. What a drawing shows
(two views or one, holes, hatching: ``labels.FEATURES``) is marked on the pen as it is drawn, for the captions.

On a scanned sheet (``scan``; the pen's ``variety`` generator is set) a family also comes in more layouts
(views swapped, set diagonally, or one view only) and sub-types: square flanges, hollow shafts, channel
brackets, spoked gears, slotted plates. The part's own dimensions are drawn as on the clean page.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .pen import Pen


class _View:
    """A view of a part: its size in part units (with room for dimensions) and how to draw it."""

    def __init__(self, w: float, h: float, draw: Callable[[Pen, float, float, float], None]) -> None:
        self.w, self.h, self.draw = w, h, draw


def _layout(pen: Pen, rng: np.random.Generator, area, views: Sequence[_View]) -> None:
    """Place two views side by side or one above the other, at a random scale and offset inside `area`."""
    x0, y0, x1, y1 = area
    aw, ah = x1 - x0, y1 - y0
    gap = 0.35
    style = "standard"
    if pen.variety is not None:  # a scanned archive's other layouts
        style = str(pen.variety.choice(["standard", "swapped", "diagonal", "single"], p=[0.4, 0.25, 0.2, 0.15]))
        gap = float(pen.variety.uniform(0.2, 0.8))
        if style == "swapped":
            views = list(views)[::-1]
        elif style == "single":
            views = list(views)[:1]
    if len(views) > 1:
        pen.mark("two_views")
    if style == "diagonal":
        tw, th = sum(v.w for v in views) + gap, sum(v.h for v in views) + gap
        scale = min(aw / tw, ah / th) * rng.uniform(0.7, 0.95)
        ox = x0 + rng.uniform(0, aw - tw * scale)
        oy = y0 + rng.uniform(0, ah - th * scale)
        px = py = 0.0
        for v in views:
            v.draw(pen, ox + (px + v.w / 2) * scale, oy + (py + v.h / 2) * scale, scale)
            px, py = px + v.w + gap, py + v.h + gap
        return
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


def _hole(pen: Pen, cx: float, cy: float, r: float) -> None:
    """A hole seen end on (a bolt, fixing or lightening hole; not the bore): a circle, marked as "holes" when
    it is drawn at all."""
    pen.circle(cx, cy, r)
    if r > 0.5:
        pen.mark("holes")


def _sub_type(pen: Pen, p: float) -> bool:
    """Whether a scanned sheet's part is its family's other sub-type (probability `p`; never on a clean page)."""
    return pen.variety is not None and bool(pen.variety.random() < p)


def _mm(value: float, unit: float) -> str:
    return str(int(round(value * unit)))


def _flange(pen: Pen, rng: np.random.Generator, area) -> None:
    R = 1.0
    bore = rng.uniform(0.22, 0.42)
    hub = rng.uniform(bore + 0.12, 0.62)
    bolt = rng.uniform(hub + 0.1, 0.85)
    n_holes = int(rng.choice([4, 6, 8]))
    hole = rng.uniform(0.05, min(0.1, (1 - bolt) * 0.8))
    t, th = rng.uniform(0.2, 0.45), rng.uniform(0.15, 0.5)
    unit = rng.uniform(60, 400)
    square = _sub_type(pen, 0.35)  # a square flange

    def front(p: Pen, cx, cy, s):
        if square:
            p.d.rounded_rectangle([cx - R * s, cy - R * s, cx + R * s, cy + R * s], radius=0.15 * R * s,
                                  outline=p.ink, width=p.thick)
        else:
            p.circle(cx, cy, R * s)
        p.circle(cx, cy, hub * s, thick=False)
        p.circle(cx, cy, bore * s)
        p.dashed_circle(cx, cy, bolt * s, n=28)
        a0 = rng.uniform(0, np.pi / n_holes)
        for k in range(n_holes):
            a = a0 + 2 * np.pi * k / n_holes
            _hole(p, cx + bolt * s * np.cos(a), cy + bolt * s * np.sin(a), hole * s)
        p.centre_line((cx - 1.15 * R * s, cy), (cx + 1.15 * R * s, cy))
        p.centre_line((cx, cy - 1.15 * R * s), (cx, cy + 1.15 * R * s))

    def side(p: Pen, cx, cy, s):
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


def _shaft(pen: Pen, rng: np.random.Generator, area) -> None:
    n = int(rng.integers(3, 6))
    lengths = rng.uniform(0.35, 1.1, n)
    diams = rng.uniform(0.3, 0.75, n)
    diams[int(rng.integers(1, n - 1))] = rng.uniform(0.8, 1.0)  # a shoulder somewhere in the middle
    L = lengths.sum()
    key = int(rng.integers(n))
    unit = rng.uniform(40, 250)
    hollow = min(diams) * 0.35 if _sub_type(pen, 0.4) else 0.0  # a hollow shaft: a bore all through

    def bore(p: Pen, cx, cy, s):
        if hollow:
            for sgn in (-1, 1):
                p.hidden((cx - L * s / 2, cy + sgn * hollow / 2 * s), (cx + L * s / 2, cy + sgn * hollow / 2 * s))

    def side(p: Pen, cx, cy, s):
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
        bore(p, cx, cy, s)
        p.centre_line((cx - (L / 2 + 0.15) * s, cy), (cx + (L / 2 + 0.15) * s, cy))
        p.dimension((cx - L * s / 2, cy + diams[0] / 2 * s), (cx + L * s / 2, cy + diams[-1] / 2 * s),
                    (max(diams) - diams[0] / 2 + 0.05) * s + 0.2 * s, _mm(L, unit))
        big = int(np.argmax(diams))
        xb = cx - L * s / 2 + lengths[:big].sum() * s
        p.dimension((xb, cy - diams[big] / 2 * s), (xb, cy + diams[big] / 2 * s), 0.2 * s,
                    "Ø" + _mm(diams[big], unit))

    def end(p: Pen, cx, cy, s):
        for d in sorted(set(np.round(diams, 3)))[-3:]:
            p.circle(cx, cy, d / 2 * s)
        if hollow:
            p.circle(cx, cy, hollow / 2 * s)
        p.centre_line((cx - 0.6 * s, cy), (cx + 0.6 * s, cy))
        p.centre_line((cx, cy - 0.6 * s), (cx, cy + 0.6 * s))

    _layout(pen, rng, area, [_View(L + 0.4, 1.6, side), _View(1.3, 1.3, end)])


def _bracket(pen: Pen, rng: np.random.Generator, area) -> None:
    a, b = rng.uniform(1.2, 2.2), rng.uniform(0.8, 1.8)
    t = rng.uniform(0.14, 0.28)
    depth = rng.uniform(0.6, 1.1)
    gusset = rng.random() < 0.5
    holes = np.sort(rng.uniform(t + 0.25, a - 0.15, int(rng.integers(1, 4))))
    holes = holes[np.concatenate([[True], np.diff(holes) > 0.22])]
    hr = rng.uniform(0.05, 0.09)
    unit = rng.uniform(40, 200)
    channel = _sub_type(pen, 0.35)  # a channel (U) bracket: a second leg at the far end
    if channel:
        holes = holes[holes < a - t - 0.15] if (holes < a - t - 0.15).any() else holes[:1] * 0 + a / 2

    def front(p: Pen, cx, cy, s):
        ox, oy = cx - a * s / 2, cy + b * s / 2  # y grows downwards on the page
        pts = [(0, 0), (a, 0), (a, t), (t, t), (t, b), (0, b)]
        if channel:
            pts = [(0, 0), (a, 0), (a, b), (a - t, b), (a - t, t), (t, t), (t, b), (0, b)]
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

    def top(p: Pen, cx, cy, s):
        ox, oy = cx - a * s / 2, cy - depth * s / 2
        p.rect(ox, oy, ox + a * s, oy + depth * s)
        p.line([(ox + t * s, oy), (ox + t * s, oy + depth * s)])
        if channel:
            p.line([(ox + (a - t) * s, oy), (ox + (a - t) * s, oy + depth * s)])
        for hx in holes:
            _hole(p, ox + hx * s, oy + depth * s / 2, hr * s)
            p.centre_line((ox + hx * s, oy - 0.05 * s), (ox + hx * s, oy + (depth + 0.05) * s))

    _layout(pen, rng, area, [_View(a + 0.6, b + 0.6, front), _View(a + 0.3, depth + 0.3, top)])


def _gear(pen: Pen, rng: np.random.Generator, area) -> None:
    teeth = int(rng.integers(10, 29))
    R = 1.0
    root = R - rng.uniform(0.08, 0.15)
    bore = rng.uniform(0.14, 0.28)
    hub = rng.uniform(bore + 0.1, 0.5)
    lighten = int(rng.choice([0, 4, 5, 6])) if rng.random() < 0.7 else 0
    face = rng.uniform(0.25, 0.55)
    unit = rng.uniform(40, 300)
    spokes = int(pen.variety.choice([4, 5, 6])) if _sub_type(pen, 0.35) else 0  # a spoked wheel
    if spokes:
        lighten = 0

    def front(p: Pen, cx, cy, s):
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
            _hole(p, cx + rm * s * np.cos(a), cy + rm * s * np.sin(a), 0.4 * (root - hub) * s)
        if spokes:
            rim = root - 0.12
            p.circle(cx, cy, rim * s, thick=False)
            for k in range(spokes):
                a = 2 * np.pi * k / spokes
                u, n = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
                for sgn in (-1, 1):
                    q0 = np.array([cx, cy]) + (hub * u + sgn * 0.06 * n) * s
                    q1 = np.array([cx, cy]) + (rim * u + sgn * 0.06 * n) * s
                    p.line([q0, q1], thick=False)
        p.centre_line((cx - 1.15 * s, cy), (cx + 1.15 * s, cy))
        p.centre_line((cx, cy - 1.15 * s), (cx, cy + 1.15 * s))

    def side(p: Pen, cx, cy, s):
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


def _plate(pen: Pen, rng: np.random.Generator, area) -> None:
    W, H = rng.uniform(1.6, 3.0), rng.uniform(0.8, 1.6)
    rows, cols = int(rng.integers(1, 4)), int(rng.integers(2, 6))
    hr = rng.uniform(0.04, min(0.1, H / (4 * rows + 2)))
    radius = rng.uniform(0, 0.15)
    thick = rng.uniform(0.06, 0.16)
    inset = rng.uniform(0.15, 0.3)
    unit = rng.uniform(40, 300)
    slot = _sub_type(pen, 0.35)  # a slotted plate: a long slot along the middle instead of a middle row
    xs = np.linspace(-W / 2 + inset, W / 2 - inset, cols)
    ys = np.linspace(-H / 2 + inset, H / 2 - inset, rows) if rows > 1 else np.zeros(1)

    def front(p: Pen, cx, cy, s):
        p.d.rounded_rectangle([cx - W / 2 * s, cy - H / 2 * s, cx + W / 2 * s, cy + H / 2 * s],
                              radius=radius * s, outline=p.ink, width=p.thick)
        for x in xs:
            for y in ys:
                if slot and abs(y) < 1e-9:
                    continue
                _hole(p, cx + x * s, cy + y * s, hr * s)
                m = (hr + 0.04) * s
                p.line([(cx + x * s - m, cy + y * s), (cx + x * s + m, cy + y * s)], thick=False)
                p.line([(cx + x * s, cy + y * s - m), (cx + x * s, cy + y * s + m)], thick=False)
        if slot:
            sw, sh = 0.6 * W, max(0.1, 0.25 * H / max(rows, 1))
            p.d.rounded_rectangle([cx - sw / 2 * s, cy - sh / 2 * s, cx + sw / 2 * s, cy + sh / 2 * s],
                                  radius=sh / 2 * s, outline=p.ink, width=p.thick)
        p.dimension((cx - W / 2 * s, cy - H / 2 * s), (cx + W / 2 * s, cy - H / 2 * s), 0.22 * s, _mm(W, unit))
        p.dimension((cx + W / 2 * s, cy - H / 2 * s), (cx + W / 2 * s, cy + H / 2 * s), -0.22 * s, _mm(H, unit))
        if cols > 1:
            p.dimension((cx + xs[0] * s, cy + H / 2 * s), (cx + xs[1] * s, cy + H / 2 * s), -0.18 * s,
                        _mm(xs[1] - xs[0], unit))

    def side(p: Pen, cx, cy, s):
        p.rect(cx - W / 2 * s, cy - thick / 2 * s, cx + W / 2 * s, cy + thick / 2 * s)
        for x in xs:
            for sgn in (-1, 1):
                p.hidden((cx + (x + sgn * hr) * s, cy - thick / 2 * s), (cx + (x + sgn * hr) * s, cy + thick / 2 * s))

    _layout(pen, rng, area, [_View(W + 0.6, H + 0.6, front), _View(W + 0.3, thick + 0.3, side)])


def _pipe_fitting(pen: Pen, rng: np.random.Generator, area) -> None:
    d = rng.uniform(0.35, 0.6)
    wall = rng.uniform(0.1, 0.18) * d
    fl_w, fl_t = rng.uniform(1.4, 1.8) * d, rng.uniform(0.08, 0.14)
    tee = rng.random() < 0.5
    unit = rng.uniform(20, 150)

    def flange_end(p: Pen, centre, direction, s):
        """A flange at a pipe end: a short, wide rectangle across the pipe."""
        c0 = np.asarray(centre, float)
        u = np.asarray(direction, float)
        n = np.array([-u[1], u[0]])
        corners = [c0 + n * fl_w / 2 * s, c0 - n * fl_w / 2 * s,
                   c0 - n * fl_w / 2 * s + u * fl_t * s, c0 + n * fl_w / 2 * s + u * fl_t * s]
        p.d.polygon([tuple(q) for q in corners], outline=p.ink, width=p.thick)

    if tee:
        run, branch = rng.uniform(2.0, 3.0), rng.uniform(0.8, 1.4)

        def front(p: Pen, cx, cy, s):
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

        def front(p: Pen, cx, cy, s):
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

    def end(p: Pen, cx, cy, s):
        p.circle(cx, cy, fl_w / 2 * s)
        p.circle(cx, cy, d / 2 * s)
        p.circle(cx, cy, (d / 2 - wall) * s)
        bolt = (fl_w / 2 + d / 2) / 2
        for k in range(holes):
            a = 2 * np.pi * (k + 0.5) / holes
            _hole(p, cx + bolt * s * np.cos(a), cy + bolt * s * np.sin(a), 0.25 * (fl_w - d) / 2 * s)
        p.centre_line((cx - (fl_w / 2 + 0.1) * s, cy), (cx + (fl_w / 2 + 0.1) * s, cy))
        p.centre_line((cx, cy - (fl_w / 2 + 0.1) * s), (cx, cy + (fl_w / 2 + 0.1) * s))

    _layout(pen, rng, area, [main, _View(fl_w + 0.4, fl_w + 0.4, end)])


FAMILY_DRAWERS = {"flange": _flange, "shaft": _shaft, "bracket": _bracket, "gear": _gear, "plate": _plate,
                   "pipe_fitting": _pipe_fitting}
