"""Three pre-training objectives on the same image encoder, data and budget (notebook 06 introduces them).

The CLIP paper (Fig. 2) compared, at equal compute, predicting the exact caption with a transformer
language model, predicting a bag of words of the caption, and the contrastive objective. Here all three
share the image tower of one open_clip config, the optimizer, the schedule, the batch and the number of
samples seen; only the head and the loss differ. Each is used zero-shot:

* contrastive: cosine similarity of image and prompt embeddings (open_clip CLIP + ``ClipLoss``);
* bag of words: a linear head predicts which words occur (multi-label BCE); a prompt scores the mean
  log-probability of its words;
* captioning: a small transformer decoder cross-attends to the image's patch tokens and predicts the
  caption word by word; a prompt scores its log-likelihood.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import open_clip
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file

from . import engine
from .engine import TrainResult
from .models import check_model_name, clamp_logit_scale, create_clip
from .preprocess import images_to_tensor, normalizer
from .train import check_loss, tokenize_phrasings
from .utils import check_choice, check_positive, fp32_loss, seed_everything

OBJECTIVES: tuple[str, ...] = ("contrastive", "bag_of_words", "captioning")
_VERSION = 3


class WordVocab:
    """A word-level vocabulary of a caption corpus, with <pad>, <bos>, <eos> and <unk>."""

    PAD, BOS, EOS, UNK = 0, 1, 2, 3

    def __init__(self, texts: Sequence[str]) -> None:
        words = sorted({w for t in texts for w in t.split()})
        self.words = ["<pad>", "<bos>", "<eos>", "<unk>"] + words
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, text: str) -> list[int]:
        return [self.index.get(w, self.UNK) for w in text.split()]

    def encode(self, texts: Sequence[str], length: int = 24) -> torch.Tensor:
        """(N, length) ids: <bos> words <eos> <pad>...; too long a text is an error, not truncated."""
        out = torch.full((len(texts), length), self.PAD, dtype=torch.long)
        for i, t in enumerate(texts):
            ids = [self.BOS] + self.ids(t) + [self.EOS]
            if len(ids) > length:
                raise ValueError(f"text {t!r} has {len(ids)} tokens with <bos>/<eos>: more than length={length}.")
            out[i, : len(ids)] = torch.tensor(ids)
        return out

    def bag(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, V) multi-hot: which known words each text contains."""
        out = torch.zeros(len(texts), len(self))
        for i, t in enumerate(texts):
            ids = [j for j in self.ids(t) if j != self.UNK]
            out[i, ids] = 1.0
        return out


def _visual(model_name: str) -> nn.Module:
    """A freshly initialised image tower of an open_clip config (it carries its preprocess config)."""
    return create_clip(model_name, device="cpu")[0].visual


