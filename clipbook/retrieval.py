"""Encoding with a CLIP and image<->text retrieval metrics (notebook 01 introduces them).

Retrieval uses torchmetrics' hit rate: a query counts as found at k when any of its top-k results
is relevant. Many images share a caption ("two red stars"), so "relevant" means "has the same
caption", and chance is computed exactly for that definition.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Hashable, Mapping, Sequence

import numpy as np
import torch

from .preprocess import images_to_tensor, normalizer
from .utils import autocast, resolve_device


@torch.no_grad()
def encode_images(model: torch.nn.Module, images: np.ndarray | torch.Tensor, device="auto",
                  batch_size: int = 512) -> torch.Tensor:
    """L2-normalised image embeddings (N, D), float32 on the CPU, of uint8 (N, H, W, 3) images."""
    dev = resolve_device(device)
    model.eval()
    normalize = normalizer(model, dev)
    x = images_to_tensor(images)
    out = []
    for i in range(0, len(x), batch_size):
        with autocast(dev):
            out.append(model.encode_image(normalize(x[i:i + batch_size]), normalize=True).float().cpu())
    return torch.cat(out)


@torch.no_grad()
def encode_pil_images(model: torch.nn.Module, images: Sequence, preprocess=None, device="auto",
                      batch_size: int = 64, progress: bool = False) -> torch.Tensor:
    """L2-normalised image embeddings (N, D), float32 on the CPU, of images from outside clipbook's worlds
    (PIL images, or files opened with `data.folders.open_rgb`) through open_clip's own preprocessing for the
    model (`preprocess`; default: the one the model's preprocess config describes)."""
    from tqdm.auto import tqdm

    from .data.folders import open_rgb
    from .models import preprocess_for

    dev = resolve_device(device)
    model.eval()
    preprocess = preprocess or preprocess_for(model)
    out = []
    for i in tqdm(range(0, len(images), batch_size), desc="encoding images", disable=not progress, leave=False):
        batch = [im if hasattr(im, "convert") else open_rgb(im) for im in images[i:i + batch_size]]
        x = torch.stack([preprocess(im.convert("RGB")) for im in batch]).to(dev)
        with autocast(dev):
            out.append(model.encode_image(x, normalize=True).float().cpu())
    if not out:
        raise ValueError("images is empty: give at least one image to encode.")
    return torch.cat(out)


@torch.no_grad()
def encode_texts(model: torch.nn.Module, tokenizer, texts: Sequence[str], device="auto",
                 batch_size: int = 1024) -> torch.Tensor:
    """L2-normalised text embeddings (N, D), float32 on the CPU."""
    dev = resolve_device(device)
    model.eval()
    out = []
    for i in range(0, len(texts), batch_size):
        tokens = tokenizer(list(texts[i:i + batch_size])).to(dev)
        with autocast(dev):
            out.append(model.encode_text(tokens, normalize=True).float().cpu())
    return torch.cat(out)


def chance_hit_rate(n_relevant: np.ndarray, n_candidates: int, k: int) -> float:
    """Mean probability that k candidates drawn at random include at least one relevant one."""
    k = min(k, n_candidates)
    miss = [math.comb(n_candidates - m, k) / math.comb(n_candidates, k) for m in n_relevant]
    return float(1.0 - np.mean(miss))


def hit_rate(similarity: torch.Tensor, relevant: torch.Tensor, k: int) -> float:
    """torchmetrics' RetrievalHitRate@k over a (queries x candidates) score and relevance matrix."""
    from torchmetrics.retrieval import RetrievalHitRate  # here, not at import: torchmetrics pulls in scipy.signal

    q, c = similarity.shape
    metric = RetrievalHitRate(top_k=k)
    indexes = torch.arange(q).repeat_interleave(c)
    return float(metric(similarity.reshape(-1).float(), relevant.reshape(-1), indexes=indexes))


def _check_gallery(captions: Sequence[str], texts: Sequence[str]) -> tuple[list[str], list[str]]:
    """The captions (one per image) and the distinct candidate texts as lists, or a clear error."""
    captions, texts = list(captions), list(texts)
    known = set(texts)
    if len(known) != len(texts):
        raise ValueError("texts must be distinct: pass the unique captions as candidates.")
    missing = [c for c in captions if c not in known]
    if missing:
        raise ValueError(f"{len(missing)} captions are not among texts, e.g. {missing[0]!r}.")
    return captions, texts


def retrieval_metrics(image_features: torch.Tensor, captions: Sequence[str], text_features: torch.Tensor,
                      texts: Sequence[str], ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Image->text and text->image recall@k (hit rate) and their chance levels.

    `image_features` (N, D) belong to images whose captions are `captions`; `text_features` (U, D)
    encode the distinct candidate `texts`. Image->text ranks the U texts for each image (relevant: its
    own caption); text->image ranks the N images for each text (relevant: images with that caption)."""
    captions, texts = _check_gallery(captions, texts)
    position = {t: j for j, t in enumerate(texts)}
    target = torch.tensor([position[c] for c in captions])
    relevant = target[:, None] == torch.arange(len(texts))[None, :]  # (N, U)
    sim = image_features @ text_features.T
    per_text = relevant.sum(0).numpy()
    out = {}
    for k in ks:
        out[f"i2t_recall@{k}"] = hit_rate(sim, relevant, k)
        out[f"t2i_recall@{k}"] = hit_rate(sim.T, relevant.T, k)
        out[f"chance_i2t_recall@{k}"] = chance_hit_rate(np.ones(len(captions), int), len(texts), k)
        out[f"chance_t2i_recall@{k}"] = chance_hit_rate(per_text, len(captions), k)
    return out


def recall_ceiling(captions: Sequence[str], texts: Sequence[str], meaning: Mapping[str, Hashable]) -> dict[str, float]:
    """The recall@1 a model expects when it tells every meaning apart but not two wordings of one meaning (ties
    broken at random): a pair in the shapes world has two canonical captions for one layout, so when both are
    among the texts, its image's own caption is a coin toss. The best a model can expect on this gallery (one may
    win a few of the coin tosses by luck), as `retrieval_metrics` scores it: image->text expects 1 / (texts of the
    image's meaning); text->image expects (images with the text) / (images of its meaning), averaged over the
    texts.

    `captions`: one per image, each among the distinct `texts`; `meaning`: a key for every text (the shapes
    world's `{scene.caption: scene.meaning}`). Returns "i2t_recall@1" and "t2i_recall@1"."""
    captions, texts = _check_gallery(captions, texts)
    unknown = [t for t in texts if t not in meaning]
    if unknown:
        raise ValueError(f"meaning has no key for {len(unknown)} of the texts, e.g. {unknown[0]!r}: give one for "
                         "every text.")
    texts_of = Counter(meaning[t] for t in texts)
    images_with = Counter(captions)
    images_of = Counter(meaning[c] for c in captions)
    i2t = float(np.mean([1 / texts_of[meaning[c]] for c in captions])) if captions else float("nan")
    t2i = float(np.mean([images_with[t] / images_of[meaning[t]] if images_of[meaning[t]] else 0.0 for t in texts]))
    return {"i2t_recall@1": i2t, "t2i_recall@1": t2i}


def evaluate_retrieval(model: torch.nn.Module, tokenizer, images: np.ndarray, captions: Sequence[str],
                       device="auto", ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Encode images and their distinct captions, then `retrieval_metrics`."""
    texts = list(dict.fromkeys(captions))
    return retrieval_metrics(encode_images(model, images, device), captions,
                             encode_texts(model, tokenizer, texts, device), texts, ks)


def recall_by_gallery_size(image_features: torch.Tensor, captions: Sequence[str], text_features: torch.Tensor,
                           texts: Sequence[str], sizes: Sequence[int], draws: int = 5, seed: int = 0,
                           groups: Sequence[str] | None = None,
                           meaning: Mapping[str, Hashable] | None = None) -> list[dict]:
    """Recall@1 over galleries of fewer of these images: for each of `sizes`, `draws` random galleries of that many
    images (one when it is all of them), each ranking only its own images' distinct captions, as
    `retrieval_metrics` does for the whole set. A larger gallery holds more captions one detail away from each
    image's own, so the same model scores lower: recall@1 says as much about the gallery as about the model.

    Arguments as `retrieval_metrics`'. `groups` (optional): a label per image (e.g. the scene kind), for
    image->text recall@1 per group as well ("i2t_recall@1 <group>"). `meaning` (optional, as `recall_ceiling`'s):
    each gallery's ceilings as well ("i2t_ceiling@1", "t2i_ceiling@1"). Returns a row per gallery: "gallery" (its
    images), "draw", "captions" (its distinct captions), i2t and t2i recall@1 and the chance of i2t's."""
    captions = list(captions)
    n = len(captions)
    if len(image_features) != n:
        raise ValueError(f"captions has {n} entries for {len(image_features)} image features: give one per image.")
    bad = [s for s in sizes if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 1 <= s <= n]
    if not len(sizes) or bad:
        raise ValueError(f"sizes={list(sizes)!r} is not allowed: give gallery sizes, each an integer from 1 to the "
                         f"{n} images.")
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise ValueError(f"draws={draws!r} is not allowed: give a positive integer.")
    if groups is not None and len(groups) != n:
        raise ValueError(f"groups has {len(groups)} entries for {n} images: give one label per image, or None.")
    captions, texts = _check_gallery(captions, texts)
    row_of = {t: j for j, t in enumerate(texts)}
    rng = np.random.default_rng(seed)
    rows = []
    for size in sorted(set(int(s) for s in sizes)):
        for draw in range(1 if size == n else draws):
            pick = np.sort(rng.choice(n, size, replace=False))
            chosen = [captions[i] for i in pick]
            gallery_texts = list(dict.fromkeys(chosen))
            t = text_features[[row_of[c] for c in gallery_texts]]
            m = retrieval_metrics(image_features[pick], chosen, t, gallery_texts, ks=(1,))
            row = {"gallery": size, "draw": draw, "captions": len(gallery_texts),
                   **{k: m[k] for k in ("i2t_recall@1", "t2i_recall@1", "chance_i2t_recall@1")}}
            if groups is not None:
                first = (image_features[pick] @ t.T).argmax(1).tolist()
                hit = np.array([gallery_texts[j] == c for j, c in zip(first, chosen)])
                labels = np.array([groups[i] for i in pick])
                row.update({f"i2t_recall@1 {g}": float(hit[labels == g].mean()) for g in dict.fromkeys(labels)})
            if meaning is not None:
                ceiling = recall_ceiling(chosen, gallery_texts, meaning)
                row.update({"i2t_ceiling@1": ceiling["i2t_recall@1"], "t2i_ceiling@1": ceiling["t2i_recall@1"]})
            rows.append(row)
    return rows
