"""Prompt engineering: per-template accuracy, ensembling, greedy template selection and class-name
wording (notebook 03 introduces them).

Ensembling follows the CLIP paper and open_clip: the class embedding is the normalised mean of the
normalised embeddings of each template. Greedy forward selection follows OpenAI's prompt-engineering
notebook: add the template that helps most on a selection split, stop when none helps, and score the
chosen set on a different split.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import open_clip
import torch

from .intervals import accuracy_difference_interval
from .zeroshot import Template, accuracy, check_classnames, check_templates, classifier, predict, template_text

# Phrasings that clipbook's training captions use for a single shape.
CLIPBOOK_TEMPLATES: tuple[str, ...] = ("a {}", "a photo of a {}", "there is a {}", "a {} in the centre")
# The seed article's wordings of "a photo of a bird".
SEED_WORDINGS: tuple[str, ...] = ("a photo of a {}", "an image of a {}", "a photo of a {} sitting near a bird feeder",
                                  "{}")
# The CLIP paper's default prompt, "A photo of a {label}.": what its 80-template ensemble gained over (section 3.1.4).
PAPER_DEFAULT_TEMPLATE = "a photo of a {}."


def template_sets() -> dict[str, list[str]]:
    """Named template families: clipbook's caption style, the seed's wordings, and the CLIP paper's
    templates as open_clip ships them (80 for ImageNet, and the short 'simple' set)."""
    return {
        "clipbook": list(CLIPBOOK_TEMPLATES),
        "seed article": list(SEED_WORDINGS),
        "CLIP simple": [template_text(t) for t in open_clip.SIMPLE_IMAGENET_TEMPLATES],
        "CLIP 80 ImageNet": [template_text(t) for t in open_clip.OPENAI_IMAGENET_TEMPLATES],
    }


def template_embeddings(model: torch.nn.Module, tokenizer, classnames: Sequence[str],
                        templates: Sequence[Template], device: str | torch.device = "auto") -> torch.Tensor:
    """Per-template class embeddings (T, C, D), each row normalised, built with open_clip's zero-shot
    helper one template at a time."""
    names = check_classnames(classnames)
    templates = check_templates(templates)
    return torch.stack([classifier(model, tokenizer, names, [t], device).T for t in templates])


def ensemble(per_template: torch.Tensor, chosen: Sequence[int] | None = None) -> torch.Tensor:
    """Class weights (D, C) of the ensemble of `chosen` templates (all by default): normalised mean of
    the normalised per-template embeddings — what open_clip's classifier does with several templates."""
    emb = per_template if chosen is None else per_template[list(chosen)]
    if len(emb) == 0:
        raise ValueError("chosen=[] is not allowed: an ensemble needs at least one template.")
    mean = emb.mean(dim=0)
    return (mean / mean.norm(dim=-1, keepdim=True)).T


def accuracies(per_template: torch.Tensor, image_features: torch.Tensor, labels) -> np.ndarray:
    """Zero-shot accuracy of every single template (T,)."""
    labels = torch.as_tensor(np.asarray(labels))
    pred = torch.einsum("nd,tcd->tnc", image_features.float(), per_template.float()).argmax(-1)
    return (pred == labels).float().mean(dim=1).numpy()


def ensemble_accuracy(per_template: torch.Tensor, chosen: Sequence[int] | None, image_features: torch.Tensor,
                      labels) -> float:
    """Accuracy of the ensemble of `chosen` templates."""
    return accuracy(image_features, ensemble(per_template, chosen), labels)


def ensemble_gains(per_template: torch.Tensor, templates: Sequence[str], families: Mapping[str, Sequence[str]],
                   selection: tuple[torch.Tensor, Sequence[int]], evaluation: tuple[torch.Tensor, Sequence[int]],
                   seed: int = 0) -> list[dict]:
    """Per template family: its ensemble against its best single template chosen on the selection split, both
    scored on the evaluation split, with a paired 95% bootstrap interval of the difference over the evaluation
    images. `templates` names the rows of `per_template`; each family's templates must be among them. Rows: family,
    n_templates, mean_single_acc, best_single, best_single_acc, ensemble_acc, value (ensemble minus best single),
    low, high."""
    (sel_features, sel_labels), (eval_features, eval_labels) = selection, evaluation
    position = {t: i for i, t in enumerate(templates)}
    acc_sel = accuracies(per_template, sel_features, sel_labels)
    acc_eval = accuracies(per_template, eval_features, eval_labels)
    labels = np.asarray(eval_labels)
    rows = []
    for family, members in families.items():
        missing = [t for t in members if t not in position]
        if missing or not members:
            raise ValueError(f"families[{family!r}] = {list(members)!r}: every template of a family must be one of "
                             f"`templates` (missing {missing!r}), and a family needs at least one.")
        chosen = [position[t] for t in dict.fromkeys(members)]
        best = chosen[int(np.argmax(acc_sel[chosen]))]  # ties go to the family's first
        right = {name: predict(eval_features, ensemble(per_template, idx)) == labels
                 for name, idx in (("ensemble", chosen), ("single", [best]))}
        diff = accuracy_difference_interval(right["ensemble"], right["single"], seed=seed)
        rows.append({"family": family, "n_templates": len(chosen), "mean_single_acc": float(acc_eval[chosen].mean()),
                     "best_single": templates[best], "best_single_acc": float(right["single"].mean()),
                     "ensemble_acc": float(right["ensemble"].mean()), **diff})
    return rows


def greedy_select(per_template: torch.Tensor, image_features: torch.Tensor, labels,
                  max_templates: int = 10) -> list[tuple[int, float]]:
    """Greedy forward selection on one split: repeatedly add the template that raises the ensemble's
    accuracy most; stop when nothing raises it or `max_templates` are chosen. Returns
    [(template index, accuracy after adding it), ...]."""
    chosen: list[int] = []
    steps: list[tuple[int, float]] = []
    best = -1.0
    while len(chosen) < min(max_templates, len(per_template)):
        scores = [(ensemble_accuracy(per_template, chosen + [t], image_features, labels), -t)
                  for t in range(len(per_template)) if t not in chosen]
        acc, neg_t = max(scores)  # ties go to the earlier template
        if acc <= best:
            break
        chosen.append(-neg_t)
        steps.append((-neg_t, acc))
        best = acc
    return steps


def class_name_variants(colour: str, shape: str) -> dict[str, str]:
    """Other wordings of one colour-shape class: synonyms, a misspelling, extra context, word order."""
    colour_syn = {"red": "scarlet", "green": "lime", "blue": "navy", "yellow": "golden", "purple": "violet",
                  "orange": "amber"}
    shape_syn = {"circle": "disc", "square": "box", "triangle": "wedge", "diamond": "rhombus",
                 "cross": "plus sign", "star": "five-pointed star", "hexagon": "six-sided polygon"}
    misspelt = shape[:-2] + shape[-1] + shape[-2] if len(shape) > 3 else shape + shape[-1]
    return {
        "class name": f"{colour} {shape}",
        "colour synonym": f"{colour_syn.get(colour, colour)} {shape}",
        "shape synonym": f"{colour} {shape_syn.get(shape, shape)}",
        "misspelt shape": f"{colour} {misspelt}",
        "extra context": f"{colour} coloured {shape} shape on a dark background",
        "word order": f"{shape} {colour}",
    }


def wording_table(classes: Sequence[tuple[str, str]]) -> Mapping[str, list[str]]:
    """For each wording kind, the class names of all `classes` (as (colour, shape)) in that wording."""
    variants = [class_name_variants(c, s) for c, s in classes]
    return {kind: [v[kind] for v in variants] for kind in variants[0]}
