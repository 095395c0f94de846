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

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import open_clip
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .models import check_model_name
from .train import (MAX_LOGIT_SCALE, autocast, check_schedule, images_to_tensor, normalizer,
                    optimizer_and_schedule, tokenize_phrasings)
from .utils import atomic_path, check_choice, check_positive, data_dir, resolve_device, seed_everything

OBJECTIVES: tuple[str, ...] = ("contrastive", "bag_of_words", "captioning")
_VERSION = 2


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
    return open_clip.create_model(check_model_name(model_name)).visual


class Contrastive(nn.Module):
    """open_clip's CLIP trained with ClipLoss; zero-shot by cosine similarity."""

    def __init__(self, model_name: str, vocab: WordVocab) -> None:
        super().__init__()
        self.clip = open_clip.create_model(model_name)
        self.visual = self.clip.visual
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.loss_fn = open_clip.ClipLoss()

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        return self.tokenizer(list(texts))

    def loss(self, pixels: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
        image_features, text_features, scale = self.clip(pixels, texts)
        return self.loss_fn(image_features, text_features, scale)

    def after_step(self) -> None:
        with torch.no_grad():
            self.clip.logit_scale.clamp_(0, MAX_LOGIT_SCALE)

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


@dataclass
class ObjectiveResult:
    """A learning curve: zero-shot accuracy against samples seen, and the wall time it took."""

    objective: str
    samples: list[int] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    loaded: bool = False

    def samples_to(self, target: float) -> float | None:
        """Samples seen when the curve first reaches `target` (linear between evaluations); None if never."""
        for i, acc in enumerate(self.accuracy):
            if acc >= target:
                if i == 0:
                    return float(self.samples[0])
                a0, a1 = self.accuracy[i - 1], acc
                s0, s1 = self.samples[i - 1], self.samples[i]
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
    model: str = "clipbook-tiny",
    samples: int = 10_000,
    batch_size: int = 64,
    lr: float = 5e-4,
    weight_decay: float = 0.1,
    warmup: float = 0.05,
    n_evals: int = 8,
    seed: int = 0,
    device="auto",
    cache: bool = True,
    progress: bool = True,
) -> ObjectiveResult:
    """Train one objective from scratch for `samples` samples and evaluate zero-shot accuracy on
    (`eval_images`, `eval_labels`) with `class_prompts` at `n_evals` evenly spaced points. The curve is
    cached under data/cache keyed by every input."""
    check_choice("objective", objective, OBJECTIVES)
    check_model_name(model)
    for name, value in (("samples", samples), ("batch_size", batch_size), ("n_evals", n_evals)):
        check_positive(name, value)
    check_positive("lr", lr, integer=False)
    check_schedule(warmup, weight_decay)
    dev = resolve_device(device)
    x_all = images_to_tensor(images)
    x_eval = images_to_tensor(eval_images)
    labels = torch.as_tensor(np.asarray(eval_labels))
    steps = samples // batch_size
    if steps < n_evals:
        raise ValueError(f"samples={samples} is not allowed: it must give at least n_evals={n_evals} steps of "
                         f"batch_size={batch_size}.")

    params = {"v": _VERSION, "objective": objective, "model": model, "samples": samples, "batch_size": batch_size,
              "lr": lr, "weight_decay": weight_decay, "warmup": warmup, "n_evals": n_evals, "seed": seed,
              "prompts": list(class_prompts)}
    h = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for arr in (x_all, x_eval, labels):
        h.update(arr.numpy().tobytes())
    h.update(json.dumps([list(c) for c in captions]).encode())
    path = data_dir("cache") / f"objective-{objective}-{h.hexdigest()[:16]}.json"
    if cache and path.exists():
        try:
            saved = json.loads(path.read_text())
            return ObjectiveResult(objective, saved["samples"], saved["accuracy"], saved["loss"], saved["seconds"],
                                   loaded=True)
        except (ValueError, KeyError):
            path.unlink(missing_ok=True)

    seed_everything(seed)
    vocab = WordVocab([c for cs in captions for c in cs] + list(class_prompts))
    obj = _CLASSES[objective](model, vocab).to(dev)
    obj.train()
    normalize = normalizer(obj, dev)
    table, phrasing = tokenize_phrasings(obj.encode_texts, captions)
    prompts = obj.encode_texts(list(class_prompts)).to(dev)
    if dev.type == "cuda":
        x_all, table, phrasing = x_all.to(dev), table.to(dev), phrasing.to(dev)
    optimizer, scheduler = optimizer_and_schedule(obj, lr, weight_decay, steps, warmup)
    amp = autocast(dev)
    gen = torch.Generator(device=x_all.device).manual_seed(seed)
    # evaluation points spaced geometrically (from 1/32 of the budget): learning is fastest early on
    eval_at = set(np.geomspace(max(1.0, steps / 32), steps, n_evals).round().astype(int).tolist())
    result = ObjectiveResult(objective)
    n = len(x_all)
    order = torch.randperm(n, generator=gen, device=x_all.device)
    cursor, running = 0, []
    start = time.perf_counter()
    for step in tqdm(range(1, steps + 1), desc=objective, unit="step", disable=not progress, mininterval=2.0):
        if cursor + batch_size > n:
            order, cursor = torch.randperm(n, generator=gen, device=x_all.device), 0
        idx = order[cursor:cursor + batch_size]
        cursor += batch_size
        pick = torch.randint(phrasing.shape[1], (batch_size,), generator=gen, device=x_all.device)
        texts = table[phrasing[idx, pick]].to(dev, non_blocking=True)
        with amp:
            loss = obj.loss(normalize(x_all[idx]), texts)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        obj.after_step()
        running.append(loss.detach())  # read back at evaluation points only, not every step
        if step in eval_at:
            with amp:
                acc = zero_shot_accuracy(obj, x_eval, labels, prompts, normalize)
            result.samples.append(step * batch_size)
            result.accuracy.append(acc)
            result.loss.append(torch.stack(running).float().mean().item())
            running = []
    result.seconds = time.perf_counter() - start
    if cache:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({"samples": result.samples, "accuracy": result.accuracy, "loss": result.loss,
                                       "seconds": result.seconds, "params": params}))
    return result


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def budget_note(results: Sequence[ObjectiveResult]) -> str:
    """One line naming the budget every curve had (for the metrics and the summary)."""
    budgets = sorted({r.samples[-1] for r in results if r.samples})
    return f"{budgets[-1]:,} samples per objective" if budgets else "no samples"


__all__ = ["OBJECTIVES", "WordVocab", "Contrastive", "BagOfWords", "Captioning", "ObjectiveResult",
           "train_objective", "zero_shot_accuracy", "ratio", "budget_note"]
