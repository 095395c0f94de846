"""Every notebook through papermill on the quick profile, asserting on the metrics it recorded.

These run the real notebooks end to end (minutes on a CPU); `pytest -m "not notebook"` skips them.
"""
import math
from pathlib import Path

import open_clip
import papermill as pm
import pytest

from clipbook.runner import run_notebook

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
pytestmark = pytest.mark.notebook


@pytest.fixture(scope="session")
def outputs(tmp_path_factory):
    return tmp_path_factory.mktemp("outputs")


@pytest.fixture(scope="session")
def nb01(outputs):
    """Notebook 01 on the quick profile (its checkpoint is cached under data/ for the next notebooks)."""
    return run_notebook(NOTEBOOKS / "01_contrastive_pretraining.ipynb", outputs, profile="quick", device="cpu",
                        log_output=False)


def test_01_records_its_metrics(nb01, outputs):
    required = {"initial_loss", "final_loss", "val_i2t_recall@1", "val_t2i_recall@1", "chance_recall@1",
                "train_seconds", "train_samples_per_second", "model", "checkpoint"}
    assert required <= set(nb01)
    assert nb01["profile"] == "quick" and nb01["model"] == "clipbook-tiny"
    folder = outputs / "01_contrastive_pretraining"
    assert (folder / "01_contrastive_pretraining.ipynb").is_file()
    for figure in ("similarity_before_after", "training_curves", "recall", "temperature"):
        assert (folder / f"{figure}.png").stat().st_size > 10_000, figure


def test_01_learns_far_above_chance(nb01):
    chance = nb01["chance_recall@1"]
    assert 0 < chance < 0.01
    # the bar: held-out recall@1 at least 10x chance in both directions
    assert nb01["val_i2t_recall@1"] >= 10 * chance
    assert nb01["val_t2i_recall@1"] >= 10 * chance
    assert nb01["val_i2t_recall@5"] > nb01["val_i2t_recall@1"]
    # a random model sits at ln(batch); training must have cut the loss by far more than noise
    assert nb01["initial_loss"] == pytest.approx(math.log(nb01["batch_size"]), rel=0.15)
    assert nb01["final_loss"] < 0.5 * nb01["initial_loss"]
    assert nb01["loss_matches_open_clip"] is True
    assert 1.0 <= nb01["final_logit_scale"] <= 100.0
    assert nb01["train_seconds"] > 0 and nb01["train_samples_per_second"] > 0


def test_01_checkpoint_opens_in_plain_open_clip(nb01):
    path = Path(nb01["checkpoint"])
    assert path.suffix == ".safetensors" and path.is_file()
    model = open_clip.create_model(nb01["model"], pretrained=str(path))
    assert model.logit_scale.exp().item() == pytest.approx(nb01["final_logit_scale"], rel=1e-4)


def test_01_rerun_reuses_the_checkpoint(nb01, tmp_path):
    again = run_notebook(NOTEBOOKS / "01_contrastive_pretraining.ipynb", tmp_path, profile="quick", device="cpu",
                         parameters={"N_VAL": 200, "SWEEP_BATCH_SIZES": [16, 32], "N_TRAIN": 256, "EPOCHS": 1,
                                     "BATCH_SIZE": 32},
                         log_output=False)
    assert again["n_train"] == 256 and again["n_val"] == 200
    assert [row["batch_size"] for row in again["batch_sweep"]] == [16, 32]
    # the sweep's 32 run has the same parameters as the main run: it must have been loaded, not retrained
    rerun = run_notebook(NOTEBOOKS / "01_contrastive_pretraining.ipynb", tmp_path / "again", profile="quick",
                         device="cpu", parameters={"N_VAL": 200, "N_TRAIN": 256, "EPOCHS": 1, "BATCH_SIZE": 32},
                         log_output=False)
    assert rerun["loaded_from_cache"] is True and rerun["checkpoint"] == again["checkpoint"]
    assert rerun["train_seconds"] == again["train_seconds"]


