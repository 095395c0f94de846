"""Models and checkpoints: open_clip configs, safe round trips, plain open_clip loading, clear errors."""
import math

import open_clip
import pytest
import torch

import clipbook
from clipbook import models


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model, tokenizer, preprocess = clipbook.create_clip("clipbook-tiny", device="cpu")
    return model.eval(), tokenizer


def _outputs(model, tokenizer):
    torch.manual_seed(1)
    images = torch.randn(2, 3, 32, 32)
    texts = tokenizer(["a red circle", "two blue stars"])
    with torch.no_grad():
        return model.encode_image(images), model.encode_text(texts)


def test_configs_registered_with_open_clip():
    assert {"clipbook-tiny", "clipbook-small"} <= set(open_clip.list_models())
    assert open_clip.get_model_config("clipbook-tiny")["vision_cfg"]["image_size"] == 32


def test_checkpoint_round_trip_and_plain_open_clip(tiny, tmp_path):
    model, tokenizer = tiny
    path = clipbook.save_checkpoint(model, tmp_path / "tiny.safetensors", "clipbook-tiny", {"note": "test"})
    assert clipbook.checkpoint_info(path)["model"] == "clipbook-tiny"
    assert clipbook.checkpoint_info(path)["note"] == "test"
    expected = _outputs(model, tokenizer)
    for loaded in (clipbook.load_checkpoint(path).eval(),
                   open_clip.create_model("clipbook-tiny", pretrained=str(path)).eval(),
                   clipbook.create_clip("clipbook-tiny", pretrained=str(path))[0].eval()):
        for a, b in zip(expected, _outputs(loaded, tokenizer)):
            assert torch.equal(a, b)
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file is left behind"


def test_plain_torch_checkpoint_loads_weights_only(tiny, tmp_path):
    model, tokenizer = tiny
    path = tmp_path / "tiny.pt"
    torch.save({"state_dict": model.state_dict()}, path)
    loaded = clipbook.load_checkpoint(path, model_name="clipbook-tiny").eval()
    for a, b in zip(_outputs(model, tokenizer), _outputs(loaded, tokenizer)):
        assert torch.equal(a, b)


def test_interrupted_save_keeps_the_old_checkpoint(tiny, tmp_path, monkeypatch):
    model, _ = tiny
    path = clipbook.save_checkpoint(model, tmp_path / "keep.safetensors", "clipbook-tiny")
    before = path.read_bytes()

    def broken_save(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(models, "save_file", broken_save)
    with pytest.raises(KeyboardInterrupt):
        clipbook.save_checkpoint(model, path, "clipbook-tiny")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.safetensors"]


def test_corrupted_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ValueError, match=r"checkpoint=.*broken.safetensors.*corrupted"):
        clipbook.load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        clipbook.load_checkpoint(tmp_path / "missing.safetensors")


def test_mismatched_checkpoint_is_a_clear_error(tiny, tmp_path):
    model, _ = tiny
    path = clipbook.save_checkpoint(model, tmp_path / "tiny.safetensors", "clipbook-tiny")
    with pytest.raises(ValueError, match=r"holds a 'clipbook-tiny' model, not MODEL='clipbook-small'"):
        clipbook.load_checkpoint(path, model_name="clipbook-small")
    # a file that claims the right model but whose tensors do not fit
    small = open_clip.create_model("clipbook-small")
    bad = clipbook.save_checkpoint(small, tmp_path / "liar.safetensors", "clipbook-tiny")
    with pytest.raises(ValueError, match=r"does not fit MODEL='clipbook-tiny'"):
        clipbook.load_checkpoint(bad)


def test_unknown_model_and_tag_are_clear_errors():
    with pytest.raises(ValueError, match=r"MODEL='ViT-Nope' is not an open_clip model config.*clipbook-tiny"):
        clipbook.create_clip("ViT-Nope")
    # a notebook with two model parameters names the one that is wrong (notebook 07's GAP_MODEL)
    with pytest.raises(ValueError, match=r"^GAP_MODEL='ViT-Nope' is not an open_clip model config"):
        clipbook.check_model_name("ViT-Nope", "GAP_MODEL")
    with pytest.raises(ValueError, match=r"^GAP_MODEL='local-dir:/nowhere' is not allowed: .*does not exist"):
        clipbook.check_model_name("local-dir:/nowhere", "GAP_MODEL")
    with pytest.raises(ValueError, match=r"PRETRAINED='no_such_tag' is not allowed.*openai"):
        clipbook.create_clip("ViT-B-32", pretrained="no_such_tag")
    with pytest.raises(ValueError, match=r"checkpoints are written as .safetensors"):
        clipbook.save_checkpoint(open_clip.create_model("clipbook-tiny"), "x.pt", "clipbook-tiny")


def test_initial_logit_scale_is_the_papers():
    model = open_clip.create_model("clipbook-tiny")
    assert math.isclose(model.logit_scale.exp().item(), 1 / 0.07, rel_tol=1e-5)


def test_a_local_dir_opens_in_plain_open_clip_with_its_preprocessing(tmp_path):
    """save_local_dir writes open_clip's `local-dir:` format: a Python that never imports clipbook opens it with
    create_model_and_transforms, preprocessing included, and computes the same features."""
    import subprocess
    import sys

    torch.manual_seed(0)
    model = open_clip.create_model("clipbook-tiny").eval()
    folder = clipbook.models.save_local_dir(model, "clipbook-tiny", tmp_path / "tiny.open_clip")
    assert sorted(p.name for p in folder.iterdir()) == ["open_clip_config.json", "open_clip_model.safetensors"]
    pixels = torch.rand(2, 3, 32, 32)
    torch.save(pixels, tmp_path / "pixels.pt")
    with torch.no_grad():
        torch.save(model.encode_image(pixels), tmp_path / "expected.pt")
    script = f"""
import sys, torch, open_clip
model, _, preprocess = open_clip.create_model_and_transforms("local-dir:{folder}")
assert "clipbook" not in sys.modules
with torch.no_grad():
    got = model.eval().encode_image(torch.load("{tmp_path / 'pixels.pt'}"))
torch.testing.assert_close(got, torch.load("{tmp_path / 'expected.pt'}"), rtol=1e-5, atol=1e-6)
print("size", preprocess.transforms[0].size, "mean", list(preprocess.transforms[-1].mean))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "size 32" in done.stdout and str(list(model.visual.preprocess_cfg["mean"])) in done.stdout


def test_a_file_that_is_not_a_checkpoint_names_the_parameter(tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ValueError, match=r"PRETRAINED='.*photo.jpg' is not allowed: .* does not fit "
                                         r"MODEL='clipbook-tiny': open_clip cannot read it"):
        clipbook.create_clip("clipbook-tiny", str(photo))


def test_a_model_made_from_scratch_on_purpose_logs_no_random_init_warning(caplog):
    """open_clip warns on the root logger that no pretrained weights were loaded; `create_clip(pretrained=None)`
    asks for exactly that, so the warning is dropped there, and only there: plain open_clip still gives it, and
    other root warnings pass during and after."""
    import logging
    with caplog.at_level(logging.WARNING):
        clipbook.create_clip("clipbook-tiny", device="cpu")
        assert not [r for r in caplog.records if "No pretrained weights" in r.getMessage()]
        open_clip.create_model("clipbook-tiny")
        assert [r for r in caplog.records if "No pretrained weights loaded for model 'clipbook-tiny'" in r.getMessage()]
        logging.warning("another warning")
        assert caplog.records[-1].getMessage() == "another warning"
    assert not logging.getLogger().filters
