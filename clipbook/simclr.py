"""Self-supervised SimCLR on document pages with lightly (notebook 04 introduces it).

One method, top to bottom, as in lightly's examples: model (a backbone with no weights: torchvision's ResNet-18,
as the seed's, or a small plain convnet that trains about three times faster on a CPU; and lightly's
``SimCLRProjectionHead``), transform (two random views of every page, made for line drawings on
white paper), data (the whole uint8 page set on the device), loss (lightly's ``NTXentLoss``), optimizer
(AdamW with warm-up and cosine decay), loop. bf16 autocast on CUDA, and on a CPU with native bf16 where the engine
measures it faster. Like ``train_clip``, ``train_simclr`` loads a cached checkpoint when one was trained with the
same pages and parameters, and trains otherwise.

Search uses the backbone's features (before the projection head: 512-d for the ResNet-18, 256-d for the convnet),
L2-normalised, as the seed did.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead
from safetensors import SafetensorError
from safetensors.torch import load_file

from . import distributed, engine
from .engine import TrainResult
from .models import checkpoint_info
from .preprocess import images_to_tensor, min_filter
from .utils import autocast, check_choice, check_positive, fp32_loss, resolve_device, seed_everything

SIMCLR_MODEL = "simclr"
_LEGACY_MODELS = ("simclr-resnet18",)  # what checkpoints called it before the backbone became a choice
_TRAIN_VERSION = 5  # 2: views made for scans (zoom out, aspect, noise); 3: the backbone is a parameter;
# 4: the paper tone is measured before the strokes are thickened (once per page); 5: no random erasing
SIMCLR_BACKBONES: tuple[str, ...] = ("resnet18", "convnet")
_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet statistics, as torchvision's ResNets


def make_backbone(name: str) -> tuple[torch.nn.Module, int]:
    """A backbone with no pretrained weights and the width of its features.

    * ``"resnet18"``: torchvision's ResNet-18 (11M parameters, 512-d), the seed's. Its stem (a stride-2
      convolution and a max-pool) leaves a 12x12 map of a 48-px page.
    * ``"convnet"``: eight 3x3 convolutions with BatchNorm and ReLU, 32 to 256 channels, stride 2 every other
      layer from the first, average-pooled (1.2M parameters, 256-d). On the quick profile's 48-px pages it
      runs a SimCLR step about three times faster than the ResNet-18 on a CPU, so the same minutes buy three
      times the epochs (benchmarks/RESULTS.md)."""
    check_choice("backbone", name, SIMCLR_BACKBONES)
    if name == "resnet18":
        resnet = torchvision.models.resnet18(weights=None)
        resnet.fc = torch.nn.Identity()
        return resnet, 512
    layers, width, c_in = [], 32, 3
    for i in range(8):
        c_out = width * 2 ** (i // 2)
        layers += [torch.nn.Conv2d(c_in, c_out, 3, stride=2 if i % 2 == 0 else 1, padding=1, bias=False),
                   torch.nn.BatchNorm2d(c_out), torch.nn.ReLU(inplace=True)]
        c_in = c_out
    return torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()), c_in


class SimCLR(torch.nn.Module):
    """A backbone (`make_backbone`, no pretrained weights) and lightly's SimCLR projection head."""

    def __init__(self, input_size: int = 48, projection_dim: int = 128, backbone: str = "resnet18") -> None:
        super().__init__()
        check_positive("input_size", input_size)
        self.backbone, self.feature_dim = make_backbone(backbone)
        self.backbone_name = backbone
        self.projection_head = SimCLRProjectionHead(self.feature_dim, 512, projection_dim)
        self.input_size = int(input_size)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Projections z of normalised float inputs (training)."""
        return self.projection_head(self.backbone(x))

    def prepare(self, pages: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, H, W) pages -> normalised float inputs at `input_size` (area-averaged)."""
        x = pages.to(self.mean.device, non_blocking=True).float() / 255
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", antialias=True,
                              align_corners=False)
        return (x - self.mean) / self.std


