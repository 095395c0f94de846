"""The learning-efficiency benchmark (`make bench-learning`) end to end at tiny sizes: both trainers run, both
curves are evaluated the same way, and latest.json gets the ratio without losing its other keys."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_learning import seconds_to  # noqa: E402


def test_seconds_to_target_interpolates_and_says_never():
    assert seconds_to([10, 20], [0.2, 0.6], 0.5) == 17.5
    assert seconds_to([10, 20], [0.6, 0.9], 0.3) == 5.0  # from (0 s, 0) to the first evaluation
    assert seconds_to([10, 20], [0.2, 0.4], 0.5) is None


def test_bench_learning_smoke(tmp_path):
    out = tmp_path / "latest.json"
    out.write_text(json.dumps({"clip": "kept"}))
    env = {**os.environ, "CLIPBOOK_DATA": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_learning.py"), "--smoke", "--out",
                           str(out), "--plot", str(tmp_path / "curve.png")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    latest = json.loads(out.read_text())
    assert latest["clip"] == "kept"
    result = latest["learning_efficiency"]
    for side in ("clipbook", "clipbook_csv_captions", "open_clip_train"):
        curve = result[side]
        assert len(curve["seconds"]) == len(curve["heldout_acc"]) == 2, (side, curve)
        assert all(s > 0 for s in curve["seconds"]) and curve["seconds"][0] < curve["seconds"][1]
        assert all(0 <= a <= 1 for a in curve["heldout_acc"] + curve["seen_acc"])
    assert result["open_clip_train"]["csv_rows"] == 256  # one row per image
    assert result["open_clip_train"]["warmup_steps"] == result["clipbook"]["warmup_steps"]
    ratio = latest["learning_efficiency_vs_open_clip_train"]
    assert ratio is None or (math.isfinite(ratio) and ratio > 0)
    assert (tmp_path / "curve.png").stat().st_size > 10_000
