"""The page corpus and PDFs: determinism, labels, the title block's place, caching, PDF round trips, bad files."""
import re

import numpy as np
import pytest
from PIL import Image

from clipbook.data import pdf
from clipbook.data.drawings import (FAMILIES, PAGE_KINDS, TITLE_BLOCKS, PageCorpus, family_queries, mask_title_block,
                                    render_workers, title_block_box)


@pytest.fixture(scope="module")
def corpus():
    return PageCorpus(page_size=64)


@pytest.fixture(scope="module")
def pages(corpus):
    return corpus.dataset(120, seed=0, cache=False)


def test_same_seed_same_pages_other_seed_other_pages(corpus, pages):
    again = corpus.dataset(120, seed=0, cache=False)
    other = corpus.dataset(120, seed=1, cache=False)
    assert np.array_equal(pages.images, again.images) and np.array_equal(pages.family, again.family)
    assert not np.array_equal(pages.images, other.images)
    assert pages.images.dtype == np.uint8 and pages.images.shape == (120, 64, 64, 3)
    # a page depends on its own seed only: the same page in a longer corpus is the same pixels
    longer = corpus.dataset(150, seed=0, cache=False)
    assert np.array_equal(longer.images[:120], pages.images)


def test_labels(corpus):
    data = corpus.dataset(600, seed=2, cache=False)
    drawing = data.is_drawing
    assert 0.42 < drawing.mean() < 0.58  # about half drawings by default
    assert (data.family[drawing] >= 0).all() and (data.family[~drawing] == -1).all()
    assert (data.template[drawing] >= 0).all()  # every drawing has a title block
    kinds = {PAGE_KINDS[k] for k in data.kind[~drawing]}
    assert kinds == set(PAGE_KINDS) - {"drawing"}
    with_block = (data.template >= 0) & ~drawing
    assert {PAGE_KINDS[k] for k in data.kind[with_block]} == {"diagram"}  # only schemas carry one besides drawings
    assert set(np.unique(data.family[drawing])) == set(range(len(FAMILIES)))
    assert data.names(int(np.flatnonzero(drawing)[0]))["template"] in TITLE_BLOCKS
    assert len(data.subset(drawing)) == drawing.sum()
    only = corpus.dataset(30, seed=2, drawings_only=True, cache=False)
    assert only.is_drawing.all()


def test_title_block_correlation():
    def agreement(rho):
        c = PageCorpus(64, title_block_correlation=rho)
        specs = [s for s in c.sample(3000, seed=0) if s.kind == "drawing"]
        return np.mean([s.template == c.house_template(s.family) for s in specs])

    assert agreement(1.0) == 1.0
    assert agreement(0.0) == pytest.approx(1 / len(TITLE_BLOCKS), abs=0.03)  # independent of the family
    assert agreement(0.5) == pytest.approx(0.5 + 0.5 / len(TITLE_BLOCKS), abs=0.04)


@pytest.mark.parametrize("size", [64, 128])
def test_title_block_sits_in_the_bottom_right_box(size):
    corpus = PageCorpus(size)
    specs = [s for s in corpus.sample(80, seed=3) if s.template]
    with_block, without = corpus.render(specs), corpus.render(specs, title_block=False)
    x0, y0, x1, y1 = title_block_box(size)
    assert x0 > size / 2 and y0 > size * 3 / 4 and x1 <= size and y1 <= size
    changed = (with_block != without).any(axis=-1)  # (N, S, S): where the title block drew
    assert changed.any(axis=(1, 2)).all(), "every page with a template shows its title block"
    outside = changed.copy()
    outside[:, y0:y1, x0:x1] = False
    assert not outside.any(), "a title block drew outside TITLE_BLOCK_BOX"
    # masking blanks exactly that box: a masked page with a title block equals the masked page without one
    assert np.array_equal(mask_title_block(with_block), mask_title_block(without))
    assert np.array_equal(mask_title_block(with_block)[:, :y0], with_block[:, :y0])


