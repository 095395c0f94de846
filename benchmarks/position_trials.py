"""Where notebook 01's recall@1 misses come from, and three trials on the mirrored positions
(benchmarks/RESULTS.md, "what notebook 01's misses get wrong").

    python benchmarks/position_trials.py --trial baseline --seed 0    # notebook 01's quick recipe
    python benchmarks/position_trials.py --trial no-pairs --seed 0    # pairs replaced by counts
    python benchmarks/position_trials.py --trial reworded --seed 0    # mirror images in phrases of other forms
    python benchmarks/position_trials.py --batch-size 256 --epochs 20 --lr 1e-3   # the same steps, 4x the batch
    python benchmarks/position_trials.py --trial hard-negatives --seed 0   # NegCLIP's loss (notebook 01, section 8)
    python benchmarks/position_trials.py --trial hard-negatives --negatives positions   # mirror images, no relations
    python benchmarks/position_trials.py --n-train 200000 --epochs 10 --batch-size 1024 --lr 2e-3 --n-val 2000
        # the full profile's recipe on clipbook-tiny (--model clipbook-small for the full profile's own model)

Each trial trains notebook 01's quick recipe (16,384 images x 5 epochs, batch 64; loaded from data/checkpoints
when trained before) and prints, for 1,000 validation pairs: recall@1 (image->text; text->image beside it, and the
best either could be, `recall_ceiling`) and the `miss_cause` counts per scene kind (of the images; of the distinct
captions for text->image), the text tower's cosines between the nine position phrases (mirror images against the
rest), and a logistic regression's left-or-right accuracy on image features of single shapes in the edge columns
(raw pixels beside it).
"""
from __future__ import annotations

import argparse
import collections
import json

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

import clipbook
from clipbook.data import mirror_cells, miss_cause, shapes
from clipbook.profiles import profile_knobs
from clipbook.retrieval import recall_ceiling
from clipbook.zeroshot import where_accuracy

# "reworded": no two mirror images share a form ("in the top left" against "in the top right corner")
REWORDED = {(0, 0): "in the top left", (0, 1): "at the top", (0, 2): "in the top right corner",
            (1, 0): "on the left", (1, 1): "in the centre", (1, 2): "at the right edge",
            (2, 0): "near the bottom left", (2, 1): "along the bottom", (2, 2): "in the lower right corner"}
MIXES = {"baseline": None, "reworded": None, "no-pairs": {"single": 0.5, "count": 0.5, "pair": 0.0},
         "hard-negatives": None}
OBJECTS = ("large red circle", "small blue star", "large green square", "small yellow cross")


def position_cosines(model, tokenizer) -> dict:
    """Mean cosine of 'a <object> <where>' between mirror-image positions and between the other pairs."""
    cells = list(shapes.POSITIONS)
    sims = []
    for obj in OBJECTS:
        t = clipbook.encode_texts(model, tokenizer, [f"a {obj} {shapes.POSITIONS[c]}" for c in cells], "cpu")
        sims.append((t @ t.T).numpy())
    sim = np.mean(sims, axis=0)
    mirrored = [sim[i, j] for i, a in enumerate(cells) for j, b in enumerate(cells) if b in mirror_cells(a)]
    other = [sim[i, j] for i, a in enumerate(cells) for j, b in enumerate(cells) if i != j and b not in mirror_cells(a)]
    return {"mirrored": float(np.mean(mirrored)), "other": float(np.mean(other))}


def side_probe(model, world, seed: int) -> dict:
    """5-fold accuracy of telling the left column from the right one, on image features and on raw pixels."""
    singles = world.dataset(3000, split="val", seed=seed + 7, mix={"single": 1.0, "count": 0.0, "pair": 0.0})
    column = np.array([s.position[1] for s in singles.scenes])
    edge = column != 1
    features = clipbook.encode_images(model, singles.images, "cpu").numpy()[edge]
    pixels = singles.images.reshape(len(singles), -1)[edge].astype(np.float32) / 255

    def score(x: np.ndarray) -> float:
        return float(cross_val_score(LogisticRegression(max_iter=3000), x, column[edge], cv=5).mean())
    return {"image_features": score(features), "pixels": score(pixels), "n": int(edge.sum())}


def zero_shot_where(model, tokenizer, world, seed: int) -> dict:
    """Zero-shot multiple choice on "where" alone (`clipbook.data.where_questions`): notebook 05's spatial relation
    over 360 pairs, named in either order (one of four relations; chance 1/4), and a single shape's cell over 360
    singles (its size, colour and shape named, one of nine positions; chance 1/9)."""
    rng = np.random.default_rng(seed)
    pairs = world.dataset(360, split="val", seed=seed + 20, mix={"pair": 1.0})
    relation = where_accuracy(model, tokenizer, pairs.images, pairs.scenes, "cpu", rng)["pair"]
    singles = world.dataset(360, split="val", seed=seed + 21, mix={"single": 1.0, "count": 0.0, "pair": 0.0})
    position = where_accuracy(model, tokenizer, singles.images, singles.scenes, "cpu")["single"]
    return {"spatial_relation": relation, "position": position, "n": len(singles)}


