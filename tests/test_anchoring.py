"""Notebook 04's title-block analysis: search metrics against brute force, anchored and perfect features,
occlusion sensitivity, and masking the synthetic title block through the search tool's generic mask box."""
import numpy as np
import pytest

from clipbook import anchoring, search
from clipbook.data.drawings import TITLE_BLOCK_BOX, PageCorpus, mask_title_block


@pytest.fixture(scope="module")
def pages():
    return PageCorpus(page_size=64).dataset(80, seed=0, cache=False)


def test_search_metrics_against_brute_force(pages):
    queries = pages.subset(pages.is_drawing)
    rng = np.random.default_rng(1)
    found = np.stack([rng.permutation(len(pages))[:10] for _ in range(len(queries))])
    m = anchoring.search_metrics(found, queries, pages, k=10)
    prec, tb, rec, ap = [], [], [], []
    for i in range(len(queries)):
        same = [pages.family[j] == queries.family[i] for j in found[i]]
        prec.append(np.mean(same))
        tb.append(np.mean([pages.template[j] == queries.template[i] for j in found[i]]))
        rec.append(sum(same) / np.sum(pages.family == queries.family[i]))
        hits = [r + 1 for r, s in enumerate(same) if s]
        ap.append(np.mean([(h + 1) / rank for h, rank in enumerate(hits)]) if hits else 0.0)
    assert m["precision@10"] == pytest.approx(np.mean(prec)) == pytest.approx(m["family_share@10"])
    assert m["titleblock_share@10"] == pytest.approx(np.mean(tb))
    assert m["recall@10"] == pytest.approx(np.mean(rec))
    assert m["map@10"] == pytest.approx(np.mean(ap))
    assert m["chance_precision@10"] == pytest.approx(
        np.mean([np.sum(pages.family == f) / len(pages) for f in queries.family]))
    drawing = [[pages.family[j] >= 0 for j in row] for row in found]
    assert m["drawing_share@10"] == pytest.approx(np.mean(drawing))
    assert m["family_among_drawings@10"] == pytest.approx(np.sum(prec) * 10 / np.sum(drawing))
    assert m["chance_drawing_share@10"] == pytest.approx(np.mean(pages.family >= 0))
    assert m["chance_family_among_drawings@10"] == pytest.approx(
        np.mean([np.sum(pages.family == f) / np.sum(pages.family >= 0) for f in queries.family]))
    titled = [[pages.template[j] >= 0 for j in row] for row in found]
    assert m["titleblock_among_titled@10"] == pytest.approx(np.sum(tb) * 10 / np.sum(titled))
    assert m["chance_titleblock_among_titled@10"] == pytest.approx(
        np.mean([np.sum(pages.template == t) / np.sum(pages.template >= 0) for t in queries.template]))
    with pytest.raises(ValueError, match="queries must all be drawings"):
        anchoring.search_metrics(found, pages.subset(np.arange(len(queries))), pages)


def test_perfect_and_anchored_features_score_as_they_should(pages):
    """Features that encode only the family find the family; features that encode only the title block
    find the title block and the family only at chance."""
    drawings = pages.subset(pages.is_drawing)
    for label, good, bad in (("family", "precision@3", "titleblock_share@3"),
                             ("template", "titleblock_share@3", "precision@3")):
        codes = getattr(pages, label)
        feats = np.eye(8, dtype=np.float32)[np.where(codes >= 0, codes, 7)] + 0.01
        index = search.PageIndex(8, "oracle").add(feats)
        qcodes = getattr(drawings, label)
        _, found = index.search(np.eye(8, dtype=np.float32)[qcodes] + 0.01, 3, "oracle")
        m = anchoring.search_metrics(found, drawings, pages, k=3)
        assert m[good] == 1.0
        assert m[bad] < 0.5


