"""Similarity search over document pages (notebook 04 introduces it): encoders, a faiss index that
remembers which encoder built it, retrieval metrics, title-block anchoring, occlusion sensitivity, and a
command line for one's own folder of images and PDFs::

    python -m clipbook.search build my_pages/ --index my_index --encoder clip
    python -m clipbook.search query drawing.png --index my_index -k 10

Encoders (``load_encoder``) are named by a spec: ``pixels`` (raw pixels, the baseline), ``clip`` (notebook
01's CLIP image tower, zero-shot), ``clip:<checkpoint>``, ``simclr`` (trained on the pages being indexed),
``simclr:<checkpoint>`` and ``open_clip:<model>:<pretrained>`` (e.g. ``open_clip:ViT-B-32:openai``, for
users who have the weights). Every feature is L2-normalised, so inner product is cosine similarity.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import faiss
import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .data.drawings import MARGIN, TITLE_BLOCK_BOX, PageData, mask_title_block
from .data.pdf import iter_pages, page_files, read_folder, read_image
from .models import create_clip, load_checkpoint
from .retrieval import encode_images
from .train import workbook_clip
from .utils import PROFILES, atomic_path, check_choice, check_positive, resolve_device, resolve_profile

INDEX_KINDS: tuple[str, ...] = ("exact", "hnsw", "ivf")
ENCODER_SPECS: tuple[str, ...] = ("pixels", "pixels:<side>", "clip", "clip:<checkpoint.safetensors>", "simclr",
                                  "simclr:<checkpoint.safetensors>", "open_clip:<model>:<pretrained>")
_INDEX_FORMAT = "clipbook-page-index"
_INDEX_VERSION = 1


# ---------------------------------------------------------------------- encoders
@dataclass
class Encoder:
    """Pages -> L2-normalised float32 features. `name` identifies the encoder (an index refuses queries
    from another one); `spec` is what `load_encoder` rebuilds it from (None: not reloadable)."""

    name: str
    spec: str | None
    dim: int
    embed: Callable[[np.ndarray], torch.Tensor]

    def encode(self, images: np.ndarray, batch_size: int = 256, progress: bool = False) -> np.ndarray:
        """Features (N, dim) of uint8 pages (N, H, W, 3), float32 and L2-normalised."""
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images of shape {images.shape} and dtype {images.dtype} are not allowed: "
                             "give uint8 RGB pages shaped (N, H, W, 3).")
        out = np.empty((len(images), self.dim), np.float32)
        for i in tqdm(range(0, len(images), batch_size), desc=f"encode {self.name}", disable=not progress,
                      mininterval=2.0):
            f = self.embed(images[i:i + batch_size])
            out[i:i + len(f)] = F.normalize(torch.as_tensor(f).float(), dim=-1).numpy()
        return out


def stroke_kernel(source: int, target: int) -> int:
    """Width of the min filter that keeps 1-pixel strokes visible when a `source`-pixel page shrinks to
    `target` pixels: the largest odd number not above the shrink factor (1, a no-op, below 3x)."""
    factor = source / target
    return max(1, 2 * int((factor - 1) // 2) + 1)


def thicken_strokes(images: np.ndarray, target: int) -> np.ndarray:
    """uint8 pages (N, S, S, 3) about to shrink to `target` pixels, with dark strokes widened by a min filter
    (`stroke_kernel`), so that area-averaging down to `target` keeps them instead of fading them into the paper."""
    images = np.asarray(images)
    k = stroke_kernel(images.shape[1], target)
    if k == 1:
        return images
    x = torch.from_numpy(np.array(images)).permute(0, 3, 1, 2).float()
    x = -F.max_pool2d(-x, k, stride=1, padding=k // 2)
    return x.to(torch.uint8).permute(0, 2, 3, 1).numpy()


def pixel_encoder(side: int = 32, strokes: bool = True) -> Encoder:
    """Raw pixels: the page in grey, shrunk to side x side by area-averaging (strokes thickened first unless
    `strokes=False`), as ink (1 - brightness); the baseline."""
    check_positive("side", side)

    def embed(images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.array(images)).permute(0, 3, 1, 2).float().mean(1, keepdim=True) / 255
        k = stroke_kernel(x.shape[-1], side) if strokes else 1
        if k > 1:  # thicken_strokes, on the grey page
            x = -F.max_pool2d(-x, k, stride=1, padding=k // 2)
        x = F.interpolate(x, size=(side, side), mode="area")
        return (1 - x).flatten(1) + 1e-6  # a blank page is a tiny constant vector, not a zero one

    name = f"pixels:{side}" if strokes else f"pixels:{side}:plain"
    return Encoder(name, name if strokes else None, side * side, embed)


def _input_side(model: torch.nn.Module) -> int:
    size = model.visual.image_size
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def clip_encoder(model: torch.nn.Module, name: str, spec: str | None = None,
                 device: str | torch.device = "auto", strokes: bool = True) -> Encoder:
    """A CLIP's image tower (open_clip model), zero-shot: notebook 01's `encode_images`, on pages whose strokes
    are thickened for the model's input size first (unless `strokes=False`)."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    side = _input_side(model)

    def embed(images: np.ndarray) -> torch.Tensor:
        return encode_images(model, thicken_strokes(images, side) if strokes else images, dev)

    return Encoder(name if strokes else f"{name}:plain", spec if strokes else None, int(model.visual.output_dim), embed)


