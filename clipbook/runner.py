"""Run the workbook's notebooks with papermill: ``python -m clipbook.runner`` (what ``make run`` calls).

Each notebook ``notebooks/NN_topic.ipynb`` is executed into ``outputs/NN_topic/NN_topic.ipynb`` with
``OUTPUT_DIR`` pointing there, so its figures and ``metrics.json`` land beside it.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from .utils import PROFILES, check_choice, project_root, resolve_profile


def notebooks(folder: str | Path | None = None) -> list[Path]:
    """The numbered notebooks, in order."""
    folder = Path(folder) if folder else project_root() / "notebooks"
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def cell_timeout(timeout: float | None = None) -> int | None:
    """Whole seconds one cell may run (nbclient takes an integer): `timeout`, else the environment's
    ``CLIPBOOK_CELL_TIMEOUT``, else None (no limit).

    Beside bounding a cell, a limit guards against a lost wake-up: nbclient waits for a cell's reply without a
    deadline when it has no limit, and a reply that arrives unnoticed (jupyter/nbclient#312, seen here once in
    notebook 03's playground cell: the kernel idle, the client waiting) hangs the run for good. With a limit, the
    wait polls the socket again when it expires and reads a reply that arrived; a cell that really runs past
    it fails with nbclient's timeout error. The test suite sets one (tests/conftest.py)."""
    if timeout is None:
        raw = os.environ.get("CLIPBOOK_CELL_TIMEOUT", "").strip()
        if not raw:
            return None
        try:
            timeout = float(raw)
        except ValueError:
            raise ValueError(f"CLIPBOOK_CELL_TIMEOUT={raw!r} is not allowed: give seconds, a positive number.") from None
        name = "CLIPBOOK_CELL_TIMEOUT"
    else:
        name = "timeout"
    if not 0 < timeout < math.inf:
        raise ValueError(f"{name}={timeout!r} is not allowed: give seconds, a positive number.")
    return math.ceil(timeout)


def run_notebook(path: str | Path, output_root: str | Path | None = None, profile: str = "auto",
                 device: str = "auto", parameters: dict[str, Any] | None = None,
                 log_output: bool = True, timeout: float | None = None) -> dict[str, Any]:
    """Execute one notebook with papermill and return the metrics it recorded. `timeout`: seconds one cell may
    run (``cell_timeout``: by default the environment's ``CLIPBOOK_CELL_TIMEOUT``, else no limit)."""
    import papermill as pm

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"notebook={str(path)!r} does not exist.")
    out_dir = Path(output_root or project_root() / "outputs") / path.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {"PROFILE": resolve_profile(profile, device), "DEVICE": device, "OUTPUT_DIR": str(out_dir.resolve())}
    params.update(parameters or {})
    limit = cell_timeout(timeout)
    (out_dir / "metrics.json").unlink(missing_ok=True)  # a stale file must never pass for this run's
    pm.execute_notebook(str(path), str(out_dir / path.name), parameters=params, cwd=str(path.parent),
                        kernel_name="python3", log_output=log_output, progress_bar=False, execution_timeout=limit)
    metrics_path = out_dir / "metrics.json"
    if not metrics_path.is_file():
        raise RuntimeError(f"{path.name} ran but wrote no {metrics_path}.")
    return json.loads(metrics_path.read_text())


def parse_parameters(pairs: Sequence[Sequence[str]]) -> dict[str, Any]:
    """`-p NAME VALUE` pairs as notebook parameters. A value is read as YAML by papermill's own loader (as its
    -y reads parameters: [16, 64], true, null; a date stays text), and None, True, False and numbers such as
    1e-3 (which YAML 1.1 leaves as text) as papermill's -p reads them.
    NAME must be an upper-case parameter name: the notebooks' parameters are, and a typo should not pass."""
    import yaml
    from papermill.iorw import NoDatesSafeLoader

    parameters = {}
    for name, value in pairs:
        if not name.isidentifier() or name != name.upper():
            raise SystemExit(f"-p {name} {value}: {name!r} is not allowed as a parameter name; the notebooks' "
                             "parameters are upper-case names such as SEED or SWEEP_BATCH_SIZES.")
        parsed = None if value == "None" else yaml.load(value, Loader=NoDatesSafeLoader)
        if isinstance(parsed, str):  # YAML 1.1 reads 1e-3 as a string; papermill's -p reads it as a number
            try:
                parsed = float(parsed) if parsed.strip().lower() not in ("nan", "inf", "-inf", "infinity") else parsed
            except ValueError:
                pass
        parameters[name] = parsed
    return parameters


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="auto", help="quick | full | auto (full with a CUDA GPU)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    parser.add_argument("--output", default=None, help="output root (default: outputs/)")
    parser.add_argument("--only", nargs="*", default=None, help="notebook stems or numbers to run (default: all)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a notebook parameter, as papermill's -p: the value is read as YAML (3, 1e-3, true, "
                             "[16, 64], null, or a string); repeat for several; every chosen notebook gets it")
    args = parser.parse_args(argv)
    parameters = parse_parameters(args.parameter)
    check_choice("PROFILE", args.profile, ("auto",) + PROFILES)
    profile = resolve_profile(args.profile, args.device)
    chosen = notebooks()
    if args.only:
        chosen = [p for p in chosen if p.stem in args.only or p.stem[:2] in args.only]
        if not chosen:
            raise SystemExit(f"--only {args.only} matches no notebook in {[p.stem for p in notebooks()]}")
    print(f"profile={profile} device={args.device}: running {len(chosen)} notebooks")
    for path in chosen:
        start = time.perf_counter()
        metrics = run_notebook(path, args.output, profile, args.device, parameters)
        print(f"{path.stem}: {time.perf_counter() - start:.0f} s, metrics: "
              + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in metrics.items() if not isinstance(v, (dict, list))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
