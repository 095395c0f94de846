"""Issue 13, part B, beyond notebook 04's budget: a CLIP trained with `clipbook.page_clip` on captioned
pages (a corpus apart from the archive) searching notebook 04's quick archive, beside raw pixels, SimCLR (the
quick profile's checkpoint, trained when missing) and the shapes CLIP; and text queries ("a technical drawing
of a flange") searching it.

    python benchmarks/page_clip_trial.py --detail family --pages 6000 --epochs 4 --realism 1

Prints one JSON line per caption detail: precision@10 (title block kept and masked), title-block share and
text-query precision@10, with chance.
"""
from __future__ import annotations

import argparse
import json
import time

import clipbook
from clipbook import anchoring, search, simclr
from clipbook.data.drawings import CAPTION_DETAILS, TITLE_BLOCKS, PageCorpus
from clipbook.profiles import profile_knobs

def scores(archive, queries, encoder, index: search.PageIndex) -> dict[str, float]:
    """Family precision@10 with the title block kept (through `index`, the archive indexed unmasked) and masked,
    and the title-block share."""
    kept, _ = anchoring.search_archive(archive, queries, encoder, False, 10, index=index)
    masked, _ = anchoring.search_archive(archive, queries, encoder, True, 10)
    return {"precision@10": round(kept["precision@10"], 3), "masked_precision@10": round(masked["precision@10"], 3),
            "titleblock_share@10": round(kept["titleblock_share@10"], 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detail", nargs="+", default=["family"], choices=CAPTION_DETAILS)
    ap.add_argument("--pages", type=int, default=6000, help="captioned pages the page CLIP trains on")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--realism", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="clipbook-page", help="the page CLIP's open_clip config")
    ap.add_argument("--title-blocks", choices=["web", "archive"], default="web",
                    help="the captioned corpus's institutions: its own (WEB_TITLE_BLOCKS) or the archive's")
    ap.add_argument("--baselines", action="store_true", help="also score pixels, SimCLR and the shapes CLIP")
    args = ap.parse_args(argv)
    k = profile_knobs("drawings", "quick")
    corpus = PageCorpus(k["page_size"], 0.5, 0.0, realism=args.realism)
    archive = corpus.dataset(k["n_pages"], seed=args.seed)
    queries = corpus.dataset(k["n_queries"], seed=args.seed + 1, drawings_only=True)
    chance = anchoring.search_archive(archive, queries, search.pixel_encoder(32), False, 10)[0]["chance_precision@10"]
    if args.baselines:
        shapes = clipbook.workbook_clip(progress=False)
        sim = simclr.train_simclr(archive.images, **profile_knobs("simclr", "quick"), seed=args.seed, progress=False)
        for name, enc in (("pixels", search.pixel_encoder(32)), ("simclr", search.encoder_from_result(sim, "cpu")),
                          ("shapes_clip", search.clip_encoder(shapes.model, "shapes_clip", device="cpu"))):
            index = search.PageIndex.build(archive.images, enc)
            row = {"encoder": name, "chance": round(chance, 3), **scores(archive, queries, enc, index)}
            print(json.dumps(row), flush=True)
    for detail in args.detail:
        start = time.perf_counter()
        r = clipbook.page_clip("quick", detail, k["page_size"], args.realism, "cpu", args.seed, progress=False,
                               title_blocks=None if args.title_blocks == "web" else TITLE_BLOCKS,
                               n_pages=args.pages, epochs=args.epochs, lr=args.lr, model=args.model)
        prepare_s = time.perf_counter() - start - (0 if r.loaded else r.train_seconds)  # rendering, captions
        enc = search.clip_encoder(r.model, "page_clip", device="cpu")
        index = search.PageIndex.build(archive.images, enc)
        text = anchoring.text_query_search(archive, enc, r.model, r.tokenizer, 10, "cpu", index=index)
        print(json.dumps({"encoder": f"page_clip:{detail}", "title_blocks": args.title_blocks, "pages": args.pages,
                          "epochs": args.epochs,
                          "prepare_s": round(prepare_s), "train_s": round(r.train_seconds), "chance": round(chance, 3),
                          **scores(archive, queries, enc, index),
                          **{name: round(v, 3) for name, v in text.items()}}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
