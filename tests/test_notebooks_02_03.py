"""Notebooks 02 (zero-shot transfer) and 03 (prompt sensitivity) through papermill, asserting on their metrics.

The bars sit between what the workbook CLIP measured on the quick profile (seeds 0 and 1) and the shortcut a
broken model would take. There are 36 classes, 6 colours x 6 shapes: a model that reads only the colour (or only
the shape) picks the right class 1 time in 6 (0.167), far above the 1/36 chance, so a bar of "5x chance" (0.14)
would let it through. tests/test_zeroshot.py shows such a colour-only model scoring 1/6 below these bars.
"""
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipbook import intervals
from clipbook.runner import run_notebook
from nbcells import first_error, papermill_error, run_cells

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
pytestmark = pytest.mark.notebook

# notebook 02, measured with the quick recipe of 16,384 images x 5 epochs: seen 0.983, held out 0.911, probe 0.992,
# colour right 1.00 / 1.00 and shape right 0.971 / 0.911 (seed 0, one thread); seen / held out 0.983 / 0.906,
# 0.958 / 0.794 and 0.957 / 0.894 at seeds 0, 1, 2 on two threads: the errors are shape errors. (12,288 images x 4
# epochs: seen 0.892, held out 0.811; the recipe before that: seen 0.533, held out 0.289.)
BARS_02 = {
    "zero_shot_acc_seen": 0.85,
    "zero_shot_acc_heldout": 0.70,  # held-out compositions: the model never saw them, only their parts
    "linear_probe_acc": 0.80,
    # each attribute above the 1/6 a model blind to it scores: a colour-only model fails the shape bars, a
    # shape-only one the colour bars (on the 180 held-out images alone 1/6 is within noise of 0.22; the bars on
    # all 1080 images are the ones that stop a one-attribute model for certain)
    "colour_acc": 0.90,
    "shape_acc": 0.80,
    "colour_acc_heldout": 0.90,
    "shape_acc_heldout": 0.70,
}
# notebook 03, measured (seed 0) on the evaluation split: mean template 0.940, ensemble 0.965, greedy 0.978 (with the
# CLIP of 12,288 images x 4 epochs before: 0.817, 0.849, 0.913); a one-attribute model scores 1/6
BARS_03 = {"mean_template_acc": 0.60, "ensemble_acc": 0.60, "greedy_acc_heldout": 0.60}


@pytest.fixture(scope="session")
def nb02(nb01, outputs):
    return run_notebook(NOTEBOOKS / "02_zero_shot_transfer.ipynb", outputs, profile="quick", device="cpu",
                        log_output=False)


def test_02_zero_shot_transfers_to_heldout_compositions(nb02):
    assert (nb02["n_classes"], nb02["n_heldout_classes"]) == (36, 6)  # the bars assume 6 colours x 6 shapes
    for name, bar in BARS_02.items():
        assert nb02[name] >= bar, f"{name}={nb02[name]:.3f} is below its bar {bar}"
    few = nb02["few_shot_acc"]
    assert set(few) == {"1", "2", "4", "8", "16"}
    assert few["16"] >= BARS_02["linear_probe_acc"] - 0.1 and few["16"] > few["1"] + 0.1  # more labels help
    # the held-out accuracy's 95% interval over its images (0.900 on 180 images under make test, about 0.85-0.93):
    # its low end stays well above what one attribute alone scores (1/6)
    low, high = nb02["zero_shot_acc_heldout_low"], nb02["zero_shot_acc_heldout_high"]
    assert low <= nb02["zero_shot_acc_heldout"] <= high and low >= 0.6
    assert nb02["zero_shot_acc_low"] <= nb02["zero_shot_acc"] <= nb02["zero_shot_acc_high"]


def test_02_runs_on_a_local_checkpoint_file(nb01, nb02, tmp_path):
    """MODEL + PRETRAINED=<file>: the same weights through open_clip's loading path give the same answer."""
    same = run_notebook(NOTEBOOKS / "02_zero_shot_transfer.ipynb", tmp_path, profile="quick", device="cpu",
                        parameters={"MODEL": nb01["model"], "PRETRAINED": nb01["checkpoint"],
                                    "N_PROBE_PER_CLASS": 4, "FEW_SHOT_KS": [1], "FEW_SHOT_DRAWS": 1},  # probes: not compared
                        log_output=False)
    assert same["weights"] == nb01["checkpoint"]
    assert same["zero_shot_acc_heldout"] == pytest.approx(nb02["zero_shot_acc_heldout"], abs=1e-6)
    assert same["zero_shot_acc_seen"] == pytest.approx(nb02["zero_shot_acc_seen"], abs=1e-6)


