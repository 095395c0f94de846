"""Notebook plumbing: what every notebook's first cells do, written once (d2l keeps such helpers in its library).

``start(PROFILE, DEVICE, SEED, OUTPUT_DIR)`` resolves the profile and the device, seeds everything and makes the
output folder; ``load_clip(MODEL, PRETRAINED, profile, device, seed)`` returns the CLIP a notebook should use:
notebook 01's workbook model for the profile when both are None, its NegCLIP with MODEL="negclip", otherwise the
open_clip model the user named.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .models import LOCAL_DIR, create_clip, preprocess_for
from .utils import output_dir, resolve_device, resolve_profile, seed_everything

NEGCLIP = "negclip"  # MODEL naming notebook 01's NegCLIP (its section 8) instead of an open_clip config


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


def check_pretrained(model_name: str | None, pretrained: str | os.PathLike | None,
                     names: tuple[str, str] = ("MODEL", "PRETRAINED")) -> None:
    """PRETRAINED needs MODEL: weights are only meaningful with the name of the config they belong to. `names`:
    what the notebook calls the two parameters."""
    model_param, weights_param = names
    if model_name is None and pretrained not in (None, ""):
        raise ValueError(f"{weights_param}={str(pretrained)!r} is not allowed without {model_param}: name the "
                         f"open_clip config the weights belong to (e.g. {model_param}='ViT-B-32'), or leave both "
                         "None for the workbook's own model.")
    if model_name == NEGCLIP and pretrained not in (None, ""):
        raise ValueError(f"{weights_param}={str(pretrained)!r} is not allowed with {model_param}={NEGCLIP!r}: "
                         "notebook 01's NegCLIP brings its own weights. Leave it None, or name an open_clip config "
                         f"for {model_param} to load those weights into.")


def load_clip(model_name: str | None, pretrained: str | os.PathLike | None, profile: str,
              device: str | torch.device = "auto", seed: int = 0, progress: bool = True) -> NotebookCLIP:
    """MODEL=None and PRETRAINED=None: notebook 01's CLIP for `profile` (loaded from data/checkpoints, or trained
    now when absent); MODEL="negclip": notebook 01's NegCLIP, the same recipe trained with hard negatives (its
    section 8; loaded or trained the same way). Any other MODEL: that open_clip config with PRETRAINED (None: random
    init; an open_clip tag; a local checkpoint). PRETRAINED without MODEL is an error: the weights need their
    config's name.

    A random init is drawn from `seed`, as `train_clip` draws its starting model, and leaves the caller's random
    state as it was: the same model whatever the cells before it did (trained, or loaded from the cache)."""
    from .train import workbook_clip  # training is imported only when the workbook model is asked for

    check_pretrained(model_name, pretrained)
    if model_name in (None, NEGCLIP):
        trained = workbook_clip(profile, device=device, seed=seed, progress=progress,
                                hard_negatives=model_name == NEGCLIP)
        clip = NotebookCLIP(trained.model, trained.tokenizer, None, trained.model_name, str(trained.checkpoint))
    else:
        random_init = pretrained in (None, "") and not model_name.startswith(LOCAL_DIR)  # local-dir holds weights
        with torch.random.fork_rng(devices=[]):
            if random_init:
                torch.manual_seed(seed)
            net, tokenizer, preprocess = create_clip(model_name, pretrained, device=device)
        weights = "random init" if random_init else (str(pretrained) if pretrained not in (None, "") else model_name)
        clip = NotebookCLIP(net, tokenizer, preprocess, model_name, weights)
    if clip.preprocess is None:
        clip.preprocess = preprocess_for(clip.model)
    clip.model.eval()
    print(f"model {clip.model_name}{' (NegCLIP)' if model_name == NEGCLIP else ''} from {clip.weights}")
    return clip

