"""Contrastive training of a CLIP from scratch (notebook 01 introduces it): CLIP's three pieces for the engine.

One method, top to bottom: the model (an open_clip config), the batch -> loss function (open_clip's ``ClipLoss``
over the N x N similarities of a batch, each image with one of its caption phrasings drawn at random; configs
with a learned logit bias, SigLIP's, train with ``SigLipLoss``) and the after-step hook (the logit scale clamped
at ln 100, as in the CLIP paper: open_clip's model does not clamp it itself, its training script does). The loop,
optimizer, schedule, autocast, caching, checkpoints and resumable runs are the engine's (``clipbook.engine``).
With ``hard_negatives`` the batch -> loss function is NegCLIP's (``negclip_loss``): each image is also scored
against false captions that differ from its own in one detail.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import open_clip
import torch
import torch.nn.functional as F

from . import distributed, engine
from .engine import TrainResult
from .models import (LOCAL_DIR, check_model_name, clamp_logit_scale, create_clip, has_logit_bias, image_size_of,
                     load_checkpoint, local_dir_for, model_config, save_local_dir)
from .preprocess import normalizer
from .profiles import profile_knobs
from .utils import check_choice, check_positive, fp32_loss, seed_everything

if TYPE_CHECKING:
    from .data.drawings import PageData

_TRAIN_VERSION = 1
LOSSES: tuple[str, ...] = ("auto", "softmax", "sigmoid")


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


def check_loss(loss: str, model_name: str) -> str:
    """The loss a CLIP trains with: "softmax" (``ClipLoss``) or "sigmoid" (``SigLipLoss``, which needs a learned
    logit bias); "auto" takes the sigmoid loss exactly when the config has a logit bias. A loss that would leave
    part of the model untrained, or that has nothing to train, is refused."""
    check_choice("loss", loss, LOSSES)
    bias = has_logit_bias(model_name)
    if loss == "auto":
        return "sigmoid" if bias else "softmax"
    if loss == "sigmoid" and not bias:
        raise ValueError(f"loss='sigmoid' is not allowed with MODEL={model_name!r}: the sigmoid loss needs a "
                         "learned logit bias (an open_clip config with init_logit_bias, e.g. "
                         "'clipbook-tiny-sigmoid'); use loss='softmax'.")
    if loss == "softmax" and bias:
        raise ValueError(f"loss='softmax' is not allowed with MODEL={model_name!r}: its config has a learned logit "
                         "bias, which the softmax loss would leave untrained; use loss='sigmoid' (or 'auto').")
    return loss


def clip_loss_fn(loss: str, model_name: str, ctx: distributed.Context):
    """open_clip's module for `check_loss(loss, model_name)`. Several processes: each computes the loss of its own
    rows against the negatives of all ranks, gathered with gradients, so DDP's averaged gradient equals the
    one-process gradient."""
    if check_loss(loss, model_name) == "sigmoid":
        return open_clip.loss.SigLipLoss(cache_labels=True, rank=ctx.rank, world_size=ctx.world_size)
    return open_clip.ClipLoss(local_loss=ctx.distributed, gather_with_grad=ctx.distributed, cache_labels=True,
                              rank=ctx.rank, world_size=ctx.world_size)


def negclip_loss(image_features: torch.Tensor, text_features: torch.Tensor, negative_features: torch.Tensor,
                 logit_scale: torch.Tensor) -> torch.Tensor:
    """NegCLIP's loss (Yuksekgonul et al., 2023, "When and why vision-language models behave like bags-of-words"):
    CLIP's symmetric cross-entropy, where each of the N images is scored against the batch's N captions and also
    against the batch's K hard negatives (false captions, each close to the caption of one image of the batch; K
    may be 0), and each caption against the N images as in CLIP. With no negatives it is open_clip's ``ClipLoss``
    (tests)."""
    n = len(image_features)
    per_image = logit_scale * image_features @ torch.cat([text_features, negative_features]).T  # (N, N + K)
    labels = torch.arange(n, device=per_image.device)
    per_text = logit_scale * text_features @ image_features.T
    return (F.cross_entropy(per_image, labels) + F.cross_entropy(per_text, labels)) / 2


def tokenize_negatives(tokenizer, hard_negatives: Sequence[Sequence[Sequence[str]]],
                       k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokenize each distinct hard negative once: returns (table (U, context), index (N, k, M) into the table,
    -1 where a phrasing has fewer than M). An image with fewer than k phrasings repeats its last one's, as
    `tokenize_phrasings` repeats the phrasing."""
    unique: dict[str, int] = {}
    width = max([len(per) for image in hard_negatives for per in image] + [1])
    index = np.full((len(hard_negatives), k, width), -1, dtype=np.int64)
    for i, image in enumerate(hard_negatives):
        for j in range(k):
            for m, text in enumerate(image[min(j, len(image) - 1)]):
                index[i, j, m] = unique.setdefault(text, len(unique))
    table = tokenizer(list(unique)) if unique else tokenizer([""])
    return table, torch.from_numpy(index)