def test_telling_drawings_from_other_pages_lifts_the_drawing_step_not_the_family_step():
    """Features that know only whether a page is a drawing fill the top k with drawings, so their precision (and
    title-block share) beats chance over the whole archive, while the family among those drawings (and the title
    block among the pages that carry one) stays at its own chance."""
    pages = PageCorpus(page_size=64).dataset(240, seed=2, cache=False)
    drawings = pages.subset(pages.is_drawing)
    rng = np.random.default_rng(0)
    # one dimension says "drawing"; eight small random ones order the drawings differently for every query
    feats = np.hstack([(pages.family >= 0)[:, None], 0.01 * rng.normal(size=(len(pages), 8))]).astype(np.float32)
    asked = np.hstack([np.ones((len(drawings), 1)), rng.normal(size=(len(drawings), 8))]).astype(np.float32)
    _, found = search.PageIndex(9, "kind-only").add(feats).search(asked, 10, "kind-only")
    m = anchoring.search_metrics(found, drawings, pages, k=10)
    assert m["drawing_share@10"] == 1.0 and m["chance_drawing_share@10"] < 0.7
    # a shortcut's lift over the archive's chance: measured 2.3x, as much as raw pixels get on the scans
    assert m["precision@10"] > 1.4 * m["chance_precision@10"]
    # ... and nothing over the family's chance among drawings (measured 1.07x over this archive's 113 query drawings)
    assert m["family_among_drawings@10"] < 1.25 * m["chance_family_among_drawings@10"]
    # the title-block share over all pages is lifted the same way (1.84x), not among the pages with a block (0.98x)
    assert m["titleblock_share@10"] > 1.4 * m["chance_titleblock_share@10"]
    assert m["titleblock_among_titled@10"] < 1.25 * m["chance_titleblock_among_titled@10"]


@pytest.mark.parametrize("page_size", [64, 100, 128])
def test_mask_box_of_the_title_block_box_is_mask_title_block(page_size):
    """The tool's generic mask box, given the synthetic title-block box, blanks exactly what the corpus's
    mask_title_block blanks, on pages of every kind (drawings and other pages, with and without a block)."""
    pages = PageCorpus(page_size=page_size).dataset(24, seed=3, cache=False)
    masked = search.mask_box(pages.images, TITLE_BLOCK_BOX)
    expected = mask_title_block(pages.images)
    assert masked.dtype == expected.dtype and np.array_equal(masked, expected)
    assert not np.array_equal(masked, pages.images)  # there was something to blank


def test_search_archive_with_the_title_block_masked_matches_masking_by_hand(pages):
    """search_archive(masked=True) finds what indexing and querying pages masked by mask_title_block finds."""
    pixels = search.pixel_encoder(16)
    queries = PageCorpus(page_size=64).dataset(12, seed=1, drawings_only=True, cache=False)
    for masked in (False, True):
        metrics, found = anchoring.search_archive(pages, queries, pixels, masked, k=5)
        prepare = mask_title_block if masked else np.asarray
        by_hand = search.PageIndex.build(prepare(pages.images), pixels)
        _, expected = by_hand.search(pixels.encode(prepare(queries.images)), 5, pixels)
        assert found.shape == (12, 5) and np.array_equal(found, expected)
        assert metrics == anchoring.search_metrics(expected, queries, pages, 5)


def test_occlusion_sensitivity_finds_what_the_encoder_looks_at(pages):
    """An encoder that sees only the title-block corner is sensitive only there."""
    corner = search.pixel_encoder(16)
    x0, y0 = int(TITLE_BLOCK_BOX[0] * 64), int(TITLE_BLOCK_BOX[1] * 64)

    def corner_only(images):
        kept = np.full_like(images, 255)
        kept[:, y0:, x0:] = images[:, y0:, x0:]
        return corner.embed(kept)

    looker = search.Encoder("corner", None, corner.dim, corner_only)
    drawing = pages.images[pages.is_drawing][:2]
    maps = anchoring.occlusion_sensitivity(looker, drawing, patch=0.125, stride=0.125)
    assert maps.shape == (2, 64, 64)
    share = anchoring.box_share(maps)
    area = (TITLE_BLOCK_BOX[2] - TITLE_BLOCK_BOX[0]) * (TITLE_BLOCK_BOX[3] - TITLE_BLOCK_BOX[1])
    assert (share > 5 * area).all()
    far = maps.copy()
    far[:, y0 - 8:, x0 - 8:] = 0  # beyond one patch from the corner, occluding changes nothing
    assert far.max() == 0 and maps.max() > 0
    whole = anchoring.occlusion_sensitivity(corner, drawing, patch=0.125, stride=0.125)
    assert (anchoring.box_share(whole) < share).all()
    with pytest.raises(ValueError, match=r"patch=0 and stride=0.0625 are not allowed"):
        anchoring.occlusion_sensitivity(corner, drawing, patch=0)
    with pytest.raises(ValueError, match=r"box=\(0.5, 0.5, 0.5, 1\) is not allowed"):
        anchoring.box_share(maps, (0.5, 0.5, 0.5, 1))


