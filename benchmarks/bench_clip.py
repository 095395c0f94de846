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
import os
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


def flops_per_step(model_name: str, batch_size: int, device: str = "cpu") -> int:
    """Forward + backward FLOPs of one training step (matrix products and attention), counted in fp32 on
    `device` (the count does not depend on the device or the precision)."""
    model = open_clip.create_model(model_name, device=device)
    size = model.visual.image_size
    size = size if isinstance(size, (tuple, list)) else (size, size)
    images = torch.randn(batch_size, 3, *size, device=device)
    texts = open_clip.get_tokenizer(model_name)(["a photo of a red circle"] * batch_size).to(device)
    counter = FlopCounterMode(display=False)
    with counter:
        loss = open_clip.ClipLoss()(*model(images, texts))
        loss.backward()
    return counter.get_total_flops()


def clipbook_throughput(model_name: str, batch_size: int, steps: int, device: str, compile: bool = False,
                        warmup_steps: int | None = None) -> float:
    """Samples/s of train_clip over its last `steps` steps, from the per-step clock train_clip keeps (CUDA
    events on a GPU). The untimed first steps (start-up, allocator and oneDNN/cuDNN warm-up, compilation)
    default to steps + 2, so the run is as long as open_clip_train's below and both are timed over the
    later half (step times on the CPU keep falling for the first 7 or so steps)."""
    warmup_steps = steps + 2 if warmup_steps is None else warmup_steps
    world = clipbook.world_for(model_name)
    data = world.dataset(batch_size * (warmup_steps + steps), "train", seed=0, cache=False)
    r = clipbook.train_clip(data.images, data.all_captions(), model_name, epochs=1, batch_size=batch_size,
                            device=device, cache=False, progress=False, compile=compile)
    return r.steady_samples_per_second(skip=warmup_steps - 1)


def open_clip_train_throughput(model_name: str, batch_size: int, steps: int, device: str,
                               compile: bool = False) -> float:
    """Median samples/s that open_clip_train.main logs per step (first steps dropped), synthetic data;
    `compile` adds its --torchcompile. On a GPU its data loader gets all but two CPU cores."""
    from open_clip_train.main import main as open_clip_main

    cuda = torch.device(device).type == "cuda"
    workers = max(2, (os.cpu_count() or 4) - 2) if cuda else 1
    with tempfile.TemporaryDirectory() as logs:
        args = ["--dataset-type", "synthetic", "--train-num-samples", str(batch_size * (2 * steps + 2)),
                "--batch-size", str(batch_size), "--epochs", "1", "--model", model_name, "--device", device,
                "--precision", "amp_bf16" if cuda else "fp32", "--workers", str(workers),
                "--lr", "5e-4", "--warmup", "1", "--logs", logs, "--name", "bench", "--report-to", "",
                "--save-frequency", "0", "--zeroshot-frequency", "0", "--val-frequency", "0",
                "--log-every-n-steps", "1", "--seed", "0"] + (["--torchcompile"] if compile else [])
        open_clip_main(args)
        log = (Path(logs) / "bench" / "out.log").read_text()
    rates = [float(x) for x in re.findall(r"Batch \(t\): [\d.]+, ([\d.]+)/s", log)]
    if len(rates) < 3:
        raise RuntimeError(f"open_clip_train logged {len(rates)} throughput values; expected one per step")
    return statistics.median(rates[len(rates) // 2:])  # the later half: past compilation and warm-up


def measure(model_name: str, batch_size: int, steps: int, device: str, peak_flops: float | None,
            compile: bool = False, repeats: int = 1) -> dict:
    """Both throughputs (both compiled with torch.compile, or neither), their ratio, achieved FLOP/s and
    MFU for one model and batch. With `repeats` > 1 the two alternate and each side's median counts: on a
    shared CPU the machine's speed drifts by 20-30% within minutes, and alternating spreads the drift."""
    flops = flops_per_step(model_name, batch_size, device)
    ours_runs, theirs_runs = [], []
    for _ in range(repeats):
        ours_runs.append(clipbook_throughput(model_name, batch_size, steps, device, compile=compile))
        theirs_runs.append(open_clip_train_throughput(model_name, batch_size, steps, device, compile=compile))
    ours, theirs = statistics.median(ours_runs), statistics.median(theirs_runs)
    achieved = flops * ours / batch_size
    return {"model": model_name, "batch_size": batch_size, "steps": steps, "device": device, "compile": compile,
            "repeats": repeats, "flops_per_step": flops, "clipbook_samples_per_second": ours,
            "open_clip_train_samples_per_second": theirs, "ratio": ours / theirs,
            "clipbook_runs": ours_runs, "open_clip_train_runs": theirs_runs,
            "clipbook_tflops_per_second": achieved / 1e12,
            "clipbook_mfu": achieved / peak_flops if peak_flops else None}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="clipbook-tiny")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--peak-tflops", type=float, default=None, help="e.g. 989 for H100 SXM bf16")
    parser.add_argument("--compile", action="store_true", help="torch.compile both (open_clip_train: --torchcompile)")
    parser.add_argument("--repeats", type=int, default=1, help="alternate the two this many times; medians count")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    result = measure(args.model, args.batch_size, args.steps, args.device,
                     args.peak_tflops * 1e12 if args.peak_tflops else None, compile=args.compile,
                     repeats=args.repeats)
    result["wall_seconds"] = time.perf_counter() - start
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
