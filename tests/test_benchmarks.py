"""The GPU benchmark script, run end to end on the CPU with tiny sizes (`--smoke`): CI has no GPU, and a
script first run on a lent GPU would spend that GPU's time on its own bugs."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_run_gpu_smoke(tmp_path):
    out = tmp_path / "gpu.json"
    env = {**os.environ, "CLIPBOOK_DATA": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_gpu.py"), "--smoke", "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["versions"]["open_clip"] and results["command"].endswith("--smoke --out " + str(out))
    (clip,), (simclr,) = results["clip"], results["simclr"]
    # both sides measured: clipbook from its per-step clock, open_clip_train from the rates it logged
    for key in ("clipbook_samples_per_second", "open_clip_train_samples_per_second", "ratio"):
        assert math.isfinite(clip[key]) and clip[key] > 0, (key, clip)
    assert clip["ratio"] == clip["clipbook_samples_per_second"] / clip["open_clip_train_samples_per_second"]
    assert clip["flops_per_step"] > 1e9 and 0 < clip["clipbook_mfu"] < 1
    for key in ("clipbook_samples_per_second", "lightly_loop_samples_per_second", "ratio"):
        assert math.isfinite(simclr[key]) and simclr[key] > 0, (key, simclr)
    assert results["shapes_images_per_second"]["32px"] > 100 and results["data_over_training_ratio"] > 0