def test_templates_differ_from_each_other():
    """The archive's six templates and the captioned corpus's own four (WEB_TITLE_BLOCKS) all look different,
    and every one of them fits the box that masking blanks."""
    from clipbook.data.drawings import WEB_TITLE_BLOCKS

    every = TITLE_BLOCKS + WEB_TITLE_BLOCKS
    corpus = PageCorpus(64, templates=every)
    crops = []
    x0, y0, x1, y1 = title_block_box(64)
    for template in every:
        specs = [s for s in corpus.sample(300, seed=4) if s.template == template][:5]
        pages = corpus.render(specs)
        crops.append(pages[:, y0:y1, x0:x1].astype(float).mean(0))
        assert np.array_equal(mask_title_block(pages), mask_title_block(corpus.render(specs, title_block=False)))
    for i in range(len(crops)):
        for j in range(i):
            assert np.abs(crops[i] - crops[j]).mean() > 3, (every[i], every[j])


def test_cache_round_trip(corpus, tmp_data):
    fresh = corpus.dataset(40, seed=7)
    files = list((tmp_data / "cache").glob("pages-64px-40-*.npz"))
    assert len(files) == 1
    again = corpus.dataset(40, seed=7)
    assert np.array_equal(fresh.images, again.images) and np.array_equal(fresh.template, again.template)
    assert np.array_equal(fresh.features, again.features)
    files[0].write_bytes(b"not an npz")  # a damaged cache file is regenerated
    assert np.array_equal(corpus.dataset(40, seed=7).images, fresh.images)
    assert not np.array_equal(PageCorpus(64, title_block_correlation=1.0).dataset(40, seed=7).template, fresh.template)


@pytest.mark.parametrize("kwargs, message", [
    (dict(page_size=32), "page_size=32"),
    (dict(drawing_fraction=1.5), "drawing_fraction=1.5 is not allowed: it must be a number from 0 to 1"),
    (dict(title_block_correlation=-0.1), "title_block_correlation=-0.1"),
    (dict(families=["flange"]), "families=['flange']"),
    (dict(templates=["allegheny", "nope"]), "templates entry='nope'"),
    (dict(other_mix={"poems": 1.0}), "other_mix key='poems'"),
])
def test_bad_corpus_parameters(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        PageCorpus(**kwargs)


def test_pdf_round_trip_is_exact(pages, tmp_path):
    paths = pdf.write_pdfs(pages.images[:25], tmp_path / "docs", pages_per_document=10)
    assert [p.name for p in paths] == ["document-0000.pdf", "document-0001.pdf", "document-0002.pdf"]
    back = np.stack([page for p in paths for page in pdf.read_pdf(p, 64)])
    assert np.array_equal(back, pages.images[:25])  # lossless: pixel for pixel
    ids, folder_pages = pdf.read_folder(tmp_path / "docs", 64)
    assert ids[0].endswith("document-0000.pdf#page=1") and ids[-1].endswith("document-0002.pdf#page=5")
    assert np.array_equal(folder_pages, pages.images[:25])
    assert pdf.read_pdf(paths[0], 96)[0].shape == (96, 96, 3)
    assert not list((tmp_path / "docs").glob(".*.tmp"))


def test_images_of_any_size_and_mode(tmp_path):
    rgb = np.zeros((40, 90, 3), np.uint8)
    rgb[:, 45:] = 255
    Image.fromarray(rgb).convert("L").save(tmp_path / "grey.png")
    rgba = Image.new("RGBA", (30, 50), (0, 0, 0, 0))  # fully transparent: must come out as white paper
    rgba.save(tmp_path / "clear.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "palette.gif")
    Image.fromarray(rgb).save(tmp_path / "photo.jpg", quality=95)
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)).save(tmp_path / "scan16.png")
    for name in ("grey.png", "clear.png", "palette.gif", "photo.jpg", "scan16.png"):
        page = pdf.read_image(tmp_path / name, 64)
        assert page.shape == (64, 64, 3) and page.dtype == np.uint8, name
    assert (pdf.read_image(tmp_path / "clear.png", 64) == 255).all()
    grey = pdf.read_image(tmp_path / "grey.png", 64)
    assert grey[:, :28].max() < 30 and grey[:, 36:].min() > 225  # stretched to the square, left dark, right light


def test_unreadable_files_are_skipped_with_a_warning_naming_them(pages, tmp_path):
    folder = tmp_path / "mine"
    pdf.write_pdf(pages.images[:3], folder / "good.pdf")
    Image.fromarray(pages.images[3]).save(folder / "page.png")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    (folder / "broken.png").write_bytes(b"not a png")
    (folder / "notes.txt").write_text("ignored: not a page")
    with pytest.warns(UserWarning) as caught:
        ids, images = pdf.read_folder(folder, 64)
    messages = " ".join(str(w.message) for w in caught)
    assert "broken.pdf" in messages and "broken.png" in messages
    assert len(ids) == 4 and not any("broken" in i or "notes" in i for i in ids)
    assert np.array_equal(images[0], pages.images[0])
    with pytest.raises(ValueError, match=r"not a readable PDF"):
        pdf.read_pdf(folder / "broken.pdf", 64)


