"""Search your own pages: index a folder of images and PDFs, then query it with a drawing::

    python -m clipbook.search build my_pages/ --index my_index --encoder clip:model.safetensors
    python -m clipbook.search query drawing.png --index my_index -k 10
    python -m clipbook.search add my_pages/ --index my_index     # later: index only the files added since

`--encoder` is a spec: ``pixels``, ``clip:<checkpoint.safetensors>``, ``open_clip:<model>:<pretrained>``,
``simclr`` (trained on the folder's pages) or ``simclr:<checkpoint.safetensors>``. `--mask-box x0,y0,x1,y1`
blanks that box (page fractions, from the left and the top) on every page and, later, on every query.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Sequence

import numpy as np

from ..data.pdf import read_folder, read_image
from ..utils import check_choice, check_positive
from .encoders import ENCODER_SPECS, load_encoder
from .index import INDEX_KINDS, Box, PageIndex, check_box, index_folder, mask_box


def parse_box(text: str) -> Box:
    """The page fractions of `--mask-box x0,y0,x1,y1`; a ValueError naming the option when they do not fit."""
    try:
        return check_box("--mask-box", [float(v) for v in text.split(",")])
    except ValueError:
        raise ValueError(f"--mask-box={text!r} is not allowed: give four page fractions x0,y0,x1,y1 (from the "
                         "left and the top) with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, "
                         "e.g. --mask-box 0.57,0.79,0.97,0.97.") from None


def _print_results(queries: Sequence[str], results: list[list[tuple[str, float]]], as_json: bool) -> None:
    if as_json:
        print(json.dumps([{"query": q, "results": [{"rank": r + 1, "page": page, "score": round(score, 6)}
                                                   for r, (page, score) in enumerate(res)]}
                          for q, res in zip(queries, results)], indent=1))
        return
    for q, res in zip(queries, results):
        print(f"query {q}")
        for r, (page, score) in enumerate(res, start=1):
            print(f"  {r:3d}  {score:.4f}  {page}")


def main(argv: Sequence[str] | None = None) -> int:
    """The `python -m clipbook.search` command line (`clipbook-search`): build | query; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m clipbook.search", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="index a folder of images and PDFs")
    build.add_argument("folder", help="folder with images (.png, .jpg, ...) and PDFs, searched recursively")
    build.add_argument("--index", required=True, help="folder to write the index to")
    build.add_argument("--encoder", required=True, help=f"one of: {', '.join(ENCODER_SPECS)}")
    build.add_argument("--kind", default="exact", help="exact | hnsw | ivf (default: exact)")
    build.add_argument("--page-size", type=int, default=224, help="side in pixels pages are read at (default: 224)")
    build.add_argument("--mask-box", default=None, metavar="X0,Y0,X1,Y1",
                       help="blank this box (page fractions, from the left and the top) at index and query time")
    build.add_argument("--profile", default="auto", help="quick | full | auto: the training budget of --encoder simclr")
    build.add_argument("--seed", type=int, default=0, help="the seed of --encoder simclr's training")
    add = sub.add_parser("add", help="index the files of a folder that an index does not hold yet")
    add.add_argument("folder", help="folder with images and PDFs (as given to build: page ids are its paths)")
    add.add_argument("--index", required=True, help="folder holding the index; updated in place")
    query = sub.add_parser("query", help="search an index with one or more images (or PDFs: their first page)")
    query.add_argument("images", nargs="+", help="query image files")
    query.add_argument("--index", required=True, help="folder holding the index")
    query.add_argument("-k", type=int, default=10, help="results per query (default: 10)")
    query.add_argument("--encoder", default=None, help="must be the index's encoder; default: the index's own")
    query.add_argument("--json", action="store_true", help="print results as JSON")
    for p in (build, add, query):
        p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps (default: auto)")
    args = parser.parse_args(argv)
    with warnings.catch_warnings():  # one plain line per skipped file, on stderr
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *_, **__: print(f"warning: {message}", file=sys.stderr)
        try:
            return _run(args, progress=sys.stderr.isatty())  # progress bars only where someone watches
        except (ValueError, FileNotFoundError) as e:
            parser.exit(2, f"error: {e}\n")


def _build(args: argparse.Namespace, progress: bool) -> int:
    check_choice("--kind", args.kind, INDEX_KINDS)
    check_positive("--page-size", args.page_size)
    check_choice("--profile", args.profile, ("auto", "quick", "full"))
    box = None if args.mask_box is None else parse_box(args.mask_box)
    if args.encoder == "simclr":  # SimCLR learns from the very pages it will index
        ids, pages = read_folder(args.folder, args.page_size)
        encoder = load_encoder("simclr", pages=pages if box is None else mask_box(pages, box), profile=args.profile,
                               device=args.device, seed=args.seed, progress=progress)
        index = PageIndex.build(pages, encoder, ids, kind=args.kind, mask_box=box)
    else:
        encoder = load_encoder(args.encoder, device=args.device, progress=progress)
        index = index_folder(args.folder, encoder, kind=args.kind, page_size=args.page_size, mask_box=box,
                             progress=progress)
    index.save(args.index)
    print(f"indexed {len(index)} pages from {args.folder} with {encoder.name} ({index.kind}) into {args.index}")
    return 0


def _add(args: argparse.Namespace, progress: bool) -> int:
    index = PageIndex.load(args.index)
    if index.spec is None:
        raise ValueError(f"index={args.index!r} was built with an encoder that cannot be reloaded "
                         f"({index.encoder!r}): build it again over the whole folder.")
    before = len(index)
    encoder = load_encoder(index.spec, device=args.device, progress=progress)
    index = index_folder(args.folder, encoder, into=index, progress=progress)
    if len(index) > before:
        index.save(args.index)
    print(f"added {len(index) - before} pages from {args.folder} to {args.index} ({len(index)} in all; "
          "files already in the index skipped)")
    return 0


def _run(args: argparse.Namespace, progress: bool) -> int:
    if args.command == "build":
        return _build(args, progress)
    if args.command == "add":
        return _add(args, progress)
    check_positive("-k", args.k)
    index = PageIndex.load(args.index)
    if index.spec is None and args.encoder is None:
        raise ValueError(f"index={args.index!r} was built with an encoder that cannot be reloaded "
                         f"({index.encoder!r}): give --encoder.")
    encoder = load_encoder(args.encoder or index.spec, device=args.device, progress=progress)
    index.check_encoder(encoder)
    pages = np.stack([read_image(path, index.page_size or 224) for path in args.images])
    _print_results(args.images, index.query(pages, encoder, args.k), args.json)
    return 0