@pytest.mark.parametrize("parameters, message", [
    ({"PROFILE": "medium"}, "PROFILE='medium' is not allowed"),
    ({"MODEL": "ViT-Nope"}, "MODEL='ViT-Nope' is not an open_clip model config"),
    ({"N_TRAIN": 0}, "N_TRAIN=0 is not allowed"),
    ({"DEVICE": "cuda:3"}, "DEVICE='cuda:3'"),
])
def test_01_bad_parameters_fail_with_a_clear_message(parameters, message, tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match=message.replace("(", r"\(")):
        pm.execute_notebook(str(NOTEBOOKS / "01_contrastive_pretraining.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters={"OUTPUT_DIR": str(tmp_path), **parameters}, cwd=str(NOTEBOOKS),
                            kernel_name="python3", progress_bar=False)


@pytest.fixture(scope="session")
def nb02(nb01, outputs):
    return run_notebook(NOTEBOOKS / "02_zero_shot_transfer.ipynb", outputs, profile="quick", device="cpu",
                        log_output=False)


def test_02_zero_shot_transfers_to_heldout_compositions(nb02):
    chance = nb02["chance_acc"]
    assert chance == pytest.approx(1 / 36)
    # the bar: held-out zero-shot accuracy at least 5x chance on the quick profile
    assert nb02["zero_shot_acc_heldout"] >= 5 * chance
    assert nb02["zero_shot_acc_seen"] >= 5 * chance
    assert nb02["linear_probe_acc"] >= 10 * chance
    few = nb02["few_shot_acc"]
    assert set(few) == {"1", "2", "4", "8", "16"}
    assert few["16"] > few["1"] > 2 * chance  # more labels help, and even one per class is informative


def test_02_runs_on_a_local_checkpoint_file(nb01, nb02, tmp_path):
    """MODEL + PRETRAINED=<file>: the same weights through open_clip's loading path give the same answer."""
    same = run_notebook(NOTEBOOKS / "02_zero_shot_transfer.ipynb", tmp_path, profile="quick", device="cpu",
                        parameters={"MODEL": nb01["model"], "PRETRAINED": nb01["checkpoint"]}, log_output=False)
    assert same["weights"] == nb01["checkpoint"]
    assert same["zero_shot_acc_heldout"] == pytest.approx(nb02["zero_shot_acc_heldout"], abs=1e-6)
    assert same["zero_shot_acc_seen"] == pytest.approx(nb02["zero_shot_acc_seen"], abs=1e-6)


@pytest.fixture(scope="session")
def nb03(nb01, outputs):
    return run_notebook(NOTEBOOKS / "03_prompt_sensitivity.ipynb", outputs, profile="quick", device="cpu",
                        log_output=False)


def test_03_measures_templates_ensembles_and_greedy_selection(nb03, outputs):
    chance = nb03["chance_acc"]
    acc = nb03["template_acc"]
    assert len(acc) >= 80 and all(0 <= v <= 1 for v in acc.values())
    assert "a bad photo of a {}." in acc  # the CLIP paper's templates, as open_clip ships them
    assert nb03["mean_template_acc"] >= 5 * chance
    assert nb03["best_template_acc"] >= nb03["mean_template_acc"]
    assert nb03["best_template_acc"] == pytest.approx(max(acc.values()))
    assert nb03["ensemble_acc"] >= 5 * chance
    assert 1 <= len(nb03["greedy_templates"]) <= 10 and set(nb03["greedy_templates"]) <= set(acc)
    assert 5 * chance <= nb03["greedy_acc_heldout"] <= 1
    assert set(nb03["wording_acc"]) >= {"class name", "colour synonym", "misspelt shape", "extra context"}
    probs = nb03["wording_probabilities"]
    assert len(probs) == 4 and all(sum(p.values()) == pytest.approx(1, abs=1e-4) for p in probs.values())
    assert (outputs / "03_prompt_sensitivity" / "playground_static.png").is_file()


@pytest.mark.parametrize("notebook, parameters, message", [
    ("02_zero_shot_transfer", {"TEMPLATE": "a photo of a"}, r"TEMPLATE contains 'a photo of a'"),
    ("02_zero_shot_transfer", {"FEW_SHOT_KS": [1, 64]}, r"FEW_SHOT_KS=\[1, 64\] is not allowed"),
    ("03_prompt_sensitivity", {"WORDINGS": ["a {} and a {}"]}, r"WORDINGS contains 'a \{\} and a \{\}'"),
    ("03_prompt_sensitivity", {"N_PER_CLASS": -1}, r"N_PER_CLASS=-1 is not allowed"),
])
def test_02_03_bad_parameters_fail_with_a_clear_message(notebook, parameters, message, tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match=message):
        pm.execute_notebook(str(NOTEBOOKS / f"{notebook}.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters={"OUTPUT_DIR": str(tmp_path), "PROFILE": "quick", **parameters},
                            cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False)


@pytest.fixture(scope="session")
def nb05(nb01, outputs):
    return run_notebook(NOTEBOOKS / "05_limitations.ipynb", outputs, profile="quick", device="cpu", log_output=False)


def test_05_measures_every_limitation(nb05):
    for task in ("counting", "spatial", "finegrained", "unseen_words", "distance"):
        acc, chance = nb05[f"{task}_acc"], nb05[f"{task}_chance"]
        assert 0 <= acc <= 1 and 0 < chance < 1, task
    assert nb05["counting_chance"] == pytest.approx(1 / 3) and nb05["spatial_chance"] == pytest.approx(1 / 4)
    # the baselines show each task is solvable: the pixel rules are near perfect on procedural images
    for task in ("counting", "spatial", "distance"):
        assert nb05[f"{task}_baseline"] >= 0.95, task
    # the paper's MNIST remark: logistic regression on raw pixels of real digits is far above chance ...
    assert nb05["digits_logreg_acc"] >= 0.9
    # ... and above zero-shot on a distribution the model never saw
    assert nb05["digits_logreg_acc"] > nb05["digits_zero_shot_acc"]
    # the model does know its own words: English names beat the unseen Spanish ones
    assert nb05["english_words_acc"] >= 5 * nb05["unseen_words_chance"]
    assert nb05["english_words_acc"] > nb05["unseen_words_acc"]


@pytest.fixture(scope="session")
def nb06(outputs):
    return run_notebook(NOTEBOOKS / "06_training_objectives.ipynb", outputs, profile="quick", device="cpu",
                        log_output=False)


def test_06_compares_three_objectives(nb06):
    curves = nb06["curves"]
    assert set(curves) == {"contrastive", "bag_of_words", "captioning"}
    for name, c in curves.items():
        assert len(c["samples"]) == len(c["accuracy"]) >= 5, name
        assert c["samples"] == sorted(c["samples"]) and c["samples"][-1] == nb06["budget_samples"], name
        assert all(0 <= x <= 1 for x in c["accuracy"]), name
    # every objective learns something in the budget: its best point is well above chance
    for name, c in curves.items():
        assert max(c["accuracy"]) >= 3 * nb06["chance_acc"], name
    for key in ("contrastive_samples_to_target", "bow_samples_to_target", "caption_samples_to_target"):
        assert key in nb06 and (nb06[key] is None or 0 < nb06[key] <= nb06["budget_samples"])
    for key, (num, den) in {"ratio_bow_over_contrastive": ("bow", "contrastive"),
                            "ratio_caption_over_bow": ("caption", "bow")}.items():
        a, b = nb06[f"{num}_samples_to_target"], nb06[f"{den}_samples_to_target"]
        assert nb06[key] == (None if a is None or b is None else pytest.approx(a / b))
    assert "samples per objective" in nb06["budget"]


def test_06_several_seeds_draw_a_spread(tmp_path):
    """The full profile's path (several seeds, mean and spread) on a tiny budget."""
    m = run_notebook(NOTEBOOKS / "06_training_objectives.ipynb", tmp_path, profile="quick", device="cpu",
                     parameters={"SEEDS": [0, 1], "SAMPLES": 256, "N_TRAIN": 256, "BATCH_SIZE": 32, "N_EVALS": 3,
                                 "N_TEST_PER_CLASS": 2, "OBJECTIVES": ["bag_of_words", "captioning"]},
                     log_output=False)
    assert m["seeds"] == [0, 1] and set(m["curves"]) == {"bag_of_words", "captioning"}
    per_seed = {(r["objective"], r["seed"]) for r in m["curves_per_seed"]}
    assert per_seed == {(o, s) for o in ("bag_of_words", "captioning") for s in (0, 1)}
    assert (tmp_path / "06_training_objectives" / "learning_curves.png").is_file()
