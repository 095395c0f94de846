"""Bad-parameter checks of a notebook without a kernel: its first code cells, run in the test's own process.

A papermill run costs a kernel start and clipbook's imports (~10 s on the project's CPU) before the first
check fails; a notebook's parameter checks sit in its first cells. ``first_error`` runs those cells' own
source, with the parameters injected after the parameters cell exactly where papermill puts them, in the
notebook's folder, and returns the error they raise. Each notebook keeps at least one bad-parameter case run
through papermill, which shows that the same error reaches a user as a failed cell.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def papermill_error(notebook: Path, parameters: dict[str, Any], out: Path) -> Exception:
    """Run `notebook` through papermill with `parameters` (output under `out`, the notebook's folder as working
    directory) and return the `PapermillExecutionError` it fails with, the way a user's rerun would see it."""
    import papermill as pm

    from clipbook.runner import cell_timeout

    notebook = Path(notebook)
    try:
        pm.execute_notebook(str(notebook), str(Path(out) / "out.ipynb"),
                            parameters={"OUTPUT_DIR": str(out), **parameters}, cwd=str(notebook.parent),
                            kernel_name="python3", progress_bar=False, execution_timeout=cell_timeout())
    except pm.PapermillExecutionError as e:
        return e
    raise AssertionError(f"{notebook.name} ran to its end with {parameters}: no cell failed")


def first_error(notebook: Path, parameters: dict[str, Any], within: int = 4) -> Exception:
    """Run the parameters cell, `parameters` (as papermill injects them), then the next code cells, at most
    `within` of them, in a fresh namespace; return the exception one raises. No exception is an error."""
    cells = [c for c in json.loads(Path(notebook).read_text())["cells"] if c["cell_type"] == "code"]
    first = next(i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    injected = "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    sources = ["".join(cells[first]["source"]), injected] + ["".join(c["source"]) for c in cells[first + 1:first + 1 + within]]
    namespace: dict[str, Any] = {"__name__": "__main__"}
    here = os.getcwd()
    os.chdir(Path(notebook).parent)
    try:
        for k, source in enumerate(sources):
            try:
                exec(compile(source, f"{Path(notebook).name} cell {k}", "exec"), namespace)
            except Exception as e:  # noqa: BLE001 - the error is what the caller checks
                return e
    finally:
        os.chdir(here)
    raise AssertionError(f"{Path(notebook).name} ran its first {within} code cells after the parameters with "
                         f"{parameters} and raised nothing")


def run_cells(notebook: Path, ids: list[str], namespace: dict[str, Any]) -> dict[str, Any]:
    """Run the code cells `ids` of `notebook`, in that order, in `namespace` (the names the cells read, as the
    cells before them would have left them), and return it: a branch a quick-profile run never takes, tried on
    the state that takes it."""
    cells = {c.get("id"): c for c in json.loads(Path(notebook).read_text())["cells"] if c["cell_type"] == "code"}
    missing = [i for i in ids if i not in cells]
    if missing:
        raise KeyError(f"{Path(notebook).name} has no code cell with id {missing}")
    for i in ids:
        exec(compile("".join(cells[i]["source"]), f"{Path(notebook).name} cell {i}", "exec"), namespace)
    return namespace
