"""clipbook: the helper library of a workbook that trains, probes and compares CLIP models.

Importing it registers clipbook's model configs with open_clip, so
``open_clip.create_model("clipbook-tiny", pretrained=<checkpoint>)`` works afterwards.
"""
import os

# lightly starts a network version check on import unless this is set; clipbook works offline.
os.environ.setdefault("LIGHTLY_DID_VERSION_CHECK", "True")

from .data import ShapesData, ShapesWorld  # noqa: E402
from .models import (CLIPBOOK_MODELS, check_model_name, checkpoint_info, count_parameters,  # noqa: E402
                     create_clip, load_checkpoint, save_checkpoint)
from .retrieval import encode_images, encode_texts, evaluate_retrieval, retrieval_metrics  # noqa: E402
from .train import (MAX_LOGIT_SCALE, PRETRAIN_PROFILES, TrainResult, train_clip, workbook_clip,  # noqa: E402
                    world_for)
from .utils import (check_choice, check_positive, data_dir, output_dir, pick, project_root,  # noqa: E402
                    resolve_device, resolve_profile, seed_everything, write_json)

__version__ = "0.1.0"
__all__ = [
    "CLIPBOOK_MODELS", "MAX_LOGIT_SCALE", "PRETRAIN_PROFILES", "ShapesData", "ShapesWorld", "TrainResult", "check_choice",
    "check_model_name", "check_positive", "checkpoint_info", "count_parameters", "create_clip", "data_dir",
    "encode_images", "encode_texts", "evaluate_retrieval", "load_checkpoint", "output_dir", "pick",
    "project_root", "resolve_device", "resolve_profile", "retrieval_metrics", "save_checkpoint",
    "seed_everything", "train_clip", "workbook_clip", "world_for", "write_json",
]
