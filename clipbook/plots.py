"""Figures the notebooks share: image grids, similarity heatmaps, training curves, recall bars."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

sns.set_theme(style="whitegrid", context="notebook")


def save_figure(fig: plt.Figure, folder: str | Path, name: str) -> Path:
    """Save `fig` as folder/name.png (150 dpi) and return the path."""
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return path


def show_images(images: np.ndarray, titles: Sequence[str] | None = None, ncols: int = 8,
                size: float = 1.6, title_chars: int = 28) -> plt.Figure:
    """A grid of uint8 images with wrapped titles underneath."""
    n = len(images)
    nrows = math.ceil(n / ncols)
    # no ticks to begin with: tight_layout would otherwise measure every hidden axis's ticks (half the time of a
    # 132-image grid, and the same PNG)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + 0.5)), squeeze=False,
                             subplot_kw={"xticks": [], "yticks": []})
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], interpolation="nearest")
            if titles is not None:
                ax.set_title(_wrap(titles[i], title_chars), fontsize=7)
    fig.tight_layout()
    return fig


def _wrap(text: str, width: int) -> str:
    if "\n" in text:
        return "\n".join(_wrap(part, width) for part in text.split("\n"))
    words, lines, line = text.split(" "), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n".join(lines + [line])


def similarity_heatmap(similarity: np.ndarray, images: np.ndarray, captions: Sequence[str],
                       title: str = "", ax: plt.Axes | None = None, annotate: bool = True) -> plt.Figure:
    """The N x N matrix I.T of a batch: images down the left, captions along the top (as in OpenAI's
    "Interacting with CLIP"); the diagonal holds the matching pairs."""
    sim = np.asarray(similarity, dtype=float)
    n = sim.shape[0]
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.0 * n + 2.5, 0.8 * n + 2.0))
    else:
        fig = ax.figure
    sns.heatmap(sim, ax=ax, cmap="viridis", annot=annotate, fmt=".2f", annot_kws={"fontsize": 7},
                cbar_kws={"label": "cosine similarity", "shrink": 0.7}, square=False)
    for i in range(n):
        ax.imshow(images[i], extent=(-1.05, -0.05, i + 0.95, i + 0.05), aspect="auto", interpolation="nearest",
                  zorder=3)
    ax.set_xlim(-1.1, n)
    ax.set_ylim(n, 0)
    ax.set_yticks([])
    ax.xaxis.tick_top()
    ax.set_xticks(np.arange(n) + 0.5)
    ax.set_xticklabels([_wrap(c, 18) for c in captions], rotation=90, fontsize=7)
    for i in range(n):
        ax.add_patch(plt.Rectangle((i, i), 1, 1, fill=False, edgecolor="white", lw=1.5))
    if title:
        ax.set_title(title, pad=12, y=-0.08)
    return fig


def plot_history(history: Mapping[str, Sequence[float]], batch_size: int | None = None,
                 max_logit_scale: float = 100.0, grad_clip_norm: float | None = None) -> plt.Figure:
    """Loss, learned logit scale (1 / temperature) and learning rate against the training step; with a fourth
    panel, the gradients' global norm before clipping (log scale, `grad_clip_norm` drawn) when the history logged
    it (``train_clip(grad_clip_norm=...)``)."""
    grad = "grad_norm" in history
    columns = ("step", "loss", "logit_scale", "lr") + (("grad_norm",) if grad else ())
    df = pd.DataFrame({k: history[k] for k in columns})
    fig, axes = plt.subplots(1, 4 if grad else 3, figsize=(18 if grad else 14, 3.6))
    sns.lineplot(df, x="step", y="loss", ax=axes[0], lw=0.8, alpha=0.5, label="per step")
    smooth = df["loss"].rolling(max(1, len(df) // 50), min_periods=1).mean()
    axes[0].plot(df["step"], smooth, color="C3", label="running mean")
    if batch_size:
        axes[0].axhline(math.log(batch_size), ls="--", color="grey", label=f"chance: ln({batch_size})")
    axes[0].set_title("contrastive loss")
    axes[0].legend(fontsize=8)
    sns.lineplot(df, x="step", y="logit_scale", ax=axes[1])
    axes[1].axhline(max_logit_scale, ls="--", color="grey", label=f"clamp at {max_logit_scale:g}")
    axes[1].set_title("learned logit scale = 1 / temperature")
    axes[1].legend(fontsize=8)
    sns.lineplot(df, x="step", y="lr", ax=axes[2])
    axes[2].set_title("learning rate (warm-up, cosine)")
    if grad:
        sns.lineplot(df, x="step", y="grad_norm", ax=axes[3], lw=0.8)
        axes[3].set_yscale("log")
        if grad_clip_norm is not None and math.isfinite(grad_clip_norm):
            axes[3].axhline(grad_clip_norm, ls="--", color="grey", label=f"clipped to {grad_clip_norm:g}")
            axes[3].legend(fontsize=8)
        axes[3].set_title("gradient norm before clipping")
    fig.tight_layout()
    return fig


def plot_recall(metrics: Mapping[str, float], ks: Sequence[int] = (1, 5), title: str = "") -> plt.Figure:
    """Bars of image->text and text->image recall@k beside their chance levels."""
    rows = []
    for k in ks:
        for d, name in (("i2t", "image → text"), ("t2i", "text → image")):
            rows.append({"k": f"recall@{k}", "direction": name, "what": "model", "value": metrics[f"{d}_recall@{k}"]})
            rows.append({"k": f"recall@{k}", "direction": name, "what": "chance",
                         "value": metrics[f"chance_{d}_recall@{k}"]})
    df = pd.DataFrame(rows)
    g = sns.catplot(df, x="direction", y="value", hue="what", col="k", kind="bar", height=3.2, aspect=1.1,
                    palette=["C0", "lightgrey"])
    g.set_axis_labels("", "hit rate")
    for ax in g.axes.flat:
        for c in ax.containers:
            ax.bar_label(c, fmt="%.3f", fontsize=8)
    if title:
        g.figure.suptitle(title, y=1.05)
    return g.figure


def top_k_bars(images: np.ndarray, probs: np.ndarray, class_names: Sequence[str], k: int = 5,
               labels: Sequence[int] | None = None, ncols: int = 4) -> plt.Figure:
    """Each image beside the bars of its top-k class probabilities, the true class in green
    (the layout of OpenAI's "Interacting with CLIP" notebook)."""
    n = len(images)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, 2 * ncols, figsize=(4.2 * ncols, 1.9 * nrows),
                             gridspec_kw={"width_ratios": [1, 1.6] * ncols}, squeeze=False)
    for i in range(nrows * ncols):
        ax_img, ax_bar = axes[i // ncols, 2 * (i % ncols)], axes[i // ncols, 2 * (i % ncols) + 1]
        ax_img.axis("off")
        if i >= n:
            ax_bar.axis("off")
            continue
        ax_img.imshow(images[i], interpolation="nearest")
        top = np.argsort(-probs[i])[:k]
        colours = ["C2" if labels is not None and j == labels[i] else "C0" for j in top]
        ax_bar.barh(np.arange(len(top)), probs[i][top], color=colours)
        ax_bar.set_yticks(np.arange(len(top)), [class_names[j] for j in top], fontsize=8)
        ax_bar.invert_yaxis()
        ax_bar.set_xlim(0, 1)
        ax_bar.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    return fig


def confusion_heatmap(true: Sequence[int], pred: Sequence[int], class_names: Sequence[str],
                      highlight: Sequence[str] = (), title: str = "") -> plt.Figure:
    """Row-normalised confusion matrix (scikit-learn) as a seaborn heatmap; `highlight` names in red."""
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(true, pred, labels=np.arange(len(class_names)), normalize="true")
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(0.28 * n + 3, 0.28 * n + 2))
    sns.heatmap(cm, ax=ax, cmap="Blues", vmin=0, vmax=1, square=True, xticklabels=class_names,
                yticklabels=class_names, cbar_kws={"label": "share of the true class", "shrink": 0.6})
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.tick_params(labelsize=7)
    for label in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
        if label.get_text() in set(highlight):
            label.set_color("C3")
    if title:
        ax.set_title(title)
    return fig