def _oracle_found(pages, queries, label, k, seed=0):
    """Top k from features that know only `label` ("family" or "template") of each page, ties broken at random."""
    rng = np.random.default_rng(seed)
    codes, asked = getattr(pages, label), getattr(queries, label)
    feats = np.hstack([np.eye(8)[np.where(codes >= 0, codes, 7)], 0.01 * rng.normal(size=(len(pages), 4))])
    ask = np.hstack([np.eye(8)[asked], rng.normal(size=(len(queries), 4))])
    index = search.PageIndex(12, label).add(feats.astype(np.float32))
    return index.search(ask.astype(np.float32), k, label)[1]


def test_step_intervals_hold_search_metrics_values_and_tell_the_part_from_the_title_block():
    """Each interval brackets the value `search_metrics` gives; features that know only the title block get a
    title-block step above 1 and above their family step throughout the interval, features that know only the
    family the other way round, and random rankings an interval around 1."""
    pages = PageCorpus(page_size=64).dataset(240, seed=2, cache=False)
    drawings = pages.subset(pages.is_drawing)
    rng = np.random.default_rng(3)
    runs = {"random": np.stack([rng.permutation(len(pages))[:10] for _ in range(len(drawings))]),
            "template": _oracle_found(pages, drawings, "template", 10),
            "family": _oracle_found(pages, drawings, "family", 10)}
    iv = {name: anchoring.step_intervals(found, drawings, pages, 10) for name, found in runs.items()}
    for name, found in runs.items():
        m = anchoring.search_metrics(found, drawings, pages, 10)
        r = iv[name]
        assert r["precision@10"]["value"] == pytest.approx(m["precision@10"])
        assert r["family_step@10"]["value"] == pytest.approx(
            m["family_among_drawings@10"] / m["chance_family_among_drawings@10"])
        assert r["titleblock_step@10"]["value"] == pytest.approx(
            m["titleblock_among_titled@10"] / m["chance_titleblock_among_titled@10"])
        assert r["titleblock_minus_family_step@10"]["value"] == pytest.approx(
            r["titleblock_step@10"]["value"] - r["family_step@10"]["value"])
        for v in r.values():
            assert v["low"] <= v["value"] <= v["high"], (name, v)
    assert iv["random"]["titleblock_step@10"]["low"] < 1 < iv["random"]["titleblock_step@10"]["high"]
    assert iv["random"]["family_step@10"]["low"] < 1 < iv["random"]["family_step@10"]["high"]
    assert iv["template"]["titleblock_step@10"]["low"] > 2 and iv["template"]["titleblock_minus_family_step@10"]["low"] > 0
    assert iv["family"]["family_step@10"]["low"] > 2 and iv["family"]["titleblock_minus_family_step@10"]["high"] < 0
    # the same seed and queries resample alike: a rerun gives the same interval
    assert anchoring.step_intervals(runs["random"], drawings, pages, 10) == iv["random"]


