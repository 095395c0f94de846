"""train_clip on tiny data: one epoch runs, the history is kept, the scale is clamped, reruns reuse work."""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors import safe_open

import clipbook
from clipbook import train as train_module
from clipbook.retrieval import chance_hit_rate, retrieval_metrics


@pytest.fixture(scope="module")
def tiny_data():
    return clipbook.ShapesWorld(32).dataset(64, "train", seed=0, cache=False)


def test_one_epoch(tiny_data, tmp_data):
    r = clipbook.train_clip(tiny_data.images, tiny_data.all_captions(), "clipbook-tiny", epochs=1,
                            batch_size=16, lr=1e-3, device="cpu", progress=False)
    assert not r.loaded and r.checkpoint.is_file()
    assert r.history["step"] == [0, 1, 2, 3] and len(r.history["loss"]) == 4
    assert all(math.isfinite(v) for v in r.history["loss"])
    assert math.isclose(r.initial_loss, math.log(16), rel_tol=0.15)  # random towers score about ln(N)
    lrs = r.history["lr"]
    assert lrs[0] > lrs[-1] and max(lrs) <= 1e-3 + 1e-12  # warm-up then cosine decay
    assert r.samples_seen == 64 and r.train_seconds > 0
    # each step's end is clocked: the steady rate leaves the first steps out and is a plausible rate
    clock = r.history["seconds"]
    assert clock[0] == 0 and all(b > a for a, b in zip(clock, clock[1:])) and clock[-1] < r.train_seconds
    assert r.steady_samples_per_second(skip=1) == pytest.approx(2 * 16 / (clock[3] - clock[1]))
    with pytest.raises(ValueError, match="skip=3 is not allowed: it must leave at least two logged steps of the 4"):
        r.steady_samples_per_second(skip=3)
    info = clipbook.checkpoint_info(r.checkpoint)
    assert info["model"] == "clipbook-tiny" and info["history"]["loss"] == r.history["loss"]


def test_rerun_loads_the_cached_checkpoint(tiny_data, tmp_data):
    kw = dict(epochs=1, batch_size=16, lr=1e-3, device="cpu", progress=False, seed=1)
    first = clipbook.train_clip(tiny_data.images, tiny_data.all_captions(), "clipbook-tiny", **kw)
    again = clipbook.train_clip(tiny_data.images, tiny_data.all_captions(), "clipbook-tiny", **kw)
    assert again.loaded and again.checkpoint == first.checkpoint
    assert again.history == first.history and again.train_seconds == first.train_seconds
    for (k, a), b in zip(first.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), k
    other = clipbook.train_clip(tiny_data.images, tiny_data.all_captions(), "clipbook-tiny", **{**kw, "lr": 2e-3})
    assert not other.loaded and other.checkpoint != first.checkpoint
    # a corrupted cache entry is reported and retrained, not trusted
    first.checkpoint.write_bytes(b"broken")
    redone = clipbook.train_clip(tiny_data.images, tiny_data.all_captions(), "clipbook-tiny", **kw)
    assert not redone.loaded and clipbook.checkpoint_info(redone.checkpoint)["model"] == "clipbook-tiny"


