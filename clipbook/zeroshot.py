"""Zero-shot classification with a CLIP, through open_clip's own helpers (notebook 02 introduces it).

The four steps: choose the classes; wrap each in a prompt ("a photo of a {}."); encode the image and
the prompts; the highest cosine similarity wins. ``classifier`` builds the class embeddings with
``open_clip.build_zero_shot_classifier`` (which averages normalised embeddings over templates: prompt
ensembling); this module adds the argument checks, the context-length warning and the scoring.
"""
from __future__ import annotations

import warnings
from typing import Callable, Sequence, Union

import numpy as np
import open_clip
import torch

from .data.shapes import where_questions
from .utils import resolve_device

Template = Union[str, Callable[[str], str]]


def check_classnames(classnames: Sequence[str], name: str = "classnames") -> list[str]:
    """The class names as a list; an empty list, a blank name or a duplicate is an error naming `name`."""
    if isinstance(classnames, str) or not isinstance(classnames, Sequence):
        raise ValueError(f"{name}={classnames!r} is not allowed: give a list of class names.")
    names = list(classnames)
    if not names:
        raise ValueError(f"{name}=[] is not allowed: give at least one class name.")
    bad = [c for c in names if not isinstance(c, str) or not c.strip()]
    if bad:
        raise ValueError(f"{name} contains {bad[0]!r}: every class name must be a non-empty string.")
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise ValueError(f"{name} contains duplicates {dupes}: every class must be named once.")
    return names


def template_text(template: Template) -> str:
    """A template as its format string ("a photo of a {}."), also for open_clip's lambda templates."""
    return template if isinstance(template, str) else template("{}")


def check_templates(templates: Sequence[Template] | Template, name: str = "templates") -> list[Template]:
    """Templates as a list; each must be a callable or a string with exactly one `{}` for the class."""
    if isinstance(templates, str) or callable(templates):
        templates = [templates]
    templates = list(templates)
    if not templates:
        raise ValueError(f"{name}=[] is not allowed: give at least one template such as 'a photo of a {{}}.'.")
    for t in templates:
        if callable(t):
            continue
        if not isinstance(t, str) or t.count("{}") != 1 or t.replace("{}", "").count("{") or \
                t.replace("{}", "").count("}"):
            raise ValueError(
                f"{name} contains {t!r}: a template must hold exactly one '{{}}' where the class name goes, "
                "e.g. 'a photo of a {}.'")
    return templates


def fill_template(classnames: Sequence[str], template: Template) -> list[str]:
    """The prompts: each class name put into the template ("red circle" -> "a photo of a red circle.")."""
    return [template.format(c) if isinstance(template, str) else template(c) for c in classnames]


def warn_if_truncated(tokenizer, texts: Sequence[str]) -> list[str]:
    """Warn (visibly) about texts longer than the tokenizer's context; return them."""
    context = getattr(tokenizer, "context_length", None)
    encode = getattr(tokenizer, "encode", None)
    if not context or encode is None:
        return []
    too_long = [t for t in dict.fromkeys(texts) if len(encode(t)) + 2 > context]
    if too_long:
        warnings.warn(
            f"{len(too_long)} prompt(s) are longer than the model's context of {context} tokens and were truncated, "
            f"e.g. {too_long[0]!r}", UserWarning, stacklevel=2)
    return too_long


@torch.no_grad()
def classifier(model: torch.nn.Module, tokenizer, classnames: Sequence[str],
               templates: Sequence[Template] | Template = "a photo of a {}.",
               device: str | torch.device = "auto") -> torch.Tensor:
    """Zero-shot class embeddings (D, C), float32 on the CPU: open_clip's `build_zero_shot_classifier`,
    which averages the normalised embeddings of all templates per class (ensembling)."""
    names = check_classnames(classnames)
    templates = check_templates(templates)
    warn_if_truncated(tokenizer, [p for t in templates for p in fill_template(names, t)])
    dev = resolve_device(device)
    model.eval()
    if not all(isinstance(t, str) for t in templates):  # open_clip wants all strings or all callables
        templates = [t if callable(t) else (lambda c, t=t: t.format(c)) for t in templates]
    weights = open_clip.build_zero_shot_classifier(model, tokenizer, names, templates, num_classes_per_batch=None
                                                   if len(names) * len(templates) <= 4096 else 16, device=dev)
    return weights.float().cpu()


