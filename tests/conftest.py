"""Shared fixtures: unit tests write generated data and checkpoints to a temporary folder."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("LIGHTLY_DID_VERSION_CHECK", "True")
# Every papermill run gets a deadline per cell (clipbook.runner.cell_timeout): a lost reply then costs at most this
# long, not the whole CI run. The slowest quick-profile cell, notebook 04's SimCLR on one thread of the AVX2 EPYC,
# took 555 s.
os.environ.setdefault("CLIPBOOK_CELL_TIMEOUT", "1200")

# `make test` runs two pytest-xdist workers. Each worker, and each notebook kernel it starts, gets its share of
# the cores as torch threads: two workers with all the cores each would oversubscribe them (OpenMP threads
# spinning against each other). Set before torch is imported; kernels inherit the environment.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _workers)))
    # and as processes rendering pages (clipbook.data.drawings.render_workers), for the same reason
    os.environ.setdefault("CLIPBOOK_RENDER_WORKERS", os.environ["OMP_NUM_THREADS"])

# Which tests must share a worker, by test file (and, for notebook 04, test name): a notebook's tests share its
# run (a session or module fixture), and notebooks 02, 03 and 05 start from notebook 01's run. Notebook 04's
# bad-parameter and own-archive runs need no quick-profile run, so another worker may take them. Every other
# test goes wherever a worker is free. (pytest-xdist's own `xdist_group` mark cannot do this under pytest 9.2:
# it renames items through `item._nodeid`, which pytest 9 no longer reads.)
TEST_GROUPS = {"test_notebooks_01.py": "workbook_clip", "test_notebooks_02_03.py": "workbook_clip",
               "test_notebooks_05.py": "workbook_clip", "test_notebooks_04.py": "notebook_04",
               "test_notebooks_06.py": "notebook_06", "test_notebooks_07.py": "notebook_07",
               "test_page_clips.py": "page_clips"}
OTHER_RUNS_04 = ("test_04_bad_parameters", "test_04_a_bad_parameter", "test_04_searches_your_own_archive",
                 "test_04_with_your_clip")
# The groups, in the order free workers take them (a fresh clone on a 2-core Xeon, one torch thread each: notebooks
# 01-05 about 500 s, notebook 01's CLIP about 250 of them; the page CLIPs about 170 (410 before their 16-px
# patches); notebook 04 about 415 with every CLIP loaded, its SimCLR 215-240 of them; 06 about 250, 07 about 180,
# 04's other runs about 160). The first two groups train the CLIPs notebook 04 loads, one on each worker, so
# notebook 04 comes third and waits on nothing.
# With notebook 04 first, it reached notebook 01's CLIP before anyone had trained it, trained it itself, and the
# other worker's notebook 01 waited about 130 s on the checkpoint lock.
LONGEST_FIRST = ("workbook_clip", "page_clips", "notebook_04", "notebook_06", "notebook_07", "notebook_04_other_runs")


def scheduling_group(nodeid: str) -> str:
    """The scheduling unit of a test: its group, or the test itself."""
    path, _, name = nodeid.partition("::")
    group = TEST_GROUPS.get(Path(path).name)
    if group == "notebook_04" and name.startswith(OTHER_RUNS_04):
        return "notebook_04_other_runs"
    return group or nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup` (make test) schedules by `scheduling_group`, longest group first."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByTestGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scheduling_group(nodeid)

        def _assign_work_unit(self, node) -> None:
            for group in LONGEST_FIRST:
                if group in self.workqueue:
                    self.workqueue.move_to_end(group, last=False)
                    break
            super()._assign_work_unit(node)

    return ByTestGroup(config, log)


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
