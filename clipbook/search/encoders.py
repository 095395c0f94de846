"""Page encoders for the search tool: pages in, L2-normalised float32 features out.

An encoder is named by a spec (``load_encoder``, ``ENCODER_SPECS``): ``pixels`` (raw pixels, the baseline),
``clip:<checkpoint.safetensors>`` (a clipbook CLIP checkpoint), ``open_clip:<model>:<pretrained>`` (e.g.
``open_clip:ViT-B-32:openai``, for users who have the weights), ``simclr`` (a SimCLR trained on the pages
being indexed) and ``simclr:<checkpoint.safetensors>``. Every feature is L2-normalised, so inner product is
cosine similarity. Thin strokes are thickened before a page is shrunk to an encoder's input, so that they
survive the shrinking.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..models import create_clip, load_checkpoint
from ..preprocess import min_filter
from ..profiles import profile_knobs
from ..retrieval import encode_images
from ..utils import check_positive, resolve_device, resolve_profile

if TYPE_CHECKING:
    from ..engine import TrainResult

ENCODER_SPECS: tuple[str, ...] = ("pixels", "pixels:<side>", "clip:<checkpoint.safetensors>", "simclr",
                                  "simclr:<checkpoint.safetensors>", "open_clip:<model>:<pretrained>")


@dataclass
class Encoder:
    """Pages -> L2-normalised float32 features. `name` identifies the encoder (an index refuses queries
    from another one); `spec` is what `load_encoder` rebuilds it from (None: not reloadable); `embed` maps a
    batch of uint8 pages to raw features (a tensor or an array), which `encode` normalises."""

    name: str
    spec: str | None
    dim: int
    embed: Callable[[np.ndarray], torch.Tensor | np.ndarray]

    def encode(self, images: np.ndarray, batch_size: int = 256, progress: bool = False) -> torch.Tensor:
        """Features (N, dim) of uint8 pages (N, H, W, 3): float32 on the CPU, each row L2-normalised — the type
        `clipbook.encode_images` returns (faiss gets a numpy view of it)."""
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images of shape {images.shape} and dtype {images.dtype} are not allowed: "
                             "give uint8 RGB pages shaped (N, H, W, 3).")
        check_positive("batch_size", batch_size)
        out = torch.empty((len(images), self.dim), dtype=torch.float32)
        for i in tqdm(range(0, len(images), batch_size), desc=f"encode {self.name}", disable=not progress,
                      mininterval=2.0):
            f = self.embed(images[i:i + batch_size])
            out[i:i + len(f)] = F.normalize(torch.as_tensor(f).float(), dim=-1).cpu()
        return out


def stroke_kernel(source: int, target: int) -> int:
    """Width of the min filter that keeps 1-pixel strokes visible when a `source`-pixel page shrinks to
    `target` pixels: the largest odd number not above the shrink factor (1, a no-op, below 3x)."""
    check_positive("source", source)
    check_positive("target", target)
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
    return min_filter(x, k).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def pixel_encoder(side: int = 32, strokes: bool = True) -> Encoder:
    """Raw pixels: the page in grey, shrunk to side x side by area-averaging (strokes thickened first unless
    `strokes=False`), as ink (1 - brightness); the baseline."""
    check_positive("side", side)

    def embed(images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.array(images)).permute(0, 3, 1, 2).float().mean(1, keepdim=True) / 255
        k = stroke_kernel(x.shape[-1], side) if strokes else 1
        if k > 1:  # thicken_strokes, on the grey page
            x = min_filter(x, k)
        x = F.interpolate(x, size=(side, side), mode="area")
        return (1 - x).flatten(1) + 1e-6  # a blank page is a tiny constant vector, not a zero one

    name = f"pixels:{side}" if strokes else f"pixels:{side}:plain"
    return Encoder(name, name if strokes else None, side * side, embed)


def _input_side(model: torch.nn.Module) -> int:
    size = model.visual.image_size
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def clip_encoder(model: torch.nn.Module, name: str, spec: str | None = None,
                 device: str | torch.device = "auto", strokes: bool = True) -> Encoder:
    """A CLIP's image tower (open_clip model), zero-shot: `clipbook.encode_images`, on pages whose strokes
    are thickened for the model's input size first (unless `strokes=False`)."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    side = _input_side(model)

    def embed(images: np.ndarray) -> torch.Tensor:
        return encode_images(model, thicken_strokes(images, side) if strokes else images, dev)

    return Encoder(name if strokes else f"{name}:plain", spec if strokes else None, int(model.visual.output_dim), embed)


def simclr_encoder(model: torch.nn.Module, name: str, spec: str | None = None,
                   device: str | torch.device = "auto") -> Encoder:
    """A SimCLR model's backbone features (train_simclr), strokes thickened for its input size first."""
    from ..simclr import encode_pages  # lightly is imported only when needed

    dev = resolve_device(device)
    return Encoder(name, spec, model.feature_dim,
                   lambda images: encode_pages(model, thicken_strokes(images, model.input_size), dev))


def _weights_name(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())  # 0-d too (BatchNorm)
    return h.hexdigest()[:16]


def encoder_from_result(result: TrainResult, device: str | torch.device = "auto") -> Encoder:
    """The encoder of a `TrainResult` from train_clip, workbook_clip or train_simclr."""
    from ..simclr import SIMCLR_MODEL  # lightly is imported only when needed

    kind = "simclr" if result.model_name == SIMCLR_MODEL else "clip"
    if result.checkpoint is not None:
        name, spec = f"{kind}:{Path(result.checkpoint).stem}", f"{kind}:{Path(result.checkpoint).resolve()}"
    else:  # not saved: named by its weights, and not reloadable by spec
        name, spec = f"{kind}:{result.model_name}-{_weights_name(result.model)}", None
    make = simclr_encoder if kind == "simclr" else clip_encoder
    return make(result.model, name, spec, device)


def _not_allowed(spec: str, hint: str = "") -> ValueError:
    return ValueError(f"encoder={spec!r} is not allowed: {hint}use one of {', '.join(ENCODER_SPECS)}.")


def load_encoder(spec: str, *, profile: str = "auto", device: str | torch.device = "auto", seed: int = 0,
                 pages: np.ndarray | None = None, progress: bool = True) -> Encoder:
    """Build an encoder from its spec (see ENCODER_SPECS); ``simclr`` trains on `pages` with `profile`'s budget."""
    if not isinstance(spec, str) or not spec:
        raise _not_allowed(spec)
    kind, _, rest = spec.partition(":")
    if kind == "pixels":
        if rest and not rest.isdigit():
            raise ValueError(f"encoder={spec!r} is not allowed: use 'pixels' or 'pixels:<side>' with an integer side.")
        return pixel_encoder(int(rest) if rest else 32)
    if kind == "clip":
        if not rest:
            raise _not_allowed(spec, "name which CLIP; a bare 'clip' no longer trains a model (notebook 01's CLIP "
                                     "is 'clip:<its checkpoint>', e.g. clipbook.workbook_clip(...).checkpoint); ")
        path = Path(rest)
        return clip_encoder(load_checkpoint(path, device=device), f"clip:{path.stem}", f"clip:{path.resolve()}",
                            device)
    if kind == "simclr":
        from ..simclr import load_simclr, train_simclr  # lightly is imported only when needed

        if not rest:
            if pages is None:
                raise ValueError("encoder='simclr' trains on the pages it indexes: give pages=..., or a trained "
                                 "checkpoint as encoder='simclr:<checkpoint.safetensors>'.")
            knobs = profile_knobs("simclr", resolve_profile(profile, device))
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
    raise _not_allowed(spec)
