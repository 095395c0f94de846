"""The archive as a dataset: ``PageCorpus`` samples what each page shows (kinds, families, templates and how
they correlate), renders the pages, labels them and caches them under ``data/cache``; ``PageData`` holds the
result.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ...utils import atomic_path, check_choice, check_positive, data_dir
from .labels import FAMILIES, FEATURES, PAGE_KINDS, TITLE_BLOCKS, WEB_TITLE_BLOCKS, PageSpec
from .render import draw_page

# How the pages that are not drawings split among the other kinds.
OTHER_MIX: dict[str, float] = {"text": 0.35, "table": 0.2, "photo": 0.15, "blank": 0.1, "diagram": 0.2}
_CACHE_VERSION = 3  # 2: scan realism; 3: visible features
# Fewer pages than this render in the calling process: forking workers would cost more than it saves.
_PARALLEL_MIN_PAGES = 256


def render_workers() -> int:
    """How many processes ``PageCorpus.draw`` renders pages with: ``CLIPBOOK_RENDER_WORKERS`` when set (1: all in
    the calling process), else the CPUs this process may use. Workers are forked, so outside Linux (where fork
    is not safe, or not there) the pages render in the calling process whatever is asked.

    Every page has its own seed, so the pages are the same, bit for bit, however many processes draw them.
    Measured on two cores: 1,000 scanned pages of 128 px in 5.8 s in one process, 2.9 s in two."""
    raw = os.environ.get("CLIPBOOK_RENDER_WORKERS", "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"CLIPBOOK_RENDER_WORKERS={raw!r} is not allowed: give a whole number of processes, "
                             "1 or more (1 renders in the calling process).")
        wanted = int(raw)
    else:
        wanted = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return wanted if sys.platform.startswith("linux") else 1


def _draw_pages(specs: Sequence[PageSpec], page_size: int, title_block: bool,
                realism: float) -> tuple[np.ndarray, np.ndarray]:
    """Pages drawn in this process: uint8 images (N, S, S, 3) and the features each shows (N, len(FEATURES))."""
    out = np.empty((len(specs), page_size, page_size, 3), np.uint8)
    features = np.zeros((len(specs), len(FEATURES)), bool)
    for i, spec in enumerate(specs):
        out[i], drawn = draw_page(spec, page_size, title_block, realism)
        features[i] = [f in drawn for f in FEATURES]
    return out, features


@dataclass
class PageData:
    """Rendered pages: uint8 images (N, S, S, 3), integer labels (-1: none) for kind, family, template, and
    `features`, booleans (N, len(FEATURES)): which of ``FEATURES`` (two views, holes, hatching) each page's
    drawing shows (None: not known, as for pages not generated here)."""

    images: np.ndarray
    kind: np.ndarray
    family: np.ndarray
    template: np.ndarray
    families: tuple[str, ...] = FAMILIES
    templates: tuple[str, ...] = TITLE_BLOCKS
    features: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)

    @property
    def is_drawing(self) -> np.ndarray:
        """Boolean mask of the technical drawings."""
        return self.kind == PAGE_KINDS.index("drawing")

    def shows(self, i: int) -> tuple[str, ...]:
        """The visible features (``FEATURES``) page `i`'s drawing shows; () for other pages."""
        if self.features is None:
            raise ValueError("these pages carry no features: only pages PageCorpus generated know what they show.")
        return tuple(f for f, on in zip(FEATURES, self.features[i]) if on)

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
                        self.families, self.templates, None if self.features is None else self.features[index])


def check_fraction(name: str, value: float) -> float:
    """Return `value` if it is a number in [0, 1], else raise naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 <= value <= 1:
        raise ValueError(f"{name}={value!r} is not allowed: it must be a number from 0 to 1.")
    return float(value)


class PageCorpus:
    """The generator of an archive's pages: which kinds, families and templates, and how they correlate.

    `realism` in [0, 1] draws the pages as a scanned archive (``scan``: sheet formats, placement, layouts and
    sub-types, line weights, the scanner's warp, blur, paper, noise, speckle, JPEG); 0, the default, draws the
    clean pages. Realism changes pixels only: the same seed gives the same pages' labels at every realism.

    >>> corpus = PageCorpus(page_size=128, drawing_fraction=0.5, title_block_correlation=0.0, realism=1.0)
    >>> pages = corpus.dataset(2000, seed=0)
    >>> pages.images.shape, pages.names(0)
    """

    def __init__(self, page_size: int = 128, drawing_fraction: float = 0.5, title_block_correlation: float = 0.0,
                 families: Sequence[str] = FAMILIES, templates: Sequence[str] = TITLE_BLOCKS,
                 other_mix: Mapping[str, float] | None = None, realism: float = 0.0) -> None:
        check_positive("page_size", page_size)
        if page_size < 64:
            raise ValueError(f"page_size={page_size!r} is not allowed: it must be at least 64 pixels.")
        self.page_size = int(page_size)
        self.drawing_fraction = check_fraction("drawing_fraction", drawing_fraction)
        self.title_block_correlation = check_fraction("title_block_correlation", title_block_correlation)
        self.realism = check_fraction("realism", realism)
        for name, values, known in (("families", list(families), FAMILIES),
                                    ("templates", list(templates), TITLE_BLOCKS + WEB_TITLE_BLOCKS)):
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
                "templates": list(self.templates), "other_mix": self.other_mix, "realism": self.realism}

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
        return self.draw(specs, title_block)[0]

    def draw(self, specs: Sequence[PageSpec], title_block: bool = True,
             workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """`render`'s images and the features each page shows: booleans (N, len(FEATURES)). `workers`: processes
        to render with (None: ``render_workers()``); the pages are the same for any number."""
        if workers is None:
            workers = render_workers()
        check_positive("workers", workers)
        args = (self.page_size, title_block, self.realism)
        if (workers == 1 or len(specs) < _PARALLEL_MIN_PAGES or not sys.platform.startswith("linux")
                or multiprocessing.current_process().daemon):  # a daemonic process may not start others
            return _draw_pages(specs, *args)
        # contiguous chunks, a few per worker so that a slow chunk does not leave the others idle, put back in order
        size = -(-len(specs) // (4 * workers))
        chunks = [specs[i:i + size] for i in range(0, len(specs), size)]
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            parts = list(pool.map(_draw_pages, chunks, *([a] * len(chunks) for a in args)))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

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
                    return PageData(z["images"], z["kind"], z["family"], z["template"], self.families, self.templates,
                                    z["features"])
            except (OSError, ValueError, KeyError, EOFError):
                path.unlink(missing_ok=True)  # a damaged cache file is regenerated, not trusted
        specs = self.sample(n, seed=seed, drawings_only=drawings_only)
        images, features = self.draw(specs)
        kind, family, template = self.labels(specs)
        if cache:
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, images=images, kind=kind, family=family, template=template, features=features)
        return PageData(images, kind, family, template, self.families, self.templates, features)
