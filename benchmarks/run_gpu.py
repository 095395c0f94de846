"""The GPU benchmark set, for a machine with one CUDA GPU (not run in CI):

    python benchmarks/run_gpu.py --peak-tflops 989              # H100 SXM bf16 dense peak; all parts
    python benchmarks/run_gpu.py --only clip --out /tmp/clip.json   # one part (each fits a 10-minute slot)

Writes benchmarks/gpu.json (after every measurement, so an interrupted run keeps what it measured): CLIP
throughput and MFU beside open_clip_train for clipbook-small and ViT-B-32, eager and with torch.compile
on both sides; SimCLR beside lightly's example loop, eager and compiled; data generation against what
training consumes. The whole-suite figure is `time make run PROFILE=full`.

A measurement that raises is recorded as such (its parameters and the error) and the rest go on; the exit
status is then 1. A compiled one that fails inside Inductor is tried once more with
`torch._inductor.config.triton.coalesce_tiling_analysis = False` on both sides, and says so in its record:
on an H100 with torch 2.11, ViT-B-32 compiled for training stopped in Inductor's coalescing analysis
(`get_pw_red_splits` asserts; pytorch/pytorch#197077, whose workaround is to skip that analysis).

`--smoke` runs the same code on the CPU with tiny sizes: it checks the script end to end (the tests do),
its figures mean nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch._dynamo
import torch._inductor.config

sys.path.insert(0, str(Path(__file__).parent))
import bench_clip  # noqa: E402
import bench_simclr  # noqa: E402
from run_cpu import data_throughput, environment  # noqa: E402

import clipbook  # noqa: E402

PARTS = ("data", "clip", "simclr")
# what a compiled measurement is retried with after an Inductor failure (see the docstring)
INDUCTOR_RETRY = {"triton.coalesce_tiling_analysis": False}
# (model, batch, timed steps) for CLIP; (batch, input size, timed steps, page size) for SimCLR; images per data run
GPU_PLAN = dict(clip=[("clipbook-small", 1024, 40), ("ViT-B-32", 512, 30)], simclr=[(512, 128, 30, 256)],
                data=20_000, compile=(False, True))
SMOKE_PLAN = dict(clip=[("clipbook-tiny", 8, 2)], simclr=[(8, 32, 2, 64)], data=200, compile=(False,))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    parser.add_argument("--out", default=str(Path(__file__).with_name("gpu.json")))
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU: checks the script runs")
    parser.add_argument("--modes", choices=("both", "eager", "compiled"), default="both",
                        help="eager and compiled measurements, or one kind (a lease that has the other already)")
    args = parser.parse_args(argv)
    if args.smoke:
        device, plan = "cpu", SMOKE_PLAN
    elif torch.cuda.is_available():
        device, plan = "cuda", GPU_PLAN
    else:
        raise SystemExit("run_gpu.py needs a CUDA GPU (or --smoke); the CPU set is run_cpu.py (make bench).")
    parts = args.only or PARTS
    modes = {"both": (False, True), "eager": (False,), "compiled": (True,)}[args.modes]
    peak = args.peak_tflops * 1e12
    out = Path(args.out)
    start = time.perf_counter()
    results = {**environment(torch.device(device)), "peak_tflops": args.peak_tflops,
               "command": "python benchmarks/run_gpu.py " + " ".join(argv if argv is not None else sys.argv[1:])}

    def save() -> None:
        results["wall_seconds"] = time.perf_counter() - start
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2), flush=True)

    if "data" in parts:
        results["shapes_images_per_second"] = {f"{s}px": data_throughput(s, plan["data"]) for s in (32, 64)}
        save()
    for part in ("clip", "simclr"):
        if part in parts:
            results[part] = []
    # every eager figure before any compiled one: compiling costs minutes, and a run cut short by the lease's
    # time limit (gpu_session.sh budget) keeps what it measured first
    failed = 0
    for compile in [c for c in plan["compile"] if c in modes]:
        if "clip" in parts:
            for model, batch, steps in plan["clip"]:
                entry = attempt(lambda: bench_clip.measure(model, batch, steps, device, peak, compile=compile),
                                dict(model=model, batch_size=batch, steps=steps, device=device, compile=compile))
                failed += "error" in entry
                results["clip"].append(entry)
                save()
        if "simclr" in parts:
            for batch, size, steps, page in plan["simclr"]:
                entry = attempt(lambda: bench_simclr.measure(batch, size, steps, device, page_size=page,
                                                             compile=compile),
                                dict(batch_size=batch, input_size=size, page_size=page, steps=steps, device=device,
                                     compile=compile))
                failed += "error" in entry
                results["simclr"].append(entry)
                save()
    first = results["clip"][0] if results.get("clip") else None
    if "data" in parts and first is not None and "error" not in first and not first["compile"]:
        # the notebooks render once and keep the uint8 corpus on the GPU; this says how rendering compares
        # with the training it feeds (the first CLIP model, eager, at the size it is rendered for)
        size = clipbook.world_for(first["model"]).image_size
        results["data_over_training_ratio"] = (results["shapes_images_per_second"][f"{size}px"]
                                               / first["clipbook_samples_per_second"])
    results["failed_measurements"] = failed
    save()
    return results


def _error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= 500 else text[:500] + " ..."


def attempt(measure, record: dict) -> dict:
    """measure() or, when it raises, `record` with the error; a compiled measurement that fails inside
    Inductor gets one more try with INDUCTOR_RETRY, and its record keeps the first error beside the result."""
    try:
        return measure()
    except Exception as exc:  # a benchmark set goes on past one failed measurement; the record says why
        first = _error(exc)
        inductor = "inductor" in (type(exc).__module__ + type(exc).__name__).lower()
        print(f"measurement {record} failed: {first}", file=sys.stderr, flush=True)
    if not (record.get("compile") and inductor):
        return {**record, "error": first}
    torch._dynamo.reset()
    try:
        with torch._inductor.config.patch(INDUCTOR_RETRY):
            return {**measure(), "inductor_config": INDUCTOR_RETRY, "first_error": first}
    except Exception as exc:
        print(f"retry with {INDUCTOR_RETRY} failed too: {_error(exc)}", file=sys.stderr, flush=True)
        return {**record, "error": first, "retry_error": _error(exc), "inductor_config": INDUCTOR_RETRY}


if __name__ == "__main__":
    sys.exit(1 if main().get("failed_measurements") else 0)
