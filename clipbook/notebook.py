"""Notebook plumbing: what every notebook's first cells do, written once (d2l keeps such helpers in its library).

``start(PROFILE, DEVICE, SEED, OUTPUT_DIR)`` resolves the profile and the device, seeds everything and makes the
output folder; ``load_clip(MODEL, PRETRAINED, profile, device, seed)`` returns the CLIP a notebook should use:
notebook 01's workbook model for the profile when both are None, otherwise the open_clip model the user named.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .models import create_clip, preprocess_for
from .utils import output_dir, resolve_device, resolve_profile, seed_everything


@dataclass(frozen=True)
class Run:
    """A notebook run's resolved settings: the profile ("quick" or "full"), the device and the output folder."""

    profile: str
    device: torch.device
    out: Path
    seed: int


def start(profile: str, device: str, seed: int, output: str | os.PathLike) -> Run:
    """Resolve PROFILE ("auto" follows the hardware) and DEVICE, seed python/numpy/torch, create OUTPUT_DIR."""
    profile = resolve_profile(profile, device)
    dev = resolve_device(device)
    seed_everything(seed)
    run = Run(profile, dev, output_dir(output), seed)
    print(f"profile={run.profile} device={run.device} output={run.out}")
    return run


@dataclass
class NotebookCLIP:
    """The CLIP a notebook uses, with its tokenizer and open_clip's preprocessing, and where its weights came from."""

    model: torch.nn.Module
    tokenizer: Callable
    preprocess: Callable
    model_name: str
    weights: str

    def __repr__(self) -> str:
        return f"NotebookCLIP({self.model_name} from {self.weights})"


def load_clip(model_name: str | None, pretrained: str | os.PathLike | None, profile: str,
              device: str | torch.device = "auto", seed: int = 0, progress: bool = True) -> NotebookCLIP:
    """MODEL=None and PRETRAINED=None: notebook 01's CLIP for `profile` (loaded from data/checkpoints, or trained
    now when absent). MODEL given: that open_clip config with PRETRAINED (None: random init; an open_clip tag;
    a local checkpoint). PRETRAINED without MODEL is an error: the weights need their config's name."""
    from .train import workbook_clip  # training is imported only when the workbook model is asked for

    if model_name is None:
        if pretrained not in (None, ""):
            raise ValueError(f"PRETRAINED={str(pretrained)!r} is not allowed without MODEL: name the open_clip config "
                             "the weights belong to (e.g. MODEL='ViT-B-32'), or leave both None for the workbook's "
                             "own model.")
        trained = workbook_clip(profile, device=device, seed=seed, progress=progress)
        clip = NotebookCLIP(trained.model, trained.tokenizer, None, trained.model_name, str(trained.checkpoint))
    else:
        net, tokenizer, preprocess = create_clip(model_name, pretrained, device=device)
        clip = NotebookCLIP(net, tokenizer, preprocess, model_name,
                            "random init" if pretrained in (None, "") else str(pretrained))
    if clip.preprocess is None:
        clip.preprocess = preprocess_for(clip.model)
    clip.model.eval()
    print(f"model {clip.model_name} from {clip.weights}")
    return clip