def test_02_a_model_without_zero_shot_errors_still_scores_colour_and_shape(tmp_path):
    """The full profile's NegCLIP (seed 0) got every test image's class. Notebook 02 then has no errors to break
    down, and its next cell, colour and shape scored apart, failed on a name only that breakdown defined. The two
    cells, on a prediction with no error."""
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns
    from types import SimpleNamespace

    import clipbook
    from clipbook import plots
    from clipbook import zeroshot as zs

    world = clipbook.ShapesWorld()
    labels = np.repeat(np.arange(len(world.classes)), 2)
    shown = []
    ns = run_cells(NOTEBOOKS / "02_zero_shot_transfer.ipynb", ["89d72fc2", "5923f8ff"], {
        "np": np, "pd": pd, "plt": plt, "sns": sns, "plots": plots, "zs": zs, "display": shown.append,
        "run": SimpleNamespace(out=tmp_path), "world": world, "class_names": world.class_names,
        "heldout_classes": world.heldout_classes, "TEMPLATE": "a photo of a {}.", "test_labels": labels,
        "pred": labels.copy(), "correct": np.ones(len(labels), dtype=bool),
        "is_heldout": np.isin(np.array(world.class_names)[labels], world.heldout_classes)})
    assert (ns["attributes"].to_numpy() == 1.0).all()
    assert list(ns["attributes"].index) == ["all", "seen", "held out"]
    assert (tmp_path / "colour_vs_shape.png").is_file()
    plt.close("all")


# DATA_DIR: six classes chosen so that one attribute is not enough (each colour and each shape is in two of them):
# a colour-only or shape-only model is right on 1/2 of the images at best, chance is 1/6
FOLDER_CLASSES = ["red circle", "red star", "blue circle", "blue star", "green square", "green circle"]