def test_logit_scale_is_clamped_at_100(tiny_data, tmp_data, monkeypatch):
    real = train_module.create_clip

    def hot_start(*args, **kwargs):
        model, tok, pre = real(*args, **kwargs)
        model.logit_scale.data.fill_(math.log(500.0))
        return model, tok, pre

    monkeypatch.setattr(train_module, "create_clip", hot_start)
    r = clipbook.train_clip(tiny_data.images, tiny_data.all_captions(), "clipbook-tiny", epochs=1, batch_size=32,
                            device="cpu", progress=False, cache=False)
    assert r.history["logit_scale"][0] == pytest.approx(500.0, rel=1e-3)  # the first step saw the hot scale
    assert r.history["logit_scale"][1] <= 100.0 + 1e-3  # ... and it was clamped after that step
    assert r.model.logit_scale.exp().item() <= 100.0 + 1e-3


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=0), r"epochs=0 is not allowed"),
    (dict(batch_size=-1), r"batch_size=-1 is not allowed"),
    (dict(batch_size=1000), r"batch_size=1000 is not allowed: it must be at most the 64"),
    (dict(lr=0), r"lr=0 is not allowed"),
    (dict(model="nope"), r"MODEL='nope' is not an open_clip model"),
    (dict(device="cuda:7"), r"DEVICE='cuda:7'"),
    (dict(compile="yes"), r"compile='yes' is not allowed: choose one of False, True"),
])
def test_bad_arguments(tiny_data, kwargs, message):
    args = dict(model="clipbook-tiny", epochs=1, batch_size=16, device="cpu", progress=False, cache=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        clipbook.train_clip(tiny_data.images, tiny_data.all_captions(), **args)


def test_compile_trains_the_model_it_saves(tiny_data, tmp_data, monkeypatch):
    """compile=True steps through torch.compile yet updates (and saves) the plain model: same losses and
    weights as eager. The test compiles with AOTAutograd's eager backend (forward and backward graphs,
    no code generation) so that it takes seconds on a CPU; the GPU benchmark uses inductor."""
    calls = []
    real = torch.compile

    def aot_eager(model, **kwargs):
        calls.append(model)
        return real(model, backend="aot_eager", **kwargs)

    monkeypatch.setattr(torch, "compile", aot_eager)
    kw = dict(epochs=1, batch_size=16, lr=1e-3, device="cpu", progress=False)
    eager = clipbook.train_clip(tiny_data.images, tiny_data.all_captions(), "clipbook-tiny", cache=False, **kw)
    assert calls == []
    compiled = clipbook.train_clip(tiny_data.images, tiny_data.all_captions(), "clipbook-tiny", compile=True, **kw)
    assert len(calls) == 1 and calls[0] is compiled.model  # the plain model was compiled, and is returned
    np.testing.assert_allclose(compiled.history["loss"], eager.history["loss"], rtol=1e-4)
    for (k, a), b in zip(eager.model.state_dict().items(), compiled.model.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-5, msg=k)
    with safe_open(str(compiled.checkpoint), "pt") as f:  # saved under the plain model's names
        assert set(f.keys()) == set(eager.model.state_dict())


def test_captions_must_match_images(tiny_data):
    with pytest.raises(ValueError, match="captions has 3 entries for 64 images"):
        clipbook.train_clip(tiny_data.images, tiny_data.all_captions()[:3], epochs=1, batch_size=16, cache=False)
    with pytest.raises(ValueError, match="uint8 RGB images"):
        clipbook.train_clip(tiny_data.images.astype(np.float32), tiny_data.all_captions(), cache=False)


def test_retrieval_metrics_against_brute_force():
    torch.manual_seed(0)
    captions = ["a", "b", "a", "c", "b", "a"]
    texts = ["a", "b", "c"]
    img = torch.nn.functional.normalize(torch.randn(6, 4), dim=-1)
    txt = torch.nn.functional.normalize(torch.randn(3, 4), dim=-1)
    m = retrieval_metrics(img, captions, txt, texts, ks=(1, 2))
    sim = img @ txt.T
    for k in (1, 2):
        i2t = np.mean([texts.index(c) in sim[i].topk(k).indices.tolist() for i, c in enumerate(captions)])
        t2i = np.mean([any(captions[i] == t for i in sim[:, j].topk(k).indices.tolist()) for j, t in enumerate(texts)])
        assert m[f"i2t_recall@{k}"] == pytest.approx(i2t)
        assert m[f"t2i_recall@{k}"] == pytest.approx(t2i)
    assert m["chance_i2t_recall@1"] == pytest.approx(1 / 3)
    # text->image chance: 3, 2 and 1 relevant images among 6
    assert m["chance_t2i_recall@1"] == pytest.approx(np.mean([3 / 6, 2 / 6, 1 / 6]))
    # perfect features find everything
    perfect = retrieval_metrics(torch.eye(3)[[0, 1, 0, 2, 1, 0]], captions, torch.eye(3), texts, ks=(1,))
    assert perfect["i2t_recall@1"] == 1.0 and perfect["t2i_recall@1"] == 1.0


def test_chance_hit_rate_simulated():
    rng = np.random.default_rng(0)
    n, m, k = 20, 3, 4
    sims = np.mean([(rng.permutation(n)[:k] < m).any() for _ in range(20000)])
    assert chance_hit_rate(np.array([m]), n, k) == pytest.approx(sims, abs=0.01)


def test_command_line_trains_and_reuses(tmp_data):
    """`python -m clipbook train` trains notebook 01's model with overrides, then finds it cached."""
    cmd = [sys.executable, "-m", "clipbook", "train", "--profile", "quick", "--n-train", "384", "--epochs", "1",
           "--batch-size", "16", "--device", "cpu"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "384 samples in" in first.stdout and "/s after 10 steps" in first.stdout
    checkpoints = list((tmp_data / "checkpoints").glob("clipbook-tiny-*.safetensors"))
    assert len(checkpoints) == 1 and str(checkpoints[0]) in first.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "Loaded cached checkpoint" in again.stdout
    bad = subprocess.run(cmd[:4] + ["--epochs", "0"], capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "epochs=0 is not allowed" in bad.stderr
