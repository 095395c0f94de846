"""clipbook's command line: ``python -m clipbook train ...`` (also under torchrun).

    python -m clipbook train --profile full
    torchrun --nproc_per_node 8 -m clipbook train --profile full --batch-size 8192

`make run` executes the notebooks (python -m clipbook.runner).
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from . import distributed
from .profiles import PROFILE_TABLES, profile_knobs
from .train import train_clip, world_for
from .utils import resolve_profile


def train(args: argparse.Namespace) -> None:
    """Train notebook 01's CLIP (or another open_clip config) on the shapes corpus."""
    knobs = profile_knobs("pretraining", resolve_profile(args.profile, args.device), model=args.model,
                          n_train=args.n_train, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          grad_clip_norm=args.grad_clip_norm)
    data = world_for(knobs["model"]).dataset(knobs["n_train"], split="train", seed=args.seed)
    result = train_clip(data.images, data.all_captions(), knobs["model"], epochs=knobs["epochs"],
                        batch_size=knobs["batch_size"], lr=knobs["lr"], seed=args.seed, device=args.device,
                        compile=args.compile, resume_seconds=args.resume_seconds, resume_steps=args.resume_steps,
                        grad_clip_norm=knobs["grad_clip_norm"])
    if distributed.setup(args.device).is_main:
        clocked = "seconds" in result.history and len(result.history["step"]) > 11
        steady = f", {result.steady_samples_per_second():,.0f}/s after 10 steps" if clocked else ""
        print(f"{result.samples_seen:,} samples in {result.train_seconds:.1f} s "
              f"({result.samples_per_second:,.0f}/s{steady}); checkpoint {result.checkpoint}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clipbook", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help=train.__doc__)
    p.add_argument("--profile", default="auto", choices=["auto", *PROFILE_TABLES["pretraining"]],
                   help="auto: full with a CUDA GPU, quick without (as the notebooks)")
    p.add_argument("--model", default=None, help="open_clip config (default: the profile's)")
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None, help="global batch, split across processes")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--compile", action="store_true", help="run the training steps through torch.compile")
    p.add_argument("--resume-seconds", type=float, default=60.0,
                   help="write a resumable state every this many seconds (a rerun with the same arguments resumes)")
    p.add_argument("--resume-steps", type=int, default=None, help="... and/or every this many steps")
    p.add_argument("--grad-clip-norm", type=float, default=None,
                   help="clip the gradients' global L2 norm to this before each step (default: the profile's, "
                        "1.0 on full, none on quick; inf logs the norm and clips nothing)")
    p.set_defaults(func=train)
    args = parser.parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