def test_empty_or_missing_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no pages here")
    with pytest.raises(ValueError, match=r"folder=.*empty' holds no images or PDFs"):
        pdf.read_folder(tmp_path / "empty", 64)
    with pytest.raises(FileNotFoundError, match=r"folder=.*nowhere' does not exist"):
        pdf.read_folder(tmp_path / "nowhere", 64)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="x.png"), pytest.raises(ValueError, match="no readable page"):
        pdf.read_folder(tmp_path / "bad", 64)


# ---------------------------------------------------------------------------------------------- scan realism
@pytest.fixture(scope="module")
def scans():
    return PageCorpus(page_size=64, realism=1.0).dataset(60, seed=0, cache=False)


def test_realism_zero_draws_the_clean_pages(pages):
    clean = PageCorpus(page_size=64, realism=0.0).dataset(120, seed=0, cache=False)
    assert np.array_equal(clean.images, pages.images)  # 0 is the default, pixel for pixel


def test_scans_are_deterministic_and_keep_the_labels(pages, scans):
    again = PageCorpus(page_size=64, realism=1.0).dataset(60, seed=0, cache=False)
    assert np.array_equal(scans.images, again.images)
    for name in ("kind", "family", "template"):  # realism changes pixels, never what a page shows
        assert np.array_equal(getattr(scans, name), getattr(pages, name)[:60]), name
    half = PageCorpus(page_size=64, realism=0.5).dataset(60, seed=0, cache=False)
    assert np.array_equal(half.family, scans.family)
    assert scans.images.dtype == np.uint8 and scans.images.shape == (60, 64, 64, 3)
    # every page differs from its clean self, and more so at realism 1 than at 0.5
    diff = lambda a: np.abs(a.astype(int) - pages.images[:60].astype(int)).mean(axis=(1, 2, 3))  # noqa: E731
    assert (diff(half.images) > 0).all() and diff(scans.images).mean() > diff(half.images).mean()
    # a page depends on its own seed only, at every realism
    longer = PageCorpus(page_size=64, realism=1.0).dataset(70, seed=0, cache=False)
    assert np.array_equal(longer.images[:60], scans.images)


def test_pages_are_the_same_however_many_processes_render_them(monkeypatch):
    corpus = PageCorpus(page_size=64, realism=1.0)
    specs = corpus.sample(300, seed=4)  # over the 256 pages below which rendering stays in this process
    one, three = corpus.draw(specs, workers=1), corpus.draw(specs, workers=3)
    assert np.array_equal(one[0], three[0]) and np.array_equal(one[1], three[1])
    monkeypatch.setenv("CLIPBOOK_RENDER_WORKERS", "2")
    assert render_workers() == 2
    assert np.array_equal(corpus.draw(specs)[0], one[0])


@pytest.mark.parametrize("raw", ["0", "two", "-1"])
def test_bad_render_workers(monkeypatch, raw):
    monkeypatch.setenv("CLIPBOOK_RENDER_WORKERS", raw)
    with pytest.raises(ValueError, match=re.escape(f"CLIPBOOK_RENDER_WORKERS={raw!r} is not allowed")):
        render_workers()
    with pytest.raises(ValueError, match="workers=0"):
        PageCorpus(page_size=64).draw(PageCorpus(page_size=64).sample(2), workers=0)


def test_scans_keep_the_title_block_in_the_bottom_right_corner():
    corpus = PageCorpus(128, realism=1.0)
    specs = [s for s in corpus.sample(40, seed=3) if s.template]
    with_block, without = corpus.render(specs), corpus.render(specs, title_block=False)
    changed = (np.abs(with_block.astype(int) - without.astype(int)).max(axis=-1) > 60)
    x0, y0, x1, y1 = title_block_box(128)
    slack = 8  # pixels: the scanner's rotation, skew and shift move the corner a little
    outside = changed.copy()
    outside[:, max(0, y0 - slack):, max(0, x0 - slack):] = False
    assert changed.any(axis=(1, 2)).all() and not outside.any()


