"""An interactive zero-shot playground for JupyterLab (notebook 03 introduces it).

Pick one of the corpus images or upload your own, edit the labels and the template, and the probability
bars update. The logic lives in `score` and `Playground.update`, which run without a front end (tests,
papermill); the widgets only call them.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display
from PIL import Image, ImageOps, UnidentifiedImageError

from . import zeroshot
from .plots import probability_bars
from .retrieval import encode_images, encode_pil_images


def open_image(source: str | os.PathLike | bytes | Image.Image | np.ndarray, name: str | None = None) -> Image.Image:
    """Any image (path, bytes, PIL image or array; any size or mode) as an RGB PIL image at its own size. `name`
    (an uploaded file's name, say) is what an error calls the source; a path names itself."""
    if name is None:
        name = str(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__
    try:
        if isinstance(source, np.ndarray):
            image = Image.fromarray(source)
        elif isinstance(source, Image.Image):
            image = source
        elif isinstance(source, (bytes, bytearray, memoryview)):
            image = Image.open(io.BytesIO(bytes(source)))
        else:
            image = Image.open(Path(source))
        image.load()
    except (UnidentifiedImageError, OSError, TypeError, ValueError) as e:
        why = "not a format PIL reads" if isinstance(e, UnidentifiedImageError) else f"{type(e).__name__}: {e}"
        raise ValueError(f"image={name!r} is not an image file PIL can read ({why}).") from None
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")  # transparency on white paper, not on black
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return image.convert("RGB")


def load_image(source: str | os.PathLike | bytes | Image.Image | np.ndarray, size: int,
               name: str | None = None) -> np.ndarray:
    """Any image as uint8 RGB (size, size, 3), cropped to its centre square as open_clip's preprocessing does."""
    image = open_image(source, name)
    return np.asarray(ImageOps.fit(image, (size, size), Image.Resampling.BICUBIC), dtype=np.uint8)


def parse_labels(text: str) -> list[str]:
    """Comma-separated labels from a text box, stripped; empty or duplicated lists are errors."""
    return zeroshot.check_classnames([t.strip() for t in text.split(",") if t.strip()], name="labels")


def score(model: torch.nn.Module, tokenizer, image: np.ndarray | Image.Image, labels: Sequence[str],
          template: str = "{}", device: str | torch.device = "auto", preprocess=None) -> pd.Series:
    """Zero-shot probabilities of one image over `labels` wrapped in `template`, highest first. A uint8 array
    (an image of clipbook's worlds, at the model's size) takes the fast path; a PIL image (an upload, a user's
    file) goes through open_clip's preprocessing for the model (`preprocess`; default: the model's own)."""
    weights = zeroshot.classifier(model, tokenizer, labels, template, device)
    if isinstance(image, Image.Image):
        feats = encode_pil_images(model, [image], preprocess, device)
    else:
        feats = encode_images(model, image[None], device)
    probs = zeroshot.probabilities(feats, weights, zeroshot.logit_scale_of(model))[0].numpy()
    return pd.Series(probs, index=list(labels), name="probability").sort_values(ascending=False)


def show_scores(image: np.ndarray, probs: pd.Series, title: str = "") -> plt.Figure:
    """The image beside its probability bars."""
    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(8, max(2.2, 0.35 * len(probs) + 1)),
                                         gridspec_kw={"width_ratios": [1, 2]})
    ax_img.imshow(image, interpolation="nearest")
    ax_img.axis("off")
    probability_bars(probs, title=title, ax=ax_bar)
    fig.tight_layout()
    return fig


def show_in(output, content: plt.Figure | str) -> None:
    """Replace what an ipywidgets ``Output`` shows with a figure (then closed, so it shows once, in the widget, not
    again below the cell) or a message."""
    with output:
        output.clear_output(wait=True)
        if isinstance(content, str):
            print(content)
        else:
            display(content)
    if not isinstance(content, str):
        plt.close(content)


class Playground:
    """Widgets: an image picker, an upload button, a labels box and a template box, over one output."""

    def __init__(self, model: torch.nn.Module, tokenizer, images: np.ndarray, captions: Sequence[str],
                 labels: Sequence[str], template: str = "a photo of a {}",
                 device: str | torch.device = "auto", preprocess=None, originals: Sequence | None = None) -> None:
        """`images`: uint8 squares shown (and, without `originals`, scored on the fast path). `originals`: the
        same images as files or PIL images from outside clipbook's worlds, scored through `preprocess`."""
        import ipywidgets as w

        self.model, self.tokenizer, self.device, self.preprocess = model, tokenizer, device, preprocess
        self.images, self.captions = images, list(captions)
        if originals is not None and len(originals) != len(images):
            raise ValueError(f"originals has {len(originals)} images and images {len(images)}: give one original "
                             "per shown image.")
        self.originals = originals
        self.size = images.shape[1]
        self.uploaded: np.ndarray | None = None  # the upload as shown (a square at the gallery's size)
        self.uploaded_image: Image.Image | None = None  # the upload as scored, through open_clip's preprocessing
        self.uploaded_name = ""
        self.picker = w.IntSlider(0, 0, len(images) - 1, description="image")
        self.upload = w.FileUpload(accept="image/*", multiple=False, description="upload")
        self.labels = w.Text(", ".join(labels), description="labels", layout=w.Layout(width="95%"))
        self.template = w.Text(template, description="template", layout=w.Layout(width="60%"))
        self.output = w.Output()
        self.message = ""
        self.picker.observe(lambda _: self._picked(), names="value")  # a gallery image replaces an upload
        for control in (self.labels, self.template):  # new labels or template: the same image, rescored
            control.observe(lambda _: self.refresh(), names="value")
        self.upload.observe(lambda change: self._uploaded(change["new"]), names="value")
        self.widget = w.VBox([w.HBox([self.picker, self.upload]), self.labels, self.template, self.output])

    def _picked(self) -> None:
        self.uploaded, self.uploaded_image = None, None
        self.refresh()

    def _uploaded(self, files) -> None:
        if files:
            item = files[0] if isinstance(files, (list, tuple)) else next(iter(files.values()))
            self.set_upload(item["content"], item.get("name", "the uploaded file"))

    def set_upload(self, data: bytes, name: str = "the uploaded file") -> None:
        """Use an uploaded file as the image (a file that is not an image is reported by its name, not raised)."""
        try:
            self.uploaded_image = open_image(data, name=name)
        except ValueError as e:
            self.uploaded, self.uploaded_image = None, None
            self.message = str(e)
            show_in(self.output, self.message)
            return
        self.uploaded = load_image(self.uploaded_image, self.size)
        self.uploaded_name = name
        self.refresh()

    def update(self) -> tuple[np.ndarray, pd.Series] | str:
        """Recompute the probabilities for the current choices; an error message for bad input."""
        shown = self.uploaded if self.uploaded is not None else self.images[self.picker.value]
        scored = self.uploaded_image if self.uploaded_image is not None else shown
        if self.uploaded_image is None and self.originals is not None:
            original = self.originals[self.picker.value]
            scored = original if isinstance(original, Image.Image) else open_image(original)
        try:
            labels = parse_labels(self.labels.value)
            zeroshot.check_templates([self.template.value], name="template")
        except ValueError as e:
            return str(e)
        return shown, score(self.model, self.tokenizer, scored, labels, self.template.value, self.device,
                            self.preprocess)

    def refresh(self) -> None:
        result = self.update()
        self.message = result if isinstance(result, str) else ""
        if self.message:
            show_in(self.output, self.message)
            return
        image, probs = result
        title = f"uploaded: {self.uploaded_name}" if self.uploaded is not None else self.captions[self.picker.value]
        show_in(self.output, show_scores(image, probs, title))
