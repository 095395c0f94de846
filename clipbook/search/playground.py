"""An interactive page search for JupyterLab (notebook 04 shows it): pick an encoder, then ask with one of the
query pages, an uploaded page (an image, or a PDF's first page) or, for an encoder with a text tower, words; the
top k pages appear with their titles.

The logic lives in `SearchPlayground.update`, which runs without a front end (tests, papermill); the widgets only
call it. Each encoder's index is built the first time it is asked for, then kept.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..data.pdf import read_image
from ..plots import show_images
from ..retrieval import encode_texts
from ..utils import check_choice, check_positive
from ..widgets import show_in
from .encoders import Encoder
from .index import PageIndex, check_box


@dataclass
class SearchResult:
    """What one search found: the query (a page, or the words asked), the top-k positions and their scores."""

    encoder: str
    query: np.ndarray | str
    positions: np.ndarray
    scores: np.ndarray


class SearchPlayground:
    """Widgets: an encoder menu, a query slider, an upload button and a words box, over one output."""

    def __init__(self, pages: np.ndarray, encoders: Mapping[str, Encoder], queries: np.ndarray, *,
                 page_titles: Sequence[str] | None = None, query_titles: Sequence[str] | None = None,
                 text_models: Mapping[str, tuple[torch.nn.Module, object]] | None = None, k: int = 10,
                 mask_box: Sequence[float] | None = None, encoder: str | None = None,
                 device: str | torch.device = "auto") -> None:
        """`pages`, `queries`: uint8 pages (N, S, S, 3). `text_models`: for the encoders that are a CLIP's image
        tower, its (model, tokenizer), so words can be asked. `mask_box` (page fractions) is blanked on every page
        and query, as `PageIndex.build` does. `encoder`: the one shown first (default: the first)."""
        import ipywidgets as w

        if not encoders:
            raise ValueError("encoders={} is not allowed: give at least one name -> search.Encoder.")
        check_positive("k", k)
        pages, queries = np.asarray(pages), np.asarray(queries)
        if len(queries) == 0:
            raise ValueError("queries is empty: give at least one query page.")
        for name, titles, n in (("page_titles", page_titles, len(pages)), ("query_titles", query_titles, len(queries))):
            if titles is not None and len(titles) != n:
                raise ValueError(f"{name} has {len(titles)} entries for {n} pages: give one title per page.")
        self.text_models = dict(text_models or {})
        unknown = sorted(set(self.text_models) - set(encoders))
        if unknown:
            raise ValueError(f"text_models names {unknown}, which are not encoders: use names of {list(encoders)}.")
        self.pages, self.queries, self.encoders = pages, queries, dict(encoders)
        self.page_titles = list(page_titles) if page_titles is not None else [f"page {i}" for i in range(len(pages))]
        self.query_titles = (list(query_titles) if query_titles is not None
                             else [f"query {i}" for i in range(len(queries))])
        self.mask_box = check_box("mask_box", mask_box) if mask_box is not None else None
        self.k, self.device = min(int(k), len(pages)), device
        self.indexes: dict[str, PageIndex] = {}
        self.uploaded: np.ndarray | None = None
        self.uploaded_name = ""
        self.message = ""
        first = encoder if encoder is not None else next(iter(self.encoders))
        check_choice("encoder", first, list(self.encoders))
        self.encoder = w.Dropdown(options=list(self.encoders), value=first, description="encoder")
        self.picker = w.IntSlider(0, 0, len(queries) - 1, description="query")
        self.upload = w.FileUpload(accept="image/*,.pdf", multiple=False, description="upload")
        self.words = w.Text("", description="words", placeholder="a technical drawing of a flange (CLIP only)",
                            layout=w.Layout(width="60%"))
        self.output = w.Output()
        self.picker.observe(lambda _: self._picked(), names="value")  # a query page replaces an upload
        for control in (self.encoder, self.words):
            control.observe(lambda _: self.refresh(), names="value")
        self.upload.observe(lambda change: self._uploaded(change["new"]), names="value")
        self.widget = w.VBox([w.HBox([self.encoder, self.picker, self.upload]), self.words, self.output])

    def index(self, name: str) -> PageIndex:
        """The pages indexed with encoder `name` (built on first use)."""
        check_choice("encoder", name, list(self.encoders))
        if name not in self.indexes:
            self.indexes[name] = PageIndex.build(self.pages, self.encoders[name], mask_box=self.mask_box)
        return self.indexes[name]

    def _picked(self) -> None:
        self.uploaded = None
        self.refresh()

    def _uploaded(self, files) -> None:
        if files:
            item = files[0] if isinstance(files, (list, tuple)) else next(iter(files.values()))
            self.set_upload(bytes(item["content"]), item.get("name", "upload.png"))

    def set_upload(self, data: bytes, name: str = "upload.png") -> None:
        """Use an uploaded image or PDF (its first page) as the query; one that cannot be read is reported by its
        name, not raised."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(name).name
            path.write_bytes(data)
            try:
                self.uploaded = read_image(path, self.pages.shape[1])
            except ValueError as e:
                self.uploaded = None
                self.message = str(e).replace(str(path), name)
                show_in(self.output, self.message)
                return
        self.uploaded_name = name
        self.refresh()

    def update(self) -> SearchResult | str:
        """Search with the current choices: words when the words box is filled, else the upload, else the query
        page picked; an error message for a choice that cannot be searched."""
        name = self.encoder.value
        index = self.index(name)
        words = self.words.value.strip()
        if words:
            if name not in self.text_models:
                with_text = [e for e in self.encoders if e in self.text_models]
                return (f"words={words!r} cannot be searched with encoder={name!r}: it has no text tower. Pick "
                        + (f"one of {with_text}" if with_text else "a CLIP encoder") + ", or clear the words box.")
            model, tokenizer = self.text_models[name]
            scores, positions = index.search(encode_texts(model, tokenizer, [words], self.device), self.k,
                                             self.encoders[name])
            return SearchResult(name, words, positions[0], scores[0])
        page = self.uploaded if self.uploaded is not None else self.queries[self.picker.value]
        scores, positions = index.search_pages(page[None], self.encoders[name], self.k)
        return SearchResult(name, page, positions[0], scores[0])

    def figure(self, result: SearchResult) -> plt.Figure:
        """The query and its top k pages, titled."""
        if isinstance(result.query, str):
            query, title = np.full_like(self.pages[0], 255), f"{result.encoder}: “{result.query}”"
        elif self.uploaded is not None:
            query, title = result.query, f"{result.encoder}: {self.uploaded_name}"
        else:
            query, title = result.query, f"{result.encoder}: {self.query_titles[self.picker.value]}"
        titles = [title] + [f"{s:.2f} · {self.page_titles[j]}" for j, s in zip(result.positions, result.scores)]
        return show_images(np.stack([query, *self.pages[result.positions]]), titles, ncols=len(titles), size=1.45,
                           title_chars=20)

    def refresh(self) -> None:
        result = self.update()
        self.message = result if isinstance(result, str) else ""
        show_in(self.output, self.message or self.figure(result))
