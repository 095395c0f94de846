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


def test_run_gpu_records_a_failed_measurement_and_retries_inductor_failures():
    """A measurement that raises becomes a record with its error (the set goes on); a compiled one that fails
    inside Inductor is retried once with the coalescing analysis off, and the record says so."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_gpu
    import torch._inductor.config as inductor_config

    class FakeInductorError(RuntimeError):
        pass
    FakeInductorError.__module__ = "torch._inductor.exc"

    def broken():
        raise ValueError("bad batch")
    eager = run_gpu.attempt(broken, {"model": "m", "compile": False})
    assert eager == {"model": "m", "compile": False, "error": "ValueError: bad batch"}

    calls = []

    def flaky():
        calls.append(inductor_config.triton.coalesce_tiling_analysis)
        if len(calls) == 1:
            raise FakeInductorError("get_pw_red_splits")
        return {"samples_per_second": 5.0}
    compiled = run_gpu.attempt(flaky, {"model": "m", "compile": True})
    assert calls == [True, False] and inductor_config.triton.coalesce_tiling_analysis is True
    assert compiled == {"samples_per_second": 5.0, "inductor_config": run_gpu.INDUCTOR_RETRY,
                        "first_error": "FakeInductorError: get_pw_red_splits"}

    # a compiled measurement's other failures are not retried; an Inductor failure is, once
    assert "retry_error" not in run_gpu.attempt(broken, {"compile": True})
    calls.clear()

    def always():
        calls.append(1)
        raise FakeInductorError("again")
    failed = run_gpu.attempt(always, {"compile": True})
    assert len(calls) == 2 and failed["retry_error"] == "FakeInductorError: again" and "error" in failed
