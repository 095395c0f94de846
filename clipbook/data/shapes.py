"""A procedural world of coloured shapes with captions (notebook 01 introduces it).

Every image holds one of three kinds of scene, each described in several phrasings:

* ``single``: one shape with a colour, a size and a position ("a large red circle in the top left"),
* ``count``:  two to four copies of one small shape ("three blue stars"),
* ``pair``:   two different shapes side by side or one above the other, near each other or far apart
  ("a green square to the left of a yellow cross", "a green square far from a yellow cross").

Some colour-shape compositions are *held out*: they never appear in a training image or caption, so
later notebooks can test zero-shot transfer to compositions the model never saw. Generation is
deterministic for a seed, fast (numpy stamping of pre-rendered anti-aliased masks), and cached under
``data/cache`` when asked for again with the same parameters.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

import numpy as np
from matplotlib.path import Path as MplPath

from ..utils import atomic_path, check_choice, check_positive, data_dir

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross", "star")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 45, 45),
    "green": (50, 170, 70),
    "blue": (50, 90, 230),
    "yellow": (235, 215, 50),
    "purple": (150, 70, 200),
    "orange": (245, 145, 40),
}
SIZES: tuple[str, ...] = ("small", "large")
SCENE_KINDS: tuple[str, ...] = ("single", "count", "pair")
SPLITS: tuple[str, ...] = ("train", "val", "heldout")
COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
# A pair's relation says where objects[0] is from objects[1]; the inverse says where objects[1] is from objects[0].
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
INVERSE_RELATION: dict[str, str] = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
# 3x3 grid of named positions (row, column) and how a caption says "where".
POSITIONS = {
    (0, 0): "in the top left", (0, 1): "at the top", (0, 2): "in the top right",
    (1, 0): "on the left", (1, 1): "in the centre", (1, 2): "on the right",
    (2, 0): "in the bottom left", (2, 1): "at the bottom", (2, 2): "in the bottom right",
}
DEFAULT_MIX = {"single": 0.5, "count": 0.25, "pair": 0.25}
_CACHE_VERSION = 2


def mirror_cells(cell: tuple[int, int]) -> set[tuple[int, int]]:
    """The cell's mirror images in the 3x3 grid, across the vertical or the horizontal midline or the centre
    (top left -> top right, bottom left, bottom right); the centre has none."""
    (r, c), last = cell, 2  # rows and columns run 0..2
    return {(r, last - c), (last - r, c), (last - r, last - c)} - {cell}


def a(phrase: str) -> str:
    """The phrase with its indefinite article ("an orange star", "a red star")."""
    return ("an " if phrase[:1] in "aeiou" else "a ") + phrase


def plural(shape: str) -> str:
    """English plural of a shape name ("cross" -> "crosses")."""
    return shape + ("es" if shape.endswith(("s", "x", "sh", "ch")) else "s")


def relation_phrase(relation: str) -> str:
    """How a caption says a relation between two shapes: "to the left of", "to the right of", "above", "below"."""
    check_choice("relation", relation, RELATIONS)
    return "to the " + relation if relation in ("left of", "right of") else relation


@dataclass(frozen=True)
class ShapeObject:
    """One shape on the canvas: what it is and where its centre lies (pixels)."""

    shape: str
    colour: str
    size: str
    x: float
    y: float

    @property
    def name(self) -> str:
        """The colour-shape class name, e.g. "red circle"."""
        return f"{self.colour} {self.shape}"


@dataclass(frozen=True)
class Scene:
    """What an image shows; its captions are derived from it, never stored separately."""

    kind: str
    objects: tuple[ShapeObject, ...]
    relation: str | None = None  # for pairs: objects[0] <relation> objects[1]
    position: tuple[int, int] | None = None  # for singles: (row, column) in the 3x3 grid
    distance: str | None = None  # for pairs: "near" (neighbouring cells) or "far from" (opposite edges)

    @property
    def count(self) -> int:
        return len(self.objects)

    def captions(self) -> list[str]:
        """Every phrasing of this scene; the first one is the canonical (most specific) caption."""
        o = self.objects[0]
        if self.kind == "single":
            where = POSITIONS[self.position]
            thing, sized = f"{o.colour} {o.shape}", f"{o.size} {o.colour} {o.shape}"
            return [
                f"{a(sized)} {where}",
                a(thing),
                f"a photo of {a(thing)}",
                a(sized),
                f"there is {a(thing)} {where}",
            ]
        if self.kind == "count":
            n, word, many = self.count, COUNT_WORDS[self.count], plural(o.shape)
            return [
                f"{word} {o.colour} {many}",
                f"a photo of {word} {o.colour} {many}",
                f"there are {word} {o.colour} {many}",
                f"{n} {o.colour} {many}",
                f"an image of {word} {o.colour} {many}",
            ]
        first, second = a(self.objects[0].name), a(self.objects[1].name)
        rel = self.relation
        return [
            f"{first} {relation_phrase(rel)} {second}",
            f"{second} {relation_phrase(INVERSE_RELATION[rel])} {first}",
            f"a photo of {first} {rel} {second}",
            f"{first} and {second}",
            f"{first} {self.distance} {second}",
        ]

    def hard_negatives(self) -> list[list[str]]:
        """For each of `captions()`, the captions that say the same except *where*, and so are false of this scene
        (NegCLIP's hard negatives, for `train_clip(hard_negatives=...)`): a single shape in each mirror image of its
        cell, a pair with its relation inverted. Empty for a phrasing that says no position or relation, for the
        centre (no mirror image) and for counts."""
        captions = self.captions()
        if self.kind == "single":
            where = POSITIONS[self.position]
            return [[c.replace(where, POSITIONS[m]) for m in sorted(mirror_cells(self.position))] if where in c
                    else [] for c in captions]
        if self.kind == "pair":
            first, second = a(self.objects[0].name), a(self.objects[1].name)
            rel, inv = self.relation, INVERSE_RELATION[self.relation]
            return [[f"{first} {relation_phrase(inv)} {second}"], [f"{second} {relation_phrase(rel)} {first}"],
                    [f"a photo of {first} {inv} {second}"], [], []]
        return [[] for _ in captions]

    @property
    def caption(self) -> str:
        """The canonical caption: the one evaluation uses."""
        return self.captions()[0]

    @property
    def meaning(self) -> str:
        """What the canonical caption says, one key for its wordings: a pair's two canonical captions ("a red
        circle to the left of a blue star", "a blue star to the right of a red circle") share it, and no two
        captions that differ in anything else do (`miss_cause` calls them SAME_MEANING). For
        `retrieval.recall_ceiling`."""
        if self.kind == "pair":
            return min(self.captions()[:2])
        return self.caption

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(d: Mapping) -> "Scene":
        objs = tuple(ShapeObject(**o) for o in d["objects"])
        pos = tuple(d["position"]) if d.get("position") is not None else None
        return Scene(kind=d["kind"], objects=objs, relation=d.get("relation"), position=pos,
                     distance=d.get("distance"))


# What a retrieval miss got wrong (`miss_cause`): the "where" causes, and the "what" ones (every other).
WHERE_CAUSES: tuple[str, ...] = ("position (mirrored)", "position (other)", "relation")
WHAT_CAUSES: tuple[str, ...] = ("colour", "shape", "size", "count", "colours swapped", "an object", "scene kind")
# not a mistake: "a red circle to the left of a blue star" against "a blue star to the right of a red circle"
SAME_MEANING = "same pair, other wording"


def miss_cause(truth: Scene, guess: Scene) -> str:
    """What the scene `guess` (the caption a model ranked first) gets wrong about `truth`, as a label.

    A single shape's or a count's differing attributes are joined with "+" ("shape+position (mirrored)"); a
    position is "mirrored" when the guess is the truth's mirror image across the vertical or the horizontal
    midline or the centre (top left -> top right, bottom left or bottom right), "other" otherwise. A pair is
    SAME_MEANING when the guess says the same thing the other way round (two canonical captions for one
    layout), "relation" when it names the same two objects otherwise, "colours swapped" when it names the
    same colours and shapes bound differently, else "an object". Different scene kinds: "scene kind".
    Identical captions: "none"."""
    if truth.caption == guess.caption:
        return "none"
    if truth.kind != guess.kind:
        return "scene kind"
    if truth.kind == "pair":
        (t0, t1), (g0, g1) = truth.objects, guess.objects
        if (t0.name, t1.name) == (g1.name, g0.name) and guess.relation == INVERSE_RELATION[truth.relation]:
            return SAME_MEANING
        if sorted([t0.name, t1.name]) == sorted([g0.name, g1.name]):
            return "relation"
        if all(sorted(getattr(o, k) for o in truth.objects) == sorted(getattr(o, k) for o in guess.objects)
               for k in ("colour", "shape")):
            return "colours swapped"
        return "an object"
    a, b = truth.objects[0], guess.objects[0]
    parts = [k for k in ("colour", "shape", "size") if getattr(a, k) != getattr(b, k)]
    if truth.kind == "count" and truth.count != guess.count:
        parts.append("count")
    if truth.kind == "single" and truth.position != guess.position:
        parts.append("position (mirrored)" if guess.position in mirror_cells(truth.position) else "position (other)")
    return "+".join(parts)


def is_where_cause(cause: str) -> bool:
    """True when every part of a `miss_cause` label is a "where" cause (position or relation)."""
    return cause not in ("", "none") and all(part in WHERE_CAUSES for part in cause.split("+"))


WhereQuestions = dict[str, tuple[list[int], list[list[str]], list[int]]]


def where_questions(scenes: Sequence[Scene], rng: np.random.Generator | None = None) -> WhereQuestions:
    """Multiple-choice questions on *where* alone: both kinds in notebook 01's section 8 and
    `benchmarks/position_trials.py`, the relation ones in notebook 05 (beside its pixel rule).

    "single": a single shape's cell among the nine, its size, colour and shape named ("a large red circle in the
    top left", ... ; chance 1/9). "pair": a pair's relation among the four, both shapes named ("a red circle to
    the left of a blue star", ... ; chance 1/4); with `rng`, each pair is named in either order (one draw per
    pair, in order), else in its caption's. Counts ask nothing. Returns, per kind, (scene indices, candidate
    captions per question, index of the true one)."""
    questions: WhereQuestions = {"single": ([], [], []), "pair": ([], [], [])}
    cells = list(POSITIONS)
    for i, s in enumerate(scenes):
        if s.kind == "single":
            thing = a(f"{s.objects[0].size} {s.objects[0].name}")
            candidates, answer = [f"{thing} {POSITIONS[c]}" for c in cells], cells.index(s.position)
        elif s.kind == "pair":
            first, second = s.objects
            relation = s.relation
            if rng is not None and rng.random() >= 0.5:
                first, second, relation = second, first, INVERSE_RELATION[relation]
            candidates = [f"{a(first.name)} {relation_phrase(r)} {a(second.name)}" for r in RELATIONS]
            answer = RELATIONS.index(relation)
        else:
            continue
        for part, value in zip(questions[s.kind], (i, candidates, answer)):
            part.append(value)
    return questions


@dataclass
class ShapesData:
    """Rendered scenes: uint8 images (N, H, W, 3), their scenes, captions and class labels."""

    images: np.ndarray
    scenes: list[Scene]
    class_names: list[str]
    labels: np.ndarray = field(init=False)  # colour-shape class of the first object (-1: none)

    def __post_init__(self) -> None:
        index = {name: i for i, name in enumerate(self.class_names)}
        self.labels = np.array(
            [index.get(s.objects[0].name, -1) if s.kind == "single" else -1 for s in self.scenes],
            dtype=np.int64,
        )

    def __len__(self) -> int:
        return len(self.scenes)

    @property
    def captions(self) -> list[str]:
        """Canonical caption of every image."""
        return [s.caption for s in self.scenes]

    def all_captions(self) -> list[list[str]]:
        """Every phrasing of every image, canonical first."""
        return [s.captions() for s in self.scenes]

    def hard_negatives(self) -> list[list[list[str]]]:
        """Every image's `Scene.hard_negatives`, aligned with `all_captions()`."""
        return [s.hard_negatives() for s in self.scenes]

    def subset(self, index: Sequence[int] | np.ndarray) -> "ShapesData":
        index = np.asarray(index, dtype=np.int64)
        return ShapesData(self.images[index], [self.scenes[i] for i in index], self.class_names)


