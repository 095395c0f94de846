"""Notebook 05 (where CLIP fails) through papermill, asserting on what it teaches.

Measured on the quick profile with notebook 01's CLIP of 16,384 images x 5 epochs (seeds 0 / 1 / 2): counting
0.989 / 0.983 / 0.994 (chance 1/3), spatial relation 0.239 / 0.278 / 0.247 (chance 1/4), relative distance 0.722 /
0.722 / 0.728 (chance 1/2; 0.59 with the weaker CLIP of before: the better model learns some of "near" and "far"),
digits zero-shot 0.103 / 0.115 / 0.095 against 0.96 for logistic regression on pixels, English class names
0.975 / 0.981 / 0.975 against 0.042 / 0.017 / 0.000 for Spanish ones (chance 1/36; a one-attribute model scores 1/6).
The bars sit between those figures and the other side of each lesson, with margins of several standard errors
(360 images per task on the quick profile: about 0.025), except relative distance: its bar (0.75) sits about one
standard error above this CLIP's score, so a stronger workbook CLIP may cross it, and then the lesson has changed,
not the test. The notebook's verdicts read each accuracy's 95% Wilson interval over its test images (seed 0, two
threads: spatial 0.256, 0.213-0.303, "at chance"; distance 0.717, 0.668-0.761, "above chance but far below the
baseline"; it said "near chance" under a 1.5x-chance threshold before).
"""
import re
from pathlib import Path

import pytest

from clipbook.runner import run_notebook
from nbcells import first_error, papermill_error

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
pytestmark = pytest.mark.notebook


@pytest.fixture(scope="session")
def nb05(nb01, outputs):
    return run_notebook(NOTEBOOKS / "05_limitations.ipynb", outputs, profile="quick", device="cpu", log_output=False)


def test_05_the_tasks_are_solvable(nb05):
    # a failure means something only if the task can be done: the pixel rules are near perfect
    for task in ("counting", "spatial", "distance"):
        assert nb05[f"{task}_baseline"] >= 0.95, task
    assert nb05["digits_logreg_acc"] >= 0.9  # the paper's MNIST remark: raw pixels of real digits suffice


def test_05_counting_is_learned_because_captions_carry_counts(nb05):
    # the choices share colour and shape, so a model that reads only those scores chance (1/3)
    assert nb05["counting_acc"] >= 0.6, nb05["counting_acc"]


def test_05_spatial_relations_stay_near_chance_and_distance_far_below_its_baseline(nb05):
    # the captions name relations and distances, yet the model does not learn them: near chance from both sides
    assert 0.125 <= nb05["spatial_acc"] <= 0.375, nb05["spatial_acc"]  # chance 1/4, within half of it
    assert nb05["distance_acc"] <= 0.75, nb05["distance_acc"]  # chance 1/2; measured 0.72, above chance by its interval
    assert nb05["distance_acc"] <= nb05["distance_baseline"] - 0.2
    # and far below counting, which the same captions teach
    assert nb05["counting_acc"] - nb05["spatial_acc"] >= 0.3


def test_05_out_of_distribution_digits_and_unseen_words(nb05):
    # real handwritten digits: zero-shot near chance (0.1), far below logistic regression on the raw pixels
    assert nb05["digits_zero_shot_acc"] <= 0.25, nb05["digits_zero_shot_acc"]
    assert nb05["digits_logreg_acc"] - nb05["digits_zero_shot_acc"] >= 0.5
    # the model knows its own words (a one-attribute model would score 1/6) and not the Spanish ones (chance 1/36)
    assert nb05["english_words_acc"] >= 0.35, nb05["english_words_acc"]
    assert nb05["unseen_words_acc"] <= 0.1, nb05["unseen_words_acc"]


def test_05_each_accuracy_has_its_interval_over_the_test_images(nb05):
    """Wilson's 95% interval (scipy's binomtest) around each zero-shot accuracy, which the verdicts read."""
    for metric in ("counting_acc", "spatial_acc", "distance_acc", "finegrained_acc", "digits_zero_shot_acc",
                   "unseen_words_acc"):
        low, value, high = nb05[f"{metric}_low"], nb05[metric], nb05[f"{metric}_high"]
        assert 0 <= low <= value <= high <= 1, metric
        # 360 images (quick profile) or more: no interval is wider than 0.15 (a broken count of n would be)
        assert high - low < 0.15, (metric, low, high)
    # counting is learned beyond what the draw of test images explains: the interval clears chance (1/3) by far
    assert nb05["counting_acc_low"] > 0.6


BAD_05 = [
    ({"N_PER_TASK": 0}, r"N_PER_TASK=0 is not allowed"),
    ({"PRETRAINED": "some.safetensors"}, r"PRETRAINED='some.safetensors' is not allowed without MODEL"),
    ({"MODEL": "negclip", "PRETRAINED": "w.pt"}, r"PRETRAINED='w\.pt' is not allowed with MODEL='negclip'"),
]
NOTEBOOK = NOTEBOOKS / "05_limitations.ipynb"


@pytest.mark.parametrize("parameters, message", BAD_05)
def test_05_bad_parameters_fail_with_a_clear_message(parameters, message, tmp_path):
    error = first_error(NOTEBOOK, {"OUTPUT_DIR": str(tmp_path), "PROFILE": "quick", **parameters})
    assert re.search(message, str(error)), error


def test_05_a_bad_parameter_fails_the_papermill_run(tmp_path):
    parameters, message = BAD_05[0]
    error = papermill_error(NOTEBOOK, {"PROFILE": "quick", **parameters}, tmp_path)
    assert re.search(message, str(error)), error


def test_05_with_notebook_01s_negclip(nb01, nb05, tmp_path):
    """MODEL="negclip": notebook 01's NegCLIP (its section 8), loaded from notebook 01's checkpoint, not trained
    again. Its hard negatives include every pair's inverted relation, yet at the quick budget the relation stays at
    chance: 0.272 at seed 0 (the CLIP 0.281), as notebook 01's own zero-shot relation of 4 (0.291 / 0.286 / 0.240 at
    seeds 0-2). On the full profile the same notebook reads 1.000 / 0.999 / 0.9995 with NegCLIP against 0.755 /
    0.881 / 0.572 with the CLIP (seeds 0 / 1 / 2, benchmarks/RESULTS.md): a stronger quick NegCLIP may cross the
    upper bar, and then the lesson has changed, not the test."""
    negclip = run_notebook(NOTEBOOKS / "05_limitations.ipynb", tmp_path, profile="quick", device="cpu",
                           parameters={"MODEL": "negclip"}, log_output=False)
    assert negclip["weights"] == nb01["negclip_checkpoint"] != nb05["weights"]
    assert 0.125 <= negclip["spatial_acc"] <= 0.375, negclip["spatial_acc"]
    assert negclip["counting_acc"] >= 0.6, negclip["counting_acc"]  # what the captions teach, it still learned