def test_share_ratio_interval_is_paired_and_checks_its_arguments(pages):
    queries = pages.subset(pages.is_drawing)
    rng = np.random.default_rng(1)
    random_found = np.stack([rng.permutation(len(pages))[:10] for _ in range(len(queries))])
    # paired: an encoder against itself is exactly 1 in every resample (unpaired, the interval would be wide)
    same = anchoring.share_ratio_interval(random_found, random_found, queries, pages, 10)
    assert same == {"value": 1.0, "low": 1.0, "high": 1.0}
    family = _oracle_found(pages, queries, "family", 10)
    template = _oracle_found(pages, queries, "template", 10)
    oracle = anchoring.share_ratio_interval(family, random_found, queries, pages, 10)
    assert oracle["low"] > 2 and oracle["low"] <= oracle["value"] <= oracle["high"]
    # the title-block share: features that know the block beat random rankings on it, family features do not
    by_block = anchoring.share_ratio_interval(template, random_found, queries, pages, 10, share="titleblock")
    by_family = anchoring.share_ratio_interval(family, random_found, queries, pages, 10, share="titleblock")
    m = anchoring.search_metrics(template, queries, pages, 10)
    m0 = anchoring.search_metrics(random_found, queries, pages, 10)
    assert by_block["value"] == pytest.approx(m["titleblock_share@10"] / m0["titleblock_share@10"])
    assert by_block["low"] > 2 and by_family["low"] < by_block["low"]
    with pytest.raises(ValueError, match="share='part' is not allowed"):
        anchoring.share_ratio_interval(random_found, random_found, queries, pages, 10, share="part")
    with pytest.raises(ValueError, match="level=1.5 is not allowed"):
        anchoring.step_intervals(random_found, queries, pages, 10, level=1.5)
    with pytest.raises(ValueError, match="n_resamples=10 is not allowed"):
        anchoring.share_ratio_interval(random_found, random_found, queries, pages, 10, n_resamples=10)
    with pytest.raises(ValueError, match="both must rank the same queries"):
        anchoring.share_ratio_interval(random_found, random_found[:5], queries, pages, 10)
    with pytest.raises(ValueError, match="found has 5 rows for 36 queries"):
        anchoring.step_intervals(random_found[:5], queries, pages, 10)


def test_map_difference_interval_is_paired_and_matches_search_metrics(pages):
    queries = pages.subset(pages.is_drawing)
    rng = np.random.default_rng(4)
    random_found = np.stack([rng.permutation(len(pages))[:10] for _ in range(len(queries))])
    family = _oracle_found(pages, queries, "family", 10)
    assert anchoring.map_difference_interval(random_found, random_found, queries, pages, 10) == {
        "value": 0.0, "low": 0.0, "high": 0.0}
    d = anchoring.map_difference_interval(family, random_found, queries, pages, 10)
    expected = (anchoring.search_metrics(family, queries, pages, 10)["map@10"]
                - anchoring.search_metrics(random_found, queries, pages, 10)["map@10"])
    assert d["value"] == pytest.approx(expected) and d["low"] > 0.5 and d["low"] <= d["value"] <= d["high"]
    with pytest.raises(ValueError, match="both must rank the same queries"):
        anchoring.map_difference_interval(family, random_found[:3], queries, pages, 10)


def test_text_query_interval_resamples_families_and_pairs_them():
    per_family = {"flange": 0.5, "shaft": 0.1, "bracket": 0.3, "gear": 0.0, "housing": 0.2, "plate": 0.4}
    text = {"text_query_precision@10": 0.25, "chance_text_query_precision@10": 0.08,
            **{f"text_query_precision@10:{f}": v for f, v in per_family.items()}}
    r = anchoring.text_query_interval(text)
    assert r["value"] == pytest.approx(text["text_query_precision@10"])  # the mean of the family means
    assert 0.0 < r["low"] < r["value"] < r["high"] < 0.5  # six unequal families: a real spread, inside their range
    # paired by family: a CLIP that finds 0.1 more of every family differs by exactly 0.1 in every resample
    better = {**text, **{f"text_query_precision@10:{f}": v + 0.1 for f, v in per_family.items()}}
    d = anchoring.text_query_interval(better, text)
    assert d["value"] == pytest.approx(0.1) and d["low"] == pytest.approx(0.1) and d["high"] == pytest.approx(0.1)
    # alone, `better` spreads over its families as `text` does: the pairing is what removes that spread
    alone = anchoring.text_query_interval(better)
    assert alone["high"] - alone["low"] > 0.1
    with pytest.raises(ValueError, match=r"for 0 families: an interval over the families needs at least 2"):
        anchoring.text_query_interval(text, k=5)
    with pytest.raises(ValueError, match=r"baseline asks the families \['flange'\]"):
        anchoring.text_query_interval(text, {"text_query_precision@10:flange": 0.5})
