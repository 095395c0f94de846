"""A reader's own labelled images: one subfolder per class (notebooks 02 and 03 with ``DATA_DIR``).

The layout torchvision's ``ImageFolder`` reads: ``DATA_DIR/<class>/<image>``, the folder's name being the class
name (``_`` read as a space, so ``great_tit`` is the class "great tit"). Images may be of any size, mode and
format PIL reads; a file PIL cannot read is skipped with a warning that names it. The images stay on disk: only
their paths are kept, and they are opened when encoded (with the model's own open_clip preprocessing) or shown.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..utils import check_share


def open_rgb(path: str | os.PathLike) -> Image.Image:
    """An image file as an RGB PIL image, turned the way its EXIF says and with transparency laid on white."""
    with Image.open(path) as image:
        image.load()
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        elif image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit and float images: stretch to 8 bits
            a = np.asarray(image, dtype=np.float32)
            lo, hi = float(a.min()), float(a.max())
            image = Image.fromarray(((a - lo) / max(hi - lo, 1e-6) * 255).astype(np.uint8), "L")
        return image.convert("RGB")


def class_name_of(folder: str) -> str:
    """A class folder's name as a class name: ``great_tit`` -> ``great tit``."""
    return " ".join(folder.replace("_", " ").split())


@dataclass
class ImageFolderData:
    """Labelled image files: ``paths[i]`` shows class ``class_names[labels[i]]``."""

    root: Path
    paths: list[Path]
    labels: np.ndarray
    class_names: list[str]

    def __len__(self) -> int:
        return len(self.paths)

    def counts(self) -> dict[str, int]:
        """Images per class, in class order."""
        return {name: int((self.labels == i).sum()) for i, name in enumerate(self.class_names)}

    def subset(self, index: Sequence[int] | np.ndarray) -> "ImageFolderData":
        index = np.asarray(index, dtype=int)
        return ImageFolderData(self.root, [self.paths[i] for i in index], self.labels[index], self.class_names)

    def images(self) -> list[Image.Image]:
        """The images as RGB PIL images, full size (what open_clip's preprocessing takes)."""
        return [open_rgb(p) for p in self.paths]

    def thumbnails(self, size: int = 96) -> np.ndarray:
        """uint8 (N, size, size, 3) squares for plots, cropped to the centre as open_clip's preprocessing does."""
        return np.stack([np.asarray(ImageOps.fit(open_rgb(p), (size, size), Image.Resampling.BICUBIC))
                         for p in self.paths])


def class_folders(path: str | os.PathLike | None, name: str = "DATA_DIR", min_per_class: int = 1,
                  min_classes: int = 2) -> ImageFolderData:
    """The images of a folder with one subfolder per class. Files PIL cannot read are skipped with a warning
    naming them; a missing or empty folder, one without class subfolders, a class with fewer than
    `min_per_class` readable images or fewer than `min_classes` classes are errors naming `name`."""
    if path is None or str(path) == "":
        raise ValueError(f"{name}={path!r} is not allowed: give a folder with one subfolder of images per class.")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ValueError(f"{name}={str(path)!r} does not exist or is not a folder: give a folder with one subfolder "
                         "of images per class.")
    entries = [p for p in sorted(root.iterdir()) if not p.name.startswith(".")]
    if not entries:
        raise ValueError(f"{name}={str(path)!r} is empty: give a folder with one subfolder of images per class.")
    subfolders = [p for p in entries if p.is_dir()]
    if not subfolders:
        raise ValueError(f"{name}={str(path)!r} has no class subfolders ({len(entries)} files directly in it): put "
                         "each class's images in a subfolder named after the class.")
    paths, labels, class_names = [], [], []
    for folder in subfolders:
        readable = []
        for file in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            try:
                with Image.open(file) as image:
                    image.verify()  # a cheap check of the header and structure; the pixels are read when used
                readable.append(file)
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
                warnings.warn(f"{name}: skipped {file}, not an image PIL can read ({type(e).__name__}: {e})",
                              stacklevel=2)
        if not readable:
            continue
        label = class_name_of(folder.name)
        if label in class_names:
            raise ValueError(f"{name}={str(path)!r} has two subfolders for the class {label!r}: rename one.")
        paths += readable
        labels += [len(class_names)] * len(readable)
        class_names.append(label)
    if not paths:
        raise ValueError(f"{name}={str(path)!r} holds no image PIL can read in its {len(subfolders)} subfolders.")
    data = ImageFolderData(root, paths, np.asarray(labels, dtype=int), class_names)
    empty = [class_name_of(f.name) for f in subfolders if class_name_of(f.name) not in class_names]
    if empty:
        warnings.warn(f"{name}: left out the subfolders without a readable image: {empty}", stacklevel=2)
    if len(class_names) < min_classes:
        raise ValueError(f"{name}={str(path)!r} has {len(class_names)} class(es) with images ({class_names}): "
                         f"at least {min_classes} are needed to classify.")
    few = {k: v for k, v in data.counts().items() if v < min_per_class}
    if few:
        raise ValueError(f"{name}={str(path)!r} has classes with fewer than {min_per_class} readable images: {few}. "
                         "Add images or remove those subfolders.")
    return data


def stratified_split(labels: np.ndarray, test_share: float, seed: int = 0,
                     name: str = "TEST_SHARE") -> tuple[np.ndarray, np.ndarray]:
    """(train index, test index): each class's images shuffled and split `1 - test_share` / `test_share`,
    rounded, with at least one image of every class on each side."""
    test_share = check_share(name, test_share)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        index = rng.permutation(np.flatnonzero(labels == c))
        if len(index) < 2:
            raise ValueError(f"class {int(c)} has {len(index)} image: every class needs at least 2 to be split "
                             "into probe-training and test images.")
        n_test = min(max(round(test_share * len(index)), 1), len(index) - 1)
        test.append(index[:n_test])
        train.append(index[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
