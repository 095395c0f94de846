"""The CPU benchmark set (`make bench`): writes benchmarks/latest.json.

- shapes corpus generation (images/s) against what training consumes (samples/s);
- CLIP training throughput, clipbook's train_clip beside open_clip_train.main (same model, batch, device);
- SimCLR ResNet-18 throughput, clipbook's train_simclr beside a loop written like lightly's example.

Figures worth keeping go to benchmarks/RESULTS.md with device, versions and this command. The GPU set
is benchmarks/run_gpu.py.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import open_clip
import torch

sys.path.insert(0, str(Path(__file__).parent))
import bench_clip  # noqa: E402
import bench_simclr  # noqa: E402

import clipbook  # noqa: E402


def data_throughput(image_size: int, n: int, repeats: int = 3) -> float:
    """Images/s of ShapesWorld.dataset (scenes, rendering, captions; no cache), best of `repeats`."""
    world = clipbook.ShapesWorld(image_size=image_size)
    best = float("inf")
    for r in range(repeats):
        start = time.perf_counter()
        world.dataset(n, "train", seed=r, cache=False).all_captions()
        best = min(best, time.perf_counter() - start)
    return n / best


def environment(device: torch.device) -> dict:
    import lightly

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu ({torch.get_num_threads()} threads, {platform.machine()})"
    return {"device": name, "versions": {"torch": torch.__version__, "open_clip": open_clip.__version__,
                                         "lightly": lightly.__version__, "numpy": np.__version__,
                                         "python": platform.python_version()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).with_name("latest.json")))
    parser.add_argument("--steps", type=int, default=20, help="timed steps per throughput run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side, alternating; medians count")
    args = parser.parse_args(argv)
    device = torch.device("cpu")
    start = time.perf_counter()
    results = {**environment(device), "command": "make bench  (python benchmarks/run_cpu.py)"}
    results["shapes_images_per_second"] = {f"{s}px": data_throughput(s, 5000) for s in (32, 64)}
    r = args.repeats
    results["clip"] = [bench_clip.measure("clipbook-tiny", 64, args.steps, "cpu", None, repeats=r),
                       bench_clip.measure("clipbook-small", 32, max(10, args.steps // 2), "cpu", None, repeats=r),
                       bench_clip.measure("ViT-B-32", 8, 3, "cpu", None, repeats=r)]
    results["simclr"] = [bench_simclr.measure(64, 64, args.steps, "cpu", repeats=r)]
    tiny = results["clip"][0]
    results["data_over_training_ratio"] = results["shapes_images_per_second"]["32px"] / tiny[
        "clipbook_samples_per_second"]
    results["clip_vs_open_clip_train_ratio"] = tiny["ratio"]
    results["simclr_vs_lightly_loop_ratio"] = results["simclr"][0]["ratio"]
    results["wall_seconds"] = time.perf_counter() - start
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
