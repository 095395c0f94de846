"""recall_by_gallery_size: the same features score lower in a larger gallery when captions have near twins;
recall_ceiling: what a model that tells meanings apart, but not wordings, expects."""
import numpy as np
import pytest
import torch

from clipbook.retrieval import recall_by_gallery_size, recall_ceiling, retrieval_metrics

K = 10  # twin pairs: caption "a k" and caption "b k", one image each


@pytest.fixture(scope="module")
def twins():
    """Features of a model that cannot tell twin b from twin a: every image of a twin pair lies on text "a k"
    exactly, and text "b k" a little off it, so b's image is found only in a gallery without a's."""
    basis = torch.eye(2 * K)
    a_text = basis[:K]
    b_text = torch.nn.functional.normalize(basis[:K] + 0.05 * basis[K:], dim=-1)
    texts = [f"a {k}" for k in range(K)] + [f"b {k}" for k in range(K)]
    captions = texts[:]  # one image per caption
    images = torch.cat([basis[:K], basis[:K]])
    groups = ["a"] * K + ["b"] * K
    return images, captions, torch.cat([a_text, b_text]), texts, groups


def test_the_whole_gallery_is_retrieval_metrics(twins):
    images, captions, text_features, texts, groups = twins
    (row,) = recall_by_gallery_size(images, captions, text_features, texts, [2 * K], groups=groups)
    whole = retrieval_metrics(images, captions, text_features, texts, ks=(1,))
    assert row["gallery"] == 2 * K and row["captions"] == 2 * K and row["draw"] == 0
    for k in ("i2t_recall@1", "t2i_recall@1", "chance_i2t_recall@1"):
        assert row[k] == pytest.approx(whole[k])
    assert row["i2t_recall@1"] == pytest.approx(0.5)  # every b image takes its a caption
    assert row["i2t_recall@1 a"] == 1.0 and row["i2t_recall@1 b"] == 0.0


def test_a_smaller_gallery_holds_fewer_twins(twins):
    images, captions, text_features, texts, groups = twins
    rows = recall_by_gallery_size(images, captions, text_features, texts, [4, 2 * K], draws=400, seed=1,
                                  groups=groups)
    small = [r for r in rows if r["gallery"] == 4]
    assert len(small) == 400 and len(rows) == 401
    # a b image is missed exactly when its twin a is among the other 3 of its gallery: P = 3 / 19
    b_hits = np.nanmean([r.get("i2t_recall@1 b", np.nan) for r in small])
    assert b_hits == pytest.approx(1 - 3 / (2 * K - 1), abs=0.05)
    assert np.mean([r["i2t_recall@1"] for r in small]) > rows[-1]["i2t_recall@1"] + 0.3
    assert all(r["i2t_recall@1 a"] == 1.0 for r in small if "i2t_recall@1 a" in r)


def test_the_draws_repeat_with_the_seed(twins):
    images, captions, text_features, texts, _ = twins
    one = recall_by_gallery_size(images, captions, text_features, texts, [5, 9], draws=3, seed=7)
    assert one == recall_by_gallery_size(images, captions, text_features, texts, [9, 5], draws=3, seed=7)


@pytest.mark.parametrize("change, message", [
    (dict(sizes=[0]), r"sizes=\[0\] is not allowed: give gallery sizes, each an integer from 1 to the 20 images"),
    (dict(sizes=[21]), r"sizes=\[21\] is not allowed"),
    (dict(sizes=[2.5]), r"sizes=\[2.5\] is not allowed"),
    (dict(sizes=[]), r"sizes=\[\] is not allowed"),
    (dict(draws=0), "draws=0 is not allowed: give a positive integer"),
    (dict(groups=["a"]), "groups has 1 entries for 20 images"),
    (dict(captions=["zzz"] * 20), "20 captions are not among texts, e.g. 'zzz'"),
])
def test_bad_arguments_are_refused(twins, change, message):
    images, captions, text_features, texts, _ = twins
    kwargs = dict(image_features=images, captions=captions, text_features=text_features, texts=texts, sizes=[4])
    kwargs.update(change)
    with pytest.raises(ValueError, match=message):
        recall_by_gallery_size(**kwargs)


