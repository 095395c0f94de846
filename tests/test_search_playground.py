"""The search playground's logic without a front end: each way of asking returns what the index and API return."""
import io

import numpy as np
import pytest
from PIL import Image

import clipbook
from clipbook import anchoring, search
from clipbook.data import pdf
from clipbook.data.drawings import TITLE_BLOCK_BOX, PageCorpus
from clipbook.retrieval import encode_texts


@pytest.fixture(scope="module")
def world():
    import torch

    torch.manual_seed(0)
    corpus = PageCorpus(64)
    pages = corpus.dataset(60, seed=3, cache=False)
    queries = corpus.dataset(4, seed=4, drawings_only=True, cache=False)
    model, tokenizer, _ = clipbook.create_clip("clipbook-page", device="cpu")
    encoders = {"pixels": search.pixel_encoder(32), "clip": search.clip_encoder(model.eval(), "clip", None, "cpu")}
    return pages, queries, encoders, model, tokenizer


def playground(world, **kwargs):
    pages, queries, encoders, model, tokenizer = world
    titles = [str(n["family"] or n["kind"]) for n in map(pages.names, range(len(pages)))]
    return search.SearchPlayground(pages.images, encoders, queries.images, k=5, device="cpu", page_titles=titles,
                                   text_models={"clip": (model, tokenizer)}, **kwargs)


@pytest.mark.parametrize("name", ["pixels", "clip"])
def test_a_query_page_finds_what_the_index_finds(world, name):
    pages, queries, encoders, _, _ = world
    p = playground(world, encoder=name)
    p.picker.value = 2
    result = p.update()
    scores, found = search.PageIndex.build(pages.images, encoders[name]).search_pages(queries.images[2:3],
                                                                                     encoders[name], 5)
    assert result.encoder == name and np.array_equal(result.query, queries.images[2])
    assert result.positions.tolist() == found[0].tolist() and np.allclose(result.scores, scores[0])
    p.refresh()  # draws into its output widget without a front end
    assert p.message == "" and len(p.figure(result).axes) == 6


def test_a_masked_playground_blanks_the_box_on_pages_and_queries(world):
    pages, queries, encoders, _, _ = world
    p = playground(world, mask_box=TITLE_BLOCK_BOX)
    _, found = anchoring.search_archive(pages, queries, encoders["pixels"], True, 5)
    assert p.update().positions.tolist() == found[0].tolist()


def test_words_search_through_the_clips_text_tower_and_not_through_pixels(world):
    pages, _, encoders, model, tokenizer = world
    p = playground(world, encoder="clip")
    p.words.value = "a technical drawing of a flange"
    result = p.update()
    _, found = search.PageIndex.build(pages.images, encoders["clip"]).search(
        encode_texts(model, tokenizer, ["a technical drawing of a flange"], "cpu"), 5, encoders["clip"])
    assert result.query == "a technical drawing of a flange" and result.positions.tolist() == found[0].tolist()
    p.encoder.value = "pixels"  # the words stay: a clear message, not an exception
    assert p.message.startswith("words='a technical drawing of a flange' cannot be searched with encoder='pixels'")
    assert "['clip']" in p.message


def test_an_uploaded_page_or_pdf_is_the_query_and_a_bad_upload_is_a_message(world, tmp_path):
    _, queries, _, _, _ = world
    p = playground(world)
    png = io.BytesIO()
    Image.fromarray(queries.images[1]).save(png, format="PNG")
    p.set_upload(png.getvalue(), "mine.png")
    assert p.uploaded_name == "mine.png" and np.array_equal(p.update().query, queries.images[1])
    p.picker.value = 1
    from_picker = p.update().positions.tolist()
    p.set_upload(png.getvalue(), "mine.png")
    assert p.update().positions.tolist() == from_picker
    pdf.write_pdf(queries.images[:1], tmp_path / "drawing.pdf")
    p.set_upload((tmp_path / "drawing.pdf").read_bytes(), "drawing.pdf")
    assert np.array_equal(p.uploaded, pdf.read_image(tmp_path / "drawing.pdf", 64))
    p.set_upload(b"not an image", "notes.png")
    assert p.uploaded is None and "'notes.png'" in p.message and "readable image" in p.message


def test_bad_arguments_are_clear_errors(world):
    pages, queries, encoders, _, _ = world
    with pytest.raises(ValueError, match="k=0 is not allowed"):
        search.SearchPlayground(pages.images, encoders, queries.images, k=0)
    with pytest.raises(ValueError, match="encoders=\\{\\} is not allowed"):
        search.SearchPlayground(pages.images, {}, queries.images)
    with pytest.raises(ValueError, match="encoder='simclr' is not allowed: choose one of 'pixels', 'clip'"):
        search.SearchPlayground(pages.images, encoders, queries.images, encoder="simclr")
    with pytest.raises(ValueError, match="page_titles has 2 entries for 60 pages"):
        search.SearchPlayground(pages.images, encoders, queries.images, page_titles=["a", "b"])
    with pytest.raises(ValueError, match="mask_box=\\(0.9, 0.9, 0.5, 1.0\\) is not allowed"):
        search.SearchPlayground(pages.images, encoders, queries.images, mask_box=(0.9, 0.9, 0.5, 1.0))
    with pytest.raises(ValueError, match="text_models names \\['simclr'\\]"):
        search.SearchPlayground(pages.images, encoders, queries.images, text_models={"simclr": (None, None)})