def test_scan_realism_is_part_of_the_cache_key(tmp_data):
    clean = PageCorpus(64).dataset(20, seed=7)
    scanned = PageCorpus(64, realism=1.0).dataset(20, seed=7)
    assert len(list((tmp_data / "cache").glob("pages-64px-20-*.npz"))) == 2
    assert not np.array_equal(clean.images, scanned.images)
    assert np.array_equal(PageCorpus(64, realism=1.0).dataset(20, seed=7).images, scanned.images)


@pytest.mark.parametrize("realism", [-0.1, 1.5, "1"])
def test_bad_realism(realism):
    with pytest.raises(ValueError, match=re.escape(f"realism={realism!r} is not allowed: it must be a number from 0 to 1")):
        PageCorpus(64, realism=realism)


def test_page_captions_say_what_the_generator_drew():
    from clipbook.data.drawings import CAPTION_DETAILS, INSTITUTIONS, page_captions

    def says(family, texts):
        return family is not None and family.replace("_", " ") in " ".join(texts)

    pages = PageCorpus(64).dataset(400, seed=3, cache=False)
    words = {d: page_captions(pages, seed=1, detail=d) for d in CAPTION_DETAILS}
    assert words["family"] == page_captions(pages, seed=1, detail="family")  # deterministic for a seed
    named_family, named_institution = 0, 0
    for i, (kind_only, family, institution) in enumerate(zip(words["kind"], words["family"], words["institution"])):
        assert len(kind_only) == len(family) == len(institution) == 3
        text = " ".join(institution)
        fam = pages.families[pages.family[i]] if pages.family[i] >= 0 else None
        tpl = pages.templates[pages.template[i]] if pages.template[i] >= 0 else None
        # a caption names only the page's own family and institution, and "kind" names neither
        assert not any(says(f, kind_only) for f in FAMILIES)
        assert all(f == fam for f in FAMILIES if says(f, family))
        assert all(t == tpl for t in INSTITUTIONS if INSTITUTIONS[t].title() in text)
        named_family += says(fam, family)
        named_institution += tpl is not None and INSTITUTIONS[tpl].title() in text
        # "institution" adds to "family" without changing which pages name their family
        assert says(fam, institution) == says(fam, family)
    drawings, blocks = int(pages.is_drawing.sum()), int((pages.template >= 0).sum())
    assert 0.55 < named_family / drawings < 0.85  # p_family = 0.7
    assert 0.35 < named_institution / blocks < 0.65  # p_institution = 0.5
    with pytest.raises(ValueError, match="detail='colour' is not allowed"):
        page_captions(pages, detail="colour")


@pytest.mark.parametrize("realism", [0.0, 1.0])
def test_features_are_what_each_family_draws(realism):
    """The features a page records are the ones its part's drawer drew: no holes on a shaft, hatching only in
    the sections of flanges and gears, nothing on pages that are not drawings, one view only on scans."""
    from clipbook.data.drawings import FEATURES

    pages = PageCorpus(64, realism=realism).dataset(400, seed=4, cache=False)
    assert pages.features.shape == (400, len(FEATURES)) and pages.features.dtype == bool
    assert not pages.features[~pages.is_drawing].any()
    on = {f: pages.features[:, k] for k, f in enumerate(FEATURES)}
    family = np.array([pages.families[f] if f >= 0 else "" for f in pages.family])
    assert not on["holes"][family == "shaft"].any()
    # holed parts in two views show them, but for holes under a pixel across on these 64-px pages
    assert on["holes"][np.isin(family, ["flange", "plate", "pipe_fitting"]) & on["two_views"]].mean() > 0.9
    assert set(family[on["hatching"]]) == {"flange", "gear"}
    assert on["hatching"][(family == "flange") & on["two_views"]].all()  # the flange's side view is its section
    views = on["two_views"][pages.is_drawing].mean()
    assert views == 1.0 if realism == 0 else 0.7 < views < 0.95  # scans: 15% of the sheets show one view
    assert pages.shows(int(np.flatnonzero(family == "flange")[0]))[0] in ("two_views", "holes")
    assert pages.shows(int(np.flatnonzero(~pages.is_drawing)[0])) == ()


