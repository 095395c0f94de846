"""Devices, profiles and argument checks: explicit choices are honoured or refused, never swapped."""
import json

import pytest
import torch

import clipbook
from clipbook.utils import atomic_path, pick, resolve_profile, write_json


def test_auto_picks_the_best_device_there():
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert clipbook.resolve_device("auto").type == expected
    assert clipbook.resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_missing_cuda_is_an_error_not_a_fallback(device):
    with pytest.raises(ValueError, match=rf"DEVICE='{device}' is not available on this machine.*'cpu'"):
        clipbook.resolve_device(device)


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has mps")
def test_missing_mps_is_an_error():
    with pytest.raises(ValueError, match="DEVICE='mps' is not available"):
        clipbook.resolve_device("mps")


def test_nonsense_device_is_an_error():
    with pytest.raises(ValueError, match="DEVICE='gpu please' is not a device name"):
        clipbook.resolve_device("gpu please")


def test_profiles():
    assert resolve_profile("quick") == "quick"
    assert resolve_profile("full", "cpu") == "full"
    assert resolve_profile("auto", "cpu") == "quick"
    with pytest.raises(ValueError, match=r"PROFILE='medium' is not allowed: choose one of 'auto', 'quick', 'full'"):
        resolve_profile("medium")
    assert pick("quick", {"quick": {"a": 1, "b": 2}}, a=None, b=5) == {"a": 1, "b": 5}


@pytest.mark.parametrize("value", [0, -3, 2.5, "8", True, None])
def test_check_positive(value):
    with pytest.raises(ValueError, match=rf"N_TRAIN={value!r} is not allowed: it must be a positive integer"):
        clipbook.check_positive("N_TRAIN", value)


def test_seed_everything_is_reproducible():
    clipbook.seed_everything(5)
    a = torch.rand(3)
    clipbook.seed_everything(5)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(ValueError, match="SEED=-1"):
        clipbook.seed_everything(-1)


def test_atomic_write(tmp_path):
    target = tmp_path / "m.json"
    write_json(target, {"x": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
