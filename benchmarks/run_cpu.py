"""CPU benchmarks (`make bench`): shapes-corpus generation and CLIP training throughput.

Writes benchmarks/latest.json; figures worth keeping go to benchmarks/RESULTS.md with device,
versions and this command. Run on a GPU machine with `--device cuda` for the GPU figures.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import open_clip
import torch

import clipbook


def data_throughput(image_size: int, n: int, repeats: int = 3) -> float:
    """Images/s of ShapesWorld.dataset (scenes, rendering, captions; no cache), best of `repeats`."""
    world = clipbook.ShapesWorld(image_size=image_size)
    best = float("inf")
    for r in range(repeats):
        start = time.perf_counter()
        data = world.dataset(n, "train", seed=r, cache=False)
        data.all_captions()
        best = min(best, time.perf_counter() - start)
    return n / best


def train_throughput(model: str, batch_size: int, steps: int, device: str) -> dict:
    """Samples/s of train_clip on the shapes corpus (warm-up step included; progress bar off)."""
    size = min(open_clip.get_model_config(model)["vision_cfg"]["image_size"], 64)
    data = clipbook.ShapesWorld(size).dataset(batch_size * steps, "train", seed=0, cache=False)
    r = clipbook.train_clip(data.images, data.all_captions(), model, epochs=1, batch_size=batch_size,
                            device=device, cache=False, progress=False)
    return {"model": model, "batch_size": batch_size, "steps": steps, "samples_per_second": r.samples_per_second}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(Path(__file__).with_name("latest.json")))
    args = parser.parse_args()
    device = clipbook.resolve_device(args.device)
    results = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads, {platform.processor() or platform.machine()})",
        "versions": {"torch": torch.__version__, "open_clip": open_clip.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "command": f"python benchmarks/run_cpu.py --device {args.device}",
        "shapes_images_per_second": {f"{s}px": data_throughput(s, 5000) for s in (32, 64)},
        "train": [train_throughput("clipbook-tiny", 64, 20, str(device))],
    }
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
