"""The page index: a faiss index of page features that remembers which encoder built it and which box
(if any) of every page it blanked, and `index_folder` for a folder of images and PDFs.

A box is given as page fractions (x0, y0, x1, y1), from the left and the top; `mask_box` paints it in each
page's paper colour. An index built with a mask box blanks the same box on every query, so pages and
queries are always compared alike.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Sequence

import faiss
import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.pdf import iter_pages, page_files
from ..utils import atomic_path, check_choice, check_positive
from .encoders import Encoder

INDEX_KINDS: tuple[str, ...] = ("exact", "hnsw", "ivf")
Box = tuple[float, float, float, float]
_INDEX_FORMAT = "clipbook-page-index"
_INDEX_VERSION = 2  # 2: the masked box is stored ("mask_box"); 1 stored only whether a built-in box was masked
_PAPER_STRIP = 0.03  # the top rows of a page (this fraction of its height, less one row) are taken as bare paper


# ---------------------------------------------------------------------- masking a box
def check_box(name: str, box: Sequence[float]) -> Box:
    """`box` as a tuple of floats if it is four page fractions x0, y0, x1, y1 with 0 <= x0 < x1 <= 1 and
    0 <= y0 < y1 <= 1, else a ValueError naming `name`."""
    try:
        values = tuple(float(v) for v in box)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 4 or not (0 <= values[0] < values[2] <= 1 and 0 <= values[1] < values[3] <= 1):
        raise ValueError(f"{name}={box!r} is not allowed: give four page fractions x0, y0, x1, y1 (from the left "
                         "and the top) with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1.")
    return values


def paper_colour(images: np.ndarray) -> np.ndarray:
    """Each uint8 page's paper colour (N, C): the median colour of its top rows, which pages leave bare."""
    images = np.asarray(images)
    strip = images[:, : max(1, int(_PAPER_STRIP * images.shape[1]) - 1)]
    return np.median(strip.reshape(len(images), -1, images.shape[-1]), axis=1).astype(np.uint8)


