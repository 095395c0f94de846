"""Shared fixtures: unit tests write generated data and checkpoints to a temporary folder."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("LIGHTLY_DID_VERSION_CHECK", "True")

# `make test` runs two pytest-xdist workers. Each worker, and each notebook kernel it starts, gets its share of
# the cores as torch threads: two workers with all the cores each would oversubscribe them (OpenMP threads
# spinning against each other). Set before torch is imported; kernels inherit the environment.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _workers)))


@pytest.fixture
def tmp_data(tmp_path, monkeypatch):
    """Point clipbook's data/ (cache and checkpoints) at a fresh temporary folder."""
    monkeypatch.setenv("CLIPBOOK_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


@pytest.fixture(scope="session")
def outputs(tmp_path_factory):
    """One output folder for the quick-profile notebook runs of a test session."""
    return tmp_path_factory.mktemp("outputs")


@pytest.fixture(scope="session")
def nb01(outputs):
    """Notebook 01 on the quick profile (its checkpoint is cached under data/ for the next notebooks)."""
    from clipbook.runner import run_notebook

    return run_notebook(NOTEBOOKS / "01_contrastive_pretraining.ipynb", outputs, profile="quick", device="cpu",
                        log_output=False)