def check_hard_negatives(hard_negatives: Sequence[Sequence[Sequence[str]]], captions: Sequence[Sequence[str]],
                         loss: str, model_name: str) -> None:
    """One list per image, holding a list of false captions (possibly empty) per phrasing of that image; only
    with the softmax loss (NegCLIP's)."""
    if check_loss(loss, model_name) != "softmax":
        raise ValueError(f"hard_negatives is not allowed with the sigmoid loss (MODEL={model_name!r}): NegCLIP's "
                         "loss is the softmax one; use a config without a logit bias, e.g. 'clipbook-tiny'.")
    if isinstance(hard_negatives, (str, bytes)) or len(hard_negatives) != len(captions):
        got = repr(hard_negatives) if isinstance(hard_negatives, (str, bytes)) else f"{len(hard_negatives)} entries"
        raise ValueError(f"hard_negatives has {got} for {len(captions)} images: give one list per image, holding "
                         "a list of false captions (possibly empty) for each of its phrasings.")
    for i, (negs, phrasings) in enumerate(zip(hard_negatives, captions)):
        if isinstance(negs, (str, bytes)) or len(negs) != len(phrasings) \
                or any(isinstance(per, (str, bytes)) or not all(isinstance(t, str) for t in per) for per in negs):
            raise ValueError(f"hard_negatives[{i}]={negs!r} is not allowed: image {i} has {len(phrasings)} "
                             "phrasings, so give a list of that many lists of strings (each the false captions "
                             "for one phrasing, [] for none).")


def clip_method(model_name: str, clip: torch.nn.Module, tokenizer, x_all: torch.Tensor,
                captions: Sequence[Sequence[str]], ctx: distributed.Context, loss: str = "auto",
                hard_negatives: Sequence[Sequence[Sequence[str]]] | None = None) -> engine.Method:
    """CLIP's pieces for the engine: the model, the batch -> loss function and the logit-scale clamp. With
    `hard_negatives` (one process only), NegCLIP's loss, with one of the drawn phrasing's negatives at random."""
    dev = ctx.device
    normalize = normalizer(clip, dev)
    table, phrasing = engine.on_device(ctx, *tokenize_phrasings(tokenizer, captions))
    loss_fn = clip_loss_fn(loss, model_name, ctx)
    if hard_negatives is not None:
        neg_table, neg_index = engine.on_device(ctx, *tokenize_negatives(tokenizer, hard_negatives,
                                                                         phrasing.shape[1]))

    def batch_loss(net, idx, gen):
        # every rank draws the same global batch and phrasings, and takes its own share of them
        pick = torch.randint(phrasing.shape[1], (len(idx),), generator=gen, device=idx.device)
        idx, pick = distributed.shard(idx, ctx), distributed.shard(pick, ctx)
        texts = table[phrasing[idx, pick]].to(dev, non_blocking=True)
        if hard_negatives is None:
            outputs = net(normalize(x_all[idx]), texts)  # (image, text, scale) or, with a logit bias, (..., bias)
            return fp32_loss(loss_fn, *outputs), {"logit_scale": outputs[2]}
        options = neg_index[idx, pick]  # (n, M), -1 where none
        draw = torch.rand(options.shape, generator=gen, device=options.device).masked_fill(options < 0, -1.0)
        negative = options.gather(1, draw.argmax(1, keepdim=True)).squeeze(1)  # one at random, -1 for none
        has = negative >= 0  # only these are encoded: most images of a batch may have none (counts, the centre)
        texts = torch.cat([texts, neg_table[negative[has]].to(dev, non_blocking=True)])
        image, text, scale = net(normalize(x_all[idx]), texts)
        n = len(image)
        return fp32_loss(negclip_loss, image, text[:n], text[n:], scale), {
            "logit_scale": scale, "with_negative": has.float().mean()}

    return engine.Method(model_name, clip, batch_loss, after_step=lambda: clamp_logit_scale(clip),
                         tokenizer=tokenizer)


