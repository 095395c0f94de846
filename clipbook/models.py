"""CLIP models from open_clip: clipbook's small configs, pretrained tags, and safe local checkpoints.

clipbook's configs (``clipbook/model_configs/*.json``) are registered with open_clip's own config
registry on ``import clipbook``, so a clipbook checkpoint opens in plain open_clip::

    import clipbook, open_clip
    model = open_clip.create_model("clipbook-tiny", pretrained="data/checkpoints/clipbook-tiny-....safetensors")

Checkpoints are safetensors files (no pickle), written to a temporary file and renamed.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import open_clip
import torch
from safetensors import SafetensorError, safe_open
from open_clip.transform import PreprocessCfg, image_transform_v2
from safetensors.torch import save_file

from .utils import atomic_path, check_choice, resolve_device

CONFIG_DIR = Path(__file__).parent / "model_configs"
MAX_LOGIT_SCALE = math.log(100.0)  # the CLIP paper's cap on the learned temperature, as open_clip_train applies it
CLIPBOOK_MODELS: tuple[str, ...] = tuple(sorted(p.stem for p in CONFIG_DIR.glob("*.json")))


def register_configs() -> None:
    """Add clipbook's configs to open_clip's registry (idempotent)."""
    if not set(CLIPBOOK_MODELS) <= set(open_clip.list_models()):
        open_clip.add_model_config(CONFIG_DIR)


register_configs()


LOCAL_DIR = "local-dir:"


def check_model_name(model_name: str, name: str = "MODEL") -> str:
    """Return `model_name` if open_clip knows the config (or it is an open_clip ``local-dir:PATH`` folder with its
    ``open_clip_config.json``), else raise naming the parameter (`name`) and the choices."""
    if isinstance(model_name, str) and model_name.startswith(LOCAL_DIR):
        model_config(model_name, name)
        return model_name
    known = open_clip.list_models()
    if model_name not in known:
        ours = ", ".join(CLIPBOOK_MODELS)
        raise ValueError(
            f"{name}={model_name!r} is not an open_clip model config: use one of clipbook's ({ours}), any name "
            f"in open_clip.list_models() (e.g. 'ViT-B-32'; {len(known)} in all), or 'local-dir:<folder>' for an "
            "open_clip folder with open_clip_config.json and its weights."
        )
    return model_name


def model_config(model_name: str, name: str = "MODEL") -> dict[str, Any]:
    """An open_clip config (``model_cfg``) by name, or read from a ``local-dir:PATH`` folder (errors name the
    parameter `name`)."""
    if isinstance(model_name, str) and model_name.startswith(LOCAL_DIR):
        folder = Path(model_name[len(LOCAL_DIR):]).expanduser()
        config = folder / "open_clip_config.json"
        if not config.is_file():
            raise ValueError(f"{name}={model_name!r} is not allowed: {config} does not exist (a local-dir folder "
                             "holds open_clip_config.json and open_clip_model.safetensors).")
        try:
            return dict(json.loads(config.read_text())["model_cfg"])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"{name}={model_name!r} is not allowed: {config} has no readable 'model_cfg' "
                             f"({type(e).__name__}: {e}).") from None
    return open_clip.get_model_config(check_model_name(model_name, name))


@contextlib.contextmanager
def _from_scratch_is_meant(model_name: str) -> Iterator[None]:
    """Drop open_clip's root-logger warning "No pretrained weights loaded for model ... initialized randomly" while
    a model is made with `pretrained=None`: the workbook trains from scratch on purpose, and the warning printed as
    "WARNING:root:..." above every training cell. Any other message passes."""
    unwanted = f"No pretrained weights loaded for model '{model_name}'"

    def keep(record: logging.LogRecord) -> bool:
        return unwanted not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def create_clip(
    model_name: str = "clipbook-tiny",
    pretrained: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
) -> tuple[torch.nn.Module, Callable, Callable]:
    """A CLIP, its tokenizer and its image preprocessing: random init (`pretrained=None`), an open_clip
    pretrained tag (downloads; needs the network), or a local checkpoint file (.safetensors, .pt)."""
    check_model_name(model_name)
    dev = resolve_device(device)
    if model_name.startswith(LOCAL_DIR):  # the folder holds the weights too
        if pretrained not in (None, ""):
            raise ValueError(f"PRETRAINED={str(pretrained)!r} is not allowed with MODEL={model_name!r}: a local-dir "
                             "folder holds its own weights; leave PRETRAINED None.")
        clip = open_clip.create_model(model_name, device=dev)
    elif pretrained is None or pretrained == "":
        with _from_scratch_is_meant(model_name):
            clip = open_clip.create_model(model_name, pretrained=None, device=dev)
    elif os.path.isfile(str(pretrained)) or Path(pretrained).suffix in (".safetensors", ".pt", ".pth", ".bin") \
            or os.path.sep in str(pretrained):
        try:
            clip = load_checkpoint(pretrained, model_name=model_name, device=dev)
        except (ValueError, FileNotFoundError) as e:
            raise ValueError(f"PRETRAINED={str(pretrained)!r} is not allowed: {e}") from None
    else:
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        check_choice("PRETRAINED", pretrained, tags or ["(no tags for this model: give a checkpoint file)"])
        clip = open_clip.create_model(model_name, pretrained=str(pretrained), device=dev)
    return clip, open_clip.get_tokenizer(model_name), preprocess_for(clip)


def image_size_of(model_name: str) -> int:
    """The input size (pixels, square) of an open_clip config's image tower."""
    size = model_config(model_name)["vision_cfg"]["image_size"]
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def preprocess_for(model: torch.nn.Module) -> Callable:
    """open_clip's evaluation preprocessing for `model` (resize, centre crop, its mean and std), from the
    preprocess config the model carries."""
    return image_transform_v2(PreprocessCfg(**model.visual.preprocess_cfg), is_train=False)


