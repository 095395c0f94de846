"""The shapes corpus: determinism, captions that agree with the pixels, the held-out split, errors."""
import re

import numpy as np
import pytest
from scipy import ndimage

from clipbook.data import COLOURS, ShapesWorld
from clipbook.data.shapes import COUNT_WORDS, INVERSE_RELATION, POSITIONS, RELATIONS, relation_phrase


@pytest.fixture(scope="module")
def world():
    return ShapesWorld(image_size=32)


def test_same_seed_same_data_other_seed_other_data(world, tmp_data):
    a = world.dataset(200, "train", seed=3, cache=False)
    b = world.dataset(200, "train", seed=3, cache=False)
    c = world.dataset(200, "train", seed=4, cache=False)
    assert np.array_equal(a.images, b.images) and a.all_captions() == b.all_captions()
    assert not np.array_equal(a.images, c.images)
    assert a.images.dtype == np.uint8 and a.images.shape == (200, 32, 32, 3)


def test_cache_round_trip(world, tmp_data):
    fresh = world.dataset(100, "val", seed=1)
    files = list((tmp_data / "cache").glob("shapes-val-100-*.npz"))
    assert len(files) == 1
    again = world.dataset(100, "val", seed=1)
    assert np.array_equal(fresh.images, again.images) and fresh.scenes == again.scenes
    files[0].write_bytes(b"not an npz")  # a damaged cache file is regenerated
    assert np.array_equal(world.dataset(100, "val", seed=1).images, fresh.images)


def _components(image):
    """Connected non-background blobs: (mask, centroid x, centroid y, mean colour)."""
    fg = image.astype(int).max(axis=2) > 90
    labels, n = ndimage.label(fg)
    blobs = []
    for k in range(1, n + 1):
        mask = labels == k
        ys, xs = np.nonzero(mask)
        pixels = image[mask].astype(float)
        core = pixels[pixels.sum(1) >= np.quantile(pixels.sum(1), 0.75)]  # fully covered, not edge pixels
        blobs.append((mask, xs.mean(), ys.mean(), np.median(core, axis=0)))
    return blobs


def _closest_colour(rgb):
    return min(COLOURS, key=lambda c: np.abs(np.array(COLOURS[c]) - rgb).sum())


