"""CLIP training throughput: clipbook's train_clip beside open_clip's own training entry point.

Both train the same open_clip config with the same batch on the same device: clipbook on the shapes
corpus (uint8 tensors kept on the device), open_clip_train.main on its `--dataset-type synthetic`
data. Model FLOPs per step are counted once with torch.utils.flop_counter; model FLOPs utilisation
(MFU) is reported against a peak when one is given (989 TFLOP/s bf16 for an H100 SXM).

    python benchmarks/bench_clip.py --model clipbook-tiny --batch-size 64 --steps 20
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import open_clip
import torch
from torch.utils.flop_counter import FlopCounterMode

import clipbook


def flops_per_step(model_name: str, batch_size: int) -> int:
    """Forward + backward FLOPs of one training step (matrix products and attention), counted on the CPU."""
    model = open_clip.create_model(model_name)
    size = model.visual.image_size
    size = size if isinstance(size, (tuple, list)) else (size, size)
    images = torch.randn(batch_size, 3, *size)
    texts = open_clip.get_tokenizer(model_name)(["a photo of a red circle"] * batch_size)
    counter = FlopCounterMode(display=False)
    with counter:
        loss = open_clip.ClipLoss()(*model(images, texts))
        loss.backward()
    return counter.get_total_flops()


def clipbook_throughput(model_name: str, batch_size: int, steps: int, device: str) -> float:
    """Samples/s of train_clip: the difference of a 2*steps and a steps run, so start-up cancels out."""
    world = clipbook.world_for(model_name)
    data = world.dataset(batch_size * 2 * steps, "train", seed=0, cache=False)
    seconds = {}
    for n_steps in (steps, 2 * steps):
        sub = data.subset(range(batch_size * n_steps))
        r = clipbook.train_clip(sub.images, sub.all_captions(), model_name, epochs=1, batch_size=batch_size,
                                device=device, cache=False, progress=False)
        seconds[n_steps] = r.train_seconds
    return steps * batch_size / (seconds[2 * steps] - seconds[steps])


def open_clip_train_throughput(model_name: str, batch_size: int, steps: int, device: str) -> float:
    """Median samples/s that open_clip_train.main logs per step (first steps dropped), synthetic data."""
    from open_clip_train.main import main as open_clip_main

    cuda = torch.device(device).type == "cuda"
    with tempfile.TemporaryDirectory() as logs:
        args = ["--dataset-type", "synthetic", "--train-num-samples", str(batch_size * (2 * steps + 2)),
                "--batch-size", str(batch_size), "--epochs", "1", "--model", model_name, "--device", device,
                "--precision", "amp_bf16" if cuda else "fp32", "--workers", "2" if cuda else "1",
                "--lr", "5e-4", "--warmup", "1", "--logs", logs, "--name", "bench", "--report-to", "",
                "--save-frequency", "0", "--zeroshot-frequency", "0", "--val-frequency", "0",
                "--log-every-n-steps", "1", "--seed", "0"]
        open_clip_main(args)
        log = (Path(logs) / "bench" / "out.log").read_text()
    rates = [float(x) for x in re.findall(r"Batch \(t\): [\d.]+, ([\d.]+)/s", log)]
    if len(rates) < 3:
        raise RuntimeError(f"open_clip_train logged {len(rates)} throughput values; expected one per step")
    return statistics.median(rates[len(rates) // 2:])  # the later half: past compilation and warm-up


def measure(model_name: str, batch_size: int, steps: int, device: str, peak_flops: float | None) -> dict:
    """Both throughputs, their ratio, achieved FLOP/s and MFU for one model and batch."""
    flops = flops_per_step(model_name, batch_size)
    ours = clipbook_throughput(model_name, batch_size, steps, device)
    theirs = open_clip_train_throughput(model_name, batch_size, steps, device)
    achieved = flops * ours / batch_size
    return {"model": model_name, "batch_size": batch_size, "steps": steps, "device": device,
            "flops_per_step": flops, "clipbook_samples_per_second": ours,
            "open_clip_train_samples_per_second": theirs, "ratio": ours / theirs,
            "clipbook_tflops_per_second": achieved / 1e12,
            "clipbook_mfu": achieved / peak_flops if peak_flops else None}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="clipbook-tiny")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--peak-tflops", type=float, default=None, help="e.g. 989 for H100 SXM bf16")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    result = measure(args.model, args.batch_size, args.steps, args.device,
                     args.peak_tflops * 1e12 if args.peak_tflops else None)
    result["wall_seconds"] = time.perf_counter() - start
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
