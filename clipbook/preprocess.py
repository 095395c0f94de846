"""From uint8 images to what a CLIP's image tower takes: the fast path clipbook's own worlds use.

clipbook's corpora are uint8 arrays rendered at (or near) the model's input size, kept whole on the device;
`normalizer` turns a batch of them into the model's normalised float input on the device, with the mean and
std from the preprocess config the open_clip model carries.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def images_to_tensor(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> uint8 (N, 3, H, W), contiguous; kept uint8 so a dataset fits on a GPU."""
    if isinstance(images, np.ndarray) and not images.flags.writeable:
        images = images.copy()  # torch refuses to share read-only memory (e.g. arrays from PIL)
    x = torch.as_tensor(images)
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"images of shape {tuple(x.shape)} and dtype {x.dtype} are not allowed: "
                         "give uint8 RGB images shaped (N, H, W, 3).")
    return x.permute(0, 3, 1, 2).contiguous()


def min_filter(x: torch.Tensor, k: int) -> torch.Tensor:
    """Each pixel of float (N, C, H, W) replaced by the darkest one in the k x k square around it (k odd): what
    ``-max_pool2d(-x, k, stride=1, padding=k // 2)`` computes, exactly, as shifted minima along rows then columns
    (2(k - 1) elementwise minima; max-pooling with indices ran several times slower on a CPU). Thickens dark
    strokes on bright paper."""
    if k < 1 or k % 2 == 0:
        raise ValueError(f"k={k!r} is not allowed: the filter's width must be a positive odd number.")
    r = k // 2
    if r == 0:
        return x
    p = F.pad(x, (r, r, r, r), value=float("inf"))
    h, w = x.shape[-2:]
    rows = p[..., 0:h, :]
    for i in range(1, k):
        rows = torch.minimum(rows, p[..., i:i + h, :])
    out = rows[..., 0:w]
    for j in range(1, k):
        out = torch.minimum(out, rows[..., j:j + w])
    return out


def normalizer(model: torch.nn.Module, device: torch.device):
    """A function turning uint8 (B, 3, H, W) batches into the float input the model expects."""
    cfg = model.visual.preprocess_cfg
    mean = torch.tensor(cfg["mean"], device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor(cfg["std"], device=device).view(1, 3, 1, 1) * 255
    size = model.visual.image_size
    size = size if isinstance(size, (tuple, list)) else (size, size)

    def normalize(x: torch.Tensor) -> torch.Tensor:
        x = x.to(device, non_blocking=True).float()
        if tuple(x.shape[-2:]) != tuple(size):
            x = torch.nn.functional.interpolate(x, size=size, mode="bilinear", antialias=True,
                                                align_corners=False)
        return (x - mean) / std

    return normalize