class DrawingAugment(torch.nn.Module):
    """Random views of pages for SimCLR, batched on the device, chosen for scanned line drawings on paper.

    lightly's ``SimCLRTransform`` works image by image on PIL images in a DataLoader, and its defaults
    (crops down to 8% of the image, strong colour jitter, flips) suit photos. Here every sample gets its
    own random affine warp in one ``grid_sample``: a crop of `crop_scale` of the page area (above 1, the
    page shrunk onto more paper, as a scan holds its views at another scale), aspect up to `max_aspect`
    either way (sheets read squashed onto a square), a few degrees of rotation; pen strokes thickened at
    random (scans differ in line weight), blur, paper tone and contrast jitter, sensor noise and, for the
    occasional colour page, greyscale. No flips: a mirrored page is not a page an archive holds.

    `p_erase` blanks a paper-coloured patch (up to 45% of each side) in that share of the views; 0 by default.
    Random erasing suits photos, where an occluded object stays the same object. On a scanned sheet the part's views
    may be shrunk to a fifth of the drawing area, and a patch that blanks them leaves a positive pair that shares
    only the frame and the title block: at 0.5, SimCLR searched notebook 04's archive 5-14% worse (seeds 0-3) and
    leaned more on the title block (benchmarks/RESULTS.md)."""

    def __init__(self, input_size: int, crop_scale: tuple[float, float] = (0.35, 1.6), max_degrees: float = 5.0,
                 p_thicken: float = 0.3, p_blur: float = 0.4, p_erase: float = 0.0, p_grey: float = 0.3,
                 max_aspect: float = 1.5, noise: float = 0.04) -> None:
        super().__init__()
        self.input_size = int(input_size)
        self.crop_scale, self.max_degrees, self.max_aspect, self.noise = crop_scale, max_degrees, max_aspect, noise
        self.p_thicken, self.p_blur, self.p_erase, self.p_grey = p_thicken, p_blur, p_erase, p_grey
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, pages: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """uint8 (B, 3, H, W) pages -> one random normalised view each, (B, 3, input_size, input_size)."""
        return self.views(self.shrink(pages), generator)

    def shrink(self, pages: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, H, W) pages -> floats in [0, 1] on the device, pages over twice `input_size` area-averaged
        down to it: what every view of a page starts from, so a trainer can compute it once per page."""
        x = pages.to(self.mean.device, non_blocking=True).float() / 255
        if x.shape[-1] > 2 * self.input_size:  # bring big pages near the output size first, without aliasing
            x = F.interpolate(x, scale_factor=2 * self.input_size / x.shape[-1], mode="area")
        return x

    @staticmethod
    def paper_level(x: torch.Tensor) -> torch.Tensor:
        """`shrink`'s pages -> each page's paper tone (B, 1, 1, 1): the grey level its brightest tenth starts at."""
        return torch.quantile(x.mean(1).flatten(1), 0.9, dim=1).view(-1, 1, 1, 1)

    def views(self, x: torch.Tensor, generator: torch.Generator | None = None,
              paper: torch.Tensor | None = None) -> torch.Tensor:
        """`shrink`'s pages -> one random normalised view each, (B, 3, input_size, input_size). `paper`: the pages'
        `paper_level`, when a trainer has measured it once per page (a third of the views' time); None measures
        it here."""
        dev = self.mean.device
        b = x.shape[0]
        paper = self.paper_level(x) if paper is None else paper.view(b, 1, 1, 1)
        draw_on = dev if generator is None else generator.device  # random numbers where the generator lives
        u = lambda *shape: torch.rand(*shape, generator=generator, device=draw_on).to(dev)  # noqa: E731
        # thicker strokes: ink spreads to the 3x3 neighbourhood (a min-pool on the bright paper)
        chosen = torch.nonzero(u(b) < self.p_thicken).flatten()
        x = x.index_copy(0, chosen, min_filter(x[chosen], 3))
        # random resized crop (or zoom out onto paper) with a little rotation, as one affine warp per sample
        lo, hi = self.crop_scale
        area = lo + (hi - lo) * u(b)
        log_ratio = (u(b) * 2 - 1) * math.log(self.max_aspect)
        top = max(1.0, math.sqrt(hi) * math.sqrt(self.max_aspect))
        sx = torch.sqrt(area * torch.exp(log_ratio)).clamp(max=top)
        sy = torch.sqrt(area / torch.exp(log_ratio)).clamp(max=top)
        tx, ty = (u(b) * 2 - 1) * (1 - sx).abs(), (u(b) * 2 - 1) * (1 - sy).abs()
        angle = (u(b) * 2 - 1) * math.radians(self.max_degrees)
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack([torch.stack([sx * cos, -sy * sin, tx], 1), torch.stack([sx * sin, sy * cos, ty], 1)], 1)
        grid = F.affine_grid(theta, (b, 3, self.input_size, self.input_size), align_corners=False)
        # outside the page is paper (its tone as scanned, before any thickening): warped as the difference to it
        x = F.grid_sample(x - paper, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + paper
        # blur, blended in by a random amount
        w = (u(b) < self.p_blur).float() * u(b)
        blur = torch.nonzero(w > 0).flatten()  # the others would be lerped by 0: left exactly as they are
        blurred = F.avg_pool2d(x[blur], 3, stride=1, padding=1, count_include_pad=False)
        x = x.index_copy(0, blur, torch.lerp(x[blur], blurred, w[blur].view(-1, 1, 1, 1)))
        if self.p_erase > 0:  # a blank, paper-coloured patch (random erasing, but with paper instead of noise)
            hw = self.input_size
            eh, ew = (0.15 + 0.3 * u(b)) * hw, (0.15 + 0.3 * u(b)) * hw
            ey, ex = u(b) * (hw - eh), u(b) * (hw - ew)
            rows = torch.arange(hw, device=dev).view(1, hw, 1)
            cols = torch.arange(hw, device=dev).view(1, 1, hw)
            patch = ((rows >= ey.view(b, 1, 1)) & (rows < (ey + eh).view(b, 1, 1)) & (cols >= ex.view(b, 1, 1))
                     & (cols < (ex + ew).view(b, 1, 1)) & (u(b) < self.p_erase).view(b, 1, 1))
            blank = x.flatten(2).amax(2).view(b, 3, 1, 1)
            x = torch.where(patch.unsqueeze(1), blank, x)
        # greyscale now and then (colour photos), then paper tone and contrast
        grey = (x * torch.tensor([0.299, 0.587, 0.114], device=dev).view(1, 3, 1, 1)).sum(1, keepdim=True)
        x = torch.where((u(b) < self.p_grey).view(b, 1, 1, 1), grey.expand_as(x), x)
        contrast = (0.7 + 0.6 * u(b)).view(b, 1, 1, 1)
        tone = (u(b) * 0.15 - 0.1).view(b, 1, 1, 1)
        x = (x - 1) * contrast + 1 + tone
        x = (x + self.noise * u(b).view(b, 1, 1, 1) * torch.randn(x.shape, generator=generator,
                                                                  device=draw_on).to(dev)).clamp(0, 1)
        return (x - self.mean) / self.std


def make_loss(temperature: float, distributed: bool = False) -> NTXentLoss:
    """lightly's NT-Xent loss; `distributed` gathers negatives from every process (torchrun + DDP)."""
    return NTXentLoss(temperature=temperature, gather_distributed=distributed)


def _shrink_all(augment: DrawingAugment, x_all: torch.Tensor,
                max_bytes: int = 2**30) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Every page through `augment.shrink` once, for the whole training, with its `paper_level`, when pages shrink
    (they are over twice the input size) and the floats take at most `max_bytes`; None otherwise (each batch
    shrinks its pages). Measured on the quick profile (2,000 pages of 128 px to 96): a third of SimCLR's
    augmentation time for the shrinking, and a third of the rest for the paper levels."""
    side = augment.input_size * 2
    if x_all.shape[-1] <= side or len(x_all) * x_all.shape[1] * side * side * 4 > max_bytes:
        return None
    with torch.no_grad():
        shrunk = torch.cat([augment.shrink(x_all[i:i + 256]) for i in range(0, len(x_all), 256)])
        return shrunk, torch.cat([augment.paper_level(shrunk[i:i + 256]) for i in range(0, len(shrunk), 256)])


def simclr_method(model: SimCLR, x_all: torch.Tensor, temperature: float, ctx: distributed.Context) -> engine.Method:
    """SimCLR's pieces for the engine: the model, and two random views of every page of the batch scored by
    NT-Xent (negatives gathered from every process under DDP). AdamW's own betas: SimCLR has no logit scale."""
    augment = DrawingAugment(model.input_size).to(ctx.device)
    loss_fn = make_loss(temperature, distributed=ctx.distributed)
    shrunk = _shrink_all(augment, x_all)

    def batch_loss(net, idx, gen):
        n = len(idx)
        # every rank draws the same global views, then keeps its own share; augmentation in full precision
        with torch.no_grad(), torch.autocast(ctx.device.type, enabled=False):
            if shrunk is not None:
                pages, paper = shrunk[0][idx], shrunk[1][idx].repeat(2, 1, 1, 1)
            else:  # once for the page's 2 views
                pages, paper = augment.shrink(x_all[idx]), None
            views = augment.views(torch.cat([pages, pages]), gen, paper)
            views = torch.cat([distributed.shard(views[:n], ctx), distributed.shard(views[n:], ctx)])
        z = net(views.contiguous(memory_format=torch.channels_last))
        half = len(z) // 2
        return fp32_loss(loss_fn, z[:half], z[half:]), {}

    return engine.Method(SIMCLR_MODEL, model, batch_loss, betas=(0.9, 0.999), eps=1e-8)


def load_simclr(path: str | os.PathLike, device: str | torch.device = "auto") -> SimCLR:
    """A SimCLR model from a clipbook checkpoint; a clear error when the file is not one."""
    path = Path(path)
    info = checkpoint_info(path)
    if info.get("model") not in (SIMCLR_MODEL, *_LEGACY_MODELS):
        raise ValueError(f"checkpoint={str(path)!r} holds a {info.get('model')!r} model, not {SIMCLR_MODEL!r}: "
                         "give a checkpoint written by train_simclr.")
    params = info.get("params", {})
    model = SimCLR(input_size=params.get("input_size", 48), projection_dim=params.get("projection_dim", 128),
                   backbone=params.get("backbone", "resnet18"))
    try:
        model.load_state_dict(load_file(str(path)))
    except (RuntimeError, SafetensorError, OSError) as e:
        raise ValueError(f"checkpoint={str(path)!r} does not fit {SIMCLR_MODEL}: {str(e).splitlines()[0]}") from None
    return model.to(resolve_device(device)).eval()


@torch.no_grad()
def encode_pages(model: SimCLR, images: np.ndarray | torch.Tensor, device: str | torch.device = "auto",
                 batch_size: int = 256) -> torch.Tensor:
    """L2-normalised backbone features (N, model.feature_dim), float32 on the CPU, of uint8 (N, H, W, 3) pages."""
    dev = resolve_device(device)
    model.to(dev).eval()
    x = images_to_tensor(images)
    out = []
    for i in range(0, len(x), batch_size):
        with autocast(dev):
            out.append(F.normalize(model.backbone(model.prepare(x[i:i + batch_size])).float(), dim=-1).cpu())
    return torch.cat(out)


def train_simclr(
    images: np.ndarray | torch.Tensor,
    *,
    backbone: str = "resnet18",
    input_size: int = 48,
    epochs: int = 4,
    batch_size: int = 128,
    lr: float = 2e-3,
    temperature: float = 0.2,
    weight_decay: float = 1e-4,
    warmup: float = 0.1,
    projection_dim: int = 128,
    seed: int = 0,
    device: str | torch.device = "auto",
    cache: bool = True,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    log_every: int = 1,
    compile: bool = False,
    resume_seconds: float | None = engine.DEFAULT_RESUME_SECONDS,
    resume_steps: int | None = None,
) -> TrainResult:
    """Train a backbone (`make_backbone`: "resnet18" or "convnet") with SimCLR on uint8 pages (N, H, W, 3),
    without labels.

    Returns a `TrainResult` (model: a `SimCLR`, tokenizer None). With `cache=True`, a checkpoint trained
    with the same pages and parameters is loaded from `checkpoint_dir` (default data/checkpoints) instead of
    training again; a new one is written there (temporary file, then rename) with its history in the header.
    `compile=True`, `resume_seconds` and `resume_steps` work as in `train_clip`."""
    for name, value in (("input_size", input_size), ("epochs", epochs), ("batch_size", batch_size),
                        ("projection_dim", projection_dim)):
        check_positive(name, value)
    for name, value in (("lr", lr), ("temperature", temperature)):
        check_positive(name, value, integer=False)
    check_choice("backbone", backbone, SIMCLR_BACKBONES)
    if batch_size < 2:
        raise ValueError(f"batch_size={batch_size} is not allowed: a contrastive batch needs at least 2 pages.")
    ctx, x_all = engine.start(images, batch_size, lr, warmup, weight_decay, compile, device, unit="pages")
    params = {"v": _TRAIN_VERSION, "model": SIMCLR_MODEL, "backbone": backbone, "input_size": input_size,
              "epochs": epochs, "batch_size": batch_size, "lr": lr, "temperature": temperature,
              "weight_decay": weight_decay, "warmup": warmup, "projection_dim": projection_dim, "seed": seed}
    path = engine.checkpoint_path(SIMCLR_MODEL, engine.fingerprint(params, x_all), checkpoint_dir) if cache else None

    def train() -> TrainResult:
        seed_everything(seed)
        model = SimCLR(input_size, projection_dim, backbone).to(ctx.device)
        # channels_last: the convolution layout tensor cores (and oneDNN on a CPU, 4-10% here) run fastest
        model = model.to(memory_format=torch.channels_last)
        (x_dev,) = engine.on_device(ctx, x_all)
        method = simclr_method(model, x_dev, temperature, ctx)
        return engine.fit(method, n=len(x_dev), steps=epochs * (len(x_dev) // batch_size), batch_size=batch_size,
                          lr=lr, weight_decay=weight_decay, warmup=warmup, seed=seed, ctx=ctx, data_device=x_dev.device,
                          checkpoint=path, metadata={"params": params}, compile=compile, progress=progress,
                          log_every=log_every, resume_seconds=resume_seconds, resume_steps=resume_steps)

    def load() -> TrainResult | None:
        return engine.load_cached(path, lambda p: load_simclr(p, device=ctx.device), SIMCLR_MODEL)

    return engine.load_or_train(path, ctx, load, train)
