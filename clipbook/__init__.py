"""clipbook: the helper library of a workbook that trains, probes and compares CLIP models.

The top level exports what the notebooks teach; each room of the house is a module of its own:
``engine`` (the one training loop), ``train`` (CLIP's pieces for it), ``simclr``, ``objectives``, ``data`` (the
worlds clipbook generates), ``search`` (the page-search tool), ``notebook`` and ``profiles`` (notebook plumbing),
``zeroshot``, ``prompts``, ``probes``, ``retrieval``, ``intervals`` (how sure a figure is), ``plots``, ``widgets``.

Importing it registers clipbook's model configs with open_clip, so
``open_clip.create_model("clipbook-tiny", pretrained=<checkpoint>)`` works afterwards.
"""
import os

# lightly starts a network version check on import unless this is set; clipbook works offline.
os.environ.setdefault("LIGHTLY_DID_VERSION_CHECK", "True")

from .data import ShapesData, ShapesWorld  # noqa: E402
from .engine import TrainResult  # noqa: E402
from .models import (CLIPBOOK_MODELS, MAX_LOGIT_SCALE, check_model_name, checkpoint_info,  # noqa: E402
                     count_parameters, create_clip, image_size_of, load_checkpoint, save_checkpoint)
from .notebook import check_pretrained, load_clip, start  # noqa: E402
from .profiles import PROFILE_TABLES, profile_knobs  # noqa: E402
from .retrieval import encode_images, encode_pil_images, encode_texts, evaluate_retrieval  # noqa: E402
from .train import page_clip, page_clip_corpus, train_clip, workbook_clip, world_for  # noqa: E402
from .utils import check_choice, check_positive, check_share, resolve_device, seed_everything, write_json  # noqa: E402

__version__ = "0.1.0"
__all__ = [
    "CLIPBOOK_MODELS", "MAX_LOGIT_SCALE", "PROFILE_TABLES", "ShapesData", "ShapesWorld", "TrainResult",
    "check_choice", "check_model_name", "check_positive", "check_pretrained", "check_share", "checkpoint_info",
    "count_parameters", "create_clip", "encode_images", "encode_pil_images", "encode_texts", "evaluate_retrieval",
    "image_size_of", "load_checkpoint", "load_clip", "page_clip", "page_clip_corpus", "profile_knobs",
    "resolve_device", "save_checkpoint", "seed_everything", "start", "train_clip", "workbook_clip", "world_for",
    "write_json",
]
