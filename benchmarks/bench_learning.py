"""Learning efficiency: held-out zero-shot accuracy against training seconds, clipbook's recipe beside
open_clip's own trainer (`make bench-learning`, ~15 minutes on a 2-core CPU).

Both train the same open_clip config from scratch on the same shapes images, with the same batch size on
the same device, and both are evaluated the same way: zero-shot accuracy on the compositions no training
caption names ("held out"), over `--test-per-class` single-shape images of each of the 36 classes, with
the template "a photo of a {}.".

- clipbook: `train_clip` with the workbook's quick-profile recipe, evaluated after every epoch; its clock
  (evaluations left out) gives the seconds.
- open_clip_train: `open_clip_train.main` with `--dataset-type csv` over the same images written as PNG files
  and a tab-separated CSV. Its CSV has one caption per row; clipbook draws one of an image's five phrasings
  at every step. The CSV has one row per image with one phrasing drawn at random, so that an epoch is the
  same number of samples on both sides and both are evaluated after every epoch; a third curve, clipbook
  trained on the CSV's captions, shows how much of the difference is the phrasings and how much the
  trainer. open_clip_train runs its default recipe (lr 5e-4, weight decay 0.2, AdamW betas 0.9/0.98, eps 1e-6, cosine schedule,
  its own preprocessing and data loader) with three departures a CPU run needs: `--precision fp32` (its
  default "amp" is float16 autocast, which CPUs do not run natively), `--workers 1` (two cores), and
  `--warmup` equal to clipbook's warm-up steps (its default of 10,000 warm-up steps is longer than the
  whole run, so its learning rate would still be rising at the end). It saves a checkpoint every epoch;
  each is evaluated afterwards. Its seconds are the per-step times it logs (data wait included,
  checkpoint writing left out), summed.

The figure: `learning_efficiency_vs_open_clip_train`, open_clip_train's seconds over clipbook's to first
reach `--target` held-out accuracy (linearly interpolated between evaluations). When open_clip_train never
reaches it, the ratio is reported as a lower bound (`..._lower_bound: true`) from its total seconds.

    python benchmarks/bench_learning.py --out benchmarks/latest.json --plot benchmarks/learning_efficiency.png
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import open_clip
import torch
from PIL import Image

import clipbook
from clipbook import zeroshot as zs

TEMPLATE = "a photo of a {}."


def heldout_evaluator(world: clipbook.ShapesWorld, n_per_class: int, seed: int):
    """`evaluate(model, tokenizer) -> {"heldout_acc", "seen_acc"}` on a fixed single-shape test set."""
    test = world.class_dataset(n_per_class, seed=seed + 100)
    heldout = np.isin(np.array(world.class_names)[test.labels], world.heldout_classes)

    def evaluate(model: torch.nn.Module, tokenizer) -> dict[str, float]:
        model.eval()
        device = next(model.parameters()).device
        features = clipbook.encode_images(model, test.images, device)
        right = zs.predict(features, zs.classifier(model, tokenizer, world.class_names, TEMPLATE, device)) == test.labels
        return {"heldout_acc": float(right[heldout].mean()), "seen_acc": float(right[~heldout].mean())}

    return evaluate


def seconds_to(seconds: list[float], accuracy: list[float], target: float) -> float | None:
    """The first time the curve reaches `target`, interpolated linearly between evaluations (from 0 s at 0)."""
    s_prev, a_prev = 0.0, 0.0
    for s, a in zip(seconds, accuracy):
        if a >= target:
            return s_prev + (s - s_prev) * (target - a_prev) / (a - a_prev) if a > a_prev else s
        s_prev, a_prev = s, a
    return None


def run_clipbook(model_name: str, train: clipbook.ShapesData, captions: list[list[str]], knobs: dict, evaluate,
                 seed: int) -> dict:
    steps_per_epoch = len(train) // knobs["batch_size"]
    r = clipbook.train_clip(train.images, captions, model_name, epochs=knobs["epochs"],
                            batch_size=knobs["batch_size"], lr=knobs["lr"], seed=seed, device="cpu", cache=False,
                            progress=False, resume_seconds=None, evaluate=evaluate,
                            grad_clip_norm=knobs["grad_clip_norm"],
                            eval_at=[steps_per_epoch * (e + 1) for e in range(knobs["epochs"])])
    ev = r.evaluations
    return {"epochs": list(range(1, knobs["epochs"] + 1)), "seconds": ev["seconds"],
            "heldout_acc": ev["heldout_acc"], "seen_acc": ev["seen_acc"], "train_seconds": r.train_seconds,
            "warmup_steps": max(1, round(0.05 * knobs["epochs"] * steps_per_epoch))}


def csv_captions(train: clipbook.ShapesData, seed: int) -> list[str]:
    """One phrasing per image, drawn at random: what a one-caption-per-row CSV can hold."""
    rng = np.random.default_rng(seed)
    return [phrasings[rng.integers(len(phrasings))] for phrasings in train.all_captions()]


def write_csv(train: clipbook.ShapesData, captions: list[str], folder: Path) -> Path:
    """The images as PNG files and open_clip's CSV: `filepath` and `title`, tab-separated, one row per image."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    table = folder / "train.csv"
    with open(table, "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["filepath", "title"])
        for i, (image, caption) in enumerate(zip(train.images, captions)):
            path = folder / "images" / f"{i:06d}.png"
            Image.fromarray(image).save(path)
            writer.writerow([str(path), caption])
    return table


def run_open_clip_train(model_name: str, train: clipbook.ShapesData, captions: list[str], knobs: dict, evaluate,
                        warmup: int, epochs: int, seed: int, work: Path) -> dict:
    from open_clip_train.main import main as open_clip_main

    table = write_csv(train, captions, work)
    rows = sum(1 for _ in open(table)) - 1
    args = ["--dataset-type", "csv", "--train-data", str(table), "--csv-separator", "\t",
            "--csv-img-key", "filepath", "--csv-caption-key", "title", "--model", model_name,
            "--batch-size", str(knobs["batch_size"]), "--epochs", str(epochs), "--warmup", str(warmup),
            "--device", "cpu", "--precision", "fp32", "--workers", "1", "--logs", str(work / "logs"),
            "--name", "run", "--report-to", "", "--save-frequency", "1", "--zeroshot-frequency", "0",
            "--val-frequency", "0", "--log-every-n-steps", "1", "--seed", str(seed)]
    start = time.perf_counter()
    open_clip_main(args)
    wall = time.perf_counter() - start
    logging.getLogger().handlers.clear()  # open_clip_train's log handlers stay installed after main returns
    log = (work / "logs" / "run" / "out.log").read_text()
    per_epoch: dict[int, float] = {}
    for epoch, step_time in re.findall(r"Train Epoch: (\d+) .*?Batch \(t\): ([\d.]+)", log):
        per_epoch[int(epoch)] = per_epoch.get(int(epoch), 0.0) + float(step_time)
    seconds = list(np.cumsum([per_epoch[e] for e in sorted(per_epoch)]))
    model = open_clip.create_model(model_name)
    tokenizer = open_clip.get_tokenizer(model_name)
    heldout, seen = [], []
    for e in range(1, epochs + 1):
        state = torch.load(work / "logs" / "run" / "checkpoints" / f"epoch_{e}.pt", map_location="cpu",
                           weights_only=True)["state_dict"]
        model.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
        scores = evaluate(model, tokenizer)
        heldout.append(scores["heldout_acc"])
        seen.append(scores["seen_acc"])
    return {"epochs": list(range(1, epochs + 1)), "seconds": [float(s) for s in seconds], "heldout_acc": heldout,
            "seen_acc": seen, "train_seconds": float(seconds[-1]), "wall_seconds": wall, "csv_rows": rows,
            "warmup_steps": warmup}


def plot(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, label in (("clipbook", "clipbook train_clip (5 phrasings per image)"),
                        ("clipbook_csv_captions", "clipbook train_clip (the CSV's one caption per image)"),
                        ("open_clip_train", "open_clip_train.main (the CSV)")):
        curve = result[name]
        ax.plot(curve["seconds"], curve["heldout_acc"], marker="o", label=label)
    ax.axhline(result["target"], color="grey", ls="--", lw=0.8, label=f"target {result['target']}")
    ax.axhline(1 / 36, color="lightgrey", lw=0.8, label="chance (1/36)")
    ax.set_xlabel(f"training seconds ({result['device']})")
    ax.set_ylabel("held-out zero-shot accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(f"{result['model']}, batch {result['batch_size']}, {result['n_train']} images")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick", choices=["quick", "full"])
    parser.add_argument("--open-clip-epochs", type=int, default=None,
                        help="open_clip_train's epochs (default: twice clipbook's)")
    parser.add_argument("--target", type=float, default=0.5)
    parser.add_argument("--test-per-class", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes (256 images, 2 epochs each): checks the script end to end in a minute")
    parser.add_argument("--out", default=str(Path(__file__).with_name("latest.json")),
                        help="JSON file to update (other keys are kept)")
    parser.add_argument("--plot", default=str(Path(__file__).with_name("learning_efficiency.png")))
    args = parser.parse_args(argv)
    knobs = clipbook.profile_knobs("pretraining", args.profile)
    if args.smoke:
        knobs.update(n_train=256, epochs=2)
        args.test_per_class, args.open_clip_epochs = 2, 2
    model_name = knobs["model"]
    world = clipbook.world_for(model_name)
    train = world.dataset(knobs["n_train"], split="train", seed=args.seed)
    evaluate = heldout_evaluator(world, args.test_per_class, args.seed)

    ours = run_clipbook(model_name, train, train.all_captions(), knobs, evaluate, args.seed)
    print("clipbook:", json.dumps(ours), flush=True)
    captions = csv_captions(train, args.seed)
    ours_csv = run_clipbook(model_name, train, [[c] for c in captions], knobs, evaluate, args.seed)
    print("clipbook, CSV captions:", json.dumps(ours_csv), flush=True)
    with tempfile.TemporaryDirectory() as work:
        theirs = run_open_clip_train(model_name, train, captions, knobs, evaluate, ours["warmup_steps"],
                                     args.open_clip_epochs or 2 * knobs["epochs"], args.seed, Path(work))
    print("open_clip_train:", json.dumps(theirs), flush=True)

    t_ours = seconds_to(ours["seconds"], ours["heldout_acc"], args.target)
    t_theirs = seconds_to(theirs["seconds"], theirs["heldout_acc"], args.target)
    lower_bound = t_theirs is None
    ratio = None if t_ours is None else (theirs["train_seconds"] if lower_bound else t_theirs) / t_ours
    result = {
        "model": model_name, "batch_size": knobs["batch_size"], "n_train": len(train), "target": args.target,
        "device": f"cpu ({torch.get_num_threads()} threads, {platform.machine()})",
        "cpu_bf16_autocast": clipbook.utils.cpu_has_native_bf16(),
        "versions": {"torch": torch.__version__, "open_clip": open_clip.__version__},
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "clipbook": ours, "clipbook_csv_captions": ours_csv, "open_clip_train": theirs,
        "clipbook_seconds_to_target": t_ours, "open_clip_train_seconds_to_target": t_theirs,
        "clipbook_csv_captions_seconds_to_target": seconds_to(ours_csv["seconds"], ours_csv["heldout_acc"],
                                                              args.target),
        "learning_efficiency_vs_open_clip_train": ratio,
        "learning_efficiency_vs_open_clip_train_lower_bound": lower_bound,
    }
    out = Path(args.out)
    latest = json.loads(out.read_text()) if out.is_file() else {}
    latest["learning_efficiency"] = result
    latest["learning_efficiency_vs_open_clip_train"] = ratio
    out.write_text(json.dumps(latest, indent=2) + "\n")
    plot(result, Path(args.plot))
    print(json.dumps({k: v for k, v in result.items()
                      if k not in ("clipbook", "clipbook_csv_captions", "open_clip_train")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