def loss_spikes(history: dict, window: int = 20, factor: float = 1.5) -> list[dict]:
    """The steps whose loss is over `factor` times the median of the `window` steps before, with that loss."""
    loss, steps = np.asarray(history["loss"]), history["step"]
    return [{"step": int(steps[i]), "loss": round(float(loss[i]), 3),
             "before": round(float(np.median(loss[i - window:i])), 3)}
            for i in range(window, len(loss)) if loss[i] > factor * np.median(loss[i - window:i])]


def quantiles(values: list[float]) -> dict:
    """The 5th, 50th and 95th percentiles and the largest of `values`."""
    v = np.asarray(values)
    return {"p5": float(np.percentile(v, 5)), "median": float(np.median(v)), "p95": float(np.percentile(v, 95)),
            "max": float(v.max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trial", choices=sorted(MIXES), default="baseline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, help="instead of the quick profile's 64")
    parser.add_argument("--epochs", type=int, help="instead of the quick profile's 5")
    parser.add_argument("--lr", type=float, help="instead of the quick profile's 5e-4")
    parser.add_argument("--n-val", type=int, help="validation pairs, instead of the quick profile's 1,000")
    parser.add_argument("--n-train", type=int, help="training images, instead of the quick profile's 16,384")
    parser.add_argument("--model", help="an open_clip config, instead of the quick profile's clipbook-tiny "
                                        "(its image size picks the world's)")
    parser.add_argument("--negatives", choices=["all", "positions"], default="all",
                        help="with --trial hard-negatives: every hard negative, or only the single shapes' "
                             "mirror images")
    parser.add_argument("--grad-clip", type=float, help="clip the gradients' global norm to this (default: not)")
    args = parser.parse_args()
    if args.trial == "reworded":
        shapes.POSITIONS.update(REWORDED)  # captions are made from scenes when asked for, so this rewords all
    knobs = profile_knobs("pretraining", "quick", batch_size=args.batch_size, epochs=args.epochs, lr=args.lr,
                         n_val=args.n_val, n_train=args.n_train, model=args.model)
    world = clipbook.world_for(knobs["model"])
    train = world.dataset(knobs["n_train"], split="train", seed=args.seed, mix=MIXES[args.trial])
    negatives = None
    if args.trial == "hard-negatives":  # NegCLIP's loss over the world's hard negatives (notebook 01, section 8)
        negatives = train.hard_negatives()
        if args.negatives == "positions":  # the single shapes' mirror images only, no inverted relations
            negatives = [n if s.kind == "single" else [[] for _ in n] for n, s in zip(negatives, train.scenes)]
    r = clipbook.train_clip(train.images, train.all_captions(), knobs["model"], epochs=knobs["epochs"],
                            batch_size=knobs["batch_size"], lr=knobs["lr"], seed=args.seed, device="cpu",
                            hard_negatives=negatives, grad_clip_norm=args.grad_clip)
    model, tokenizer = r.model.eval(), r.tokenizer
    val = world.dataset(knobs["n_val"], split="val", seed=args.seed + 1)
    texts = list(dict.fromkeys(val.captions))
    with torch.no_grad():
        sim = clipbook.encode_images(model, val.images, "cpu") @ clipbook.encode_texts(model, tokenizer, texts, "cpu").T
        scene_of = {}
        for s in val.scenes:
            scene_of.setdefault(s.caption, s)
        t2i_by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for t, i in zip(texts, sim.argmax(0).tolist()):  # each distinct caption's first image
            t2i_by_kind[scene_of[t].kind][miss_cause(scene_of[t], val.scenes[i])] += 1
        ceiling = recall_ceiling(val.captions, texts, {c: s.meaning for c, s in scene_of.items()})
        by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for s, j in zip(val.scenes, sim.argmax(1).tolist()):
            by_kind[s.kind][miss_cause(s, scene_of[texts[j]])] += 1
        report = {"trial": args.trial, "negatives": args.negatives if negatives is not None else None,
                  "seed": args.seed, "train_seconds": r.train_seconds, "precision": r.precision,
                  **{k: knobs[k] for k in ("model", "n_train", "batch_size", "epochs", "lr", "n_val")},
                  "grad_clip_norm": args.grad_clip, "loss_spikes": loss_spikes(r.history),
                  **({"grad_norm": quantiles(r.history["grad_norm"])} if "grad_norm" in r.history else {}),
                  "checkpoint": str(r.checkpoint), "recall@1": sum(c["none"] for c in by_kind.values()) / len(val),
                  "t2i_recall@1": sum(c["none"] for c in t2i_by_kind.values()) / len(texts),
                  "t2i_by_kind": {k: {"n": sum(c.values()), "recall@1": c["none"] / sum(c.values()),
                                      "misses": dict(c.most_common())} for k, c in t2i_by_kind.items()},
                  "recall@1_ceiling": {"i2t": ceiling["i2t_recall@1"], "t2i": ceiling["t2i_recall@1"]},
                  "by_kind": {k: {"n": sum(c.values()), "recall@1": c["none"] / sum(c.values()),
                                  "misses": dict(c.most_common())} for k, c in by_kind.items()},
                  "position_text_cosine": position_cosines(model, tokenizer),
                  "side_probe": side_probe(model, world, args.seed),
                  "zero_shot_where": zero_shot_where(model, tokenizer, world, args.seed)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
