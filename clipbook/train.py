"""Contrastive training of a CLIP from scratch (notebook 01 introduces it).

One method, top to bottom: model, data on the device, loss, optimizer, schedule, loop. The loss is
open_clip's ``ClipLoss``; the optimizer AdamW with linear warm-up and cosine decay; the logit scale is
clamped at ln(100) after every step as in the CLIP paper (open_clip's model does not clamp it itself,
its training script does); bf16 autocast on CUDA. ``train_clip`` loads a cached checkpoint when one
was trained with the same parameters and data, and trains otherwise.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import open_clip
import torch
from tqdm.auto import tqdm

from . import distributed
from .models import check_model_name, checkpoint_info, create_clip, load_checkpoint, save_checkpoint
from .utils import check_choice, check_positive, data_dir, seed_everything

MAX_LOGIT_SCALE = math.log(100.0)
_TRAIN_VERSION = 1

# Notebook 01's knobs per profile; later notebooks reuse (or train) the same model via `workbook_clip`.
PRETRAIN_PROFILES: dict[str, dict[str, Any]] = {
    "quick": dict(model="clipbook-tiny", n_train=8_192, n_val=1_000, epochs=3, batch_size=64, lr=5e-4, sweep=[]),
    "full": dict(model="clipbook-small", n_train=200_000, n_val=2_000, epochs=10, batch_size=1024, lr=2e-3,
                 sweep=[32, 128, 512, 2048]),
}


@dataclass
class TrainResult:
    """What `train_clip` returns: the model, its tokenizer, the per-step history and the timings."""

    model: torch.nn.Module
    tokenizer: Any
    model_name: str
    checkpoint: Path | None
    history: dict[str, list[float]] = field(default_factory=dict)
    train_seconds: float = 0.0
    samples_seen: int = 0
    loaded: bool = False

    @property
    def samples_per_second(self) -> float:
        return self.samples_seen / self.train_seconds if self.train_seconds > 0 else float("nan")

    def steady_samples_per_second(self, skip: int = 10) -> float:
        """Samples/s from the end of step `skip` to the end of the last step, from the per-step clock in the
        history: leaves out start-up, warm-up and (with compile=True) compilation."""
        steps, seconds = self.history.get("step", []), self.history.get("seconds", [])
        if len(seconds) != len(steps) or not steps:
            raise ValueError("this result has no per-step clock: train it again with this clipbook version.")
        first = next((i for i, s in enumerate(steps) if s >= skip), None)
        if first is None or first == len(steps) - 1:
            raise ValueError(f"skip={skip} is not allowed: it must leave at least two logged steps of the "
                             f"{steps[-1] + 1} trained.")
        per_step = self.samples_seen / (steps[-1] + 1)
        return (steps[-1] - steps[first]) * per_step / (seconds[-1] - seconds[first])

    @property
    def initial_loss(self) -> float:
        """Loss of the first training batch, before any update."""
        return self.history["loss"][0]

    @property
    def final_loss(self) -> float:
        """Mean loss of the last 5% of steps (at least one)."""
        losses = self.history["loss"]
        return float(np.mean(losses[-max(1, len(losses) // 20):]))


def cosine_schedule(step: int, total: int, warmup: int) -> float:
    """Learning-rate multiplier: linear warm-up to 1, then cosine decay to 0."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def images_to_tensor(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> uint8 (N, 3, H, W), contiguous; kept uint8 so a dataset fits on a GPU."""
    if isinstance(images, np.ndarray) and not images.flags.writeable:
        images = images.copy()  # torch refuses to share read-only memory (e.g. arrays from PIL)
    x = torch.as_tensor(images)
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"images of shape {tuple(x.shape)} and dtype {x.dtype} are not allowed: "
                         "give uint8 RGB images shaped (N, H, W, 3).")
    return x.permute(0, 3, 1, 2).contiguous()


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