def simclr_encoder(model: torch.nn.Module, name: str, spec: str | None = None,
                   device: str | torch.device = "auto") -> Encoder:
    """A SimCLR ResNet-18's backbone features (train_simclr), strokes thickened for its input size first."""
    from .simclr import encode_pages  # lightly is imported only when needed

    dev = resolve_device(device)
    return Encoder(name, spec, 512, lambda images: encode_pages(model, thicken_strokes(images, model.input_size), dev))


def _weights_name(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def encoder_from_result(result, device: str | torch.device = "auto") -> Encoder:
    """The encoder of a `TrainResult` from train_clip, workbook_clip or train_simclr."""
    from .simclr import SIMCLR_MODEL  # lightly is imported only when needed

    kind = "simclr" if result.model_name == SIMCLR_MODEL else "clip"
    if result.checkpoint is not None:
        name, spec = f"{kind}:{Path(result.checkpoint).stem}", f"{kind}:{Path(result.checkpoint).resolve()}"
    else:  # not saved: named by its weights, and not reloadable by spec
        name, spec = f"{kind}:{result.model_name}-{_weights_name(result.model)}", None
    make = simclr_encoder if kind == "simclr" else clip_encoder
    return make(result.model, name, spec, device)


def load_encoder(spec: str, *, profile: str = "auto", device: str | torch.device = "auto", seed: int = 0,
                 pages: np.ndarray | None = None, progress: bool = True) -> Encoder:
    """Build an encoder from its spec (see ENCODER_SPECS). ``clip`` is notebook 01's CLIP for `profile`
    (loaded, or trained when missing); ``simclr`` trains on `pages` (or loads the cached checkpoint)."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"encoder={spec!r} is not allowed: use one of {', '.join(ENCODER_SPECS)}.")
    kind, _, rest = spec.partition(":")
    if kind == "pixels":
        if rest and not rest.isdigit():
            raise ValueError(f"encoder={spec!r} is not allowed: use 'pixels' or 'pixels:<side>' with an integer side.")
        return pixel_encoder(int(rest) if rest else 32)
    if kind == "clip":
        if not rest:
            return encoder_from_result(workbook_clip(resolve_profile(profile, device), device, seed, progress), device)
        path = Path(rest)
        return clip_encoder(load_checkpoint(path, device=device), f"clip:{path.stem}", f"clip:{path.resolve()}",
                            device)
    if kind == "simclr":
        from .simclr import SIMCLR_PROFILES, load_simclr, train_simclr  # lightly is imported only when needed

        if not rest:
            if pages is None:
                raise ValueError("encoder='simclr' trains on the pages it indexes: give pages=..., or a trained "
                                 "checkpoint as encoder='simclr:<checkpoint.safetensors>'.")
            knobs = SIMCLR_PROFILES[resolve_profile(profile, device)]
            return encoder_from_result(train_simclr(pages, **knobs, seed=seed, device=device, progress=progress),
                                       device)
        path = Path(rest)
        return simclr_encoder(load_simclr(path, device), f"simclr:{path.stem}", f"simclr:{path.resolve()}", device)
    if kind == "open_clip":
        model_name, _, pretrained = rest.partition(":")
        if not model_name or not pretrained:
            raise ValueError(f"encoder={spec!r} is not allowed: write open_clip:<model>:<pretrained>, "
                             "e.g. 'open_clip:ViT-B-32:openai'.")
        model, _, _ = create_clip(model_name, pretrained, device=device)
        return clip_encoder(model, spec, spec, device)
    raise ValueError(f"encoder={spec!r} is not allowed: use one of {', '.join(ENCODER_SPECS)}.")


# ---------------------------------------------------------------------- the index
class PageIndex:
    """A faiss index of page features with the page ids and the identity of the encoder that made them.

    `kind`: "exact" (IndexFlatIP: exhaustive inner product, the default), "hnsw" (IndexHNSWFlat: a graph,
    approximate, no training) or "ivf" (IndexIVFFlat: sqrt(N) k-means cells of which `nprobe` are searched,
    approximate, trained on the first features added). Searching with features from another encoder is an
    error, not a silent mismatch."""

    def __init__(self, dim: int, encoder: str, kind: str = "exact", *, spec: str | None = None,
                 page_size: int | None = None, masked: bool = False, hnsw_m: int = 32, ef_search: int = 128,
                 nprobe: int = 16) -> None:
        check_positive("dim", dim)
        check_choice("kind", kind, INDEX_KINDS)
        for name, value in (("hnsw_m", hnsw_m), ("ef_search", ef_search), ("nprobe", nprobe)):
            check_positive(name, value)
        self.dim, self.encoder, self.kind, self.spec = int(dim), encoder, kind, spec
        self.page_size, self.masked = page_size, bool(masked)
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
                f"{', title block masked' if self.masked else ''})")

    def _features(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        x = np.ascontiguousarray(np.asarray(features, dtype=np.float32))
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

    def query(self, images: np.ndarray, encoder: Encoder, k: int = 10) -> list[list[tuple[str, float]]]:
        """Top-k (page id, score) for each query page (uint8 (N, H, W, 3)), masked as the index was built."""
        self.check_encoder(encoder)
        if self.masked:
            images = mask_title_block(images)
        scores, found = self.search(encoder.encode(images), k, encoder)
        return [[(self.ids[j], float(s)) for j, s in zip(row_j, row_s) if j >= 0]
                for row_j, row_s in zip(found, scores)]

    @classmethod
    def build(cls, images: np.ndarray, encoder: Encoder, ids: Sequence[str] | None = None, kind: str = "exact",
              masked: bool = False, progress: bool = False, **kwargs) -> "PageIndex":
        """Encode pages (title block masked if `masked`) and index them."""
        index = cls(encoder.dim, encoder.name, kind, spec=encoder.spec, page_size=int(np.shape(images)[1]),
                    masked=masked, **kwargs)
        return index.add(encoder.encode(mask_title_block(images) if masked else images, progress=progress), ids)

    def save(self, folder: str | os.PathLike) -> Path:
        """Write folder/index.faiss and folder/index.json (each to a temporary file, then renamed)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.index is None:
            raise ValueError("this index is empty: add pages before saving it.")
        with atomic_path(folder / "index.faiss") as tmp:
            faiss.write_index(self.index, str(tmp))
        meta = {"format": _INDEX_FORMAT, "version": _INDEX_VERSION, "encoder": self.encoder, "spec": self.spec,
                "kind": self.kind, "dim": self.dim, "page_size": self.page_size, "masked": self.masked,
                "params": self.params, "ids": self.ids}
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
            index = cls(meta["dim"], meta["encoder"], meta["kind"], spec=meta.get("spec"),
                        page_size=meta.get("page_size"), masked=meta.get("masked", False), **meta.get("params", {}))
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
                 masked: bool = False, batch_size: int = 64, progress: bool = True, **kwargs) -> PageIndex:
    """Index every page of the images and PDFs under `folder`, reading and encoding them in batches.
    Unreadable files are skipped with a warning naming them; a folder with nothing readable is an error."""
    check_positive("page_size", page_size)
    check_positive("batch_size", batch_size)
    files = page_files(folder)
    index = PageIndex(encoder.dim, encoder.name, kind, spec=encoder.spec, page_size=page_size, masked=masked, **kwargs)
    ids, feats, batch = [], [], []

    def flush() -> None:
        pages = np.stack(batch)
        feats.append(encoder.encode(mask_title_block(pages) if masked else pages, batch_size))
        batch.clear()

    for page_id, page in tqdm(iter_pages(files, page_size), desc=f"index {folder}", unit="page", disable=not progress,
                              mininterval=2.0):
        ids.append(page_id)
        batch.append(page)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    if not ids:
        raise ValueError(f"folder={str(folder)!r} holds no readable page: every image or PDF in it failed to open.")
    return index.add(np.concatenate(feats), ids)