def shapes_photo_folder(root: Path, n_per_class: int = 8, seed: int = 123) -> Path:
    """A reader's folder, made of the world's images as if photographed: 3x larger, on a 4:3 canvas of the
    background colour, JPEG and PNG, in one subfolder per class ("red_circle"). open_clip's preprocessing
    (shortest side to the model's size, centre crop) must find the shape again."""
    import clipbook

    world = clipbook.ShapesWorld()
    data = world.class_dataset(n_per_class, classes=FOLDER_CLASSES, seed=seed, cache=False)
    s = world.image_size
    for k, (image, label) in enumerate(zip(data.images, data.labels)):
        folder = root / world.class_names[label].replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        canvas = Image.new("RGB", (4 * s, 3 * s), tuple(int(v) for v in image[0, 0]))
        canvas.paste(Image.fromarray(image).resize((3 * s, 3 * s), Image.Resampling.BICUBIC), (s // 2, 0))
        canvas.save(folder / f"photo_{k}.{'jpg' if k % 2 else 'png'}", quality=95)
    return root


def test_02_on_your_own_class_folders(nb01, tmp_path):
    """DATA_DIR: zero-shot over the folder's classes, probes on a stratified split, the figures, the metrics."""
    root = shapes_photo_folder(tmp_path / "my photos")
    (root / "red_star" / "notes.txt").write_text("not an image")  # skipped with a warning naming it
    m = run_notebook(NOTEBOOKS / "02_zero_shot_transfer.ipynb", tmp_path / "out", profile="quick", device="cpu",
                     parameters={"DATA_DIR": str(root), "FEW_SHOT_KS": [1, 2, 4, 8]}, log_output=False)
    assert (m["n_classes"], m["n_images"], m["n_test"], m["n_probe_images"]) == (6, 48, 24, 24)
    assert m["chance_acc"] == pytest.approx(1 / 6) and set(m["per_class_acc"]) == set(FOLDER_CLASSES)
    # measured (seed 0, issue 12's workbook model): zero-shot 0.917, linear probe 0.958. One attribute alone gets
    # 1/2 here at best, chance is 1/6.
    assert m["zero_shot_acc"] >= 0.75 and m["linear_probe_acc"] >= 0.75
    # 24 test images: the notebook says how little that pins the accuracy down (Wilson's 95% interval, about 0.3 wide)
    expected = intervals.accuracy_interval(m["zero_shot_acc"], 24)
    assert (m["zero_shot_acc_low"], m["zero_shot_acc_high"]) == pytest.approx(expected)
    assert m["zero_shot_acc_high"] - m["zero_shot_acc_low"] > 0.15
    assert set(m["few_shot_acc"]) == {"1", "2", "4"}  # 4 labelled images per class: k=8 is left out, with a note
    out = tmp_path / "out" / "02_zero_shot_transfer"
    for figure in ("top5_examples", "accuracy_per_class", "confusion_matrix", "few_shot_vs_zero_shot"):
        assert (out / f"{figure}.png").is_file(), figure
    text = (out / "02_zero_shot_transfer.ipynb").read_text()
    assert "skipped" in text and "notes.txt" in text and "left out" in text and "95% interval" in text


@pytest.fixture(scope="session")
def nb03(nb01, outputs):
    return run_notebook(NOTEBOOKS / "03_prompt_sensitivity.ipynb", outputs, profile="quick", device="cpu",
                        log_output=False)


def test_03_measures_templates_ensembles_and_greedy_selection(nb03, outputs):
    acc = nb03["template_acc"]
    assert len(acc) >= 80 and "a bad photo of a {}." in acc  # the CLIP paper's templates, as open_clip ships them
    # greedy_acc_heldout is greedy selection scored on the evaluation split (the key's name is kept for scripts)
    for name, bar in BARS_03.items():
        assert nb03[name] >= bar, f"{name}={nb03[name]:.3f} is below its bar {bar}"
    assert 1 <= len(nb03["greedy_templates"]) <= 10 and set(nb03["greedy_templates"]) <= set(acc)
    # the verdicts read paired intervals of accuracy differences on the evaluation images; the recorded differences
    # are the recorded accuracies' (seed 0: the ensemble -0.012 against the selected single template, -0.024 to -0.003)
    for name, a, b in (("ensemble_minus_best_single_acc", "ensemble_acc", "best_selected_template_acc"),
                       ("greedy_minus_ensemble_acc", "greedy_acc_heldout", "ensemble_acc")):
        assert nb03[name] == pytest.approx(nb03[a] - nb03[b], abs=1e-6), name  # the accuracies are float32
        assert nb03[f"{name}_low"] <= nb03[name] <= nb03[f"{name}_high"], name
    # the paper's own comparison: its 80 ImageNet templates against its default prompt, "A photo of a {label}."
    assert nb03["paper_default_template"] == "a photo of a {}."
    assert nb03["paper_default_acc"] == pytest.approx(acc["a photo of a {}."], abs=1e-6)
    assert nb03["imagenet80_minus_paper_default_acc_low"] <= nb03["imagenet80_minus_paper_default_acc"] \
        <= nb03["imagenet80_minus_paper_default_acc_high"]
    # ... and each family's ensemble against its own template chosen on the selection split
    gains = {r["family"]: r for r in nb03["ensemble_gain_per_family"]}
    assert list(gains) == ["clipbook", "seed article", "CLIP simple", "CLIP 80 ImageNet"]
    assert gains["CLIP 80 ImageNet"]["n_templates"] == 80 and gains["clipbook"]["best_single"] in acc
    for r in gains.values():
        assert r["value"] == pytest.approx(r["ensemble_acc"] - r["best_single_acc"])
        assert r["low"] <= r["value"] <= r["high"]
        assert r["best_single_acc"] == pytest.approx(acc[r["best_single"]], abs=1e-6)
    assert nb03["imagenet80_minus_paper_default_acc"] == pytest.approx(
        gains["CLIP 80 ImageNet"]["ensemble_acc"] - nb03["paper_default_acc"], abs=1e-6)
    assert (outputs / "03_prompt_sensitivity" / "ensemble_gain_per_family.png").is_file()
    # What these showed at seeds 0 / 1 / 2 (two threads): against the paper's default prompt the 80 templates are on
    # a par, +0.001 / +0.006 / +0.004, every interval holding 0 (the ensemble of all 87 loses 0.012 / 0.024 / 0.018
    # to the single template selected among them). The ensemble of the model's own four caption phrasings is within
    # 0.005 of its selected single template (+0.001 / -0.001 / +0.004); the 80's loses 0.012 / 0.026 / 0.022 to its
    # own, as if ensembling cost where the templates are wordings the model never read (the families differ in size
    # too, so this is not proof). Bars between those measurements and no difference at all:
    assert nb03["imagenet80_minus_paper_default_acc_high"] > 0  # not shown worse than the paper's default prompt
    assert gains["clipbook"]["value"] - gains["CLIP 80 ImageNet"]["value"] >= 0.005  # measured 0.014-0.026
    # the plain class names in "a photo of a {}" clear the same bar as the templates
    assert nb03["wording_acc"]["class name"] >= BARS_03["mean_template_acc"]
    assert len(nb03["wording_probabilities"]) == 4
    assert (outputs / "03_prompt_sensitivity" / "playground_static.png").is_file()


def test_03_on_your_own_class_folders(nb01, tmp_path):
    """DATA_DIR: templates, ensembling and greedy selection over the folder's classes; the playground scores the
    folder's images (at their own size, through open_clip's preprocessing)."""
    root = shapes_photo_folder(tmp_path / "my photos", n_per_class=6)
    m = run_notebook(NOTEBOOKS / "03_prompt_sensitivity.ipynb", tmp_path / "out", profile="quick", device="cpu",
                     parameters={"DATA_DIR": str(root), "PLAYGROUND_TEMPLATE": "a photo of a {}"}, log_output=False)
    assert (m["n_classes"], m["n_images"], m["n_eval"]) == (6, 36, 18) and m["wording_acc"] == {}
    # measured (seed 0, 8 images per class): mean template 0.933, ensemble 0.917; one attribute alone: 1/2
    for name in ("mean_template_acc", "ensemble_acc", "greedy_acc_heldout"):
        assert m[name] >= 0.7, f"{name}={m[name]:.3f}"
    assert (tmp_path / "out" / "03_prompt_sensitivity" / "playground_static.png").is_file()


BAD_02_03 = [
    ("02_zero_shot_transfer", {"TEMPLATE": "a photo of a"}, r"TEMPLATE contains 'a photo of a'"),
    ("02_zero_shot_transfer", {"FEW_SHOT_KS": [1, 64]}, r"FEW_SHOT_KS=\[1, 64\] is not allowed"),
    ("02_zero_shot_transfer", {"PRETRAINED": "some.safetensors"},
     r"PRETRAINED='some.safetensors' is not allowed without MODEL"),
    ("02_zero_shot_transfer", {"DATA_DIR": "/no/such/folder"}, r"DATA_DIR='/no/such/folder' does not exist"),
    ("02_zero_shot_transfer", {"TEST_SHARE": 1.5}, r"TEST_SHARE=1.5 is not allowed"),
    ("03_prompt_sensitivity", {"WORDINGS": ["a {} and a {}"]}, r"WORDINGS contains 'a \{\} and a \{\}'"),
    ("03_prompt_sensitivity", {"N_PER_CLASS": -1}, r"N_PER_CLASS=-1 is not allowed"),
    ("03_prompt_sensitivity", {"DATA_DIR": "/no/such/folder"}, r"DATA_DIR='/no/such/folder' does not exist"),
]


@pytest.mark.parametrize("notebook, parameters, message", BAD_02_03)
def test_02_03_bad_parameters_fail_with_a_clear_message(notebook, parameters, message, tmp_path):
    error = first_error(NOTEBOOKS / f"{notebook}.ipynb", {"OUTPUT_DIR": str(tmp_path), "PROFILE": "quick", **parameters})
    assert re.search(message, str(error)), error


@pytest.mark.parametrize("notebook", ["02_zero_shot_transfer", "03_prompt_sensitivity"])
def test_02_03_a_bad_parameter_fails_the_papermill_run(notebook, tmp_path):
    _, parameters, message = next(case for case in BAD_02_03 if case[0] == notebook)
    error = papermill_error(NOTEBOOKS / f"{notebook}.ipynb", {"PROFILE": "quick", **parameters}, tmp_path)
    assert re.search(message, str(error)), error
