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
from PIL import Image, UnidentifiedImageError

from . import zeroshot
from .plots import probability_bars
from .retrieval import encode_images


def load_image(source: str | os.PathLike | bytes | Image.Image | np.ndarray, size: int,
               name: str | None = None) -> np.ndarray:
    """Any image (path, bytes, PIL image or array; any size or mode) as uint8 RGB (size, size, 3). `name` (an
    uploaded file's name, say) is what an error calls the source; a path names itself."""
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
        raise ValueError(f"image={name!r} is not an image file PIL can read ({type(e).__name__}: {e}).") from None
    return np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)


def parse_labels(text: str) -> list[str]:
    """Comma-separated labels from a text box, stripped; empty or duplicated lists are errors."""
    return zeroshot.check_classnames([t.strip() for t in text.split(",") if t.strip()], name="labels")


def score(model: torch.nn.Module, tokenizer, image: np.ndarray, labels: Sequence[str], template: str = "{}",
          device: str | torch.device = "auto") -> pd.Series:
    """Zero-shot probabilities of one uint8 image over `labels` wrapped in `template`, highest first."""
    weights = zeroshot.classifier(model, tokenizer, labels, template, device)
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


class Playground:
    """Widgets: an image picker, an upload button, a labels box and a template box, over one output."""

    def __init__(self, model: torch.nn.Module, tokenizer, images: np.ndarray, captions: Sequence[str],
                 labels: Sequence[str], template: str = "a photo of a {}",
                 device: str | torch.device = "auto") -> None:
        import ipywidgets as w

        self.model, self.tokenizer, self.device = model, tokenizer, device
        self.images, self.captions = images, list(captions)
        self.size = images.shape[1]
        self.uploaded: np.ndarray | None = None
        self.uploaded_name = ""
        self.picker = w.IntSlider(0, 0, len(images) - 1, description="image")
        self.upload = w.FileUpload(accept="image/*", multiple=False, description="upload")
        self.labels = w.Text(", ".join(labels), description="labels", layout=w.Layout(width="95%"))
        self.template = w.Text(template, description="template", layout=w.Layout(width="60%"))
        self.output = w.Output()
        self.message = ""
        for control in (self.picker, self.labels, self.template):
            control.observe(lambda _: self._picked(), names="value")
        self.upload.observe(lambda change: self._uploaded(change["new"]), names="value")
        self.widget = w.VBox([w.HBox([self.picker, self.upload]), self.labels, self.template, self.output])

    def _picked(self) -> None:
        self.uploaded = None
        self.refresh()

    def _uploaded(self, files) -> None:
        if files:
            item = files[0] if isinstance(files, (list, tuple)) else next(iter(files.values()))
            self.set_upload(item["content"], item.get("name", "the uploaded file"))

    def set_upload(self, data: bytes, name: str = "the uploaded file") -> None:
        """Use an uploaded file as the image (a file that is not an image is reported by its name, not raised)."""
        try:
            self.uploaded = load_image(data, self.size, name=name)
        except ValueError as e:
            self.uploaded = None
            self.message = str(e)
            self._show_message()
            return
        self.uploaded_name = name
        self.refresh()

    def update(self) -> tuple[np.ndarray, pd.Series] | str:
        """Recompute the probabilities for the current choices; an error message for bad input."""
        image = self.uploaded if self.uploaded is not None else self.images[self.picker.value]
        try:
            labels = parse_labels(self.labels.value)
            zeroshot.check_templates([self.template.value], name="template")
        except ValueError as e:
            return str(e)
        return image, score(self.model, self.tokenizer, image, labels, self.template.value, self.device)

    def refresh(self) -> None:
        result = self.update()
        if isinstance(result, str):
            self.message = result
            self._show_message()
            return
        self.message = ""
        image, probs = result
        title = f"uploaded: {self.uploaded_name}" if self.uploaded is not None else self.captions[self.picker.value]
        fig = show_scores(image, probs, title)
        with self.output:
            self.output.clear_output(wait=True)
            display(fig)
        plt.close(fig)  # shown once, in the output widget, not again below the cell

    def _show_message(self) -> None:
        with self.output:
            self.output.clear_output(wait=True)
            print(self.message)
