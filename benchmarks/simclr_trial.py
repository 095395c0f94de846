"""Issue 13, part A: SimCLR's backbone and epochs on notebook 04's quick archive (scanned pages, SCAN_REALISM=1),
scored as the notebook scores it, beside raw pixels.

    python benchmarks/simclr_trial.py --backbone convnet --epochs 30 --seed 0

Prints one JSON line: training seconds, the first and last NT-Xent loss, family precision@10 with the title block
kept and masked, title-block share@10, and the pixel baseline and chance on the same archive. Nothing is cached:
every run trains.
`--pixels-only` prints the pixel baseline and chance alone (seconds a seed: issue 13 asks pixels at most 2x chance).
Both also print precision@10's two steps: the share of the top 10 that are drawings, and the family among those;
and the title-block share among the results that carry a block.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from clipbook import anchoring, search, simclr
from clipbook.data.drawings import PageCorpus
from clipbook.profiles import profile_knobs


def two_steps(name: str, m: dict[str, float]) -> dict[str, float]:
    """precision@10 in its two steps (``anchoring.search_metrics``): drawings found, then the family among them;
    and the title-block share's second step (the query's block among the results that carry one)."""
    return {f"{name}_drawing_share@10": round(m["drawing_share@10"], 3),
            f"{name}_family_among_drawings@10": round(m["family_among_drawings@10"], 3),
            f"{name}_titleblock_among_titled@10": round(m["titleblock_among_titled@10"], 3),
            "chance_drawing_share@10": round(m["chance_drawing_share@10"], 3),
            "chance_family_among_drawings@10": round(m["chance_family_among_drawings@10"], 3),
            "chance_titleblock_among_titled@10": round(m["chance_titleblock_among_titled@10"], 3)}


def main(argv: list[str] | None = None) -> int:
    quick = profile_knobs("simclr", "quick")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbone", default=quick["backbone"], choices=simclr.SIMCLR_BACKBONES)
    ap.add_argument("--epochs", type=int, default=quick["epochs"])
    ap.add_argument("--input-size", type=int, default=quick["input_size"])
    ap.add_argument("--batch-size", type=int, default=quick["batch_size"])
    ap.add_argument("--lr", type=float, default=quick["lr"])
    ap.add_argument("--temperature", type=float, default=quick["temperature"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--pixels-only", action="store_true", help="score raw pixels against chance, train nothing")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    k = profile_knobs("drawings", "quick")
    corpus = PageCorpus(k["page_size"], 0.5, 0.0, realism=1.0)
    archive = corpus.dataset(k["n_pages"], seed=args.seed)  # the notebook's archive and queries for this seed
    queries = corpus.dataset(k["n_queries"], seed=args.seed + 1, drawings_only=True)
    pixels, _ = anchoring.search_archive(archive, queries, search.pixel_encoder(32), False, 10)
    if args.pixels_only:
        print(json.dumps({"seed": args.seed, "pixels_precision@10": round(pixels["precision@10"], 3),
                          "chance_precision@10": round(pixels["chance_precision@10"], 3),
                          "pixels_over_chance": round(pixels["precision@10"] / pixels["chance_precision@10"], 2),
                          **two_steps("pixels", pixels)}))
        return 0
    start = time.perf_counter()
    knobs = {**quick, "backbone": args.backbone, "input_size": args.input_size, "epochs": args.epochs,
             "batch_size": args.batch_size, "lr": args.lr,
             "temperature": args.temperature}  # the rest as the quick profile trains it
    r = simclr.train_simclr(archive.images, **knobs, seed=args.seed, device="cpu", cache=False, progress=False)
    seconds = time.perf_counter() - start
    encoder = search.encoder_from_result(r, "cpu")
    kept, _ = anchoring.search_archive(archive, queries, encoder, False, 10)
    masked, _ = anchoring.search_archive(archive, queries, encoder, True, 10)
    print(json.dumps({**vars(args), "threads": torch.get_num_threads(), "train_seconds": round(seconds),
                      "initial_loss": round(r.initial_loss, 3), "final_loss": round(r.final_loss, 3),
                      "precision@10": round(kept["precision@10"], 3),
                      "masked_precision@10": round(masked["precision@10"], 3),
                      "titleblock_share@10": round(kept["titleblock_share@10"], 3),
                      "pixels_precision@10": round(pixels["precision@10"], 3),
                      "chance_precision@10": round(kept["chance_precision@10"], 3),
                      **two_steps("simclr", kept), **two_steps("pixels", pixels)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
