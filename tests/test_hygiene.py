"""Notebooks are committed clean: a parameters cell first, no outputs, no execution counts, a kernelspec."""
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
REQUIRED_PARAMETERS = ("PROFILE", "DEVICE", "SEED", "OUTPUT_DIR")


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS][:1] == ["01_contrastive_pretraining.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean_and_parameterised(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0].get("metadata", {}).get("tags", []), "first code cell must be tagged 'parameters'"
    source = "".join(code[0]["source"])
    for name in REQUIRED_PARAMETERS:
        assert f"{name} = " in source, f"parameters cell lacks {name}"
    for cell in code:
        assert not cell.get("outputs"), "outputs are committed"
        assert cell.get("execution_count") is None, "execution counts are committed"
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"
    assert nb["cells"][0]["cell_type"] == "markdown" and "".join(nb["cells"][0]["source"]).startswith("# ")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_cell_without_clipbook_or_a_checkout_says_how_to_install(path, tmp_path):
    """The install cell, where clipbook is not importable (python -S: no site-packages) and no checkout lies above
    the working folder, stops with one message saying how to install clipbook — no URL that does not exist."""
    import subprocess
    import sys

    nb = json.loads(path.read_text())
    cell = next("".join(c["source"]) for c in nb["cells"]
                if c["cell_type"] == "code" and "find_spec(\"clipbook\")" in "".join(c["source"]))
    done = subprocess.run([sys.executable, "-S", "-c", cell], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "ModuleNotFoundError: clipbook is not installed" in done.stderr
    assert "pip install -e" in done.stderr and "http" not in cell


def test_the_runner_passes_parameters_read_as_yaml(monkeypatch, tmp_path):
    """`python -m clipbook.runner -p NAME VALUE` hands every chosen notebook the parameter, the value read as YAML
    (as papermill's -y, with None and numbers as its -p reads them); a name that is not an upper-case parameter is
    refused, naming it."""
    from clipbook import runner
    calls = []
    monkeypatch.setattr(runner, "run_notebook", lambda path, out, profile, device, parameters: calls.append(
        (path.stem[:2], profile, parameters)) or {})
    assert runner.main(["--profile", "quick", "--device", "cpu", "--only", "01", "05", "-p", "SWEEP_BATCH_SIZES",
                        "[16, 64]", "-p", "HARD_NEGATIVES", "false", "-p", "LR", "1e-3", "-p", "OUTPUT_DIR", "x"]) == 0
    expected = {"SWEEP_BATCH_SIZES": [16, 64], "HARD_NEGATIVES": False, "LR": 1e-3, "OUTPUT_DIR": "x"}
    assert calls == [("01", "quick", expected), ("05", "quick", expected)]
    calls.clear()  # papermill's None, and a date that stays text (papermill's loader)
    assert runner.main(["--profile", "quick", "--only", "01", "-p", "PRETRAINED", "None",
                        "-p", "TAG", "2026-11-28"]) == 0
    assert calls == [("01", "quick", {"PRETRAINED": None, "TAG": "2026-11-28"})]
    with pytest.raises(SystemExit, match="'seed' is not allowed as a parameter name"):
        runner.main(["--profile", "quick", "--only", "01", "-p", "seed", "3"])
