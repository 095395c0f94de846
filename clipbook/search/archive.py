"""A reader's own archive as a search benchmark (notebook 04 with ``ARCHIVE_DIR``).

The pages of a folder of images and PDFs (searched recursively, unreadable files skipped with a warning naming
them). When the folder has first-level subfolders, each is a label: a page's relevant results are the other
pages of its subfolder, and every labelled page is searched against all the other pages (leave one out), with
torchmetrics' definitions of precision, recall and mAP@k and the chance level of each. Pages directly in the
folder are unlabelled: searched through, never queries, never relevant (the archive's other paperwork).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data import pdf
from .encoders import Encoder
from .index import PageIndex
from .metrics import ranking_metrics


@dataclass
class Archive:
    """Pages (uint8 (N, size, size, 3)) with their ids ("file.png", "doc.pdf#page=3") and labels (-1: none)."""

    root: Path
    ids: list[str]
    images: np.ndarray
    labels: np.ndarray
    label_names: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def labelled(self) -> bool:
        return len(self.label_names) > 0

    def queries(self) -> np.ndarray:
        """Positions of the pages searched for: labelled pages whose label has at least one other page."""
        counts = np.bincount(self.labels[self.labels >= 0], minlength=len(self.label_names))
        return np.flatnonzero((self.labels >= 0) & (counts[np.maximum(self.labels, 0)] >= 2))

    def name(self, i: int) -> str:
        """A page's id relative to the archive folder."""
        return os.path.relpath(self.ids[i].split("#page=")[0], self.root) + (
            "#page=" + self.ids[i].split("#page=")[1] if "#page=" in self.ids[i] else "")


def read_archive(folder: str | os.PathLike | None, size: int, name: str = "ARCHIVE_DIR") -> Archive:
    """Every page under `folder` as square pages of `size` pixels (`data.pdf.read_folder`), labelled by their
    first-level subfolder when there are subfolders. Errors name `name`."""
    if folder is None or str(folder) == "":
        raise ValueError(f"{name}={folder!r} is not allowed: give a folder of images and PDFs.")
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ValueError(f"{name}={str(folder)!r} does not exist or is not a folder: give a folder of images and PDFs.")
    try:
        ids, images = pdf.read_folder(root, size)
    except (ValueError, FileNotFoundError) as e:
        raise ValueError(f"{name}={str(folder)!r} is not allowed: {e}") from None
    parts = [Path(i.split("#page=")[0]).relative_to(root).parts for i in ids]
    label_names = sorted({p[0] for p in parts if len(p) > 1})
    index = {n: j for j, n in enumerate(label_names)}
    labels = np.array([index[p[0]] if len(p) > 1 else -1 for p in parts], dtype=int)
    archive = Archive(root, ids, images, labels, label_names)
    if archive.labelled and len(archive.queries()) == 0:
        raise ValueError(f"{name}={str(folder)!r} has subfolders {label_names}, but none holds two readable pages: a "
                         "labelled page needs another page of its label to be found.")
    return archive


def leave_one_out(archive: Archive, encoder: Encoder, k: int = 10, mask_box: Sequence[float] | None = None,
                  index: PageIndex | None = None) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Search every query page of a labelled archive against all the other pages: (metrics, query positions,
    top-k positions (Q, k)). Metrics: precision/recall/mAP@k (relevant: same label) and chance_precision@k (the
    share of relevant pages among the others, the precision a random ranking expects)."""
    if not archive.labelled:
        raise ValueError("the archive has no labels (no first-level subfolders): there is nothing to measure; "
                         "look at the neighbours instead.")
    index = index or PageIndex.build(archive.images, encoder, mask_box=mask_box)
    queries = archive.queries()
    k_search = min(k + 1, len(archive))
    _, found = index.search_pages(archive.images[queries], encoder, k_search)
    top = np.array([[j for j in row if j != q][:k] for q, row in zip(queries, found)])
    counts = np.bincount(archive.labels[archive.labels >= 0], minlength=len(archive.label_names))
    n_relevant = counts[archive.labels[queries]] - 1
    relevant = archive.labels[top] == archive.labels[queries][:, None]
    out = ranking_metrics(relevant, n_relevant, k)
    out[f"chance_precision@{k}"] = float(np.mean(n_relevant / (len(archive) - 1)))
    out["n_queries"] = int(len(queries))
    return out, queries, top