def test_captions_name_the_features_drawn():
    from clipbook.data.drawings import CAPTION_DETAILS, page_captions
    from clipbook.data.drawings.corpus import PageData

    pages = PageCorpus(64, realism=1.0).dataset(300, seed=5, cache=False)
    words = {d: page_captions(pages, seed=2, detail=d) for d in CAPTION_DETAILS}
    named = 0
    for i in np.flatnonzero(pages.is_drawing):
        shown = pages.shows(i)
        assert not any(w in " ".join(words["kind"][i]) for w in ("view", "holes", "hatched"))
        for detail in ("family", "institution"):
            text = words[detail][i][0]
            if "view" not in text:
                continue
            named += detail == "family"
            assert ("in two views" in text) == ("two_views" in shown)
            assert ("in one view" in text) == ("two_views" not in shown)
            assert ("holes" in text) == ("holes" in shown)
            assert ("a hatched section" in text) == ("hatching" in shown)
        assert ("view" in words["family"][i][0]) == ("view" in words["institution"][i][0])  # drawn once per page
    assert 0.35 < named / pages.is_drawing.sum() < 0.65  # p_features = 0.5
    assert words["family"][int(np.flatnonzero(~pages.is_drawing)[0])][0] in (
        "a page of text", "a table", "a photo", "a blank page", "a diagram", "a technical drawing")
    unknown = PageData(pages.images, pages.kind, pages.family, pages.template)  # pages that carry no features
    with pytest.raises(ValueError, match="these pages carry none: give pages from PageCorpus, or p_features=0"):
        page_captions(unknown, detail="family")
    assert page_captions(unknown, detail="family", p_features=0) == page_captions(pages, detail="family", p_features=0)
    with pytest.raises(ValueError, match="p_features=1.5 is not allowed"):
        page_captions(pages, p_features=1.5)


def test_text_queries_rank_the_archive_by_their_own_family(monkeypatch):
    """The plumbing of `text_query_search`: a "text tower" that returns, for each family's query, the features of
    one drawing of that family (whatever the wording) finds that drawing first, so precision@1 is 1 for every family."""
    from clipbook import anchoring, retrieval, search

    pages = PageCorpus(64).dataset(120, seed=4, cache=False)
    encoder = search.pixel_encoder(16)
    features = encoder.encode(pages.images)
    first = {f: int(np.flatnonzero(pages.family == f)[0]) for f in sorted(set(pages.family[pages.family >= 0]))}
    asked = {q: first[f] for f in first for q in family_queries(pages.families[f])}
    monkeypatch.setattr(retrieval, "encode_texts",
                        lambda model, tok, texts, device: features[[asked[t] for t in texts]])
    out = anchoring.text_query_search(pages, encoder, None, None, k=1, device="cpu")
    assert out["text_query_precision@1"] == 1.0
    assert out["chance_text_query_precision@1"] == pytest.approx(np.mean([np.mean(pages.family == f) for f in first]))


def test_page_clip_trains_on_its_own_captioned_corpus_and_reuses_it(tmp_data):
    """`page_clip`'s corpus is apart from an archive of the same seed, captioned at the detail asked; the CLIP
    trains on it (its loss falls) and a second call loads the checkpoint instead of training again."""
    import clipbook

    web, captions = clipbook.page_clip_corpus(96, "institution", page_size=64, seed=0)
    archive = PageCorpus(64, realism=1.0).dataset(96, seed=0)
    assert len(web) == len(captions) == 96 and not np.array_equal(web.images, archive.images)
    from clipbook.data.drawings import INSTITUTIONS
    from clipbook.data.drawings.captions import institution_name

    names = [institution_name(t) for t in INSTITUTIONS]
    assert any(name in " ".join(c) for c in captions for name in names)  # some name their title block's institution
    first = clipbook.page_clip("quick", "kind", page_size=64, device="cpu", progress=False, n_pages=96, epochs=3,
                               batch_size=32, lr=1e-3)
    assert not first.loaded and first.final_loss < first.initial_loss
    again = clipbook.page_clip("quick", "kind", page_size=64, device="cpu", progress=False, n_pages=96, epochs=3,
                               batch_size=32, lr=1e-3)
    assert again.loaded and again.checkpoint == first.checkpoint
    with pytest.raises(ValueError, match="detail='words' is not allowed"):
        clipbook.page_clip("quick", "words", page_size=64, n_pages=96)
    with pytest.raises(ValueError, match="epochs=0 is not allowed"):
        clipbook.page_clip("quick", "kind", page_size=64, n_pages=96, epochs=0)