class ShapesWorld:
    """The vocabulary, the held-out compositions and the generator of the shapes corpus.

    >>> world = ShapesWorld(image_size=32)
    >>> train = world.dataset(2000, split="train", seed=0)
    >>> train.images.shape, train.captions[0]
    """

    def __init__(
        self,
        image_size: int = 32,
        shapes: Sequence[str] = SHAPES,
        colours: Mapping[str, tuple[int, int, int]] | None = None,
        n_heldout: int | None = None,
        split_seed: int = 0,
    ) -> None:
        check_positive("image_size", image_size)
        if image_size < 16:
            raise ValueError(f"image_size={image_size!r} is not allowed: it must be at least 16 pixels.")
        colours = dict(COLOURS if colours is None else colours)
        for name, values in (("shapes", list(shapes)), ("colours", list(colours))):
            if len(values) < 2 or len(set(values)) != len(values):
                raise ValueError(f"{name}={values!r} is not allowed: give at least two distinct names.")
        unknown = [s for s in shapes if s not in _MASK_DRAWERS]
        if unknown:
            raise ValueError(f"shapes={list(shapes)!r} is not allowed: {unknown} not among {list(_MASK_DRAWERS)}.")
        self.image_size = int(image_size)
        self.shapes = tuple(shapes)
        self.colours = colours
        self.split_seed = int(split_seed)
        n_max = min(len(self.shapes), len(self.colours))
        self.n_heldout = n_max if n_heldout is None else n_heldout
        if not isinstance(self.n_heldout, int) or not 0 <= self.n_heldout <= n_max:
            raise ValueError(f"n_heldout={n_heldout!r} is not allowed: choose an integer from 0 to {n_max}.")
        self.heldout = self._choose_heldout()
        self.small = max(5, round(0.24 * image_size))
        self.large = max(self.small + 3, round(0.40 * image_size))

    # ------------------------------------------------------------------ vocabulary
    @property
    def classes(self) -> list[tuple[str, str]]:
        """All colour-shape compositions, as (colour, shape)."""
        return [(c, s) for c in self.colours for s in self.shapes]

    @property
    def class_names(self) -> list[str]:
        """All colour-shape class names ("red circle", ...), in `classes` order."""
        return [f"{c} {s}" for c, s in self.classes]

    @property
    def heldout_classes(self) -> list[str]:
        """Class names never seen in training images or captions."""
        return [f"{c} {s}" for c, s in self.classes if (c, s) in self.heldout]

    @property
    def seen_classes(self) -> list[str]:
        """Class names that do appear in training."""
        return [f"{c} {s}" for c, s in self.classes if (c, s) not in self.heldout]

    def _choose_heldout(self) -> frozenset[tuple[str, str]]:
        # A shuffled Latin-square diagonal: each held-out colour and shape differs, so every colour and
        # every shape is still seen in training with the others.
        rng = np.random.default_rng([self.split_seed, 7919])
        cols = rng.permutation(len(self.colours))[: self.n_heldout]
        shps = rng.permutation(len(self.shapes))[: self.n_heldout]
        names = list(self.colours)
        return frozenset((names[c], self.shapes[s]) for c, s in zip(cols, shps))

    def describe(self) -> dict:
        """Parameters that define this world (used in cache keys and checkpoints)."""
        return {
            "image_size": self.image_size,
            "shapes": list(self.shapes),
            "colours": {k: list(v) for k, v in self.colours.items()},
            "n_heldout": self.n_heldout,
            "split_seed": self.split_seed,
        }

    # ------------------------------------------------------------------ scenes
    def _pairs_for(self, split: str) -> list[tuple[str, str]]:
        if split == "heldout":
            return sorted(self.heldout)
        return [p for p in self.classes if p not in self.heldout]

    def sample_scenes(
        self,
        n: int,
        split: str = "train",
        seed: int = 0,
        mix: Mapping[str, float] | None = None,
        classes: Iterable[str] | None = None,
    ) -> list[Scene]:
        """Draw `n` scenes. `split="heldout"` puts a held-out composition first in every scene;
        `classes` (names like "red circle") restricts the first object to those compositions."""
        check_positive("n", n)
        check_choice("split", split, SPLITS)
        mix = dict(DEFAULT_MIX if mix is None else mix)
        for k, w in mix.items():
            check_choice("mix key", k, SCENE_KINDS)
            if not (isinstance(w, (int, float)) and w >= 0):
                raise ValueError(f"mix[{k!r}]={w!r} is not allowed: weights must be non-negative numbers.")
        total = sum(mix.values())
        if total <= 0:
            raise ValueError(f"mix={mix!r} is not allowed: at least one weight must be positive.")
        rng = np.random.default_rng([seed, SPLITS.index(split), 104729])
        kinds = list(mix)
        kind_of = rng.choice(len(kinds), size=n, p=[mix[k] / total for k in kinds])
        first = self._pairs_for(split)
        if classes is not None:
            wanted = set(classes)
            bad = wanted - set(self.class_names)
            if bad:
                raise ValueError(f"classes={sorted(bad)!r} are not classes of this world: see world.class_names.")
            if split == "train" and wanted & set(self.heldout_classes):
                raise ValueError(f"classes={sorted(wanted & set(self.heldout_classes))!r} are held out: "
                                 "they never appear in split='train'; use split='heldout'.")
            first = [p for p in self.classes if f"{p[0]} {p[1]}" in wanted]
        others = self._pairs_for("train")  # a pair's second shape is always a seen composition
        return [self._scene(kinds[k], rng, first, others) for k in kind_of]

    def _scene(self, kind: str, rng: np.random.Generator, first: list, others: list) -> Scene:
        c0, s0 = first[rng.integers(len(first))]
        if kind == "single":
            size = SIZES[rng.integers(2)]
            d = self.small if size == "small" else self.large
            r, c = int(rng.integers(3)), int(rng.integers(3))
            x, y = self._cell_centre(c, d, rng), self._cell_centre(r, d, rng)
            return Scene("single", (ShapeObject(s0, c0, size, x, y),), position=(r, c))
        if kind == "count":
            n = int(rng.integers(2, 5))
            cells = rng.choice(9, size=n, replace=False)
            objs = tuple(
                ShapeObject(s0, c0, "small", self._cell_centre(cell % 3, self.small, rng),
                            self._cell_centre(cell // 3, self.small, rng))
                for cell in sorted(cells)
            )
            return Scene("count", objs)
        # pair: a second, different composition in the same row (left/right) or column (above/below)
        while True:
            c1, s1 = others[rng.integers(len(others))]
            if (c1, s1) != (c0, s0) and s1 != s0:
                break
        horizontal = bool(rng.integers(2))
        line = int(rng.integers(3))
        a_slot, b_slot = sorted(rng.choice(3, size=2, replace=False))
        if rng.integers(2):  # the held-out / first object may sit on either side
            a_slot, b_slot = b_slot, a_slot
        d = self.small
        pos = lambda slot: self._cell_centre(slot, d, rng)  # noqa: E731
        across = self._cell_centre(line, d, rng)
        if horizontal:
            a = ShapeObject(s0, c0, "small", pos(a_slot), across)
            b = ShapeObject(s1, c1, "small", pos(b_slot), across + rng.uniform(-1, 1))
            relation = "left of" if a_slot < b_slot else "right of"
        else:
            a = ShapeObject(s0, c0, "small", across, pos(a_slot))
            b = ShapeObject(s1, c1, "small", across + rng.uniform(-1, 1), pos(b_slot))
            relation = "above" if a_slot < b_slot else "below"
        return Scene("pair", (a, b), relation=relation, distance="near" if abs(a_slot - b_slot) == 1 else "far from")

    def _cell_centre(self, cell: int, d: int, rng: np.random.Generator) -> float:
        # Cells 0, 1, 2 map to the low edge, the middle and the high edge of the room a shape of
        # diameter d has, with a little jitter that never crosses into the neighbouring cell.
        lo, hi = d / 2, self.image_size - d / 2
        centre = lo + cell * (hi - lo) / 2
        jitter = (hi - lo) / 20  # neighbours stay at least a shape's width apart
        return float(np.clip(centre + rng.uniform(-jitter, jitter), lo, hi))

    # ------------------------------------------------------------------ rendering
    def render(self, scenes: Sequence[Scene], seed: int = 0) -> np.ndarray:
        """Draw scenes as uint8 RGB images (N, S, S, 3): dark background, jittered colours."""
        S = self.image_size
        rng = np.random.default_rng([seed, 15485863])
        out = np.empty((len(scenes), S, S, 3), dtype=np.uint8)
        backgrounds = rng.uniform(0, 40, size=len(scenes)).astype(np.float32)
        jitter = rng.uniform(-14, 14, size=(len(scenes), 4, 3)).astype(np.float32)
        canvas = np.empty((S, S, 3), dtype=np.float32)
        for i, scene in enumerate(scenes):
            canvas.fill(backgrounds[i])
            for j, o in enumerate(scene.objects):
                d = self.small if o.size == "small" else self.large
                colour = np.asarray(self.colours[o.colour], np.float32) + jitter[i, j % 4]
                _stamp(canvas, _mask(o.shape, d), o.x, o.y, colour)
            np.clip(canvas, 0, 255, out=canvas)
            out[i] = canvas.astype(np.uint8)
        return out

    # ------------------------------------------------------------------ datasets
    def dataset(
        self,
        n: int,
        split: str = "train",
        seed: int = 0,
        mix: Mapping[str, float] | None = None,
        classes: Iterable[str] | None = None,
        cache: bool = True,
    ) -> ShapesData:
        """`n` rendered scenes of a split, loaded from data/cache when generated before."""
        check_positive("n", n)
        check_choice("split", split, SPLITS)
        classes = None if classes is None else sorted(set(classes))
        key = {"v": _CACHE_VERSION, "world": self.describe(), "n": n, "split": split, "seed": seed,
               "mix": dict(DEFAULT_MIX if mix is None else mix), "classes": classes}
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        path = data_dir("cache") / f"shapes-{split}-{n}-{digest}.npz"
        if cache and path.exists():
            try:
                with np.load(path, allow_pickle=False) as z:
                    scenes = [Scene.from_json(s) for s in json.loads(str(z["scenes"]))]
                    return ShapesData(z["images"], scenes, self.class_names)
            except (OSError, ValueError, KeyError):
                path.unlink(missing_ok=True)  # a damaged cache file is regenerated, not trusted
        scenes = self.sample_scenes(n, split=split, seed=seed, mix=mix, classes=classes)
        images = self.render(scenes, seed=hash_seed(seed, split))
        if cache:
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, images=images, scenes=json.dumps([s.to_json() for s in scenes]))
        return ShapesData(images, scenes, self.class_names)

    def class_dataset(self, n_per_class: int, classes: Sequence[str] | None = None, seed: int = 0,
                      cache: bool = True) -> ShapesData:
        """Single-shape images, `n_per_class` of every colour-shape class in `classes` (default: all),
        held-out ones included: the test set of zero-shot classification."""
        check_positive("n_per_class", n_per_class)
        classes = list(self.class_names if classes is None else classes)
        parts = []
        for i, name in enumerate(classes):
            split = "heldout" if name in self.heldout_classes else "val"
            parts.append(self.dataset(n_per_class, split=split, seed=hash_seed(seed, name),
                                      mix={"single": 1.0}, classes=[name], cache=cache))
        return ShapesData(np.concatenate([p.images for p in parts]),
                          [s for p in parts for s in p.scenes], self.class_names)


def hash_seed(seed: int, tag: str) -> int:
    """A seed derived from `seed` and a string, stable across runs and platforms."""
    return int(hashlib.sha256(f"{seed}/{tag}".encode()).hexdigest()[:8], 16)


# ---------------------------------------------------------------------- masks
def _polygon(points: np.ndarray) -> callable:
    path = MplPath(points)
    return lambda x, y: path.contains_points(np.stack([x.ravel(), y.ravel()], 1)).reshape(x.shape)


def _star_points(spikes: int = 5, inner: float = 0.45) -> np.ndarray:
    angles = -np.pi / 2 + np.arange(2 * spikes) * np.pi / spikes
    radii = np.where(np.arange(2 * spikes) % 2 == 0, 1.0, inner)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)