@pytest.mark.parametrize("size", [32, 64])
def test_captions_agree_with_pixels(size, tmp_data):
    world = ShapesWorld(image_size=size)
    data = world.dataset(300, "train", seed=0, cache=False)
    checked = {"single": 0, "count": 0, "pair": 0}
    for image, scene, caption in zip(data.images, data.scenes, data.captions):
        blobs = _components(image)
        # as many separate blobs as the caption says objects
        assert len(blobs) == scene.count, caption
        words = caption.split()
        for obj in scene.objects:
            assert obj.colour in words and (obj.shape in caption), caption
            blob = min(blobs, key=lambda b: (b[1] - obj.x) ** 2 + (b[2] - obj.y) ** 2)
            assert _closest_colour(blob[3]) == obj.colour, caption
        if scene.kind == "single":
            row, col = scene.position
            _, x, y, _ = blobs[0]
            assert POSITIONS[(row, col)] in caption
            assert int(x // (size / 3)) == col and int(y // (size / 3)) == row, caption
            ys, xs = np.nonzero(blobs[0][0])
            big = max(np.ptp(xs), np.ptp(ys)) + 1 > (world.small + world.large) / 2
            assert big == (scene.objects[0].size == "large"), caption
        if scene.kind == "pair":
            (_, xa, ya, ca), (_, xb, yb, cb) = sorted(
                blobs, key=lambda b: (b[1] - scene.objects[0].x) ** 2 + (b[2] - scene.objects[0].y) ** 2)
            rel = scene.relation
            holds = {"left of": lambda p, q: p[0] < q[0], "right of": lambda p, q: p[0] > q[0],
                     "above": lambda p, q: p[1] < q[1], "below": lambda p, q: p[1] > q[1]}
            assert holds[rel]((xa, ya), (xb, yb)), caption
            assert holds[INVERSE_RELATION[rel]]((xb, yb), (xa, ya)), scene.captions()[1]  # the second phrasing
            assert relation_phrase(rel) in caption and relation_phrase(INVERSE_RELATION[rel]) in scene.captions()[1]
            gap = abs(xa - xb) + abs(ya - yb)
            near = scene.distance == "near"
            assert (gap < 0.75 * (size - world.small)) == near, (scene.captions(), gap)
            assert f" {scene.distance} " in scene.captions()[4]
        if scene.kind == "count":
            assert COUNT_WORDS[scene.count] in words
        checked[scene.kind] += 1
    assert min(checked.values()) > 30


def test_every_scene_has_several_phrasings(world):
    data = world.dataset(50, "train", seed=0, cache=False)
    for caps, canonical in zip(data.all_captions(), data.captions):
        assert len(caps) == 5 and len(set(caps)) == 5 and caps[0] == canonical
        assert all(not re.search(r"\ba [aeiou]", c) for c in caps), caps  # "an orange", never "a orange"


def test_heldout_compositions_never_in_training(world):
    assert len(world.heldout_classes) == 6
    assert set(world.heldout_classes) | set(world.seen_classes) == set(world.class_names)
    # every colour and every shape is still seen in training
    for c in world.colours:
        assert any(n.startswith(c + " ") for n in world.seen_classes)
    for s in world.shapes:
        assert any(n.endswith(" " + s) for n in world.seen_classes)
    train = world.dataset(3000, "train", seed=0, cache=False)
    patterns = [re.compile(rf"\b{n}(e?s)?\b") for n in world.heldout_classes]
    for scene in train.scenes:
        assert not any(o.name in world.heldout_classes for o in scene.objects)
        for caption in scene.captions():
            assert not any(p.search(caption) for p in patterns), caption
    held = world.dataset(300, "heldout", seed=0, cache=False)
    assert all(s.objects[0].name in world.heldout_classes for s in held.scenes)


def test_class_dataset_labels(world):
    data = world.class_dataset(3, seed=0, cache=False)
    assert len(data) == 3 * 36
    assert (np.bincount(data.labels, minlength=36) == 3).all()
    assert [world.class_names[i] for i in data.labels[::3]] == world.class_names


@pytest.mark.parametrize("kwargs, message", [
    (dict(image_size=0), "image_size=0"),
    (dict(image_size=8), "image_size=8"),
    (dict(shapes=["circle", "circle"]), "shapes="),
    (dict(shapes=["circle", "blob"]), "blob"),
    (dict(n_heldout=9), "n_heldout=9"),
])
def test_bad_world_parameters(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ShapesWorld(**kwargs)


def test_bad_dataset_parameters(world):
    with pytest.raises(ValueError, match=r"n=0 .*positive integer"):
        world.dataset(0)
    with pytest.raises(ValueError, match=r"split='test'.*'train', 'val', 'heldout'"):
        world.dataset(10, split="test")
    with pytest.raises(ValueError, match="held out"):
        world.dataset(10, split="train", classes=world.heldout_classes[:1])
    with pytest.raises(ValueError, match="mix"):
        world.dataset(10, mix={"single": 0.0})


def test_relation_vocabulary():
    assert set(INVERSE_RELATION) == set(INVERSE_RELATION.values()) == set(RELATIONS)
    assert [relation_phrase(r) for r in RELATIONS] == ["to the left of", "to the right of", "above", "below"]
    with pytest.raises(ValueError, match=r"relation='beside' is not allowed: choose one of 'left of'"):
        relation_phrase("beside")


def _single(colour="red", shape="circle", size="large", position=(0, 0)):
    from clipbook.data import Scene, ShapeObject
    return Scene("single", (ShapeObject(shape, colour, size, 0.0, 0.0),), position=position)


def _pair(a=("red", "circle"), b=("blue", "star"), relation="left of"):
    from clipbook.data import Scene, ShapeObject
    objects = tuple(ShapeObject(s, c, "small", 0.0, 0.0) for c, s in (a, b))
    return Scene("pair", objects, relation=relation, distance="near")


def test_miss_cause_names_what_a_wrong_caption_gets_wrong():
    """Each label follows from the two scenes: attributes joined by '+', positions mirrored or not, a pair's
    relation (either order), swapped colours, another object, another kind of scene; where-only labels."""
    from clipbook.data import SAME_MEANING, is_where_cause, miss_cause
    truth = _single(position=(0, 0))
    assert miss_cause(truth, truth) == "none"
    # top left against top right, bottom left, bottom right: mirror images; against the top or the centre: not
    assert {miss_cause(truth, _single(position=p)) for p in [(0, 2), (2, 0), (2, 2)]} == {"position (mirrored)"}
    assert {miss_cause(truth, _single(position=p)) for p in [(0, 1), (1, 1), (1, 2)]} == {"position (other)"}
    assert miss_cause(_single(position=(1, 1)), _single(position=(0, 1))) == "position (other)"
    assert miss_cause(truth, _single(colour="blue")) == "colour"
    assert miss_cause(truth, _single(shape="star", size="small", position=(0, 2))) == "shape+size+position (mirrored)"
    pair = _pair()
    assert miss_cause(pair, _pair(relation="above")) == "relation"
    assert miss_cause(pair, _pair(a=("blue", "star"), b=("red", "circle"))) == "relation"  # the other order
    # "a blue star to the right of a red circle" says what "a red circle to the left of a blue star" says
    assert miss_cause(pair, _pair(a=("blue", "star"), b=("red", "circle"), relation="right of")) == SAME_MEANING
    assert miss_cause(pair, _pair(a=("blue", "star"), b=("red", "circle"), relation="below")) == "relation"
    assert miss_cause(pair, _pair(a=("blue", "circle"), b=("red", "star"))) == "colours swapped"
    assert miss_cause(pair, _pair(b=("blue", "cross"))) == "an object"
    assert miss_cause(pair, truth) == "scene kind"
    assert is_where_cause("position (mirrored)") and is_where_cause("relation")
    assert not is_where_cause("shape+position (mirrored)") and not is_where_cause("none")
    assert not is_where_cause(SAME_MEANING)
    # every label is made of the documented causes
    from clipbook.data import WHAT_CAUSES, WHERE_CAUSES
    labels = {miss_cause(truth, _single(position=p, colour=c, shape=s, size=z)) for p in POSITIONS
              for c in ("red", "blue") for s in ("circle", "star") for z in ("large", "small")}
    labels |= {miss_cause(pair, other) for other in (_pair(relation="above"), _pair(b=("blue", "cross")), truth,
                                                      _pair(a=("blue", "circle"), b=("red", "star")))}
    assert len(labels) > 10
    for label in labels - {"none"}:
        assert set(label.split("+")) <= set(WHERE_CAUSES) | set(WHAT_CAUSES) | {SAME_MEANING}, label


def test_a_meaning_is_shared_exactly_by_captions_that_say_the_same(world):
    """`Scene.meaning` joins a pair's two wordings and nothing else: over a validation set's distinct captions,
    two share a meaning exactly when `miss_cause` calls them SAME_MEANING, and such twins exist."""
    from clipbook.data import SAME_MEANING, miss_cause
    pair = _pair()
    assert pair.meaning == _pair(a=("blue", "star"), b=("red", "circle"), relation="right of").meaning
    assert pair.meaning != _pair(relation="above").meaning and _single().meaning == _single().caption
    scene_of = {}
    for scene in world.dataset(600, "val", seed=5, cache=False).scenes:
        scene_of.setdefault(scene.caption, scene)
    scenes = list(scene_of.values())
    same = [(a.meaning == b.meaning, miss_cause(a, b) == SAME_MEANING) for i, a in enumerate(scenes)
            for b in scenes[i + 1:]]
    assert all(m == c for m, c in same)
    assert sum(m for m, _ in same) >= 2


def test_hard_negatives_are_the_captions_of_the_mirror_image_or_the_inverted_relation(world):
    """A phrasing's hard negatives are that phrasing of another scene that differs only in where: a single shape's
    mirror-image cells (none for the centre, none for a phrasing without a position), a pair's inverted relation
    (none for "and" and the distance phrasing); counts have none. None of them is true of the scene."""
    from clipbook.data import mirror_cells, miss_cause
    assert mirror_cells((0, 0)) == {(0, 2), (2, 0), (2, 2)} and mirror_cells((1, 2)) == {(1, 0)}
    assert mirror_cells((1, 1)) == set()
    for cell in POSITIONS:
        truth = _single(position=cell)
        negatives = truth.hard_negatives()
        assert len(negatives) == len(truth.captions())
        for j, (caption, negs) in enumerate(zip(truth.captions(), negatives)):
            mirrored = sorted(mirror_cells(cell)) if POSITIONS[cell] in caption else []
            assert negs == [_single(position=m).captions()[j] for m in mirrored], (cell, caption)
            assert {miss_cause(truth, _single(position=m)) for m in mirrored} <= {"position (mirrored)"}
            assert not set(negs) & set(truth.captions())
    assert sum(map(len, _single(position=(0, 0)).hard_negatives())) == 6  # two phrasings name the position
    assert _single(position=(1, 1)).hard_negatives() == [[]] * 5
    for relation in RELATIONS:
        pair = _pair(relation=relation)
        inverted = _pair(relation=INVERSE_RELATION[relation])
        assert miss_cause(pair, inverted) == "relation"
        negatives = pair.hard_negatives()
        assert [bool(n) for n in negatives] == [True, True, True, False, False]
        assert [n[0] for n in negatives[:3]] == inverted.captions()[:3]
        assert not {t for n in negatives for t in n} & set(pair.captions())
    data = world.dataset(60, split="train", seed=3, cache=False)
    negatives = data.hard_negatives()
    assert [len(n) for n in negatives] == [len(c) for c in data.all_captions()]
    assert all(n == [[]] * len(s.captions()) for n, s in zip(negatives, data.scenes) if s.kind == "count")
    assert any(t for n in negatives for per in n for t in per)


def test_where_questions_name_the_scene_and_differ_only_in_where(world):
    """A single shape's true answer is its canonical caption and the other eight are the captions of the same shape
    in the other cells; a pair's true answer says what its caption says (in either order with an rng) and the other
    three are inverted or turned relations; counts ask nothing."""
    from clipbook.data import where_questions
    data = world.dataset(120, split="val", seed=5, cache=False)
    for rng in (None, np.random.default_rng(0)):
        questions = where_questions(data.scenes, rng)
        kinds = [s.kind for s in data.scenes]
        assert questions["single"][0] == [i for i, k in enumerate(kinds) if k == "single"]
        assert questions["pair"][0] == [i for i, k in enumerate(kinds) if k == "pair"]
        for i, candidates, answer in zip(*questions["single"]):
            scene = data.scenes[i]
            assert len(candidates) == 9 and candidates[answer] == scene.caption
            assert candidates == [_single(*scene.objects[0].name.split(), scene.objects[0].size, c).caption
                                  for c in POSITIONS]
        orders = set()
        for i, candidates, answer in zip(*questions["pair"]):
            scene = data.scenes[i]
            assert len(candidates) == 4 and len(set(candidates)) == 4
            assert candidates[answer] in scene.captions()[:2]  # the canonical caption or its other order
            assert not set(candidates[:answer] + candidates[answer + 1:]) & set(scene.captions())
            orders.add(candidates[answer] == scene.caption)
        assert orders == ({True} if rng is None else {True, False})
    # the same rng gives the same questions
    assert where_questions(data.scenes, np.random.default_rng(1)) == where_questions(data.scenes,
                                                                                     np.random.default_rng(1))