def test_the_ceiling_by_hand():
    """Texts "x" and "y" say one thing: an image of either finds its own text half the time; text "x" finds one of
    the meaning's three images, "y" two of them; "z" stands alone."""
    captions, texts = ["x", "y", "y", "z"], ["x", "y", "z"]
    ceiling = recall_ceiling(captions, texts, {"x": 0, "y": 0, "z": 1})
    assert ceiling["i2t_recall@1"] == pytest.approx((0.5 + 0.5 + 0.5 + 1) / 4)
    assert ceiling["t2i_recall@1"] == pytest.approx((1 / 3 + 2 / 3 + 1) / 3)
    assert recall_ceiling(captions, texts, {"x": 0, "y": 1, "z": 2}) == {"i2t_recall@1": 1.0, "t2i_recall@1": 1.0}


def test_a_model_that_reads_only_the_meaning_scores_the_ceiling_on_average():
    """Images and texts of one meaning share a direction, plus noise that breaks the ties at random: over many
    draws, `retrieval_metrics` of such a model averages to `recall_ceiling`; a model that also reads the wording
    (each text its own direction) passes it."""
    rng = np.random.default_rng(0)
    n_meanings = 12
    texts = [f"a {k}" for k in range(n_meanings)] + [f"b {k}" for k in range(n_meanings - 3)]  # 3 with one wording
    meaning = {t: int(t.split()[1]) for t in texts}
    captions = [texts[i] for i in rng.integers(0, len(texts), 60)]
    basis = torch.eye(len(texts))
    ceiling = recall_ceiling(captions, texts, meaning)
    assert 0.5 < ceiling["i2t_recall@1"] < 0.7 and 0.5 < ceiling["t2i_recall@1"] < 0.7
    draws = []
    for _ in range(300):
        img = basis[[meaning[c] for c in captions]] + 1e-3 * torch.randn(len(captions), len(texts))
        txt = basis[[meaning[t] for t in texts]] + 1e-3 * torch.randn(len(texts), len(texts))
        draws.append(retrieval_metrics(img, captions, txt, texts, ks=(1,)))
    for k in ("i2t_recall@1", "t2i_recall@1"):
        assert np.mean([d[k] for d in draws]) == pytest.approx(ceiling[k], abs=0.015)
    reads_wording = retrieval_metrics(basis[[texts.index(c) for c in captions]], captions, basis, texts, ks=(1,))
    assert reads_wording["i2t_recall@1"] == 1.0 > ceiling["i2t_recall@1"]


def test_every_gallery_has_its_ceiling(twins):
    """With `meaning`, each gallery's row carries the ceiling of its own images and texts; the whole gallery's is
    `recall_ceiling`'s. Twins a k and b k mean one thing: every image is a coin toss in the whole gallery."""
    images, captions, text_features, texts, _ = twins
    meaning = {t: t.split()[1] for t in texts}
    rows = recall_by_gallery_size(images, captions, text_features, texts, [4, 2 * K], draws=50, seed=2,
                                  meaning=meaning)
    whole = rows[-1]
    assert whole["i2t_ceiling@1"] == recall_ceiling(captions, texts, meaning)["i2t_recall@1"] == 0.5
    assert whole["t2i_ceiling@1"] == 0.5
    assert all(r["i2t_ceiling@1"] >= 0.5 for r in rows) and np.mean([r["i2t_ceiling@1"] for r in rows[:-1]]) > 0.8
    assert "i2t_ceiling@1" not in recall_by_gallery_size(images, captions, text_features, texts, [4])[0]


@pytest.mark.parametrize("change, message", [
    (dict(meaning={"x": 0}), "meaning has no key for 1 of the texts, e.g. 'y': give one for every text"),
    (dict(captions=["w"]), "1 captions are not among texts, e.g. 'w'"),
    (dict(texts=["x", "x", "y"]), "texts must be distinct"),
])
def test_bad_ceiling_arguments_are_refused(change, message):
    kwargs = dict(captions=["x", "y"], texts=["x", "y"], meaning={"x": 0, "y": 0})
    kwargs.update(change)
    with pytest.raises(ValueError, match=message):
        recall_ceiling(**kwargs)