_MASK_DRAWERS = {
    "circle": lambda x, y: x**2 + y**2 <= 1.0,
    "square": lambda x, y: (np.abs(x) <= 0.82) & (np.abs(y) <= 0.82),
    "triangle": _polygon(np.array([[0.0, -1.0], [-1.0, 0.85], [1.0, 0.85]])),
    "diamond": lambda x, y: np.abs(x) + np.abs(y) <= 1.0,
    "cross": lambda x, y: ((np.abs(x) <= 0.32) & (np.abs(y) <= 1.0)) | ((np.abs(y) <= 0.32) & (np.abs(x) <= 1.0)),
    "star": _polygon(_star_points()),
    "hexagon": _polygon(np.stack([np.cos(np.arange(6) * np.pi / 3), np.sin(np.arange(6) * np.pi / 3)], 1)),
}


@lru_cache(maxsize=None)
def _mask(shape: str, d: int) -> np.ndarray:
    """Anti-aliased coverage (d x d, float32 in [0, 1]) of a shape, by 4x4 supersampling."""
    ss = 4
    t = (np.arange(d * ss) + 0.5) / (d * ss) * 2 - 1
    x, y = np.meshgrid(t, t)
    inside = _MASK_DRAWERS[shape](x, y).astype(np.float32)
    return inside.reshape(d, ss, d, ss).mean(axis=(1, 3))[..., None]


def _stamp(canvas: np.ndarray, alpha: np.ndarray, cx: float, cy: float, colour: np.ndarray) -> None:
    """Alpha-blend `colour` through `alpha` centred at (cx, cy), clipped to the canvas."""
    d, S = alpha.shape[0], canvas.shape[0]
    x0, y0 = int(round(cx - d / 2)), int(round(cy - d / 2))
    xa, ya = max(x0, 0), max(y0, 0)
    xb, yb = min(x0 + d, S), min(y0 + d, S)
    if xa >= xb or ya >= yb:
        return
    a = alpha[ya - y0: yb - y0, xa - x0: xb - x0]
    region = canvas[ya:yb, xa:xb]
    region += a * (colour - region)
