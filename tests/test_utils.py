"""Devices, profiles and argument checks: explicit choices are honoured or refused, never swapped."""
import json

import pytest
import torch

import clipbook
from clipbook.utils import atomic_path, pick, resolve_profile, write_json
from clipbook import utils


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


@pytest.mark.parametrize("forced, enabled", [("1", True), ("0", False)])
def test_cpu_bf16_autocast_follows_the_override(monkeypatch, forced, enabled):
    monkeypatch.setenv("CLIPBOOK_CPU_BF16", forced)
    x = torch.randn(4, 8)
    with utils.autocast(torch.device("cpu")):
        y = x @ x.T
    assert (y.dtype == torch.bfloat16) is enabled


def test_cpu_bf16_without_override_follows_the_cpu(monkeypatch):
    monkeypatch.delenv("CLIPBOOK_CPU_BF16", raising=False)
    native = bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    assert utils.cpu_has_native_bf16() is native


def test_bad_cpu_bf16_override_names_the_variable(monkeypatch):
    monkeypatch.setenv("CLIPBOOK_CPU_BF16", "yes")
    with pytest.raises(ValueError, match="CLIPBOOK_CPU_BF16='yes' is not allowed"):
        utils.autocast(torch.device("cpu"))


def test_loss_stays_fp32_under_bf16_autocast(monkeypatch):
    """A contrastive loss on bf16-autocast features equals the fp32 loss on the same features; computed
    inside autocast instead, its logits' matmul would round to bf16."""
    import open_clip

    monkeypatch.setenv("CLIPBOOK_CPU_BF16", "1")
    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(64, 32, generator=g), dim=-1)
    txt = torch.nn.functional.normalize(img + 0.3 * torch.randn(64, 32, generator=g), dim=-1)
    scale = torch.tensor(50.0)
    loss_fn = open_clip.ClipLoss()
    exact = loss_fn(img, txt, scale)
    with utils.autocast(torch.device("cpu")):
        ours = utils.fp32_loss(loss_fn, img, txt, scale)
        rounded = loss_fn(img, txt, scale)
    assert ours.dtype == torch.float32 and torch.allclose(ours, exact, atol=1e-6)
    assert abs(rounded.float() - exact) > 10 * abs(ours - exact)  # what fp32_loss protects against


def test_cell_timeout_comes_from_the_argument_or_the_environment(monkeypatch):
    from clipbook.runner import cell_timeout

    monkeypatch.delenv("CLIPBOOK_CELL_TIMEOUT", raising=False)
    assert cell_timeout() is None  # a user's run: no limit unless asked
    assert cell_timeout(2.5) == 3  # nbclient takes whole seconds
    monkeypatch.setenv("CLIPBOOK_CELL_TIMEOUT", "900")
    assert cell_timeout() == 900 and cell_timeout(10) == 10
    for raw in ("soon", "0", "-5", "inf", "nan"):
        monkeypatch.setenv("CLIPBOOK_CELL_TIMEOUT", raw)
        with pytest.raises(ValueError, match="CLIPBOOK_CELL_TIMEOUT=.* is not allowed"):
            cell_timeout()
    with pytest.raises(ValueError, match="timeout=0 is not allowed"):
        cell_timeout(0)


def test_a_cell_past_its_timeout_fails_the_run(tmp_path):
    """The limit reaches the kernel's cells through papermill: a cell that sleeps past it fails the run, in seconds,
    instead of holding it."""
    import time

    import nbformat
    from nbclient.exceptions import CellTimeoutError

    from clipbook.runner import run_notebook

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("PROFILE = 'quick'", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import time\ntime.sleep(120)")]
    path = tmp_path / "slow.ipynb"
    nbformat.write(nb, path)
    start = time.perf_counter()
    with pytest.raises(CellTimeoutError, match="timed out"):
        run_notebook(path, tmp_path / "out", profile="quick", device="cpu", timeout=3, log_output=False)
    assert time.perf_counter() - start < 60
