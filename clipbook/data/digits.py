"""Real handwritten digits that ship inside scikit-learn (1,797 scans, 8x8, 16 grey levels).

Out of distribution for a CLIP trained on coloured shapes: notebook 05 classifies them zero-shot, the
way the CLIP paper did with MNIST, against logistic regression on raw pixels.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from ..utils import check_positive


def digits(image_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as uint8 RGB images (N, size, size, 3), light strokes on a dark ground like
    the shapes world, and their labels 0-9."""
    from sklearn.datasets import load_digits  # here, not at the top: scikit-learn takes 2 s to import

    check_positive("image_size", image_size)
    bunch = load_digits()
    grey = (bunch.images / 16.0 * 255).astype(np.uint8)
    out = np.stack([np.asarray(Image.fromarray(g).resize((image_size, image_size), Image.Resampling.BILINEAR))
                    for g in grey])
    return np.repeat(out[..., None], 3, axis=3), bunch.target.astype(np.int64)
