"""Issue 12's phrasing trials: notebook 01's quick recipe with the phrasings an image draws from reweighted,
scored as notebooks 01 and 02 score it (benchmarks/RESULTS.md, "text→image").

    python benchmarks/phrasing_trials.py --weighting canonical --seed 0

Each weighting repeats phrasings, the same number of entries for every image (train_clip draws one entry
uniformly); "uniform" is the adopted recipe. Checkpoints go to --checkpoint-dir, not data/checkpoints.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_learning import heldout_evaluator  # noqa: E402

from clipbook import retrieval  # noqa: E402
from clipbook.profiles import profile_knobs  # noqa: E402
from clipbook.train import train_clip, world_for  # noqa: E402


def weigh(kind: str, c: list[str], weighting: str) -> list[str]:
    """The entries an image of `kind` draws from, made of its five phrasings `c` (canonical first)."""
    even = [x for x in c for _ in range(2)]
    if weighting == "uniform":  # exactly what notebook 01 trains on
        return list(c)
    if weighting == "canonical":  # the canonical caption 2 of 6
        return [c[0]] * 2 + c[1:]
    if weighting == "pairs":  # both relation phrasings of a pair 3 of 10 each
        return [c[0]] * 3 + [c[1]] * 3 + [c[2]] * 2 + c[3:] if kind == "pair" else even
    if weighting == "singles":  # a single's canonical caption and "a photo of" 3 of 10 each
        return [c[0]] * 3 + [c[1]] + [c[2]] * 3 + [c[3]] + [c[4]] * 2 if kind == "single" else even
    raise ValueError(f"weighting={weighting!r} is not allowed: choose uniform, canonical, pairs or singles.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weighting", default="uniform", choices=["uniform", "canonical", "pairs", "singles"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None, help="the quick profile's when not given")
    ap.add_argument("--n-train", type=int, default=None, help="the quick profile's when not given")
    ap.add_argument("--checkpoint-dir", default="/tmp/clipbook-phrasing-trials")
    args = ap.parse_args(argv)
    k = profile_knobs("pretraining", "quick", epochs=args.epochs, n_train=args.n_train)
    world = world_for(k["model"])
    train = world.dataset(k["n_train"], split="train", seed=args.seed)
    captions = [weigh(s.kind, c, args.weighting) for s, c in zip(train.scenes, train.all_captions())]
    start = time.perf_counter()
    r = train_clip(train.images, captions, k["model"], epochs=k["epochs"], batch_size=k["batch_size"], lr=k["lr"],
                   seed=args.seed, progress=False, checkpoint_dir=args.checkpoint_dir)
    seconds = time.perf_counter() - start
    val = world.dataset(k["n_val"], split="val", seed=args.seed + 1)  # as notebook 01
    m = retrieval.evaluate_retrieval(r.model, r.tokenizer, val.images, val.captions, ks=(1,))
    zs = heldout_evaluator(world, 30, args.seed)(r.model, r.tokenizer)  # as notebook 02's quick profile
    print(json.dumps({"weighting": args.weighting, "seed": args.seed, "n_train": k["n_train"], "epochs": k["epochs"],
                      "train_seconds": round(seconds),
                      "i2t_recall@1": round(m["i2t_recall@1"], 3), "t2i_recall@1": round(m["t2i_recall@1"], 3),
                      **{name: round(v, 3) for name, v in zs.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