def save_checkpoint(model: torch.nn.Module, path: str | os.PathLike, model_name: str,
                    metadata: dict[str, Any] | None = None) -> Path:
    """Write the state dict as safetensors (temporary file, then rename) with `model_name` and
    `metadata` (JSON-encoded) in the header, so the file says what it is."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"path={str(path)!r} is not allowed: checkpoints are written as .safetensors files.")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    header = {"format": "clipbook", "model": model_name,
              "clipbook": json.dumps(metadata or {}, sort_keys=True, default=str)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return path


def checkpoint_info(path: str | os.PathLike) -> dict[str, Any]:
    """The header of a clipbook checkpoint: {"model": ..., **metadata}; a clear error if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint={str(path)!r} does not exist.")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(
            f"checkpoint={str(path)!r} is corrupted or not a safetensors file ({e}); delete it and train "
            "again, or give a valid .safetensors checkpoint."
        ) from None
    info = json.loads(header.get("clipbook", "{}"))
    info["model"] = header.get("model")
    return info


def load_checkpoint(path: str | os.PathLike, model_name: str | None = None,
                    device: str | torch.device = "auto") -> torch.nn.Module:
    """Build the model a checkpoint was saved from (or the config `model_name`) and load its weights.

    A clipbook .safetensors file must name the same config as `model_name`; a plain open_clip checkpoint
    (.pt/.bin, loaded with ``weights_only=True``) needs `model_name`. Mismatches are errors, not warnings."""
    path = Path(path)
    dev = resolve_device(device)
    if path.suffix == ".safetensors":
        saved = checkpoint_info(path).get("model")
        if model_name is None:
            model_name = saved
        if model_name is None:
            raise ValueError(f"checkpoint={str(path)!r} does not say its model: pass model_name=<config name>.")
        if saved is not None and saved != model_name:
            raise ValueError(
                f"checkpoint={str(path)!r} holds a {saved!r} model, not MODEL={model_name!r}: use MODEL={saved!r} "
                "or a checkpoint of that model."
            )
    elif not path.is_file():
        raise FileNotFoundError(f"checkpoint={str(path)!r} does not exist.")
    if model_name is None:
        raise ValueError(f"checkpoint={str(path)!r}: pass model_name=<config name> to load a non-clipbook file.")
    check_model_name(model_name)
    try:
        return open_clip.create_model(model_name, pretrained=str(path), device=dev)
    except (RuntimeError, KeyError, AssertionError, SafetensorError, pickle.UnpicklingError, EOFError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(
            f"checkpoint={str(path)!r} does not fit MODEL={model_name!r}: open_clip cannot read it as that model's "
            f"weights ({first[:200]}); give a .safetensors file or an open_clip .pt/.bin state dict of it."
        ) from None


def local_dir_for(checkpoint: str | os.PathLike) -> Path:
    """The open_clip `local-dir:` folder written beside a clipbook checkpoint."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.name.replace(".safetensors", "") + ".open_clip")


def save_local_dir(model: torch.nn.Module, model_name: str, folder: str | os.PathLike) -> Path:
    """Write `model` as an open_clip ``local-dir:`` folder (``open_clip_config.json`` with ``model_cfg`` and
    ``preprocess_cfg``, and ``open_clip_model.safetensors``), so that
    ``open_clip.create_model_and_transforms("local-dir:" + folder)`` opens it, preprocessing included, in a Python
    that never imported clipbook. Written into a temporary folder, then renamed."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    config = {"model_cfg": model_config(model_name),
              "preprocess_cfg": dict(model.visual.preprocess_cfg)}
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (tmp / "open_clip_config.json").write_text(json.dumps(config, indent=2) + "\n")
        save_file({k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()},
                  str(tmp / "open_clip_model.safetensors"), metadata={"format": "pt"})
        os.chmod(tmp, 0o755)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return folder


def clamp_logit_scale(model: torch.nn.Module) -> None:
    """Clamp the learned log logit scale to [0, ln 100] in place: open_clip's model does not clamp it itself
    (its training script does, after every step)."""
    with torch.no_grad():
        model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)


def has_logit_bias(model_name: str) -> bool:
    """Whether an open_clip config's model returns a learned logit bias (SigLIP's sigmoid loss needs it)."""
    return model_config(model_name).get("init_logit_bias") is not None


def count_parameters(model: torch.nn.Module) -> dict[str, int]:
    """Parameter counts of the image tower, the text side and the whole model."""
    total = sum(p.numel() for p in model.parameters())
    visual = sum(p.numel() for p in model.visual.parameters())
    return {"image": visual, "text": total - visual - 1, "total": total}