def train_clip(
    images: np.ndarray | torch.Tensor,
    captions: Sequence[Sequence[str]],
    model_name: str = "clipbook-tiny",
    *,
    pretrained: str | Path | None = None,
    epochs: int = 10,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.1,
    warmup: float = 0.05,
    loss: str = "auto",
    seed: int = 0,
    device: str | torch.device = "auto",
    cache: bool = True,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    log_every: int = 1,
    compile: bool = False,
    resume_seconds: float | None = engine.DEFAULT_RESUME_SECONDS,
    resume_steps: int | None = None,
    evaluate: Callable[[torch.nn.Module, Any], dict[str, float]] | None = None,
    eval_at: Sequence[int] = (),
    hard_negatives: Sequence[Sequence[Sequence[str]]] | None = None,
    grad_clip_norm: float | None = None,
) -> TrainResult:
    """Train `model_name` (an open_clip config) on images and their caption phrasings: from scratch, or fine-tune
    the weights `pretrained` names (an open_clip tag, a checkpoint file; see `models.create_clip`).

    `images`: uint8 (N, H, W, 3). `captions`: for every image, one or more phrasings; each step picks
    one at random, so the text encoder sees the variety. With `cache=True`, a checkpoint trained with
    the same data and parameters is loaded from `checkpoint_dir` (default data/checkpoints) instead of
    training again, and a run cut short resumes from its last state (written every `resume_seconds` /
    `resume_steps`); the finished one is written there (temporary file, then rename). `compile=True` runs
    the steps through `torch.compile` (worth it on a GPU for long runs; the checkpoint is the same model).
    `evaluate(model, tokenizer)` returns scalars recorded in `result.evaluations` after each step count in
    `eval_at`, beside "step", "samples" and "seconds" (training seconds, evaluations left out).
    `hard_negatives`: for every image, for each of its phrasings, captions that are false of it though close
    (e.g. `ShapesData.hard_negatives()`: the mirror-image position, the inverted relation); the loss is then
    NegCLIP's (`negclip_loss`), softmax only, in one process."""
    check_model_name(model_name)
    if model_name.startswith(LOCAL_DIR):  # its checkpoints could not be told apart from the folder's own weights
        raise ValueError(f"MODEL={model_name!r} is not allowed for training: name the folder's open_clip config "
                         "(model_cfg in its open_clip_config.json, e.g. MODEL='ViT-B-32') and its weights as "
                         "PRETRAINED='<folder>/open_clip_model.safetensors' to fine-tune them.")
    check_positive("epochs", epochs)
    if grad_clip_norm is not None:
        check_positive("grad_clip_norm", grad_clip_norm, integer=False)
    check_loss(loss, model_name)
    if len(captions) != len(images):
        raise ValueError(f"captions has {len(captions)} entries for {len(images)} images: give one list per image.")
    if hard_negatives is not None:
        check_hard_negatives(hard_negatives, captions, loss, model_name)
    ctx, x_all = engine.start(images, batch_size, lr, warmup, weight_decay, compile, device)
    if hard_negatives is not None and ctx.distributed:
        raise ValueError(f"hard_negatives is not allowed under torchrun ({ctx.world_size} processes): NegCLIP's loss "
                         "here gathers no negatives across processes; train in one process.")
    params = {"v": _TRAIN_VERSION, "model": model_name, "epochs": epochs, "batch_size": batch_size, "lr": lr,
              "weight_decay": weight_decay, "warmup": warmup, "seed": seed,
              "config": model_config(model_name)}
    if loss != "auto":
        params["loss"] = loss
    if hard_negatives is not None:  # NegCLIP's loss over these negatives, named by a digest of them
        params["hard_negatives"] = hashlib.sha256(json.dumps([[list(per) for per in negs] for negs in hard_negatives])
                                                  .encode()).hexdigest()[:16]
    if pretrained not in (None, ""):
        params["pretrained"] = _weights_id(pretrained)
    if grad_clip_norm is not None:  # absent otherwise, so that the checkpoints trained before it keep their names
        params["grad_clip_norm"] = grad_clip_norm
    path = engine.checkpoint_path(model_name, engine.fingerprint(params, x_all, texts=captions),
                                  checkpoint_dir) if cache else None

    def train() -> TrainResult:
        seed_everything(seed)
        clip, tokenizer, _ = create_clip(model_name, pretrained, device=ctx.device)
        (x_dev,) = engine.on_device(ctx, x_all)
        method = clip_method(model_name, clip, tokenizer, x_dev, captions, ctx, loss, hard_negatives)
        if evaluate is not None:
            method.evaluate = lambda: evaluate(clip, tokenizer)
        return engine.fit(
            method, n=len(x_dev), steps=epochs * (len(x_dev) // batch_size), eval_at=eval_at, batch_size=batch_size,
            lr=lr, weight_decay=weight_decay, warmup=warmup, seed=seed, ctx=ctx, data_device=x_dev.device,
            checkpoint=path, metadata={"params": params}, compile=compile, progress=progress, log_every=log_every,
            resume_seconds=resume_seconds, resume_steps=resume_steps, grad_clip_norm=grad_clip_norm)

    def load() -> TrainResult | None:
        return engine.load_cached(path, lambda p: load_checkpoint(p, model_name=model_name, device=ctx.device),
                                  model_name, open_clip.get_tokenizer(model_name))

    return _with_local_dir(engine.load_or_train(path, ctx, load, train), ctx)


def _weights_id(pretrained: str | Path) -> str:
    """What identifies starting weights in a cache key: a tag as it is; a file by its path, size and time, so that
    a checkpoint trained again at the same path is not taken for the old one."""
    path = Path(pretrained)
    if path.is_file():
        stat = path.stat()
        return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return str(pretrained)


def _with_local_dir(result: TrainResult, ctx: distributed.Context) -> TrainResult:
    """Beside a saved checkpoint, its open_clip `local-dir:` folder (written once, by the main process)."""
    if result.checkpoint is not None:
        result.local_dir = local_dir_for(result.checkpoint)
        if ctx.is_main and not (result.local_dir / "open_clip_model.safetensors").is_file():
            save_local_dir(result.model, result.model_name, result.local_dir)
    return result


def world_for(model_name: str, **world_kwargs: Any):
    """The shapes world rendered at the model's input size (at most 64 px; larger inputs are upsampled)."""
    from .data import ShapesWorld

    size = min(image_size_of(model_name), 64)
    return ShapesWorld(image_size=size, **world_kwargs)


def workbook_clip(profile: str = "quick", device: str | torch.device = "auto", seed: int = 0,
                  progress: bool = True, hard_negatives: bool = False) -> TrainResult:
    """Notebook 01's CLIP for `profile` with its default knobs: loaded from data/checkpoints when
    notebook 01 (or an earlier call) trained it, trained now otherwise. `hard_negatives`: notebook 01's NegCLIP
    instead (its section 8): the same recipe, images and steps, with the world's hard negatives
    (`ShapesData.hard_negatives`: mirror-image positions, inverted relations) in NegCLIP's loss."""
    check_choice("hard_negatives", hard_negatives, (True, False))
    knobs = profile_knobs("pretraining", profile)
    world = world_for(knobs["model"])
    train = world.dataset(knobs["n_train"], split="train", seed=seed)
    return train_clip(train.images, train.all_captions(), knobs["model"], epochs=knobs["epochs"],
                      batch_size=knobs["batch_size"], lr=knobs["lr"], seed=seed, device=device, progress=progress,
                      grad_clip_norm=knobs["grad_clip_norm"],
                      hard_negatives=train.hard_negatives() if hard_negatives else None)


def page_clip_corpus(n_pages: int, detail: str = "family", page_size: int = 128, realism: float = 1.0,
                     seed: int = 0, title_blocks: Sequence[str] | None = None) -> tuple[PageData, list[list[str]]]:
    """The captioned pages `page_clip` trains on, standing in for the web: `n_pages` generated pages apart from any
    archive (seed ``seed + 1000``; ``PageData``), and their captions at `detail` ("kind", "family" or
    "institution": ``page_captions``). Their title blocks are `title_blocks` (default ``WEB_TITLE_BLOCKS``:
    institutions no archive of the generator carries)."""
    from .data.drawings import WEB_TITLE_BLOCKS, PageCorpus, page_captions

    check_positive("n_pages", n_pages)
    templates = WEB_TITLE_BLOCKS if title_blocks is None else title_blocks
    web = PageCorpus(page_size, templates=templates, realism=realism).dataset(n_pages, seed=seed + 1000)
    return web, page_captions(web, seed=seed + 1000, detail=detail)  # page_captions checks `detail`


def page_clip(profile: str = "quick", detail: str = "family", page_size: int = 128, realism: float = 1.0,
              device: str | torch.device = "auto", seed: int = 0, progress: bool = True,
              title_blocks: Sequence[str] | None = None, **overrides: Any) -> TrainResult:
    """Notebook 04's CLIP that read captioned pages: `train_clip` on `page_clip_corpus` (pages apart from any
    archive, with other institutions' title blocks, captioned from what the generator drew at `detail`). The knobs
    are the profile's "page_clip" table (`overrides` not None replace them: n_pages, epochs, batch_size, lr, model).
    Strokes are thickened for the model's input size, as the search tool's CLIP encoder does. Loaded from
    data/checkpoints when trained before."""
    from .search.encoders import thicken_strokes

    knobs = profile_knobs("page_clip", profile, **overrides)
    for name in ("epochs", "batch_size"):
        check_positive(name, knobs[name])
    web, captions = page_clip_corpus(knobs["n_pages"], detail, page_size, realism, seed, title_blocks)
    images = thicken_strokes(web.images, image_size_of(knobs["model"]))
    return train_clip(images, captions, knobs["model"], epochs=knobs["epochs"], batch_size=knobs["batch_size"],
                      lr=knobs["lr"], seed=seed, device=device, progress=progress)
