"""Linear probes on frozen features with scikit-learn (notebook 02 introduces them).

The CLIP paper's question: how many labelled examples per class does a logistic-regression probe on
the image features need to match zero-shot? ``few_shot_curve`` answers it with several random draws.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .utils import check_positive


def _array(x) -> np.ndarray:
    return x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def linear_probe(train_features, train_labels, test_features, test_labels, C: float = 1.0,
                 max_iter: int = 2000) -> float:
    """Accuracy on the test set of a standardised logistic regression fitted on the training features."""
    check_positive("C", C, integer=False)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    with warnings.catch_warnings():
        # one example per class trips scikit-learn's "looks like regression" heuristic; it is not
        warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
        model.fit(_array(train_features), _array(train_labels))
    return float(model.score(_array(test_features), _array(test_labels)))


def sample_k_per_class(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of `k` random examples of every class present in `labels` (error if a class has fewer)."""
    check_positive("k", k)
    labels = np.asarray(labels)
    picks = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < k:
            raise ValueError(f"k={k} is not allowed: class {c} has only {len(members)} labelled examples.")
        picks.append(rng.choice(members, size=k, replace=False))
    return np.concatenate(picks)


def few_shot_curve(pool_features, pool_labels, test_features, test_labels, ks=(1, 2, 4, 8, 16),
                   draws: int = 5, seed: int = 0, C: float = 1.0) -> pd.DataFrame:
    """Probe accuracy with k labelled examples per class, for every k, over `draws` random draws:
    one row per (k, draw)."""
    check_positive("draws", draws)
    pool_features, pool_labels = _array(pool_features), _array(pool_labels)
    rng = np.random.default_rng(seed)
    rows = []
    for k in ks:
        for d in range(draws):
            idx = sample_k_per_class(pool_labels, k, rng)
            acc = linear_probe(pool_features[idx], pool_labels[idx], test_features, test_labels, C=C)
            rows.append({"k": k, "draw": d, "accuracy": acc})
    return pd.DataFrame(rows)
