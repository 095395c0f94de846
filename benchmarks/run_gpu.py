"""The GPU benchmark set, for a machine with one CUDA GPU (not run in CI):

    python benchmarks/run_gpu.py --peak-tflops 989     # H100 SXM bf16 dense peak

Writes benchmarks/gpu.json: CLIP throughput and MFU beside open_clip_train for clipbook-small and
ViT-B-32, SimCLR beside lightly's example loop, and data generation against training consumption.
The whole-suite figure is `time make run PROFILE=full`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import bench_clip  # noqa: E402
import bench_simclr  # noqa: E402
from run_cpu import data_throughput, environment  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    parser.add_argument("--out", default=str(Path(__file__).with_name("gpu.json")))
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("run_gpu.py needs a CUDA GPU; the CPU set is run_cpu.py (make bench).")
    peak = args.peak_tflops * 1e12
    start = time.perf_counter()
    results = {**environment(torch.device("cuda")), "command": f"python benchmarks/run_gpu.py --peak-tflops {args.peak_tflops:g}",
               "peak_tflops": args.peak_tflops}
    results["shapes_images_per_second"] = {f"{s}px": data_throughput(s, 20000) for s in (32, 64)}
    results["clip"] = [bench_clip.measure("clipbook-small", 1024, 50, "cuda", peak),
                       bench_clip.measure("ViT-B-32", 512, 30, "cuda", peak)]
    results["simclr"] = [bench_simclr.measure(512, 128, 30, "cuda", page_size=256)]
    results["wall_seconds"] = time.perf_counter() - start
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