# ---------------------------------------------------------------------- metrics
def ranking_metrics(relevant: np.ndarray, n_relevant: np.ndarray, k: int) -> dict[str, float]:
    """precision@k, recall@k and mAP@k from each query's top-k relevance (Q, >=k) and its number of
    relevant pages, defined as torchmetrics' RetrievalPrecision, RetrievalRecall and RetrievalMAP
    (AP@k averages the precision at each relevant rank within the top k; a query without any relevant
    page scores 0). Computed from the top k alone, so an index never has to score every page."""
    check_positive("k", k)
    rel = np.asarray(relevant, bool)[:, :k]
    n_relevant = np.asarray(n_relevant)
    hits = rel.sum(1)
    precision_at_rank = np.cumsum(rel, 1) / np.arange(1, rel.shape[1] + 1)
    ap = np.where(hits > 0, (precision_at_rank * rel).sum(1) / np.maximum(hits, 1), 0.0)
    recall = np.where(n_relevant > 0, hits / np.maximum(n_relevant, 1), 0.0)
    return {f"precision@{k}": float(np.mean(hits / k)), f"recall@{k}": float(np.mean(recall)),
            f"map@{k}": float(np.mean(ap))}


def search_metrics(found: np.ndarray, queries: PageData, pages: PageData, k: int = 10) -> dict[str, float]:
    """Family retrieval (relevant = same part family) and title-block anchoring of top-k results.

    `found`: (Q, >=k) positions in `pages` for each query drawing. Besides precision/recall/mAP@k:
    ``family_share@k`` and ``titleblock_share@k`` (the share of the top k with the query's family, with its
    title-block template) and their chance levels (the shares among all indexed pages)."""
    found = np.asarray(found)[:, :k]
    if np.any(queries.family < 0):
        raise ValueError("queries must all be drawings (family >= 0): search with drawings, as the seed's users did.")
    same_family = pages.family[found] == queries.family[:, None]
    same_template = pages.template[found] == queries.template[:, None]
    n_family = np.bincount(pages.family[pages.family >= 0], minlength=len(pages.families))
    n_template = np.bincount(pages.template[pages.template >= 0], minlength=len(pages.templates))
    out = ranking_metrics(same_family, n_family[queries.family], k)
    out[f"family_share@{k}"] = float(same_family.mean())
    out[f"titleblock_share@{k}"] = float(same_template.mean())
    out[f"chance_precision@{k}"] = float(np.mean(n_family[queries.family] / len(pages)))
    out[f"chance_titleblock_share@{k}"] = float(np.mean(n_template[queries.template] / len(pages)))
    return out