def probabilities(image_features: torch.Tensor, weights: torch.Tensor, logit_scale: float = 100.0) -> torch.Tensor:
    """Softmax over classes of the scaled cosine similarities (N, C); features must be normalised."""
    return (logit_scale * image_features.float() @ weights.float()).softmax(dim=-1)


def predict(image_features: torch.Tensor, weights: torch.Tensor) -> np.ndarray:
    """Predicted class index per image: the class embedding with the highest cosine similarity."""
    return (image_features.float() @ weights.float()).argmax(dim=-1).numpy()


def accuracy(image_features: torch.Tensor, weights: torch.Tensor, labels: Sequence[int] | np.ndarray) -> float:
    """Top-1 accuracy of the zero-shot classifier `weights` (D, C) on normalised features."""
    return float(np.mean(predict(image_features, weights) == np.asarray(labels)))


def attribute_accuracy(predicted: Sequence[int] | np.ndarray, labels: Sequence[int] | np.ndarray,
                       attribute_of: Sequence[str]) -> float:
    """Share of images whose predicted class has the true class's attribute, where `attribute_of[c]` is class
    c's attribute (its colour, say): a model that knows only colour scores 1 on colour and chance on shape."""
    attribute_of = np.asarray(attribute_of)
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if len(predicted) != len(labels):
        raise ValueError(f"predicted has {len(predicted)} entries for {len(labels)} labels: give one per image.")
    return float(np.mean(attribute_of[predicted] == attribute_of[labels]))


def logit_scale_of(model: torch.nn.Module) -> float:
    """The model's learned logit scale exp(t), as a float."""
    return float(model.logit_scale.exp().detach().cpu())


@torch.no_grad()
def multiple_choice(model: torch.nn.Module, tokenizer, images: np.ndarray, candidates: Sequence[Sequence[str]],
                    device: str | torch.device = "auto") -> np.ndarray:
    """For each image, the index of its most similar caption among its own `candidates` (a list per image,
    e.g. "two red stars" / "three red stars" / "four red stars")."""
    from .retrieval import encode_images, encode_texts

    if len(candidates) != len(images):
        raise ValueError(f"candidates has {len(candidates)} lists for {len(images)} images: give one per image.")
    for c in candidates:
        check_classnames(list(c), name="candidates")
    texts = list(dict.fromkeys(t for c in candidates for t in c))
    warn_if_truncated(tokenizer, texts)
    position = {t: j for j, t in enumerate(texts)}
    image_features = encode_images(model, images, device)
    text_features = encode_texts(model, tokenizer, texts, device)
    sims = image_features @ text_features.T
    return np.array([int(sims[i, [position[t] for t in c]].argmax()) for i, c in enumerate(candidates)])


def where_accuracy(model: torch.nn.Module, tokenizer, images: np.ndarray, scenes: Sequence,
                   device: str | torch.device = "auto", rng: np.random.Generator | None = None) -> dict[str, float]:
    """Zero-shot accuracy on `clipbook.data.where_questions` over shapes-world images and their scenes:
    "single" (a cell of 9) and "pair" (a relation of 4), NaN for a kind the scenes hold none of."""
    if len(scenes) != len(images):
        raise ValueError(f"scenes has {len(scenes)} entries for {len(images)} images: give one per image.")
    accuracy = {}
    for kind, (index, candidates, answers) in where_questions(scenes, rng).items():
        if not index:
            accuracy[kind] = float("nan")
            continue
        picked = multiple_choice(model, tokenizer, images[index], candidates, device)
        accuracy[kind] = float(np.mean(picked == np.array(answers)))
    return accuracy