def probability_bars(probs: pd.Series, title: str = "", ax: plt.Axes | None = None) -> plt.Figure:
    """Horizontal bars of one image's probability per label (a Series indexed by label)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 0.35 * len(probs) + 1))
    else:
        fig = ax.figure
    sns.barplot(x=probs.values, y=[str(i) for i in probs.index], ax=ax, color="C0", orient="h")
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    for c in ax.containers:
        ax.bar_label(c, fmt="%.2f", fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def interval_bars(ax: plt.Axes, rows: pd.DataFrame, x: str, hue: str | None = None,
                  reference: float | None = 1.0, fmt: str = "%.2f") -> plt.Axes:
    """Bars of `rows`' ``value`` per `x` (grouped by `hue`), each with its interval (``low`` to ``high``, e.g. from
    `anchoring.step_intervals`) as an error bar; a dashed line at `reference` (chance, when values are over chance;
    None: no line)."""
    missing = {x, "value", "low", "high", *([hue] if hue else [])} - set(rows.columns)
    if missing:
        raise ValueError(f"rows lacks the columns {sorted(missing)}: it needs {x!r}, value, low, high"
                         + (f" and {hue!r}" if hue else "") + ".")
    order = list(dict.fromkeys(rows[x]))
    hue_order = list(dict.fromkeys(rows[hue])) if hue else [None]
    sns.barplot(rows, x=x, y="value", hue=hue, order=order, hue_order=hue_order if hue else None, ax=ax,
                color=None if hue else "C0")
    for container, h in zip(ax.containers, hue_order):  # one container per hue level, its bars in `order`
        for bar, name in zip(container, order):
            row = rows[(rows[x] == name) & ((rows[hue] == h) if hue else True)]
            if row.empty:
                continue
            value, low, high = (float(row.iloc[0][c]) for c in ("value", "low", "high"))
            centre = bar.get_x() + bar.get_width() / 2
            ax.errorbar(centre, value, yerr=[[value - low], [high - value]], fmt="none", ecolor="black", capsize=3,
                        lw=1)
        ax.bar_label(container, fmt=fmt, fontsize=8, label_type="center", color="white")  # clear of the error bars
    if reference is not None:
        ax.axhline(reference, ls="--", color="grey", lw=1)
    ax.set(xlabel="")
    return ax
