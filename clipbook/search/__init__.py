"""Similarity search over document pages: encoders, a faiss index that remembers which encoder built it
(and which box of every page it blanks), retrieval metrics, and a command line for one's own folder of
images and PDFs (``python -m clipbook.search build|query``), and `SearchPlayground`, the same search behind
JupyterLab widgets.

The tool knows nothing of the workbook's synthetic archive or of notebook 01's model: a CLIP is named by
its checkpoint (``clip:<checkpoint.safetensors>``) or open_clip tag (``open_clip:<model>:<pretrained>``),
and a box to blank is given as page fractions. Notebook 04's title-block analysis is `clipbook.anchoring`.
"""
from .archive import Archive, leave_one_out, read_archive
from .cli import main
from .encoders import (ENCODER_SPECS, Encoder, clip_encoder, encoder_from_result, load_encoder, pixel_encoder,
                       simclr_encoder, stroke_kernel, thicken_strokes)
from .index import INDEX_KINDS, PageIndex, index_folder, mask_box
from .metrics import ranking_metrics

__all__ = [
    "Archive", "ENCODER_SPECS", "INDEX_KINDS", "Encoder", "PageIndex", "SearchPlayground", "SearchResult",
    "clip_encoder", "encoder_from_result", "index_folder", "leave_one_out", "load_encoder", "main", "mask_box",
    "pixel_encoder", "ranking_metrics", "read_archive", "simclr_encoder", "stroke_kernel", "thicken_strokes",
]


def __getattr__(name: str):
    """`SearchPlayground` and `SearchResult` on first use: the widgets pull in matplotlib, seaborn and ipywidgets,
    which the command line never needs (1.4 s of its start)."""
    if name in ("SearchPlayground", "SearchResult"):
        from . import playground

        return getattr(playground, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