def mask_box(images: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """A copy of uint8 pages (N, H, W, C) with `box` (page fractions x0, y0, x1, y1, rounded outwards to
    whole pixels) painted in each page's paper colour."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"images of shape {images.shape} and dtype {images.dtype} are not allowed: "
                         "give uint8 pages shaped (N, H, W, C).")
    x0, y0, x1, y1 = check_box("box", box)
    h, w = images.shape[1:3]
    out = images.copy()
    out[:, math.floor(y0 * h):math.ceil(y1 * h), math.floor(x0 * w):math.ceil(x1 * w)] = \
        paper_colour(images)[:, None, None, :]
    return out


# ---------------------------------------------------------------------- the index
class PageIndex:
    """A faiss index of page features with the page ids, the identity of the encoder that made them and the
    box it blanks on every page (`mask_box`, page fractions; None: none).

    `kind`: "exact" (IndexFlatIP: exhaustive inner product, the default), "hnsw" (IndexHNSWFlat: a graph,
    approximate, no training) or "ivf" (IndexIVFFlat: sqrt(N) k-means cells of which `nprobe` are searched,
    approximate, trained on the first features added). Searching with features from another encoder is an
    error, not a silent mismatch."""

    def __init__(self, dim: int, encoder: str, kind: str = "exact", *, spec: str | None = None,
                 page_size: int | None = None, mask_box: Sequence[float] | None = None, hnsw_m: int = 32,
                 ef_search: int = 128, nprobe: int = 16) -> None:
        check_positive("dim", dim)
        check_choice("kind", kind, INDEX_KINDS)
        for name, value in (("hnsw_m", hnsw_m), ("ef_search", ef_search), ("nprobe", nprobe)):
            check_positive(name, value)
        self.dim, self.encoder, self.kind, self.spec = int(dim), encoder, kind, spec
        self.page_size = page_size
        self.mask_box: Box | None = None if mask_box is None else check_box("mask_box", mask_box)
        self.params = {"hnsw_m": hnsw_m, "ef_search": ef_search, "nprobe": nprobe}
        self.ids: list[str] = []
        self.index = None if kind == "ivf" else self._new_index()

    def _new_index(self, n_train: int = 0) -> faiss.Index:
        if self.kind == "exact":
            return faiss.IndexFlatIP(self.dim)
        if self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(self.dim, self.params["hnsw_m"], faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = self.params["ef_search"]
            return index
        lists = max(1, min(int(math.sqrt(n_train)), n_train // 39))  # faiss wants >= 39 points per list
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, lists, faiss.METRIC_INNER_PRODUCT)
        index.nprobe = min(self.params["nprobe"], lists)
        return index

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return (f"PageIndex({len(self)} pages, kind={self.kind!r}, encoder={self.encoder!r}, dim={self.dim}"
                f"{f', mask_box={self.mask_box}' if self.mask_box else ''})")

    def apply_mask(self, images: np.ndarray) -> np.ndarray:
        """`images` with this index's mask box blanked (unchanged when it has none)."""
        return images if self.mask_box is None else mask_box(images, self.mask_box)

    def _features(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        x = features.numpy() if isinstance(features, torch.Tensor) else features
        x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"features of shape {x.shape} do not fit this index of dim {self.dim} "
                             f"(encoder {self.encoder!r}).")
        return x

    def add(self, features: np.ndarray | torch.Tensor, ids: Sequence[str] | None = None) -> "PageIndex":
        """Add features (N, dim) with their page ids (default: their running numbers)."""
        x = self._features(features)
        ids = [str(len(self.ids) + i) for i in range(len(x))] if ids is None else [str(i) for i in ids]
        if len(ids) != len(x):
            raise ValueError(f"ids has {len(ids)} entries for {len(x)} feature rows: give one id per page.")
        if self.index is None:  # ivf: the cells are learned from (a sample of) the first features added
            self.index = self._new_index(len(x))
            sample = np.random.default_rng(0).choice(len(x), min(len(x), 64 * self.index.nlist), replace=False)
            self.index.train(x[np.sort(sample)])
        self.index.add(x)
        self.ids.extend(ids)
        return self

    def add_pages(self, images: np.ndarray, encoder: Encoder, ids: Sequence[str] | None = None,
                  batch_size: int = 256, progress: bool = False) -> "PageIndex":
        """Encode uint8 pages (N, H, W, 3), mask box blanked, and add them with their ids."""
        self.check_encoder(encoder)
        return self.add(encoder.encode(self.apply_mask(images), batch_size, progress), ids)

    def check_encoder(self, encoder: Encoder | str) -> None:
        """Raise a clear error unless `encoder` (or its name) is the one this index was built with."""
        name = encoder.name if isinstance(encoder, Encoder) else encoder
        if name != self.encoder:
            hint = f"load_encoder({self.spec!r})" if self.spec else "the encoder it was built with"
            raise ValueError(
                f"encoder={name!r} is not allowed: this index was built with encoder {self.encoder!r}, and "
                f"features of different encoders are not comparable. Query it with {hint}, or build a new "
                "index with this encoder.")

    def search(self, features: np.ndarray | torch.Tensor, k: int,
               encoder: Encoder | str) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, positions) for query features made by `encoder`, best first."""
        self.check_encoder(encoder)
        check_positive("k", k)
        if not self.ids:
            raise ValueError("this index is empty: add pages before searching it.")
        return self.index.search(self._features(features), min(k, len(self.ids)))

    def search_pages(self, images: np.ndarray, encoder: Encoder, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, positions) for query pages (uint8 (N, H, W, 3)), masked as the index was built."""
        self.check_encoder(encoder)
        return self.search(encoder.encode(self.apply_mask(images)), k, encoder)

    def query(self, images: np.ndarray, encoder: Encoder, k: int = 10) -> list[list[tuple[str, float]]]:
        """Top-k (page id, score) for each query page (uint8 (N, H, W, 3)), masked as the index was built."""
        scores, found = self.search_pages(images, encoder, k)
        return [[(self.ids[j], float(s)) for j, s in zip(row_j, row_s) if j >= 0]
                for row_j, row_s in zip(found, scores)]

    @classmethod
    def build(cls, images: np.ndarray, encoder: Encoder, ids: Sequence[str] | None = None, kind: str = "exact",
              mask_box: Sequence[float] | None = None, progress: bool = False, **kwargs) -> "PageIndex":
        """Encode pages (with `mask_box`, page fractions x0, y0, x1, y1, blanked when given) and index them."""
        index = cls(encoder.dim, encoder.name, kind, spec=encoder.spec, page_size=int(np.shape(images)[1]),
                    mask_box=mask_box, **kwargs)
        return index.add_pages(images, encoder, ids, progress=progress)

    def save(self, folder: str | os.PathLike) -> Path:
        """Write folder/index.faiss and folder/index.json (each to a temporary file, then renamed)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.index is None:
            raise ValueError("this index is empty: add pages before saving it.")
        with atomic_path(folder / "index.faiss") as tmp:
            faiss.write_index(self.index, str(tmp))
        meta = {"format": _INDEX_FORMAT, "version": _INDEX_VERSION, "encoder": self.encoder, "spec": self.spec,
                "kind": self.kind, "dim": self.dim, "page_size": self.page_size,
                "mask_box": None if self.mask_box is None else list(self.mask_box), "params": self.params,
                "ids": self.ids}
        with atomic_path(folder / "index.json") as tmp:
            tmp.write_text(json.dumps(meta))
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "PageIndex":
        """Read an index written by `save`; a clear error when the folder does not hold one."""
        folder = Path(folder)
        meta_path, faiss_path = folder / "index.json", folder / "index.faiss"
        if not meta_path.is_file() or not faiss_path.is_file():
            raise FileNotFoundError(f"index={str(folder)!r} holds no saved index (index.json and index.faiss): "
                                    "build one with `python -m clipbook.search build`.")
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("format") != _INDEX_FORMAT:
                raise ValueError("not a clipbook page index")
            if meta.get("masked"):  # version 1 masked a built-in title-block box the tool no longer has
                raise ValueError("it was built with the former --mask-title-block; build it again with --mask-box")
            index = cls(meta["dim"], meta["encoder"], meta["kind"], spec=meta.get("spec"),
                        page_size=meta.get("page_size"), mask_box=meta.get("mask_box"), **meta.get("params", {}))
            index.index = faiss.read_index(str(faiss_path))
        except (ValueError, KeyError, TypeError, RuntimeError) as e:
            raise ValueError(f"index={str(folder)!r} is damaged or not a clipbook page index ({e}); "
                             "build it again.") from None
        index.ids = list(meta["ids"])
        if index.index.ntotal != len(index.ids) or index.index.d != index.dim:
            raise ValueError(f"index={str(folder)!r} is damaged: {index.index.ntotal} vectors of dim {index.index.d} "
                             f"for {len(index.ids)} ids of dim {index.dim}; build it again.")
        if index.kind == "hnsw":
            index.index.hnsw.efSearch = index.params["ef_search"]
        return index


def index_folder(folder: str | os.PathLike, encoder: Encoder, *, kind: str = "exact", page_size: int = 224,
                 mask_box: Sequence[float] | None = None, batch_size: int = 64, progress: bool = True,
                 into: PageIndex | None = None, **kwargs) -> PageIndex:
    """Index every page of the images and PDFs under `folder`, reading and encoding them in batches (with
    `mask_box` blanked when given). Unreadable files are skipped with a warning naming them; a folder with
    nothing readable is an error.

    With `into` (an index built before), the pages go into that index, at its page size and mask box, and
    files it already holds are skipped: an archive that grew is indexed again in the time of its new files."""
    check_positive("batch_size", batch_size)
    files = page_files(folder)
    if into is not None:
        into.check_encoder(encoder)
        held = {page_id.split("#page=")[0] for page_id in into.ids}
        new_files = [f for f in files if str(f) not in held]
        if not new_files:
            return into
        files, index = new_files, into
    else:
        check_positive("page_size", page_size)
        index = PageIndex(encoder.dim, encoder.name, kind, spec=encoder.spec, page_size=page_size,
                          mask_box=mask_box, **kwargs)
    ids, feats, batch = [], [], []

    def flush() -> None:
        feats.append(encoder.encode(index.apply_mask(np.stack(batch)), batch_size))
        batch.clear()

    for page_id, page in tqdm(iter_pages(files, index.page_size or page_size), desc=f"index {folder}", unit="page",
                              disable=not progress, mininterval=2.0):
        ids.append(page_id)
        batch.append(page)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    if not ids:
        if into is not None:
            return into  # the new files were all unreadable (each was named in a warning)
        raise ValueError(f"folder={str(folder)!r} holds no readable page: every image or PDF in it failed to open.")
    return index.add(np.concatenate(feats), ids)