class Contrastive(nn.Module):
    """open_clip's CLIP trained with ClipLoss; zero-shot by cosine similarity."""

    def __init__(self, model_name: str, vocab: WordVocab) -> None:
        super().__init__()
        self.clip = create_clip(model_name, device="cpu")[0]
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.loss_fn = open_clip.ClipLoss()  # the same loss train_clip takes for a config without a logit bias

    @property
    def visual(self) -> nn.Module:
        """The image tower (a view into the CLIP, not a second registration of it: checkpoints hold it once)."""
        return self.clip.visual

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        return self.tokenizer(list(texts))

    def loss(self, pixels: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
        image_features, text_features, scale = self.clip(pixels, texts)
        return fp32_loss(self.loss_fn, image_features, text_features, scale)

    def after_step(self) -> None:
        clamp_logit_scale(self.clip)

    @torch.no_grad()
    def scores(self, pixels: torch.Tensor, prompts: torch.Tensor) -> torch.Tensor:
        return self.clip.encode_image(pixels, normalize=True) @ self.clip.encode_text(prompts, normalize=True).T


class BagOfWords(nn.Module):
    """Image tower + linear head predicting the caption's words (multi-label BCE)."""

    def __init__(self, model_name: str, vocab: WordVocab) -> None:
        super().__init__()
        self.visual = _visual(model_name)
        self.vocab = vocab
        self.head = nn.Linear(self.visual.output_dim, len(vocab))

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        return self.vocab.bag(texts)

    def loss(self, pixels: torch.Tensor, bags: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(self.head(self.visual(pixels)), bags)

    def after_step(self) -> None:
        pass

    @torch.no_grad()
    def scores(self, pixels: torch.Tensor, prompts: torch.Tensor) -> torch.Tensor:
        log_p = F.logsigmoid(self.head(self.visual(pixels)))  # (N, V)
        return (log_p @ prompts.T) / prompts.sum(1).clamp(min=1)  # mean log-probability of the prompt's words


class Captioning(nn.Module):
    """Image tower (patch tokens) + a small transformer decoder predicting the caption word by word."""

    def __init__(self, model_name: str, vocab: WordVocab, width: int = 128, layers: int = 2, heads: int = 4,
                 length: int = 24) -> None:
        super().__init__()
        self.visual = _visual(model_name)
        self.visual.output_tokens = True  # open_clip's ViT then also returns its patch tokens
        self.vocab, self.length = vocab, length
        token_width = self.visual.transformer.width
        self.to_memory = nn.Linear(token_width, width)
        self.embed = nn.Embedding(len(vocab), width)
        self.position = nn.Parameter(torch.randn(length, width) * 0.01)
        layer = nn.TransformerDecoderLayer(width, heads, 4 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, layers)
        self.out = nn.Linear(width, len(vocab))

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        return self.vocab.encode(texts, self.length)

    def _memory(self, pixels: torch.Tensor) -> torch.Tensor:
        _, tokens = self.visual(pixels)
        return self.to_memory(tokens)

    def _logits(self, memory: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        inputs = tokens[:, :-1]
        n = inputs.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(n, device=inputs.device)
        x = self.embed(inputs) + self.position[:n]
        return self.out(self.decoder(x, memory, tgt_mask=mask, tgt_is_causal=True))

    def loss(self, pixels: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        logits = self._logits(self._memory(pixels), tokens)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1),
                               ignore_index=self.vocab.PAD)

    def after_step(self) -> None:
        pass

    @torch.no_grad()
    def scores(self, pixels: torch.Tensor, prompts: torch.Tensor) -> torch.Tensor:
        """Log-likelihood of every prompt (P, L) given every image: (N, P)."""
        length = int((prompts != self.vocab.PAD).sum(1).max())
        prompts = prompts[:, :length]
        memory = self._memory(pixels)  # (N, T, W)
        n, p = memory.shape[0], prompts.shape[0]
        mem = memory.repeat_interleave(p, dim=0)
        seq = prompts.repeat(n, 1)
        log_p = self._logits(mem, seq).log_softmax(-1)
        target = seq[:, 1:]
        picked = log_p.gather(-1, target.unsqueeze(-1)).squeeze(-1) * (target != self.vocab.PAD)
        return picked.sum(-1).view(n, p)


_CLASSES = {"contrastive": Contrastive, "bag_of_words": BagOfWords, "captioning": Captioning}


def samples_to(samples: Sequence[float], accuracy: Sequence[float], target: float) -> float | None:
    """Samples seen when a learning curve first reaches `target` (linear between evaluations); None if never."""
    for i, acc in enumerate(accuracy):
        if acc >= target:
            if i == 0:
                return float(samples[0])
            a0, a1 = accuracy[i - 1], acc
            s0, s1 = samples[i - 1], samples[i]
            return float(s0 + (target - a0) / (a1 - a0) * (s1 - s0))
    return None


@torch.no_grad()
def zero_shot_accuracy(objective: nn.Module, pixels_u8: torch.Tensor, labels: torch.Tensor, prompts: torch.Tensor,
                       normalize, batch_size: int = 256) -> float:
    """Share of images whose highest-scoring prompt is their class's."""
    objective.eval()
    correct = 0
    for i in range(0, len(pixels_u8), batch_size):
        scores = objective.scores(normalize(pixels_u8[i:i + batch_size]), prompts)
        correct += int((scores.argmax(1).cpu() == labels[i:i + batch_size]).sum())
    objective.train()
    return correct / len(pixels_u8)


def train_objective(
    objective: str,
    images: np.ndarray,
    captions: Sequence[Sequence[str]],
    eval_images: np.ndarray,
    eval_labels: Sequence[int],
    class_prompts: Sequence[str],
    *,
    model_name: str = "clipbook-tiny",
    samples: int = 10_000,
    batch_size: int = 64,
    lr: float = 5e-4,
    weight_decay: float = 0.1,
    warmup: float = 0.05,
    n_evals: int = 8,
    seed: int = 0,
    device: str | torch.device = "auto",
    cache: bool = True,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train one objective from scratch for `samples` samples through the engine (the loop notebook 01's
    `train_clip` uses) and record zero-shot accuracy on (`eval_images`, `eval_labels`) with `class_prompts` at
    `n_evals` points spaced geometrically (learning is fastest early on). The result's `evaluations` hold the
    curve: "samples", "accuracy" and "loss" (mean training loss since the previous point). Cached and resumable
    like `train_clip`."""
    check_choice("objective", objective, OBJECTIVES)
    check_model_name(model_name)
    for name, value in (("samples", samples), ("n_evals", n_evals)):
        check_positive(name, value)
    if objective == "contrastive":
        check_loss("softmax", model_name)  # the objective's ClipLoss cannot train a logit bias
    ctx, x_all = engine.start(images, batch_size, lr, warmup, weight_decay, False, device)
    if ctx.distributed:
        raise ValueError("train_objective runs in one process: start it without torchrun.")
    dev = ctx.device
    x_eval = images_to_tensor(eval_images)
    labels = torch.as_tensor(np.asarray(eval_labels))
    steps = samples // batch_size
    if steps < n_evals:
        raise ValueError(f"samples={samples} is not allowed: it must give at least n_evals={n_evals} steps of "
                         f"batch_size={batch_size}.")

    params = {"v": _VERSION, "objective": objective, "model": model_name, "samples": samples, "batch_size": batch_size,
              "lr": lr, "weight_decay": weight_decay, "warmup": warmup, "n_evals": n_evals, "seed": seed,
              "prompts": list(class_prompts)}
    name = f"objective-{objective}-{model_name}"
    path = engine.checkpoint_path(name, engine.fingerprint(params, x_all, x_eval, labels, texts=captions),
                                  checkpoint_dir) if cache else None
    vocab = WordVocab([c for cs in captions for c in cs] + list(class_prompts))

    def train() -> TrainResult:
        seed_everything(seed)
        obj = _CLASSES[objective](model_name, vocab).to(dev)
        normalize = normalizer(obj, dev)
        table, phrasing = engine.on_device(ctx, *tokenize_phrasings(obj.encode_texts, captions))
        prompts = obj.encode_texts(list(class_prompts)).to(dev)
        (x_dev,) = engine.on_device(ctx, x_all)

        def batch_loss(net, idx, gen):
            pick = torch.randint(phrasing.shape[1], (len(idx),), generator=gen, device=idx.device)
            texts = table[phrasing[idx, pick]].to(dev, non_blocking=True)
            return net.loss(normalize(x_dev[idx]), texts), {}

        method = engine.Method(name, obj, batch_loss, after_step=obj.after_step,
                               evaluate=lambda: {"accuracy": zero_shot_accuracy(obj, x_eval, labels, prompts,
                                                                                normalize)})
        eval_at = sorted(set(np.geomspace(max(1.0, steps / 32), steps, n_evals).round().astype(int).tolist()))
        return engine.fit(method, n=len(x_dev), steps=steps, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                          warmup=warmup, seed=seed, ctx=ctx, data_device=x_dev.device, checkpoint=path,
                          metadata={"params": params}, progress=progress, eval_at=eval_at)

    def load() -> TrainResult | None:
        return engine.load_cached(path, lambda p: _load_objective(p, _CLASSES[objective](model_name, vocab), dev), name)

    return _with_loss_curve(engine.load_or_train(path, ctx, load, train))


def _load_objective(path: Path, objective: nn.Module, device: torch.device) -> nn.Module:
    """An objective's model from its checkpoint; a file that does not fit is a ValueError (the cache retrains)."""
    try:
        objective.load_state_dict(load_file(str(path)))
    except (RuntimeError, SafetensorError, OSError) as e:
        raise ValueError(f"checkpoint={str(path)!r} does not fit: {str(e).splitlines()[0]}") from None
    return objective.to(device).eval()


def _with_loss_curve(result: TrainResult) -> TrainResult:
    """Add "loss" to the evaluations: the mean training loss over the steps since the previous evaluation."""
    steps, losses = np.asarray(result.history["step"]), np.asarray(result.history["loss"])
    edges = [0] + list(result.evaluations.get("step", []))
    result.evaluations["loss"] = [float(losses[(steps >= a) & (steps < b)].mean()) for a, b in zip(edges, edges[1:])]
    return result


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def budget_note(results: Sequence[TrainResult]) -> str:
    """One line naming the budget every curve had (for the metrics and the summary)."""
    budgets = sorted({r.samples_seen for r in results if r.samples_seen})
    return f"{budgets[-1]:,} samples per objective" if budgets else "no samples"


__all__ = ["OBJECTIVES", "WordVocab", "Contrastive", "BagOfWords", "Captioning", "samples_to",
           "train_objective", "zero_shot_accuracy", "ratio", "budget_note"]