def tokenize_phrasings(tokenizer, captions: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokenize each distinct caption once: returns (table (U, context), index (N, K) into the table).
    Images with fewer than K phrasings repeat their last one."""
    if len(captions) == 0:
        raise ValueError("captions=[] is not allowed: give at least one caption per image.")
    k = max(len(c) for c in captions)
    if min(len(c) for c in captions) == 0:
        raise ValueError("captions contains an image without any caption: give at least one per image.")
    unique: dict[str, int] = {}
    index = np.empty((len(captions), k), dtype=np.int64)
    for i, phrasings in enumerate(captions):
        for j in range(k):
            text = phrasings[min(j, len(phrasings) - 1)]
            index[i, j] = unique.setdefault(text, len(unique))
    table = tokenizer(list(unique))
    return table, torch.from_numpy(index)


def _fingerprint(images: torch.Tensor, captions: Sequence[Sequence[str]], params: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    h.update(str(tuple(images.shape)).encode())
    h.update(images.numpy().tobytes())
    h.update(json.dumps([list(c) for c in captions]).encode())
    return h.hexdigest()[:16]


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """open_clip's rule: no weight decay on gains, biases, norms, embeddings' 1-D params and logit_scale."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        exclude = p.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name
        (no_decay if exclude else decay).append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


class StepLog:
    """Per-step history kept as device tensors and read back once at the end; the progress bar reads the
    latest loss only every `show_every` steps. A `.item()` per step would make a GPU wait for the CPU.
    Each logged step's end is clocked: on CUDA with an event in the stream (no waiting), elsewhere with
    the wall clock."""

    def __init__(self, ctx, bar, show_every: int = 25) -> None:
        self.ctx, self.bar, self.show_every = ctx, bar, show_every
        self.cuda = ctx.device.type == "cuda"
        self.steps: list[int] = []
        self.lr: list[float] = []
        self.marks: list = []
        self.values: dict[str, list[torch.Tensor]] = {}

    def _mark(self):
        if not self.cuda:
            return time.perf_counter()
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def add(self, step: int, lr: float, **values: torch.Tensor) -> None:
        self.marks.append(self._mark())
        self.steps.append(step)
        self.lr.append(lr)
        for name, value in values.items():
            self.values.setdefault(name, []).append(value.detach().float().reshape(()))
        if len(self.steps) % self.show_every == 1:
            self.bar.set_postfix({k: f"{v[-1].item():.3f}" for k, v in self.values.items()}, refresh=False)

    def history(self) -> dict[str, list[float]]:
        """{"step", "lr", "seconds" (since the end of the first logged step) and every logged value}; "loss" is
        averaged over processes in a distributed job."""
        out: dict[str, list[float]] = {"step": self.steps}
        if self.cuda:
            torch.cuda.synchronize(self.ctx.device)
            seconds = [self.marks[0].elapsed_time(m) / 1000 for m in self.marks]
        else:
            seconds = [m - self.marks[0] for m in self.marks]
        for name, values in self.values.items():
            stacked = torch.stack(values) if values else torch.zeros(0)
            if name == "loss":
                stacked = distributed.mean_tensor(stacked, self.ctx)
            out[name] = stacked.cpu().tolist()
        out["lr"] = self.lr
        out["seconds"] = seconds
        return out


def check_schedule(warmup: float, weight_decay: float) -> None:
    """Warm-up is a fraction of the steps in [0, 1); weight decay a number >= 0."""
    if not (isinstance(warmup, (int, float)) and 0 <= warmup < 1):
        raise ValueError(f"warmup={warmup!r} is not allowed: it is the warm-up fraction of steps, in [0, 1).")
    if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
        raise ValueError(f"weight_decay={weight_decay!r} is not allowed: it must be a number >= 0.")


def optimizer_and_schedule(model: torch.nn.Module, lr: float, weight_decay: float, total_steps: int,
                           warmup: float, betas: tuple[float, float] = (0.9, 0.98), eps: float = 1e-6):
    """AdamW over open_clip's decay / no-decay groups, with linear warm-up and cosine decay per step.
    The fused AdamW kernel on CUDA and the CPU (on this 2-core CPU its step takes half the time of the
    multi-tensor one on clipbook-tiny); torch's default elsewhere."""
    fused = next(model.parameters()).device.type in ("cuda", "cpu") or None
    optimizer = torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=betas, eps=eps, fused=fused)
    warm = max(1, int(round(warmup * total_steps)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cosine_schedule(s, total_steps, warm))
    return optimizer, scheduler


def autocast(device: torch.device):
    """bf16 autocast on CUDA; full precision elsewhere (CPU bf16 autocast is slower than fp32 here)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast(device.type, enabled=False)


def start_run(images, batch_size: int, warmup: float, weight_decay: float, compile: bool,
              device: str | torch.device, unit: str = "images") -> tuple[distributed.Context, torch.Tensor]:
    """The checks both trainers share, then this process's place in the job (under torchrun: its rank and
    device) and the data as uint8 (N, 3, H, W)."""
    check_schedule(warmup, weight_decay)
    check_choice("compile", compile, (False, True))
    ctx = distributed.setup(device)
    distributed.check_divisible("batch_size", batch_size, ctx)
    x_all = images_to_tensor(images)
    if batch_size > len(x_all):
        raise ValueError(f"batch_size={batch_size} is not allowed: it must be at most the {len(x_all)} training "
                         f"{unit}.")
    return ctx, x_all


def maybe_compile(net: torch.nn.Module, compile: bool) -> torch.nn.Module:
    """`torch.compile(net)` when asked (fuses the small element-wise kernels around the matrix products; the
    first steps pay for compilation), `net` itself otherwise. The caller keeps and saves the plain model."""
    return torch.compile(net) if compile else net


def load_cached(path: Path, load, model_name: str, tokenizer=None) -> TrainResult | None:
    """The TrainResult of a cached checkpoint at `path` (`load(path)` builds the model), or None when there
    is none; an unusable one is reported and ignored, so the caller retrains and overwrites it."""
    if not path.exists():
        return None
    try:
        info = checkpoint_info(path)
        net = load(path)
    except ValueError as e:
        print(f"Ignoring unusable cached checkpoint: {e}")
        return None
    print(f"Loaded cached checkpoint {path} (trained in {info.get('train_seconds', 0):.0f} s).")
    return TrainResult(net, tokenizer, model_name, path, info.get("history", {}), info.get("train_seconds", 0.0),
                       info.get("samples_seen", 0), loaded=True)


def save_trained(model: torch.nn.Module, path: Path, model_name: str, metadata: dict, ctx) -> Path:
    """Write the checkpoint once (rank 0 in a distributed job; temporary file, then rename), then let every
    process continue."""
    if ctx.is_main:
        save_checkpoint(model, path, model_name, {**metadata, "world_size": ctx.world_size})
        print(f"Saved checkpoint {path}")
    distributed.barrier(ctx)
    return path


def train_clip(
    images: np.ndarray | torch.Tensor,
    captions: Sequence[Sequence[str]],
    model: str = "clipbook-tiny",
    *,
    epochs: int = 10,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.1,
    warmup: float = 0.05,
    seed: int = 0,
    device: str | torch.device = "auto",
    cache: bool = True,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    log_every: int = 1,
    compile: bool = False,
) -> TrainResult:
    """Train `model` (an open_clip config name) from scratch on images and their caption phrasings.

    `images`: uint8 (N, H, W, 3). `captions`: for every image, one or more phrasings; each step picks
    one at random, so the text encoder sees the variety. With `cache=True`, a checkpoint trained with
    the same data and parameters is loaded from `checkpoint_dir` (default data/checkpoints) instead of
    training again; a new one is written there (temporary file, then rename). `compile=True` runs the
    steps through `torch.compile` (worth it on a GPU for long runs; the checkpoint is the same model)."""
    check_model_name(model)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        check_positive(name, value)
    for name, value in (("lr", lr),):
        check_positive(name, value, integer=False)
    if len(captions) != len(images):
        raise ValueError(f"captions has {len(captions)} entries for {len(images)} images: give one list per image.")
    ctx, x_all = start_run(images, batch_size, warmup, weight_decay, compile, device)
    dev, n = ctx.device, x_all.shape[0]

    params = {"v": _TRAIN_VERSION, "model": model, "epochs": epochs, "batch_size": batch_size, "lr": lr,
              "weight_decay": weight_decay, "warmup": warmup, "seed": seed,
              "config": open_clip.get_model_config(model)}
    key = _fingerprint(x_all, captions, params)
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else data_dir("checkpoints")
    path = folder / f"{model}-{key}.safetensors"

    cached = load_cached(path, lambda p: load_checkpoint(p, model=model, device=dev), model,
                         open_clip.get_tokenizer(model)) if cache else None
    if cached is not None:
        return cached

    # ---- model, data on the device, loss, optimizer, schedule
    seed_everything(seed)
    clip, tokenizer, _ = create_clip(model, device=dev)
    clip.train()
    normalize = normalizer(clip, dev)
    table, phrasing = tokenize_phrasings(tokenizer, captions)
    if dev.type == "cuda":  # the whole uint8 dataset lives on the GPU: the loop never waits on data
        x_all, table, phrasing = x_all.to(dev), table.to(dev), phrasing.to(dev)
    # Several processes: each computes the loss of its own rows against the negatives of all ranks,
    # gathered with gradients, so DDP's averaged gradient equals the one-process gradient.
    loss_fn = open_clip.ClipLoss(local_loss=ctx.distributed, gather_with_grad=ctx.distributed, cache_labels=True,
                                 rank=ctx.rank, world_size=ctx.world_size)
    net = maybe_compile(distributed.wrap(clip, ctx), compile)
    steps_per_epoch = n // batch_size
    total = epochs * steps_per_epoch
    optimizer, scheduler = optimizer_and_schedule(clip, lr, weight_decay, total, warmup)
    amp = autocast(dev)
    gen = torch.Generator(device=x_all.device).manual_seed(seed)

    # ---- loop
    start = time.perf_counter()
    bar = tqdm(total=total, desc=f"train {model}", unit="step", disable=not (progress and ctx.is_main),
               mininterval=2.0)
    log = StepLog(ctx, bar)
    step = 0
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen, device=x_all.device)
        for b in range(steps_per_epoch):
            # every rank draws the same global batch and takes its own share of it
            idx = order[b * batch_size:(b + 1) * batch_size]
            pick = torch.randint(phrasing.shape[1], (batch_size,), generator=gen, device=x_all.device)
            idx, pick = distributed.shard(idx, ctx), distributed.shard(pick, ctx)
            texts = table[phrasing[idx, pick]].to(dev, non_blocking=True)
            pixels = normalize(x_all[idx])
            with amp:
                image_features, text_features, logit_scale = net(pixels, texts)
                loss = loss_fn(image_features, text_features, logit_scale)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            with torch.no_grad():
                clip.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
            if step % log_every == 0 or step == total - 1:
                log.add(step, optimizer.param_groups[0]["lr"], loss=loss, logit_scale=logit_scale)
            bar.update(1)
            step += 1
    bar.close()
    history = log.history()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - start
    clip.eval()

    saved = save_trained(clip, path, model, {"params": params, "history": history, "train_seconds": seconds,
                                             "samples_seen": total * batch_size, "n_train": n}, ctx) if cache else None
    return TrainResult(clip, tokenizer, model, saved, history, seconds, total * batch_size)


def world_for(model: str, **world_kwargs: Any):
    """The shapes world rendered at the model's input size (at most 64 px; larger inputs are upsampled)."""
    from .data import ShapesWorld

    size = min(open_clip.get_model_config(check_model_name(model))["vision_cfg"]["image_size"], 64)
    return ShapesWorld(image_size=size, **world_kwargs)


def workbook_clip(profile: str = "quick", device: str | torch.device = "auto", seed: int = 0,
                  progress: bool = True) -> TrainResult:
    """Notebook 01's CLIP for `profile` with its default knobs: loaded from data/checkpoints when
    notebook 01 (or an earlier call) trained it, trained now otherwise."""
    from .utils import pick

    knobs = pick(profile, PRETRAIN_PROFILES)
    world = world_for(knobs["model"])
    train = world.dataset(knobs["n_train"], split="train", seed=seed)
    return train_clip(train.images, train.all_captions(), knobs["model"], epochs=knobs["epochs"],
                      batch_size=knobs["batch_size"], lr=knobs["lr"], seed=seed, device=device, progress=progress)

