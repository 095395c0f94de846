"""The modality gap (Liang et al., NeurIPS 2022, arXiv 2203.02053): notebook 07 measures it with these.

A CLIP's L2-normalised image embeddings and text embeddings occupy two narrow cones of the sphere, apart from each
other. Three numbers describe the picture:

* the gap vector ``Δ = mean(image) - mean(text)`` over paired, normalised embeddings, and its length ``‖Δ‖``
  (0.82 for OpenAI's CLIP on MSCOCO in the paper);
* the cone of one modality: the mean cosine similarity between two different embeddings of it (0 for directions
  spread evenly over the sphere, 1 when all embeddings coincide);
* the matched cosine: the mean cosine of each image with its own caption, where the matching pairs sit;
* the shift experiment: move the image embeddings by ``-λΔ/2`` and the text embeddings by ``+λΔ/2``, renormalise,
  and measure again. ``λ = 1`` makes the two means meet before renormalising, ``λ = 0`` leaves the embeddings as
  they are, ``λ < 0`` widens the gap (the paper's code shifts by ``±δ/2`` along the unit gap direction).

The functions take (N, D) tensors of embeddings and normalise them themselves, so unnormalised input gives the
same answer as normalised input.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F


def _embeddings(name: str, x: torch.Tensor | np.ndarray, min_rows: int = 1) -> torch.Tensor:
    """`x` as a float32 (N, D) tensor with L2-normalised rows; a clear error naming `name` otherwise."""
    x = torch.as_tensor(x)
    if x.ndim != 2:
        raise ValueError(f"{name} has shape {tuple(x.shape)}: give an (N, D) matrix of embeddings, one per row.")
    if len(x) < min_rows or x.shape[1] == 0:
        raise ValueError(f"{name} has shape {tuple(x.shape)}: give at least {min_rows} embeddings of dimension >= 1.")
    x = x.float()
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values: embeddings must be finite.")
    norms = x.norm(dim=1)
    if (norms == 0).any():
        raise ValueError(f"{name} contains {int((norms == 0).sum())} all-zero rows: they have no direction.")
    return x / norms[:, None]


def gap_vector(image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """Δ = mean(image) - mean(text) over L2-normalised embeddings (D,). The two sets may differ in size, but
    they must share the embedding dimension."""
    image, text = _embeddings("image", image), _embeddings("text", text)
    if image.shape[1] != text.shape[1]:
        raise ValueError(f"image embeddings have dimension {image.shape[1]} and text embeddings {text.shape[1]}: "
                         "give both modalities from the same CLIP.")
    return image.mean(0) - text.mean(0)


def modality_gap(image: torch.Tensor, text: torch.Tensor) -> float:
    """‖Δ‖, the distance between the centres of the two modalities (0 to 2 for normalised embeddings)."""
    return float(gap_vector(image, text).norm())


def cone_cosine(x: torch.Tensor) -> float:
    """Mean cosine similarity between two different embeddings of one modality: over all N(N-1) ordered pairs
    i != j, exactly (the expectation for a random pair), from ‖Σ x_i‖² = N + Σ_{i≠j} x_i·x_j."""
    x = _embeddings("embeddings", x, min_rows=2)
    n = len(x)
    total = x.sum(0).double()
    return float((total @ total - n) / (n * (n - 1)))


def matched_cosine(image: torch.Tensor, text: torch.Tensor) -> float:
    """Mean cosine of each image with its own caption (row i of `image` with row i of `text`): where the matching
    pairs sit. For the sigmoid loss compare it with -b/t, the cosine at which a pair's probability is one half."""
    image, text = _embeddings("image", image), _embeddings("text", text)
    if image.shape != text.shape:
        raise ValueError(f"image embeddings have shape {tuple(image.shape)} and text embeddings "
                         f"{tuple(text.shape)}: give one caption per image, row i with row i.")
    return float((image * text).sum(1).mean())


def shift_along_gap(image: torch.Tensor, text: torch.Tensor, lam: float, delta: torch.Tensor | None = None,
                    renormalize: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Image embeddings moved by -λΔ/2 and text embeddings by +λΔ/2, renormalised (unless `renormalize=False`).

    `delta`: the gap vector to move along (default: `gap_vector(image, text)` of these very embeddings; pass the
    one measured on other data to move a different set, e.g. class prompts, the same way). Before renormalising,
    λ = 1 makes the two means coincide exactly; renormalising pulls them apart again a little."""
    if isinstance(lam, bool) or not isinstance(lam, (int, float, np.number)) or not np.isfinite(lam):
        raise ValueError(f"lam={lam!r} is not allowed: give a finite number (0: no shift, 1: the means meet).")
    image, text = _embeddings("image", image), _embeddings("text", text)
    if delta is None:
        delta = gap_vector(image, text)
    delta = torch.as_tensor(delta).float()
    if delta.shape != (image.shape[1],) or text.shape[1] != image.shape[1]:
        raise ValueError(f"delta has shape {tuple(delta.shape)} for embeddings of dimension {image.shape[1]} "
                         f"(image) and {text.shape[1]} (text): all three must share the dimension.")
    moved_image, moved_text = image - 0.5 * lam * delta, text + 0.5 * lam * delta
    if renormalize:
        moved_image, moved_text = F.normalize(moved_image, dim=1), F.normalize(moved_text, dim=1)
    return moved_image, moved_text


def gap_summary(image: torch.Tensor, text: torch.Tensor) -> dict[str, float]:
    """‖Δ‖ and both cones in one dict: {"gap", "cone_cos_image", "cone_cos_text"}."""
    return {"gap": modality_gap(image, text), "cone_cos_image": cone_cosine(image), "cone_cos_text": cone_cosine(text)}


def pca_2d(*groups: torch.Tensor) -> list[np.ndarray]:
    """The embeddings of all `groups` projected on the first two principal components of their union (fitted on
    the normalised rows of all groups together, so that both modalities share one picture); one (N_g, 2) array
    per group."""
    if not groups:
        raise ValueError("pca_2d() needs at least one group of embeddings.")
    mats = [_embeddings(f"group {i}", g) for i, g in enumerate(groups)]
    joint = torch.cat(mats).double()
    centre = joint.mean(0)
    _, _, v = torch.linalg.svd(joint - centre, full_matrices=False)
    axes = v[:2].T  # (D, 2)
    return [((m.double() - centre) @ axes).numpy() for m in mats]


def check_lambdas(lambdas: Sequence[float], name: str = "SHIFT_LAMBDAS") -> list[float]:
    """The λ grid of a shift experiment: a non-empty list of finite numbers that contains 0 (the unshifted
    embeddings, which every other point is compared with)."""
    if isinstance(lambdas, (str, bytes)) or not isinstance(lambdas, Sequence) or len(lambdas) == 0:
        raise ValueError(f"{name}={lambdas!r} is not allowed: give a non-empty list of numbers that includes 0, "
                         "e.g. [-1, -0.5, 0, 0.5, 1].")
    bad = [v for v in lambdas
           if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not np.isfinite(v)]
    if bad:
        raise ValueError(f"{name} contains {bad[0]!r}: every entry must be a finite number.")
    if 0 not in lambdas:
        raise ValueError(f"{name}={list(lambdas)!r} is not allowed: include 0 (no shift), the point the others are "
                         "compared with.")
    return sorted(float(v) for v in set(lambdas))
