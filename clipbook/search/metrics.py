"""Retrieval metrics of a search from each query's top-k relevance, for any labelled set of pages."""
from __future__ import annotations

import numpy as np

from ..utils import check_positive


def ranking_metrics(relevant: np.ndarray, n_relevant: np.ndarray, k: int) -> dict[str, float]:
    """precision@k, recall@k and mAP@k from each query's top-k relevance (Q, >=k) and its number of
    relevant pages, defined as torchmetrics' RetrievalPrecision, RetrievalRecall and RetrievalMAP
    (AP@k averages the precision at each relevant rank within the top k; a query without any relevant
    page scores 0). Computed from the top k alone, so an index never has to score every page."""
    rel = np.asarray(relevant, bool)[:, :k]
    n_relevant = np.asarray(n_relevant)
    hits = rel.sum(1)
    ap = average_precision(rel, k)
    recall = np.where(n_relevant > 0, hits / np.maximum(n_relevant, 1), 0.0)
    return {f"precision@{k}": float(np.mean(hits / k)), f"recall@{k}": float(np.mean(recall)),
            f"map@{k}": float(np.mean(ap))}


def average_precision(relevant: np.ndarray, k: int) -> np.ndarray:
    """Each query's AP@k from its top-k relevance (Q, >=k), as torchmetrics' RetrievalMAP averages it: the precision
    at each relevant rank within the top k, averaged over those ranks; 0 for a query without a relevant page."""
    check_positive("k", k)
    rel = np.asarray(relevant, bool)[:, :k]
    hits = rel.sum(1)
    precision_at_rank = np.cumsum(rel, 1) / np.arange(1, rel.shape[1] + 1)
    return np.where(hits > 0, (precision_at_rank * rel).sum(1) / np.maximum(hits, 1), 0.0)
