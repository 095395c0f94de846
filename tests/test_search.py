"""The page-search tool: ranking metrics against torchmetrics, the faiss index (save/load, encoder identity,
approximate kinds, a mask box applied to queries), folder indexing with bad files, encoder specs, and the
command line. Notebook 04's title-block analysis is tested in test_anchoring.py."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from torchmetrics.retrieval import RetrievalMAP, RetrievalPrecision, RetrievalRecall

import clipbook
from clipbook import search
from clipbook.data import pdf
from clipbook.data.drawings import PageCorpus


@pytest.fixture(scope="module")
def pages():
    return PageCorpus(page_size=64).dataset(80, seed=0, cache=False)


@pytest.fixture(scope="module")
def pixels():
    return search.pixel_encoder(16)


def test_ranking_metrics_match_torchmetrics():
    rng = np.random.default_rng(0)
    q, n, k = 12, 40, 10
    scores = rng.random((q, n)) + 0.01  # torchmetrics counts only positive scores as retrieved
    target = rng.random((q, n)) < 0.2
    target[0] = False  # a query without any relevant page scores 0 everywhere
    order = np.argsort(-scores, axis=1)
    relevant = np.take_along_axis(target, order, axis=1)
    ours = search.ranking_metrics(relevant[:, :k], target.sum(1), k)
    indexes = torch.arange(q).repeat_interleave(n)
    preds, tgt = torch.tensor(scores).flatten(), torch.tensor(target).flatten()
    assert ours[f"precision@{k}"] == pytest.approx(float(RetrievalPrecision(top_k=k)(preds, tgt, indexes=indexes)))
    assert ours[f"recall@{k}"] == pytest.approx(float(RetrievalRecall(top_k=k)(preds, tgt, indexes=indexes)))
    assert ours[f"map@{k}"] == pytest.approx(float(RetrievalMAP(top_k=k)(preds, tgt, indexes=indexes)))


@pytest.mark.parametrize("kind", search.INDEX_KINDS)
def test_index_kinds_save_load_and_agree_with_brute_force(kind, tmp_path):
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(500, 16)).astype(np.float32)
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    index = search.PageIndex(16, "enc:a", kind, spec="pixels:4").add(feats, [f"p{i}" for i in range(500)])
    scores, found = index.search(feats[:20], 5, "enc:a")
    brute = np.argsort(-(feats[:20] @ feats.T), axis=1)[:, :5]
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(found, brute)])
    assert overlap == 1.0 if kind == "exact" else overlap > 0.8
    assert (found[:, 0] == np.arange(20)).mean() >= (1.0 if kind == "exact" else 0.9)  # each finds itself
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
    index.save(tmp_path / "idx")
    again = search.PageIndex.load(tmp_path / "idx")
    assert again.ids == index.ids and again.kind == kind and again.encoder == "enc:a" and again.spec == "pixels:4"
    s2, f2 = again.search(feats[:20], 5, "enc:a")
    assert np.array_equal(f2, found) and np.allclose(s2, scores)
    assert not list((tmp_path / "idx").glob(".*.tmp"))


def test_another_encoder_is_a_clear_error(pages, pixels, tmp_path):
    index = search.PageIndex.build(pages.images, pixels)
    other = search.pixel_encoder(8)
    with pytest.raises(ValueError, match=r"encoder='pixels:8' is not allowed: this index was built with encoder "
                                         r"'pixels:16'"):
        index.query(pages.images[:2], other)
    with pytest.raises(ValueError, match="not allowed"):
        index.search(other.encode(pages.images[:2]), 3, other)
    with pytest.raises(ValueError, match=r"features of shape \(2, 64\) do not fit this index of dim 256"):
        index.search(other.encode(pages.images[:2]), 3, "pixels:16")
    index.save(tmp_path / "idx")
    (tmp_path / "idx" / "index.faiss").write_bytes(b"broken")
    with pytest.raises(ValueError, match="damaged"):
        search.PageIndex.load(tmp_path / "idx")
    with pytest.raises(FileNotFoundError, match="holds no saved index"):
        search.PageIndex.load(tmp_path / "nothing")


def test_query_image_of_another_size_and_mode(pages, pixels):
    index = search.PageIndex.build(pages.images, pixels, ids=[f"page{i}" for i in range(len(pages))])
    i = int(np.flatnonzero(pages.is_drawing)[0])
    big_grey = np.asarray(Image.fromarray(pages.images[i]).convert("L").resize((150, 150), Image.BICUBIC))
    page = pdf.to_page(Image.fromarray(big_grey), 64)
    (top, score), *_ = index.query(page[None], pixels, k=3)[0]
    assert top == f"page{i}" and score > 0.95


def test_index_with_a_mask_box_masks_queries_too(pages, pixels, tmp_path):
    """Ink inside the mask box of a query changes nothing for an index built with that box, and the box is
    saved with the index."""
    box = (0.5, 0.5, 1.0, 1.0)
    scribbled = pages.images[:5].copy()
    scribbled[:, 40:, 40:] = 0  # ink only inside the box (pixels 32 to 64 of a 64-pixel page)
    index = search.PageIndex.build(pages.images, pixels, mask_box=box)
    assert index.mask_box == box and "mask_box=(0.5, 0.5, 1.0, 1.0)" in repr(index)
    for results in (index.query(scribbled, pixels, k=1), index.query(pages.images[:5], pixels, k=1)):
        assert [r[0][0] for r in results] == ["0", "1", "2", "3", "4"]
        assert all(r[0][1] == pytest.approx(1.0, abs=1e-5) for r in results)
    plain = search.PageIndex.build(pages.images, pixels)  # without the box, the scribble moves every query
    assert plain.mask_box is None
    assert all(r[0][1] < 0.99 for r in plain.query(scribbled, pixels, k=1))
    index.save(tmp_path / "idx")
    again = search.PageIndex.load(tmp_path / "idx")
    assert again.mask_box == box
    assert again.query(scribbled, pixels, k=1) == index.query(scribbled, pixels, k=1)


def test_mask_box_paints_the_box_in_paper_colour():
    pages = np.full((2, 10, 20, 3), 240, np.uint8)
    pages[1] = 200  # another paper
    pages[:, 5:, :] = 0  # ink on the lower half
    out = search.mask_box(pages, (0.25, 0.55, 0.5, 1.0))  # rounded outwards: rows 5 to 10, columns 5 to 10
    assert (out[0, 5:, 5:10] == 240).all() and (out[1, 5:, 5:10] == 200).all()
    assert (out[:, 5:, :5] == 0).all() and (out[:, 5:, 10:] == 0).all() and (out[:, :5] == pages[:, :5]).all()
    assert (pages[:, 5:, 5:10] == 0).all()  # a copy: the pages given are left alone


@pytest.mark.parametrize("box", [(0.5, 0.5, 0.4, 1.0), (0, 0, 1, 1.5), (0.1, 0.2, 0.3), "0,0,1,1", (-0.1, 0, 1, 1)])
def test_bad_mask_boxes(box):
    message = re.escape(f"box={box!r} is not allowed: give four page fractions x0, y0, x1, y1")
    with pytest.raises(ValueError, match=message):
        search.mask_box(np.zeros((1, 8, 8, 3), np.uint8), box)
    with pytest.raises(ValueError, match="mask_" + message):
        search.PageIndex(8, "e", mask_box=box)


def test_an_index_of_the_former_title_block_mask_must_be_rebuilt(pages, pixels, tmp_path):
    search.PageIndex.build(pages.images[:10], pixels).save(tmp_path / "idx")
    meta = json.loads((tmp_path / "idx" / "index.json").read_text())
    meta.pop("mask_box")
    (tmp_path / "idx" / "index.json").write_text(json.dumps({**meta, "version": 1, "masked": True}))
    with pytest.raises(ValueError, match="built with the former --mask-title-block; build it again with --mask-box"):
        search.PageIndex.load(tmp_path / "idx")


def test_thin_strokes_survive_shrinking(pages):
    assert [search.stroke_kernel(128, t) for t in (128, 64, 48, 32, 16)] == [1, 1, 1, 3, 7]
    page = np.full((1, 64, 64, 3), 255, np.uint8)
    page[0, 20, :] = 0  # a 1-pixel stroke
    assert np.array_equal(search.thicken_strokes(page, 64), page)  # no shrinking, nothing to do
    thick = search.thicken_strokes(page, 16)  # 4x smaller: a 3-pixel min filter
    assert (thick[0, 19:22] == 0).all() and (thick[0, :19] == 255).all() and (thick[0, 22:] == 255).all()
    plain = search.pixel_encoder(16, strokes=False)
    kept = search.pixel_encoder(16)
    assert kept.name == "pixels:16" and plain.name == "pixels:16:plain" and plain.spec is None
    # after shrinking 4x, averaging leaves a quarter of the stroke's ink; thickened first, twice that survives
    assert plain.embed(page).max() == pytest.approx(0.25, abs=0.01)
    assert kept.embed(page).max() == pytest.approx(0.5, abs=0.01)


def test_index_folder_skips_bad_files_and_rejects_empty_folders(pages, pixels, tmp_path):
    folder = tmp_path / "mine"
    pdf.write_pdfs(pages.images[:30], folder, pages_per_document=20)
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n garbage")
    with pytest.warns(UserWarning, match="corrupt.pdf"):
        index = search.index_folder(folder, pixels, page_size=64, batch_size=8, progress=False)
    assert len(index) == 30 and index.ids[0].endswith("document-0000.pdf#page=1")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no images or PDFs"):
        search.index_folder(tmp_path / "empty", pixels, page_size=64)


def test_clip_and_open_clip_specs_load_the_same_weights(pages, tmp_path):
    model, _, _ = clipbook.create_clip("clipbook-tiny")
    path = clipbook.save_checkpoint(model, tmp_path / "tiny.safetensors", "clipbook-tiny")
    by_checkpoint = search.load_encoder(f"clip:{path}", device="cpu")
    by_open_clip = search.load_encoder(f"open_clip:clipbook-tiny:{path}", device="cpu")
    assert by_checkpoint.name == "clip:tiny" and by_checkpoint.dim == 128
    a, b = by_checkpoint.encode(pages.images[:4]), by_open_clip.encode(pages.images[:4])
    assert a.shape == (4, 128) and np.allclose(a, b, atol=1e-6)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("spec, message", [
    ("nope", "encoder='nope' is not allowed: use one of pixels"),
    ("pixels:abc", "encoder='pixels:abc' is not allowed"),
    ("open_clip:ViT-B-32", "write open_clip:<model>:<pretrained>"),
    ("simclr", "encoder='simclr' trains on the pages it indexes"),
    ("open_clip:clipbook-tiny:openai", "PRETRAINED='openai' is not allowed"),
    ("clip", "encoder='clip' is not allowed: name which CLIP; a bare 'clip' no longer trains a model"),
    ("clip", "use one of pixels, pixels:<side>, clip:<checkpoint.safetensors>, simclr, "
             "simclr:<checkpoint.safetensors>, open_clip:<model>:<pretrained>."),
])
def test_bad_encoder_specs(spec, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        search.load_encoder(spec, device="cpu")


def test_bad_index_arguments():
    with pytest.raises(ValueError, match="kind='flat' is not allowed: choose one of 'exact', 'hnsw', 'ivf'"):
        search.PageIndex(8, "e", "flat")
    with pytest.raises(ValueError, match="k=0 is not allowed"):
        search.PageIndex(8, "e").add(np.ones((3, 8), np.float32)).search(np.ones((1, 8), np.float32), 0, "e")
    with pytest.raises(ValueError, match="this index is empty"):
        search.PageIndex(8, "e").search(np.ones((1, 8), np.float32), 1, "e")


def test_command_line_build_and_query(pages, tmp_path, capsys):
    folder = tmp_path / "mine"
    pdf.write_pdfs(pages.images[:40], folder, pages_per_document=25)
    (folder / "scan.png").write_bytes(b"unreadable")
    i = int(np.flatnonzero(pages.is_drawing[:40])[0])
    Image.fromarray(pages.images[i]).resize((100, 100)).convert("L").save(tmp_path / "query.png")
    # the real command line once, in its own process ...
    built = subprocess.run([sys.executable, "-m", "clipbook.search", "build", str(folder), "--index",
                            str(tmp_path / "idx"), "--encoder", "pixels", "--page-size", "64", "--kind", "hnsw"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert built.returncode == 0, built.stderr
    assert "scan.png" in built.stderr and "indexed 40 pages" in built.stdout
    # ... then its entry point in this one
    assert search.main(["query", str(tmp_path / "query.png"), "--index", str(tmp_path / "idx"), "-k", "3",
                        "--json"]) == 0
    results = json.loads(capsys.readouterr().out)[0]["results"]
    doc, page = (0, i + 1) if i < 25 else (1, i - 24)
    assert len(results) == 3 and results[0]["page"].endswith(f"document-{doc:04d}.pdf#page={page}")
    with pytest.raises(SystemExit) as wrong:
        search.main(["query", str(tmp_path / "query.png"), "--index", str(tmp_path / "idx"), "--encoder", "pixels:8"])
    assert wrong.value.code == 2 and "this index was built with encoder 'pixels:32'" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as empty:
        search.main(["build", str(tmp_path / "empty"), "--index", str(tmp_path / "idx2"), "--encoder", "pixels"])
    assert empty.value.code == 2 and "holds no images or PDFs" in capsys.readouterr().err
    # a mask box is stored with the index and applied to the query
    assert search.main(["build", str(folder), "--index", str(tmp_path / "masked"), "--encoder", "pixels",
                        "--page-size", "64", "--mask-box", "0.5,0.5,1,1"]) == 0
    assert json.loads((tmp_path / "masked" / "index.json").read_text())["mask_box"] == [0.5, 0.5, 1.0, 1.0]
    capsys.readouterr()
    assert search.main(["query", str(tmp_path / "query.png"), "--index", str(tmp_path / "masked"), "-k", "1",
                        "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["results"][0]["page"].endswith(f"document-{doc:04d}.pdf#page={page}")


def test_command_line_add_indexes_only_new_files(pages, tmp_path, capsys):
    """An archive that grew: `add` encodes the new files only, the index then equals one built over the whole
    folder, and a second `add` changes nothing."""
    folder = tmp_path / "mine"
    pdf.write_pdfs(pages.images[:30], folder, pages_per_document=10)  # document-0000..0002.pdf
    args = ["--index", str(tmp_path / "idx"), "--device", "cpu"]
    assert search.main(["build", str(folder), "--encoder", "pixels", "--page-size", "64", *args]) == 0
    Image.fromarray(pages.images[30]).save(folder / "new-drawing.png")
    (folder / "notes.png").write_bytes(b"not an image")
    capsys.readouterr()
    assert search.main(["add", str(folder), *args]) == 0
    out = capsys.readouterr()
    assert "added 1 pages" in out.out and "31 in all" in out.out and "notes.png" in out.err
    grown = search.PageIndex.load(tmp_path / "idx")
    assert search.main(["build", str(folder), "--encoder", "pixels", "--page-size", "64", "--index",
                        str(tmp_path / "whole"), "--device", "cpu"]) == 0
    whole = search.PageIndex.load(tmp_path / "whole")
    assert sorted(grown.ids) == sorted(whole.ids) and len(grown) == 31
    assert grown.ids[-1] == str(folder / "new-drawing.png")  # the old pages kept their places
    query = pages.images[30:31]
    encoder = search.load_encoder("pixels", device="cpu")
    assert grown.query(query, encoder, 1)[0][0][0] == str(folder / "new-drawing.png")
    assert search.main(["add", str(folder), *args]) == 0
    assert "added 0 pages" in capsys.readouterr().out and len(search.PageIndex.load(tmp_path / "idx")) == 31
    with pytest.raises(SystemExit) as missing:
        search.main(["add", str(tmp_path / "nowhere"), *args])
    assert missing.value.code == 2 and "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0.5,0.5,0.4,1", "abc", "0.1,0.2,0.3", "0,0,1,2"])
def test_command_line_refuses_a_bad_mask_box(value, pages, tmp_path, capsys):
    pdf.write_pdfs(pages.images[:2], tmp_path / "mine")
    with pytest.raises(SystemExit) as bad:
        search.main(["build", str(tmp_path / "mine"), "--index", str(tmp_path / "idx"), "--encoder", "pixels",
                     "--mask-box", value])
    err = capsys.readouterr().err
    assert bad.value.code == 2
    assert f"--mask-box={value!r} is not allowed: give four page fractions x0,y0,x1,y1" in err
    assert "0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1" in err
    assert not (tmp_path / "idx").exists()


def test_command_line_refuses_a_bare_clip(pages, tmp_path, capsys):
    pdf.write_pdfs(pages.images[:2], tmp_path / "mine")
    with pytest.raises(SystemExit) as bare:
        search.main(["build", str(tmp_path / "mine"), "--index", str(tmp_path / "idx"), "--encoder", "clip"])
    err = capsys.readouterr().err
    assert bare.value.code == 2 and "encoder='clip' is not allowed" in err and "no longer trains a model" in err
    assert "clip:<checkpoint.safetensors>" in err and "open_clip:<model>:<pretrained>" in err
    assert not (tmp_path / "idx").exists()