# ---------------------------------------------------------------------- where an encoder looks
def occlusion_sensitivity(encoder: Encoder, images: np.ndarray, patch: float = 0.125,
                          stride: float = 0.0625) -> np.ndarray:
    """Occlusion sensitivity (Zeiler & Fergus) of page embeddings: slide a paper-coloured patch (`patch` of
    the side) over each page in steps of `stride`, and score each pixel by how far the embedding moves
    (1 - cosine to the unoccluded page), averaged over the patches covering it. Returns (N, S, S)."""
    images = np.asarray(images)
    n, s = images.shape[:2]
    if not 0 < patch <= 1 or not 0 < stride <= 1:
        raise ValueError(f"patch={patch!r} and stride={stride!r} are not allowed: both are fractions of the side, "
                         "in (0, 1].")
    p, st = max(1, round(patch * s)), max(1, round(stride * s))
    starts = sorted(set(list(range(0, s - p + 1, st)) + [s - p]))
    boxes = [(y, x) for y in starts for x in starts]
    strip = images[:, : max(1, int(MARGIN * s) - 1)]
    paper = np.median(strip.reshape(n, -1, 3), axis=1).astype(np.uint8)
    maps = np.zeros((n, s, s), np.float32)
    for i in range(n):
        copies = np.repeat(images[i:i + 1], len(boxes) + 1, axis=0)
        for j, (y, x) in enumerate(boxes, start=1):
            copies[j, y:y + p, x:x + p] = paper[i]
        f = encoder.encode(copies)
        moved = 1.0 - f[1:] @ f[0]
        heat, count = np.zeros((s, s), np.float32), np.zeros((s, s), np.float32)
        for (y, x), m in zip(boxes, moved):
            heat[y:y + p, x:x + p] += m
            count[y:y + p, x:x + p] += 1
        maps[i] = heat / np.maximum(count, 1)
    return maps


