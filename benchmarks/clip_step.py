"""Where a CLIP training step's time goes on this machine: forward, forward + backward of the whole model and of
each tower alone, and the fused AdamW step, for a clipbook config (random weights, random images, one caption).

    python benchmarks/clip_step.py --model clipbook-page --threads 1

Prints one JSON line of seconds per call (the mean of `--repeats` after one warm-up call), in full precision.
"""
from __future__ import annotations

import argparse
import json
import time

import torch
from open_clip import ClipLoss

from clipbook.engine import param_groups
from clipbook.models import create_clip, image_size_of


def seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="clipbook-page")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    clip, tokenizer, _ = create_clip(args.model, device="cpu")
    size = image_size_of(args.model)
    images = torch.randn(args.batch_size, 3, size, size)
    texts = tokenizer(["a technical drawing of a flange in two views, with holes"] * args.batch_size)
    optimizer = torch.optim.AdamW(param_groups(clip, 0.1), lr=1e-4, fused=True)
    loss_fn = ClipLoss()

    def forward():
        with torch.no_grad():
            clip(images, texts)

    def step():
        loss_fn(*clip(images, texts)).backward()

    row = {"model": args.model, "batch_size": args.batch_size, "threads": args.threads,
           "image_tokens": clip.visual.grid_size[0] * clip.visual.grid_size[1],
           "forward_s": seconds(forward, args.repeats), "forward_backward_s": seconds(step, args.repeats),
           "image_tower_forward_backward_s": seconds(lambda: clip.encode_image(images).sum().backward(), args.repeats),
           "text_tower_forward_backward_s": seconds(lambda: clip.encode_text(texts).sum().backward(), args.repeats),
           "adamw_step_s": seconds(optimizer.step, args.repeats)}
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
