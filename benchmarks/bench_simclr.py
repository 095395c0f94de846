"""SimCLR ResNet-18 throughput: clipbook's train_simclr beside a loop written the way lightly's own SimCLR
example writes it (PIL pages through lightly's SimCLRTransform in a DataLoader, fp32, SGD), with the
same batch, input size and device.

    python benchmarks/bench_simclr.py --batch-size 64 --input-size 64 --steps 10
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torchvision
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead
from lightly.transforms.simclr_transform import SimCLRTransform
from PIL import Image

import clipbook  # noqa: F401  (sets LIGHTLY_DID_VERSION_CHECK before lightly is used)
from clipbook.data.drawings import PageCorpus
from clipbook.simclr import train_simclr


def pages(n: int, size: int):
    """n procedural archive pages (uint8, size x size)."""
    return PageCorpus(page_size=size).dataset(n, seed=0, cache=False).images


def clipbook_throughput(images, batch_size: int, input_size: int, steps: int, device: str, compile: bool = False,
                        warmup_steps: int = 3) -> float:
    """Samples/s of train_simclr over `steps` steps after `warmup_steps` untimed ones, from its per-step clock."""
    r = train_simclr(images[: batch_size * (warmup_steps + steps)], backbone="resnet18", input_size=input_size,
                     epochs=1, batch_size=batch_size, device=device, cache=False, progress=False, compile=compile)
    return r.steady_samples_per_second(skip=warmup_steps - 1)


class _PILPages(torch.utils.data.Dataset):
    def __init__(self, images, transform):
        self.images, self.transform = images, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i])), 0


class _LightlySimCLR(torch.nn.Module):
    """The model of lightly's examples/pytorch/simclr.py."""

    def __init__(self):
        super().__init__()
        resnet = torchvision.models.resnet18()
        self.backbone = torch.nn.Sequential(*list(resnet.children())[:-1])
        self.projection_head = SimCLRProjectionHead(512, 512, 128)

    def forward(self, x):
        return self.projection_head(self.backbone(x).flatten(start_dim=1))


def lightly_loop_throughput(images, batch_size: int, input_size: int, steps: int, device: str,
                            warmup_steps: int = 3) -> float:
    """Samples/s of lightly's example loop, timed over `steps` steps after `warmup_steps` untimed ones."""
    dev = torch.device(device)
    model = _LightlySimCLR().to(dev)
    transform = SimCLRTransform(input_size=input_size)
    loader = torch.utils.data.DataLoader(_PILPages(images, transform), batch_size=batch_size, shuffle=True,
                                         drop_last=True, num_workers=min(8, os.cpu_count() or 1))
    criterion = NTXentLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.06)
    done, start = 0, None
    while done < warmup_steps + steps:
        for batch in loader:
            x0, x1 = batch[0]
            x0, x1 = x0.to(dev), x1.to(dev)
            loss = criterion(model(x0), model(x1))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            done += 1
            if done == warmup_steps:
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
            if done == warmup_steps + steps:
                break
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - start)


def measure(batch_size: int, input_size: int, steps: int, device: str, page_size: int = 128,
            compile: bool = False, repeats: int = 1) -> dict:
    """Both throughputs and their ratio; `compile` applies to train_simclr (lightly's example has none).
    With `repeats` > 1 the two alternate and each side's median counts (as in bench_clip)."""
    images = pages(batch_size * (steps + 4), page_size)
    ours_runs, theirs_runs = [], []
    for _ in range(repeats):
        ours_runs.append(clipbook_throughput(images, batch_size, input_size, steps, device, compile=compile))
        theirs_runs.append(lightly_loop_throughput(images, batch_size, input_size, steps, device))
    ours, theirs = statistics.median(ours_runs), statistics.median(theirs_runs)
    return {"batch_size": batch_size, "input_size": input_size, "page_size": page_size, "steps": steps,
            "device": device, "compile": compile, "repeats": repeats, "clipbook_samples_per_second": ours,
            "lightly_loop_samples_per_second": theirs, "ratio": ours / theirs, "clipbook_runs": ours_runs,
            "lightly_loop_runs": theirs_runs}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--page-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile", action="store_true", help="torch.compile train_simclr's model")
    parser.add_argument("--repeats", type=int, default=1, help="alternate the two this many times; medians count")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.batch_size, args.input_size, args.steps, args.device, args.page_size,
                             compile=args.compile, repeats=args.repeats), indent=2))


if __name__ == "__main__":
    sys.exit(main())