def box_share(maps: np.ndarray, box: tuple[float, float, float, float] = TITLE_BLOCK_BOX) -> np.ndarray:
    """The share of each map's total (N, S, S) that falls inside `box` (page fractions x0, y0, x1, y1)."""
    maps = np.clip(np.asarray(maps, np.float64), 0, None)
    s = maps.shape[-1]
    x0, y0, x1, y1 = (int(round(v * s)) for v in box)
    inside = maps[:, y0:y1, x0:x1].sum((1, 2))
    return inside / np.maximum(maps.sum((1, 2)), 1e-12)


# ---------------------------------------------------------------------- command line
def _print_results(queries: Sequence[str], results: list[list[tuple[str, float]]], as_json: bool) -> None:
    if as_json:
        print(json.dumps([{"query": q, "results": [{"rank": r + 1, "page": page, "score": round(score, 6)}
                                                   for r, (page, score) in enumerate(res)]}
                          for q, res in zip(queries, results)], indent=1))
        return
    for q, res in zip(queries, results):
        print(f"query {q}")
        for r, (page, score) in enumerate(res, start=1):
            print(f"  {r:3d}  {score:.4f}  {page}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clipbook.search", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="index a folder of images and PDFs")
    build.add_argument("folder", help="folder with images (.png, .jpg, ...) and PDFs, searched recursively")
    build.add_argument("--index", required=True, help="folder to write the index to")
    build.add_argument("--encoder", default="clip", help=f"one of: {', '.join(ENCODER_SPECS)} (default: clip)")
    build.add_argument("--kind", default="exact", help="exact | hnsw | ivf (default: exact)")
    build.add_argument("--page-size", type=int, default=224, help="side in pixels pages are read at (default: 224)")
    build.add_argument("--mask-title-block", action="store_true",
                       help="blank the bottom-right title-block corner at index and query time")
    query = sub.add_parser("query", help="search an index with one or more images (or PDFs: their first page)")
    query.add_argument("images", nargs="+", help="query image files")
    query.add_argument("--index", required=True, help="folder holding the index")
    query.add_argument("-k", type=int, default=10, help="results per query (default: 10)")
    query.add_argument("--encoder", default=None, help="must be the index's encoder; default: the index's own")
    query.add_argument("--json", action="store_true", help="print results as JSON")
    for p in (build, query):
        p.add_argument("--profile", default="auto", help="quick | full | auto: which notebook-01 CLIP 'clip' means")
        p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
        p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with warnings.catch_warnings():  # one plain line per skipped file, on stderr
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *_, **__: print(f"warning: {message}", file=sys.stderr)
        try:
            return _run(args, progress=sys.stderr.isatty())  # progress bars only where someone watches
        except (ValueError, FileNotFoundError) as e:
            parser.exit(2, f"error: {e}\n")


def _run(args: argparse.Namespace, progress: bool) -> int:
    check_choice("--profile", args.profile, ("auto",) + PROFILES)
    common = dict(profile=args.profile, device=args.device, seed=args.seed, progress=progress)
    if args.command == "build":
        check_choice("--kind", args.kind, INDEX_KINDS)
        check_positive("--page-size", args.page_size)
        if args.encoder == "simclr":  # SimCLR learns from the very pages it will index
            ids, pages = read_folder(args.folder, args.page_size)
            train_pages = mask_title_block(pages) if args.mask_title_block else pages
            encoder = load_encoder("simclr", pages=train_pages, **common)
            index = PageIndex.build(pages, encoder, ids, kind=args.kind, masked=args.mask_title_block)
        else:
            encoder = load_encoder(args.encoder, **common)
            index = index_folder(args.folder, encoder, kind=args.kind, page_size=args.page_size,
                                 masked=args.mask_title_block, progress=progress)
        index.save(args.index)
        print(f"indexed {len(index)} pages from {args.folder} with {encoder.name} ({index.kind}) into {args.index}")
        return 0
    check_positive("-k", args.k)
    index = PageIndex.load(args.index)
    if index.spec is None and args.encoder is None:
        raise ValueError(f"index={args.index!r} was built with an encoder that cannot be reloaded "
                         f"({index.encoder!r}): give --encoder.")
    encoder = load_encoder(args.encoder or index.spec, **common)
    index.check_encoder(encoder)
    pages = np.stack([read_image(path, index.page_size or 224) for path in args.images])
    _print_results(args.images, index.query(pages, encoder, args.k), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
