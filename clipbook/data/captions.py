"""A reader's own image-caption pairs in open_clip's CSV format (notebook 01 with ``CAPTIONS_CSV``).

The format of ``open_clip_train --dataset-type csv``: one row per pair, tab-separated by default, the image path
in the ``filepath`` column and the caption in ``title`` (``CSV_SEPARATOR``, ``CSV_IMG_KEY``, ``CSV_CAPTION_KEY``
name others, as the trainer's ``--csv-separator``, ``--csv-img-key``, ``--csv-caption-key`` do). A relative path
is read against the CSV's own folder, so the CSV and its images travel together. An image on several rows has
several captions: training draws one of them each time it sees the image, as it does with the world's phrasings.

Images are read the way open_clip's evaluation preprocessing reads them (shortest side resized bicubic to the
model's size, centre crop) and kept as uint8, so training and evaluation then take clipbook's fast path, whose
normalisation equals open_clip's (tests/test_zeroshot.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from ..utils import check_share
from .folders import open_rgb


@dataclass
class CaptionPairs:
    """Images (paths) with their captions: ``captions[i]`` lists every caption of ``paths[i]``."""

    csv: Path
    paths: list[Path]
    captions: list[list[str]]

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def n_pairs(self) -> int:
        return sum(len(c) for c in self.captions)

    def subset(self, index: Sequence[int] | np.ndarray) -> "CaptionPairs":
        return CaptionPairs(self.csv, [self.paths[i] for i in index], [self.captions[i] for i in index])

    def load_images(self, size: int) -> np.ndarray:
        """uint8 (N, size, size, 3): each image's shortest side resized (bicubic) to `size`, then its centre
        square, as open_clip's evaluation preprocessing crops it."""
        return np.stack([centre_square(open_rgb(p), size) for p in self.paths])


def centre_square(image: Image.Image, size: int) -> np.ndarray:
    """open_clip's evaluation resize and crop (torchvision's: shortest side to `size`, bicubic, then the centre
    square) as uint8 (size, size, 3): open_clip's preprocessing without its ToTensor and Normalize."""
    from torchvision import transforms as T

    crop = T.Compose([T.Resize(size, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(size)])
    return np.asarray(crop(image), dtype=np.uint8)


def read_captions_csv(path: str | os.PathLike | None, separator: str = "\t", img_key: str = "filepath",
                      caption_key: str = "title", name: str = "CAPTIONS_CSV") -> CaptionPairs:
    """The pairs of an open_clip CSV; rows with an empty caption are an error, as are a missing file, missing
    columns and image paths that do not exist (each error names the parameter)."""
    import pandas as pd

    if path is None or str(path) == "":
        raise ValueError(f"{name}={path!r} is not allowed: give the path of a CSV of image paths and captions.")
    csv = Path(path).expanduser()
    if not csv.is_file():
        raise ValueError(f"{name}={str(path)!r} does not exist or is not a file.")
    if not isinstance(separator, str) or len(separator) == 0:
        raise ValueError(f"CSV_SEPARATOR={separator!r} is not allowed: give the column separator, e.g. '\\t' or ','.")
    try:
        table = pd.read_csv(csv, sep=separator, dtype=str, keep_default_na=False, engine="python")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ValueError(f"{name}={str(path)!r} is not a CSV pandas can read with CSV_SEPARATOR={separator!r} "
                         f"({type(e).__name__}: {e}).") from None
    for param, key in (("CSV_IMG_KEY", img_key), ("CSV_CAPTION_KEY", caption_key)):
        if key not in table.columns:
            raise ValueError(f"{param}={key!r} is not a column of {name}={str(path)!r}: its columns are "
                             f"{list(table.columns)} (read with CSV_SEPARATOR={separator!r}).")
    if len(table) == 0:
        raise ValueError(f"{name}={str(path)!r} has no rows: give at least one image-caption pair per line.")
    empty = table.index[table[caption_key].str.strip() == ""].tolist()
    if empty:
        raise ValueError(f"{name}={str(path)!r} has rows without a caption in {caption_key!r}: rows "
                         f"{[i + 2 for i in empty[:5]]} (line numbers, the header being line 1).")
    by_image: dict[Path, list[str]] = {}
    for file, caption in zip(table[img_key], table[caption_key]):
        p = Path(file).expanduser()
        p = p if p.is_absolute() else csv.parent / p
        by_image.setdefault(p, []).append(" ".join(caption.split()))
    missing = [str(p) for p in by_image if not p.is_file()]
    if missing:
        raise ValueError(f"{name}={str(path)!r} names {len(missing)} image file(s) that do not exist, e.g. "
                         f"{missing[:3]} (relative paths are read against the CSV's folder).")
    return CaptionPairs(csv, list(by_image), [list(dict.fromkeys(c)) for c in by_image.values()])


def split_pairs(pairs: CaptionPairs, val_share: float, seed: int = 0,
                name: str = "VAL_SHARE") -> tuple[CaptionPairs, CaptionPairs]:
    """(train, validation): a random `val_share` of the images, with all their captions, held out."""
    val_share = check_share(name, val_share)
    if len(pairs) < 2:
        raise ValueError(f"the CSV has {len(pairs)} image: at least 2 are needed to hold some out for validation.")
    order = np.random.default_rng(seed).permutation(len(pairs))
    n_val = min(max(round(val_share * len(pairs)), 1), len(pairs) - 1)
    return pairs.subset(np.sort(order[n_val:])), pairs.subset(np.sort(order[:n_val]))


def load_split(pairs: CaptionPairs, val_share: float, image_size: int, seed: int = 0, name: str = "VAL_SHARE"
               ) -> tuple[np.ndarray, list[list[str]], np.ndarray, list[str]]:
    """What a notebook trains and tests on from a reader's pairs (notebooks 01 and 06): training images (uint8, read
    at `image_size`) with all their captions, and held-out images with their first caption."""
    train, val = split_pairs(pairs, val_share, seed, name)
    return (train.load_images(image_size), train.captions, val.load_images(image_size),
            [c[0] for c in val.captions])
